# -*- coding: utf-8 -*-
# Copyright (c) apim.selfhosted contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import base64
import difflib
import json
import os
import re

from ansible.errors import AnsibleFilterError
from ansible.module_utils.common.arg_spec import ArgumentSpecValidator
from ansible.module_utils.common.yaml import yaml_load

from ansible_collections.apim.selfhosted.plugins.module_utils.role_vars import plain

DOCUMENTATION = r"""
name: docker_settings
short_description: Validate the docker role's variables and merge them into an existing daemon.json
version_added: 0.1.0
author: apim.selfhosted maintainers
description:
  - The one validation path of the C(apim.selfhosted.docker) role. Runs on the controller, so a bad value fails
    before any host is touched.
  - Without O(host), checks the variables against the role's C(meta/argument_specs.yml) (types, choices, defaults),
    then the rules that span several variables, among them the JSON type of every known C(daemon.json) key in
    C(docker_daemon_options) (V(true), not C("yes"); C(log-opts) a mapping of strings).
  - With O(host) (facts that the role read from the host without changing it), also checks the platform against the
    role's C(meta/main.yml), the packages already installed (an engine from another source is never replaced), the
    running engine (required with C(docker_install_source=none), never older than C(docker_min_version)), the users,
    and merges the managed keys into O(existing), keeping every key that the role does not manage.
  - Messages name the variable (or the file) that is wrong.
options:
  _input:
    description: Mapping of the role's variables (C(docker_*)) to their values.
    type: dict
    required: true
  existing:
    description:
      - Text of the host's current C(daemon.json); V(null) when the file does not exist. Without it, the file that
        O(host.probe) read is used.
      - Invalid JSON, or JSON that is not an object, is an error (the role never overwrites a file it cannot read).
    type: str
  host:
    description:
      - What the role read from the host. Every key is optional; a missing key skips the checks that need it.
      - A platform key (V(distribution) to V(apparmor)) that is missing or V(null) is taken from O(host.probe)
        (C(/etc/os-release), C(uname -m), the package and service managers found), so that the role needs no fact
        gathering; facts from C(setup) win.
    type: dict
    suboptions:
      distribution:
        description: C(ansible_facts.distribution), for example C(Debian).
        type: str
      distribution_release:
        description: C(ansible_facts.distribution_release), for example C(bookworm).
        type: str
      distribution_major_version:
        description: C(ansible_facts.distribution_major_version), for example C(12).
        type: str
      pkg_mgr:
        description: C(ansible_facts.pkg_mgr).
        type: str
      service_mgr:
        description: C(ansible_facts.service_mgr).
        type: str
      architecture:
        description: C(ansible_facts.architecture), for example C(x86_64).
        type: str
      apparmor:
        description:
          - C(ansible_facts.apparmor.status); V(enabled) adds the C(apparmor) package, which dockerd needs there.
        type: str
      probe:
        description:
          - The output of the role's read-only probe (C(roles/docker/files/probe.sh)), C(key=value) lines, run with the
            environment in RV(_value.probe_env) - the route_localnet check, the unit's state, the users, the
            C(docker) group, C(daemon.json) (base64), the installed packages (dpkg) and C(docker info --format
            '{{json .}}').
        type: str
"""

EXAMPLES = r"""
- name: Validate the docker role's variables on the controller
  ansible.builtin.set_fact:
    docker_checked: "{{ dict(names | zip(query('ansible.builtin.vars', *names))) | apim.selfhosted.docker_settings }}"
  vars:
    names: "{{ query('ansible.builtin.varnames', '^docker_[a-z]') }}"

- name: Stop on errors
  ansible.builtin.fail:
    msg: "{{ docker_checked.errors | join('; ') }}"
  when: docker_checked.errors | length > 0

- name: Merge into a daemon.json read with ansible.builtin.slurp, and check the platform
  ansible.builtin.set_fact:
    docker_checked: >-
      {{ dict(names | zip(query('ansible.builtin.vars', *names)))
         | apim.selfhosted.docker_settings(existing=daemon_json.content | b64decode,
                                           host={'distribution': ansible_facts.distribution,
                                                 'distribution_release': ansible_facts.distribution_release}) }}
  vars:
    names: "{{ query('ansible.builtin.varnames', '^docker_[a-z]') }}"
"""

