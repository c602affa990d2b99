# -*- coding: utf-8 -*-
# Copyright (c) apim.selfhosted contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""What the docker role knows of a host: the result of the read-only module apim.selfhosted.docker_host_probe, with the
platform facts that the play gathered winning, as one flat view; and the checks of the platform itself."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible_collections.apim.selfhosted.plugins.plugin_utils.docker_role_inputs import role_platforms

PLATFORM_KEYS = (
    "distribution",
    "distribution_release",
    "distribution_major_version",
    "pkg_mgr",
    "service_mgr",
    "architecture",
    "apparmor",
)
_FILE_OK = {"type": "file", "mode": "0644", "owner": "root", "group": "root"}


def _matches(stat, wanted):
    return isinstance(stat, dict) and all(stat.get(k) == v for k, v in wanted.items())


def engine_view(engine):
    """The engine as the probe saw it, every key present."""
    engine = engine if isinstance(engine, dict) else {}
    running = bool(engine.get("running")) and bool(engine.get("version"))
    return {
        "running": running,
        "version": str(engine["version"]) if running else None,
        "live_restore": bool(engine.get("live_restore")) if running else None,
        "logging_driver": engine.get("logging_driver") if running else None,
        "started": engine.get("started"),
        "error": "" if running else (engine.get("error") or "no answer"),
    }


def host_view(host):
    """One flat mapping from ``host`` (platform facts, each optional, and ``probe``, the probe module's result)."""
    host = host if isinstance(host, dict) else {}
    probe = host.get("probe") if isinstance(host.get("probe"), dict) else {}
    view = dict(probe.get("platform") or {})
    for key in PLATFORM_KEYS:
        if host.get(key) is not None:
            view[key] = host[key]
    unit = probe.get("unit") or {}
    apt = probe.get("apt") or {}
    daemon = probe.get("daemon_json") or {}
    group = probe.get("docker_group")
    writable = probe.get("route_localnet_writable")
    view.update(
        packages=probe.get("packages"),
        candidates=probe.get("candidates") or {},
        users=probe.get("users"),
        docker_group=None if "docker_group" not in probe else group is not None,
        docker_group_members=group,
        unit_ok=unit.get("enabled") == "enabled" and unit.get("active") == "active",
        unit_failed=unit.get("active") == "failed",
        engine=engine_view(probe.get("engine")),
        # Without the file (no IPv4?) there is nothing to tell; assume it works.
        userland_proxy_possible=writable is not False,
        legacy_repo_file=bool(apt.get("legacy_docker_list")),
        repo_key_exists=bool(apt.get("repo_key")),
        keyring_dir_exists=bool(apt.get("keyring_dir")),
        python_apt=apt.get("python_apt"),
        daemon_json=daemon.get("content") if daemon.get("exists") else None,
        daemon_json_mtime=daemon.get("mtime"),
        daemon_json_file_ok=_matches(daemon.get("stat"), _FILE_OK),
    )
    return view


def check_platform(v, host, errors, warnings):
    """The platform against the role's meta/main.yml, systemd, and apt for the sources that install packages."""
    dist = host.get("distribution")
    if dist is None:
        return
    release = str(host.get("distribution_release") or "")
    major = str(host.get("distribution_major_version") or "")
    supported = role_platforms()
    ok = any(
        dist == name and (release in versions or major in versions or "all" in versions) for name, versions in supported
    )
    if not ok:
        names = ", ".join("%s %s" % (n, "/".join(vs)) for n, vs in supported)
        msg = "this host runs %s %s (%s); the docker role supports %s (its meta/main.yml)" % (
            dist,
            major,
            release,
            names,
        )
        if v["docker_allow_unsupported_platform"]:
            warnings.append(msg + "; going on because docker_allow_unsupported_platform is true")
        else:
            errors.append(msg + ". Set docker_allow_unsupported_platform: true to try anyway")
    if host.get("service_mgr") is not None and host.get("service_mgr") != "systemd":
        errors.append("the docker role needs systemd; this host's service manager is %s" % host.get("service_mgr"))
    if v["docker_install_source"] != "none" and host.get("pkg_mgr") is not None and host.get("pkg_mgr") != "apt":
        errors.append(
            "docker_install_source %s needs apt; this host uses %s (use docker_install_source: none with an engine "
            "installed another way)" % (v["docker_install_source"], host.get("pkg_mgr"))
        )


def check_users(v, host, errors):
    """docker_users must exist; returns the ones that are not in the docker group yet."""
    users = host.get("users")
    if users is not None:
        for user in v["docker_users"]:
            if user not in users:
                errors.append(
                    "docker_users: user %r does not exist on this host (the role does not create users)" % user
                )
    if v["docker_users"] and v["docker_install_source"] == "none" and host.get("docker_group") is False:
        errors.append("docker_users: this host's engine has no docker group (docker_install_source is none)")
    members = host.get("docker_group_members")
    return [u for u in v["docker_users"] if members is None or u not in members]
