# -*- coding: utf-8 -*-
# Copyright (c) apim.selfhosted contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The docker role's plan: its variables checked, and with what the probe read from the host, everything the role's
tasks do on that host (daemon.json, packages, Docker's repository, the unit, the docker group) or why it must not."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible_collections.apim.selfhosted.plugins.plugin_utils.docker_daemon_config import (
    managed_keys,
    plan_daemon_json,
)
from ansible_collections.apim.selfhosted.plugins.plugin_utils.docker_daemon_keys import check_engine_version
from ansible_collections.apim.selfhosted.plugins.plugin_utils.docker_host_state import (
    check_platform,
    check_users,
    engine_view,
    host_view,
)
from ansible_collections.apim.selfhosted.plugins.plugin_utils.docker_packages import (
    ALL_PACKAGES,
    REPO_KEY,
    engine_packages,
    engine_version,
    plan_packages,
    plan_repo,
)
from ansible_collections.apim.selfhosted.plugins.plugin_utils.docker_role_inputs import (
    validate_variables,
    version_tuple,
)


class PlanError(ValueError):
    """The plan's inputs are not of the documented shape (a programming error, not a bad variable)."""


def _probe_args(v):
    """The options of apim.selfhosted.docker_host_probe for this role's variables."""
    return {
        "service_name": v["docker_service_name"],
        "daemon_config_path": v["docker_daemon_config_path"],
        "repo_key_path": REPO_KEY,
        "packages": list(ALL_PACKAGES),
        "candidates": list(engine_packages(v["docker_install_source"])[:1]),
        "users": [u for u in v["docker_users"] or [] if isinstance(u, str)],
    }


def _empty_daemon(managed, removed):
    return {
        "managed": dict((k, val) for k, (_w, val) in managed.items()),
        "removed": removed,
        "config": None,
        "content": None,
        "changed": False,
        "file_ok": False,
        "restart": False,
        "reload_first": False,
    }


def _check_engine(v, host, engine, errors):
    """The running engine: required with source none, never older than docker_min_version, never doubled."""
    source = v["docker_install_source"]
    if engine["running"]:
        have, need = version_tuple(engine["version"]), version_tuple(v["docker_min_version"])
        if have is not None and need is not None and have < need:
            errors.append(
                "the running Docker Engine is %s, older than docker_min_version %s; upgrade it first (the role "
                "does not upgrade an installed engine) or lower docker_min_version"
                % (engine["version"], v["docker_min_version"])
            )
    elif source == "none":
        errors.append(
            "docker_install_source is none, but no usable Docker Engine answers on this host (%s). "
            "Install one, or set docker_install_source: distro (Debian's docker.io) or docker_ce" % engine["error"]
        )
    pkgs, names = host.get("packages"), engine_packages(source)
    if engine["running"] and names and pkgs is not None and not any(pkgs.get(n) for n in names):
        if not any(e.startswith("docker_install_source is %s, but" % source) for e in errors):
            errors.append(
                "docker_install_source is %s, but Docker Engine %s already runs on this host without the %s package "
                "(installed another way); installing it would put a second engine beside it. Set "
                "docker_install_source: none to keep that engine" % (source, engine["version"], names[0])
            )
    installed = bool(names) and pkgs is not None and all(pkgs.get(n) for n in names)
    engine["installed"] = engine["running"] or installed


def _check_new_engine_version(v, host, engine, errors):
    """An engine that apt is about to install must not be older than docker_min_version either."""
    if engine["running"] or engine["installed"]:
        return
    have, need = engine_version(v, host, engine), version_tuple(v["docker_min_version"])
    if have is not None and need is not None and have < need:
        errors.append(
            "docker_install_source %s would install Docker Engine %s, older than docker_min_version %s; use "
            "docker_install_source: docker_ce or lower docker_min_version"
            % (v["docker_install_source"], ".".join(map(str, have)), v["docker_min_version"])
        )


def _host_plan(v, out, host, existing, managed, removed, errors, warnings):
    engine = host["engine"]
    check_platform(v, host, errors, warnings)
    out["packages"] = plan_packages(v, host, errors, warnings)
    out["repo"] = plan_repo(v, host, errors)
    _check_engine(v, host, engine, errors)
    _check_new_engine_version(v, host, engine, errors)
    check_engine_version(
        errors,
        [k for k in managed if k not in removed],
        engine_version(v, host, engine),
        lambda key: managed[key][0],
    )
    out["users_to_add"] = check_users(v, host, errors)
    if existing is None:
        existing = host.get("daemon_json")
    out["daemon"].update(plan_daemon_json(v, host, existing, managed, removed, errors, warnings))
    engine["unit_ok"] = host["unit_ok"]
    # docker.service allows 3 starts in 60 s: a deliberate (re)start must not be refused for earlier ones.
    out["reset_start_limit"] = engine["installed"] and (host["unit_failed"] or out["daemon"]["restart"])
    # Anything for the role's change tasks: without, the role skips them as one include (a no-change run's cost).
    out["changes"] = bool(
        not out["daemon"]["file_ok"] or out["daemon"]["restart"] or out["packages"] or out["repo"]
        or out["reset_start_limit"] or not engine["unit_ok"] or out["users_to_add"]
    )  # fmt: skip


def plan(values, existing=None, host=None):
    """The docker role's plan: see the docker_settings filter's RETURN for its keys."""
    if not isinstance(values, dict):
        raise PlanError("the input must be a mapping of docker_* variables")
    if existing is not None and not isinstance(existing, str):
        raise PlanError("existing must be the text of daemon.json or null")
    if host is not None and not isinstance(host, dict):
        raise PlanError("host must be a mapping")
    v, errors, warnings = validate_variables(values)
    managed, removed = managed_keys(v, errors, warnings)
    view = host_view(host) if host is not None else None
    out = {
        "source": v["docker_install_source"],
        "probe_args": _probe_args(v),
        "packages": [],
        "users_to_add": list(v["docker_users"] or []),
        "repo": None,
        "engine": view["engine"] if view else dict(engine_view(None), installed=False, unit_ok=False),
        "reset_start_limit": False,
        "changes": True,
        "daemon": _empty_daemon(managed, removed),
    }
    if view is None or errors:
        out["packages"] = plan_packages(v, {}, errors, warnings) if not errors else []
    else:
        _host_plan(v, out, view, existing, managed, removed, errors, warnings)
    out["errors"], out["warnings"] = errors, warnings
    return out