RETURN = r"""
_value:
  description: The validation result.
  type: dict
  contains:
    errors:
      description: Problems, each naming its variable or file. Empty when everything is valid.
      type: list
      elements: str
    warnings:
      description: Things to tell the operator (unsupported platform allowed, fallback to the userland proxy, ...).
      type: list
      elements: str
    source:
      description: The install source (C(distro), C(docker_ce) or C(none)).
      type: str
    users_to_add:
      description: The users of C(docker_users) that are not in the C(docker) group yet (all of them without O(host)).
      type: list
      elements: str
    packages:
      description:
        - The apt package specifications to install, C(name) or C(name=version) with a pinned Docker CE version.
        - With O(host) and its C(packages), only the ones that are missing (or installed at another pinned version).
      type: list
      elements: str
    repo:
      description:
        - For C(docker_ce), the repository (C(url), C(key_url), C(key_path), C(key_present) (the keyring is on the
          host already), C(sources_path) and the deb822 C(sources) text); V(null) otherwise or when the host facts are
          not known yet.
      type: dict
    probe_env:
      description: The environment for the role's probe (unit, C(daemon.json) path, packages and users to look for).
      type: dict
    engine:
      description:
        - The engine found on the host, C(running), C(version), C(live_restore), C(logging_driver), C(error),
          C(installed) (its packages are there or it answers) and C(unit_ok) (its unit is enabled and active).
      type: dict
    daemon:
      description: The daemon configuration.
      type: dict
      contains:
        managed:
          description:
            - The keys the role writes, with their values (the managed keys and C(docker_daemon_options)).
          type: dict
        removed:
          description:
            - Keys the role removes, those set to V(null) in C(docker_daemon_options) and C(log-opts) with a driver
              that takes no rotation options.
          type: list
          elements: str
        config:
          description: The merged configuration (existing keys kept, managed keys set); with O(host) only.
          type: dict
        content:
          description: The text to write; the existing text unchanged when the merged configuration is the same.
          type: str
        changed:
          description: Whether the configuration differs from the existing file (a restart is due).
          type: bool
        file_ok:
          description: Whether the file has that content already, as a regular file, mode 0644, root:root.
          type: bool
        dir_ok:
          description: Whether the file's directory exists, mode 0755, root:root.
          type: bool
        restart:
          description: Whether a running engine must be restarted for the change.
          type: bool
        reload_first:
          description:
            - Whether the running engine must reload the file (SIGHUP) before its restart, to turn on live-restore so
              that the restart keeps its containers.
          type: bool
"""

_ROLE_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "roles", "docker")
_CACHE = {}

# The JSON type of every daemon.json key of dockerd 20.10 to 27 (dockerd refuses a key it does not know, and a value of
# another type).
_BOOL = {
    "debug",
    "experimental",
    "icc",
    "init",
    "ip-forward",
    "ip-forward-no-drop",
    "ip-masq",
    "ip6tables",
    "iptables",
    "ipv6",
    "live-restore",
    "no-new-privileges",
    "raw-logs",
    "selinux-enabled",
    "tls",
    "tlsverify",
    "userland-proxy",
}
_INT = {
    "max-concurrent-downloads",
    "max-concurrent-uploads",
    "max-download-attempts",
    "mtu",
    "network-control-plane-mtu",
    "oom-score-adjust",
    "shutdown-timeout",
    "swarm-raft-election-tick",
    "swarm-raft-heartbeat-tick",
}
_STR = {
    "api-cors-header",
    "bip",
    "bip6",
    "bridge",
    "cgroup-parent",
    "cluster-advertise",
    "cluster-store",
    "containerd",
    "containerd-namespace",
    "containerd-plugins-namespace",
    "data-root",
    "default-cgroupns-mode",
    "default-gateway",
    "default-gateway-v6",
    "default-ipc-mode",
    "default-runtime",
    "default-shm-size",
    "exec-root",
    "fixed-cidr",
    "fixed-cidr-v6",
    "group",
    "host-gateway-ip",
    "init-path",
    "ip",
    "isolation",
    "log-driver",
    "log-format",
    "log-level",
    "metrics-addr",
    "pidfile",
    "seccomp-profile",
    "storage-driver",
    "swarm-default-advertise-addr",
    "tlscacert",
    "tlscert",
    "tlskey",
    "userland-proxy-path",
    "userns-remap",
}
_STR_LIST = {
    "allow-nondistributable-artifacts",
    "authorization-plugins",
    "cdi-spec-dirs",
    "dns",
    "dns-opts",
    "dns-search",
    "exec-opts",
    "host-gateway-ips",
    "hosts",
    "insecure-registries",
    "labels",
    "node-generic-resources",
    "registry-mirrors",
    "storage-opts",
}
_STR_DICT = {"cluster-store-opts", "log-opts", "proxies"}
_BOOL_DICT = {"features"}
_DICT = {"builder", "default-network-opts", "default-ulimits", "runtimes"}
_ADDRESS_POOLS = "default-address-pools"
_KNOWN = _BOOL | _INT | _STR | _STR_LIST | _STR_DICT | _BOOL_DICT | _DICT | {_ADDRESS_POOLS}
_CHOICES = {
    "log-level": ("debug", "info", "warn", "error", "fatal"),
    "default-cgroupns-mode": ("host", "private"),
    "default-ipc-mode": ("private", "shareable"),
    "log-format": ("text", "json"),
}
# Flags of the docker.service units of Debian's docker.io and of Docker CE: dockerd does not start when a key is set
# both as a flag and in daemon.json.
_UNIT_FLAGS = {"hosts": "-H fd://", "containerd": "--containerd=/run/containerd/containerd.sock"}

_ROTATING_DRIVERS = ("local", "json-file")
_SIZE = re.compile(r"^[0-9]+(\.[0-9]+)? ?[kKmMgGtTpP]?[iI]?[bB]?$")
_VERSION = re.compile(r"^[0-9]+(\.[0-9]+){1,2}$")
_CE_UPSTREAM = re.compile(r"^[0-9]+\.[0-9]+\.[0-9]+$")
_CE_FULL = re.compile(r"^[0-9]+:[0-9][0-9A-Za-z.+~-]*$")
_USER = re.compile(r"^[a-z_][a-z0-9_.-]*\$?$")
_CHECKSUM = re.compile(r"^(sha256|sha384|sha512):[0-9a-fA-F]+$")
_ARCH = {
    "x86_64": "amd64",
    "amd64": "amd64",
    "aarch64": "arm64",
    "arm64": "arm64",
    "armv7l": "armhf",
    "ppc64le": "ppc64el",
    "s390x": "s390x",
}

DISTRO_PACKAGES = ("docker.io",)
CE_PACKAGES = ("docker-ce", "docker-ce-cli", "containerd.io")
_REPO_KEY = "/etc/apt/keyrings/docker.asc"
_EXTRA_PACKAGES = ("iptables", "apparmor", "python3-requests", "python3-docker")
# Engines from another source: installing ours would remove them (and stop their containers).
_FOREIGN = {
    "distro": ("docker-ce", "moby-engine", "podman-docker"),
    "docker_ce": ("docker.io", "moby-engine", "podman-docker"),
}


def _load(name):
    if name not in _CACHE:
        with open(os.path.join(_ROLE_DIR, "meta", name), "rb") as fh:
            _CACHE[name] = yaml_load(fh)
    return _CACHE[name]


def role_spec():
    """The options of the docker role's main entry point (meta/argument_specs.yml)."""
    return _load("argument_specs.yml")["argument_specs"]["main"]["options"]


def role_platforms():
    """The supported platforms of meta/main.yml, as (name, [versions])."""
    return [(p["name"], [str(v) for v in p.get("versions", [])]) for p in _load("main.yml")["galaxy_info"]["platforms"]]


def version_tuple(text):
    """The leading numeric part of a version (``20.10.24+dfsg1`` -> (20, 10, 24)); None without one."""
    match = re.match(r"^[0-9]+:", text or "")
    text = (text or "")[match.end() :] if match else (text or "")
    match = re.match(r"^([0-9]+(?:\.[0-9]+)*)", text)
    return tuple(int(p) for p in match.group(1).split(".")) if match else None


def _typename(value):
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int):
        return "an integer"
    if isinstance(value, float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, (list, tuple)):
        return "a list"
    return type(value).__name__


def _is_str(value):
    return isinstance(value, str)


def _is_int(value):
    return isinstance(value, int) and not isinstance(value, bool)


def _check_key(errors, key, value, where):
    """Refuse a daemon.json value of the wrong JSON type; ``where`` names the variable."""

    def bad(expected):
        errors.append("%s must be %s, got %s (%r)" % (where, expected, _typename(value), value))

    if key in _BOOL:
        if not isinstance(value, bool):
            bad("a boolean (true or false, not a string)")
    elif key in _INT:
        if not _is_int(value):
            bad("an integer")
    elif key in _STR:
        if not _is_str(value) or not value.strip():
            bad("a non-empty string")
        elif key in _CHOICES and value not in _CHOICES[key]:
            errors.append("%s must be one of %s, got %r" % (where, ", ".join(_CHOICES[key]), value))
    elif key in _STR_LIST:
        if not isinstance(value, list) or not all(_is_str(v) for v in value):
            bad("a list of strings")
    elif key in _STR_DICT:
        if not isinstance(value, dict) or not all(_is_str(k) and _is_str(v) for k, v in value.items()):
            bad('a mapping of strings to strings (quote numbers: "3")')
        elif key == "log-opts" and "max-size" in value and not _SIZE.match(value["max-size"]):
            errors.append("%s max-size must be a size such as 10m, got %r" % (where, value["max-size"]))
    elif key in _BOOL_DICT:
        if not isinstance(value, dict) or not all(isinstance(v, bool) for v in value.values()):
            bad("a mapping of names to booleans")
    elif key in _DICT:
        if not isinstance(value, dict):
            bad("a mapping")
    elif key == _ADDRESS_POOLS:
        ok = isinstance(value, list) and all(
            isinstance(p, dict) and _is_str(p.get("base")) and _is_int(p.get("size")) and set(p) <= {"base", "size"}
            for p in value
        )
        if not ok:
            bad("a list of mappings with base (a CIDR string) and size (an integer)")


def _known_key(errors, warnings, key, where):
    """A key of docker_daemon_options that dockerd may not know: refuse a near miss, warn about the rest."""
    if key in _KNOWN:
        return
    normal = key.strip().lower().replace("_", "-")
    near = [normal] if normal in _KNOWN else difflib.get_close_matches(normal, sorted(_KNOWN), n=1, cutoff=0.85)
    if near:
        errors.append("%s: unknown daemon.json key %r (did you mean %r?)" % (where, key, near[0]))
    else:
        warnings.append(
            "%s: %r is not a daemon.json key known to the role (dockerd 20.10 to 27); it is written as given, and a "
            "dockerd that does not know it will not start" % (where, key)
        )


def _validate_variables(raw):
    """Argument spec, raw types and cross-variable rules. Returns (values, errors, warnings)."""
    spec = role_spec()
    errors, warnings = [], []
    values = plain(raw or {})
    for name in sorted(k for k in values if k not in spec):
        warnings.append("%s is not a variable of the docker role (typo?); it is ignored" % name)
        values.pop(name)
    # The argument spec converts 'a=b' into a mapping; daemon.json keys come only as a mapping.
    options = values.get("docker_daemon_options")
    if options is not None and not isinstance(options, dict):
        errors.append(
            "docker_daemon_options must be a mapping of daemon.json keys to values, got %s (%r)"
            % (_typename(options), options)
        )
        values.pop("docker_daemon_options")
    result = ArgumentSpecValidator(spec).validate(values)
    errors.extend(result.error_messages)
    v = result.validated_parameters
    for name, opt in spec.items():
        if name not in v or (v[name] is None and "default" in opt):
            v[name] = opt.get("default")
    if options is not None and not isinstance(options, dict):
        v["docker_daemon_options"] = {}

    if not _VERSION.match(str(v["docker_min_version"] or "")):
        errors.append("docker_min_version must be a version such as 20.10 or 24.0.7, got %r" % v["docker_min_version"])
    pin = v["docker_ce_version"] or ""
    if pin and not (_CE_UPSTREAM.match(pin) or _CE_FULL.match(pin)):
        errors.append(
            "docker_ce_version must be an upstream version (27.3.1) or a full apt version "
            "(5:27.3.1-1~debian.12~bookworm), got %r" % pin
        )
    if pin and v["docker_install_source"] != "docker_ce":
        warnings.append(
            "docker_ce_version is set but docker_install_source is %s; it is ignored" % v["docker_install_source"]
        )
    url = v["docker_ce_repo_url"] or ""
    if url and not re.match(r"^https?://[^\s/]+(/[^\s]*)?$", url):
        errors.append("docker_ce_repo_url must be an http(s) URL without spaces, got %r" % url)
    checksum = v["docker_ce_gpg_key_checksum"] or ""
    if checksum and not _CHECKSUM.match(checksum):
        errors.append("docker_ce_gpg_key_checksum must look like sha256:<hex>, got %r" % checksum)
    if isinstance(v["docker_apt_cache_valid_time"], int) and v["docker_apt_cache_valid_time"] < 0:
        errors.append("docker_apt_cache_valid_time must be 0 or more seconds")
    if isinstance(v["docker_wait_timeout"], int) and v["docker_wait_timeout"] < 1:
        errors.append("docker_wait_timeout must be at least 1 second")
    path = v["docker_daemon_config_path"] or ""
    if not path.startswith("/") or path.endswith("/"):
        errors.append("docker_daemon_config_path must be an absolute file path, got %r" % path)
    if not re.match(r"^[A-Za-z0-9_.@-]+$", v["docker_service_name"] or ""):
        errors.append("docker_service_name must be a systemd unit name, got %r" % v["docker_service_name"])
    if not _is_str(v["docker_log_max_size"]) or not _SIZE.match(v["docker_log_max_size"] or ""):
        errors.append("docker_log_max_size must be a size such as 10m or 1g, got %r" % v["docker_log_max_size"])
    if isinstance(v["docker_log_max_file"], int) and v["docker_log_max_file"] < 1:
        errors.append("docker_log_max_file must be at least 1")
    if not (v["docker_log_driver"] or "").strip():
        errors.append("docker_log_driver must be a log driver name such as local or json-file")
    for user in v["docker_users"] or []:
        if not _is_str(user) or not _USER.match(user):
            errors.append("docker_users: %r is not a user name" % (user,))
    return v, errors, warnings


def _managed(v, errors, warnings):
    """The keys the role writes (managed variables, then docker_daemon_options on top), and the keys it removes."""
    managed = {
        "live-restore": ("docker_live_restore", v["docker_live_restore"]),
        "icc": ("docker_icc", v["docker_icc"]),
        "userland-proxy": ("docker_userland_proxy", v["docker_userland_proxy"]),
        "no-new-privileges": ("docker_no_new_privileges", v["docker_no_new_privileges"]),
        "log-driver": ("docker_log_driver", v["docker_log_driver"]),
        "log-level": ("docker_log_level", v["docker_log_level"]),
    }
    options = v["docker_daemon_options"] or {}
    removed = []
    for key, value in options.items():
        where = "docker_daemon_options[%r]" % key
        if not _is_str(key):
            errors.append("docker_daemon_options: key %r must be a string" % (key,))
            continue
        if key in _UNIT_FLAGS:
            msg = (
                "%s: the %s unit passes %s, and dockerd does not start with a key that is also a flag; "
                "change the unit with a systemd drop-in instead" % (where, v["docker_service_name"], _UNIT_FLAGS[key])
            )
            if v["docker_install_source"] == "none":
                warnings.append(msg + " (written as given: docker_install_source is none)")
            else:
                errors.append(msg)
                continue
        _known_key(errors, warnings, key, where)
        if value is None:
            managed.pop(key, None)
            removed.append(key)
        else:
            managed[key] = (where, value)
    driver = managed.get("log-driver", (None, "json-file"))[1]
    if "log-opts" not in options:
        if driver in _ROTATING_DRIVERS:
            size, count = v["docker_log_max_size"], v["docker_log_max_file"]
            managed["log-opts"] = (
                "docker_log_max_size/docker_log_max_file",
                {"max-size": size, "max-file": str(count)},
            )
        else:
            removed.append("log-opts")
    failed = " ".join(errors)
    for key, (where, value) in managed.items():
        # A variable that the argument spec refused already has its message.
        if where.startswith("docker_daemon_options") or where.split("/", maxsplit=1)[0] not in failed:
            _check_key(errors, key, value, where)
    return managed, removed


def _parse_existing(existing, path, errors):
    if existing is None:
        return None
    text = existing[1:] if existing.startswith("\ufeff") else existing
    if not text.strip():
        return {}
    try:
        data = json.loads(text)
    except ValueError as exc:
        errors.append(
            "%s on this host (docker_daemon_config_path) is not valid JSON: %s. Fix or remove it; the role does not "
            "overwrite a file it cannot read, it keeps the keys it does not manage" % (path, exc)
        )
        return None
    if not isinstance(data, dict):
        errors.append(
            "%s on this host (docker_daemon_config_path) must hold a JSON object, got %s" % (path, _typename(data))
        )
        return None
    return data


def _canonical(data):
    return json.dumps(data, sort_keys=True, separators=(",", ":"))


def _installed(packages, name):
    """The installed versions of a package in ansible_facts.packages."""
    entries = (packages or {}).get(name) or []
    if isinstance(entries, dict):
        entries = [entries]
    return [str(e.get("version", "")) for e in entries if isinstance(e, dict)]


def _engine(host_engine):
    """Parse the registered `docker info --format '{{json .}}'`."""
    out = {"running": False, "version": None, "live_restore": None, "logging_driver": None, "error": ""}
    if not isinstance(host_engine, dict):
        return out
    if host_engine.get("rc") == 0:
        try:
            info = json.loads(host_engine.get("stdout") or "")
        except ValueError:
            info = None
        if isinstance(info, dict) and info.get("ServerVersion"):
            out.update(
                running=True,
                version=str(info["ServerVersion"]),
                live_restore=bool(info.get("LiveRestoreEnabled")),
                logging_driver=info.get("LoggingDriver"),
            )
            return out
    lines = (host_engine.get("stderr") or host_engine.get("msg") or "").strip().splitlines()
    out["error"] = lines[-1] if lines else "no answer"
    return out


_PROBE_FLAGS = (
    "route_localnet_exists",
    "route_localnet_writable",
    "legacy_repo_file",
    "docker_group",
    "repo_key_exists",
)


_PROBE_PLATFORM = ("os_id", "os_version_id", "os_codename", "architecture", "pkg_mgr", "service_mgr", "apparmor")
# os-release IDs of the supported distributions as Ansible's distribution fact spells them; others pass unchanged.
_DISTRIBUTIONS = {"debian": "Debian", "ubuntu": "Ubuntu"}


def _parse_probe(text):
    """The probe's key=value lines, as the host keys that the checks use."""
    out = {"users": [], "docker_group": None}
    packages = None
    engine = None
    platform = {}
    for line in (text or "").splitlines():
        key, sep, value = line.partition("=")
        if not sep:
            continue
        if key == "package":
            name, _sp, version = value.partition(" ")
            packages = packages if packages is not None else {}
            packages.setdefault(name, []).append({"version": version})
        elif key == "dpkg":
            packages = packages if packages is not None else {}
        elif key == "user":
            out["users"].append(value)
        elif key == "info":
            engine = {"rc": 0, "stdout": value}
        elif key == "info_error":
            engine = {"rc": 1, "stderr": value}
        elif key == "daemon_json_b64":
            out["daemon_json"] = base64.b64decode(value).decode("utf-8", "replace")
        elif key in _PROBE_FLAGS:
            out[key] = value == "yes"
        elif key in ("daemon_json_stat", "daemon_json_dir_stat"):
            out[key] = value
        elif key == "docker_group_members":
            out["docker_group_members"] = [m for m in value.split(",") if m]
        elif key in ("unit_enabled", "unit_active"):
            out[key] = value
        elif key in _PROBE_PLATFORM:
            platform[key] = value
    out["packages"] = packages
    out["engine"] = engine
    # Without the file (no IPv4?) there is nothing to tell; assume it works.
    writable, exists = out.pop("route_localnet_writable", True), out.pop("route_localnet_exists", True)
    out["userland_proxy_possible"] = writable or not exists
    out["platform"] = _platform_from_probe(platform)
    return out


def _platform_from_probe(p):
    """The platform keys from the probe's os-release and system lines, named and spelt as Ansible's facts."""
    found = {}
    if p.get("os_id"):
        found["distribution"] = _DISTRIBUTIONS.get(p["os_id"], p["os_id"])
        found["distribution_release"] = p.get("os_codename", "")
        found["distribution_major_version"] = p.get("os_version_id", "").split(".")[0]
    found.update((k, v) for k, v in p.items() if v and not k.startswith("os_"))
    return found


def _platform(v, host, errors, warnings):
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


def _packages(v, host, engine, errors, warnings):
    """The package specifications to install (only the missing ones when the host's packages are known)."""
    source = v["docker_install_source"]
    if source == "none":
        if host.get("packages") is not None and not _installed(host["packages"], "python3-docker"):
            warnings.append(
                "docker_install_source is none: python3-docker is not installed; the gateway role's modules need "
                "the Docker SDK for Python on this host"
            )
        return []
    pin = v["docker_ce_version"] or ""
    wanted = []
    if source == "distro":
        wanted = [(name, None) for name in DISTRO_PACKAGES]
    else:
        for name in CE_PACKAGES:
            if pin and name in ("docker-ce", "docker-ce-cli"):
                wanted.append((name, pin if _CE_FULL.match(pin) else "5:%s-*" % pin))
            else:
                wanted.append((name, None))
        wanted.append(("iptables", None))  # a Recommends of docker-ce that dockerd cannot do without
    if host.get("apparmor") == "enabled":
        wanted.append(("apparmor", None))  # dockerd loads its profile with apparmor_parser
    wanted.append(("python3-requests", None))
    wanted.append(("python3-docker", None))  # the Docker SDK for Python: the gateway role's host modules
    packages = host.get("packages")
    if packages is None:
        return [name if ver is None else "%s=%s" % (name, ver) for name, ver in wanted]
    foreign = [(n, _installed(packages, n)) for n in _FOREIGN[source]]
    foreign = ["%s %s" % (n, vs[0]) for n, vs in foreign if vs]
    if foreign:
        other = "docker_ce" if source == "distro" else "distro"
        errors.append(
            "docker_install_source is %s, but Docker Engine from another source is installed (%s); installing %s would "
            "remove it and stop its containers. Set docker_install_source: none to keep that engine (or %s if that is "
            "where it came from)"
            % (source, ", ".join(foreign), "docker.io" if source == "distro" else "docker-ce", other)
        )
        return []
    missing = []
    for name, ver in wanted:
        have = _installed(packages, name)
        if not have:
            missing.append(name if ver is None else "%s=%s" % (name, ver))
        elif ver is not None:
            prefix = ver[:-1] if ver.endswith("*") else None
            if not any(h == ver or (prefix and h.startswith(prefix)) for h in have):
                missing.append("%s=%s" % (name, ver))
    return missing


def _repo(v, host, errors):
    if v["docker_install_source"] != "docker_ce" or host.get("distribution") is None:
        return None
    dist = str(host.get("distribution")).lower()
    arch = _ARCH.get(str(host.get("architecture") or ""))
    if arch is None:
        errors.append(
            "docker_install_source docker_ce: no Docker CE packages for architecture %s" % host.get("architecture")
        )
        return None
    if host.get("legacy_repo_file"):
        errors.append(
            "docker_install_source docker_ce: /etc/apt/sources.list.d/docker.list already defines Docker's repository "
            "(apt refuses two Signed-By values for one repository); remove it, the role writes docker.sources"
        )
    base = (v["docker_ce_repo_url"] or "https://download.docker.com/linux").rstrip("/")
    url = "%s/%s" % (base, dist)
    key_path = _REPO_KEY
    sources = (
        "# Managed by apim.selfhosted.docker\n"
        "Types: deb\n"
        "URIs: %s\n"
        "Suites: %s\n"
        "Components: stable\n"
        "Architectures: %s\n"
        "Signed-By: %s\n" % (url, host.get("distribution_release"), arch, key_path)
    )
    return {
        "url": url,
        "key_url": url + "/gpg",
        "key_path": key_path,
        "key_present": bool(host.get("repo_key_exists")),
        "sources_path": "/etc/apt/sources.list.d/docker.sources",
        "sources": sources,
    }


def docker_settings(values, existing=None, host=None):
    if not isinstance(values, dict):
        raise AnsibleFilterError("docker_settings: the input must be a mapping of docker_* variables")
    if existing is not None and not _is_str(existing):
        raise AnsibleFilterError("docker_settings: existing must be the text of daemon.json or null")
    if host is not None and not isinstance(host, dict):
        raise AnsibleFilterError("docker_settings: host must be a mapping")
    v, errors, warnings = _validate_variables(values)
    managed, removed = _managed(v, errors, warnings)
    if host is not None and host.get("probe") is not None:
        host = dict(host)
        probed = _parse_probe(host["probe"])
        for key, value in probed.pop("platform").items():
            if host.get(key) is None:
                host[key] = value
        host.update(probed)
        if existing is None:
            existing = host.get("daemon_json")
    engine = _engine((host or {}).get("engine"))
    if host is not None:
        engine["unit_ok"] = host.get("unit_enabled") == "enabled" and host.get("unit_active") == "active"
    names = DISTRO_PACKAGES + CE_PACKAGES + _FOREIGN["distro"] + _FOREIGN["docker_ce"] + _EXTRA_PACKAGES
    out = {
        "source": v["docker_install_source"],
        "probe_env": {
            "APIM_DOCKER_UNIT": v["docker_service_name"],
            "APIM_DOCKER_CONFIG": v["docker_daemon_config_path"],
            "APIM_DOCKER_REPO_KEY": _REPO_KEY,
            "APIM_DOCKER_PACKAGES": " ".join(sorted(set(names))),
            "APIM_DOCKER_USERS": " ".join(u for u in v["docker_users"] or [] if _is_str(u)),
        },
        "packages": [],
        "users_to_add": list(v["docker_users"] or []),
        "repo": None,
        "engine": engine,
        "daemon": {
            "managed": dict((k, val) for k, (_w, val) in managed.items()),
            "removed": removed,
            "config": None,
            "content": None,
            "changed": False,
            "file_ok": False,
            "dir_ok": False,
            "restart": False,
            "reload_first": False,
        },
    }
    if host is None or errors:
        out["packages"] = _packages(v, {}, engine, errors, warnings) if not errors else []
        out["errors"], out["warnings"] = errors, warnings
        return out

    _platform(v, host, errors, warnings)
    out["packages"] = _packages(v, host, engine, errors, warnings)
    out["repo"] = _repo(v, host, errors)

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
            "docker_install_source is none, but no usable Docker Engine answers on this host (docker info: %s). "
            "Install one, or set docker_install_source: distro (Debian's docker.io) or docker_ce" % engine["error"]
        )
    pkgs = host.get("packages")
    engine_pkgs = DISTRO_PACKAGES if source == "distro" else CE_PACKAGES
    if (
        engine["running"]
        and source != "none"
        and pkgs is not None
        and not any(_installed(pkgs, n) for n in engine_pkgs)
    ):
        if not any(e.startswith("docker_install_source is %s, but" % source) for e in errors):
            errors.append(
                "docker_install_source is %s, but Docker Engine %s already runs on this host without the %s package "
                "(installed another way); installing it would put a second engine beside it. Set "
                "docker_install_source: none to keep that engine" % (source, engine["version"], engine_pkgs[0])
            )
    engine["installed"] = bool(
        engine["running"] or (source != "none" and pkgs is not None and all(_installed(pkgs, n) for n in engine_pkgs))
    )

    users = host.get("users")
    if users is not None:
        for user in v["docker_users"]:
            if user not in users:
                errors.append(
                    "docker_users: user %r does not exist on this host (the role does not create users)" % user
                )
    if v["docker_users"] and source == "none" and host.get("docker_group") is False:
        errors.append("docker_users: this host's engine has no docker group (docker_install_source is none)")
    members = host.get("docker_group_members")
    out["users_to_add"] = [u for u in v["docker_users"] if members is None or u not in members]

    path = v["docker_daemon_config_path"]
    current = _parse_existing(existing, path, errors)
    config = dict(current or {})
    for key, (_where, value) in managed.items():
        config[key] = value
    for key in removed:
        config.pop(key, None)
    if config.get("userland-proxy") is False and host.get("userland_proxy_possible") is False:
        where = managed.get("userland-proxy", ("%s (userland-proxy)" % path,))[0]
        warnings.append(
            "%s is false, but dockerd cannot set net.ipv4.conf.*.route_localnet on this host (/proc/sys is read-only, "
            "as in an unprivileged container) and would not start; userland-proxy stays true here" % where
        )
        config["userland-proxy"] = True
        out["daemon"]["managed"]["userland-proxy"] = True
    if errors:
        out["errors"], out["warnings"] = errors, warnings
        return out
    changed = current is None or _canonical(current) != _canonical(config)
    content = existing if not changed else json.dumps(config, indent=2) + "\n"
    live = config.get("live-restore") is True
    out["daemon"].update(
        config=config,
        content=content,
        changed=changed,
        file_ok=not changed and host.get("daemon_json_stat") == "regular file 644 root root",
        dir_ok=host.get("daemon_json_dir_stat") == "directory 755 root root",
        restart=changed and engine["running"],
        reload_first=changed and engine["running"] and live and engine["live_restore"] is False,
    )
    if changed and engine["running"] and not live:
        warnings.append(
            "live-restore is off in the new daemon.json: the daemon restart stops the running containers (only those "
            "with a restart policy come back)"
        )
    out["errors"], out["warnings"] = errors, warnings
    return out


class FilterModule(object):
    def filters(self):
        return {"docker_settings": docker_settings}
