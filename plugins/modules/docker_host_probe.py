#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) apim.selfhosted contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: docker_host_probe
short_description: Read what the docker role needs to know about a host, in one round trip, changing nothing
version_added: 0.1.0
author: apim.selfhosted maintainers (@apim-selfhosted)
description:
  - Reads the platform (C(/etc/os-release), architecture, package and service manager, AppArmor), whether
    C(net.ipv4.conf.all.route_localnet) is writable, the engine's systemd unit, the C(docker) group and the given
    users, C(daemon.json) with its owner and mode, the given packages (dpkg) and the version apt would install for
    those that are missing, Docker's apt keyring, and the engine's own answer (C(GET /info)).
  - The engine is read with the Docker SDK for Python when the host has it (Debian's C(python3-docker)), else over its
    unix socket directly; a host without an engine (or with an engine that does not answer) is reported as such, not
    as a failure.
  - The role C(apim.selfhosted.docker) runs it once per host and plans every change from its result with the filter
    P(apim.selfhosted.docker_settings#filter), so that a run without changes needs no other module on the host.
options:
  service_name:
    description: The engine's systemd unit.
    type: str
    default: docker
  daemon_config_path:
    description: The engine's configuration file.
    type: path
    default: /etc/docker/daemon.json
  repo_key_path:
    description: The keyring of Docker's apt repository; RV(apt.repo_key) says whether it exists and is not empty.
    type: path
    default: /etc/apt/keyrings/docker.asc
  packages:
    description: The packages to look for; RV(packages) maps those installed to their version.
    type: list
    elements: str
    default: []
  candidates:
    description:
      - Packages whose candidate version (the one C(apt-get install) would install) to report when they are not
        installed, from the package lists already on the host (nothing is downloaded).
    type: list
    elements: str
    default: []
  users:
    description: The users to look for; RV(users) lists those that exist.
    type: list
    elements: str
    default: []
  docker_host:
    description:
      - The engine's API address. Without it, C(DOCKER_HOST) from the module's environment, else
        C(unix:///var/run/docker.sock). Without the Docker SDK for Python only C(unix://) addresses can be read.
    type: str
  timeout:
    description: Seconds to wait for the engine's answer.
    type: int
    default: 5
extends_documentation_fragment:
  - ansible.builtin.action_common_attributes
attributes:
  check_mode:
    support: full
    details: The module only reads; it reads the same in check mode.
  diff_mode:
    support: none
    details: Nothing changes, so there is nothing to show.
  platform:
    platforms: debian
requirements:
  - The Docker SDK for Python (C(python3-docker)) on the host is used when present; it is not required.
notes:
  - Run it as root (C(become)) to read a C(daemon.json) of mode 0600 and the engine's socket.
  - It does not list the engine's containers, images, networks or volumes; C(community.docker.docker_host_info) does.
"""

EXAMPLES = r"""
- name: Read the host before planning the docker role's changes
  apim.selfhosted.docker_host_probe:
    packages: [docker.io, python3-docker]
    candidates: [docker.io]
    users: [gwops]
  register: docker_probe

- name: Say which engine answers
  ansible.builtin.debug:
    msg: "{{ docker_probe.engine.version if docker_probe.engine.running else docker_probe.engine.error }}"
"""

RETURN = r"""
platform:
  description: The platform, named as Ansible's facts of the same names.
  returned: always
  type: dict
  sample:
    distribution: Debian
    distribution_release: bookworm
    distribution_major_version: "12"
    architecture: x86_64
    pkg_mgr: apt
    service_mgr: systemd
    apparmor: disabled
route_localnet_writable:
  description:
    - Whether C(/proc/sys/net/ipv4/conf/all/route_localnet) is writable (dockerd needs it for C(userland-proxy=false));
      V(null) without the file.
  returned: always
  type: bool
apt:
  description: What apt-related files and libraries the host has.
  returned: always
  type: dict
  contains:
    python_apt:
      description: Whether the module's Python has python3-apt (C(apt_pkg)), which the apt module needs in check mode.
      type: bool
    legacy_docker_list:
      description: Whether C(/etc/apt/sources.list.d/docker.list) exists.
      type: bool
    repo_key:
      description: Whether O(repo_key_path) exists and is not empty.
      type: bool
    keyring_dir:
      description: Whether the directory of O(repo_key_path) exists.
      type: bool
unit:
  description: The engine unit's C(enabled) (C(UnitFileState)) and C(active) (C(ActiveState)); V(null) values without
    systemd.
  returned: always
  type: dict
  sample: {enabled: enabled, active: active}
docker_group:
  description: The members of the C(docker) group (supplementary members, as in C(/etc/group)); V(null) without it.
  returned: always
  type: list
  elements: str
users:
  description: The users of O(users) that exist.
  returned: always
  type: list
  elements: str
daemon_json:
  description:
    - C(path), C(exists), C(content) (the text, V(null) without the file), C(mtime) (epoch seconds) and C(stat)
      (C(type), C(mode) such as C(0644), C(owner), C(group); V(null) when missing).
  returned: always
  type: dict
packages:
  description: The installed packages of O(packages) and their versions; V(null) on a host without dpkg.
  returned: always
  type: dict
  sample: {docker.io: 20.10.24+dfsg1-1+deb12u1+b6}
candidates:
  description: For the packages of O(candidates) that are not installed, the version apt would install.
  returned: always
  type: dict
engine:
  description:
    - C(running) (the engine answered), C(version), C(live_restore), C(logging_driver), C(started) (epoch seconds at
      which the unit's main process started, V(null) when the unit is not active), C(client) (C(docker-sdk) or
      C(socket)) and C(error) (why it did not answer).
  returned: always
  type: dict
  sample: {running: true, version: 20.10.24+dfsg1, live_restore: true, logging_driver: local, client: docker-sdk}
"""

import grp  # noqa: E402
import http.client  # noqa: E402
import importlib.util  # noqa: E402
import json  # noqa: E402
import os  # noqa: E402
import platform as pyplatform  # noqa: E402
import pwd  # noqa: E402
import shlex  # noqa: E402
import socket  # noqa: E402
import stat  # noqa: E402
import time  # noqa: E402

from ansible.module_utils.basic import AnsibleModule  # noqa: E402

try:
    import docker

    HAS_DOCKER_SDK = True
except ImportError:
    docker = None
    HAS_DOCKER_SDK = False

_DISTRIBUTIONS = {"debian": "Debian", "ubuntu": "Ubuntu"}
_PKG_MGRS = (
    ("apt-get", "apt"),
    ("dnf", "dnf"),
    ("yum", "yum"),
    ("zypper", "zypper"),
    ("apk", "apk"),
    ("pacman", "pacman"),
)
_ROUTE_LOCALNET = "/proc/sys/net/ipv4/conf/all/route_localnet"
_DEFAULT_HOST = "unix:///var/run/docker.sock"


def read_os_release(paths=("/etc/os-release", "/usr/lib/os-release")):
    for path in paths:
        try:
            with open(path) as fh:
                lines = fh.read().splitlines()
        except OSError:
            continue
        out = {}
        for line in lines:
            key, sep, value = line.partition("=")
            if sep and key.strip() and not key.startswith("#"):
                words = shlex.split(value, posix=True) if value.strip() else [""]
                out[key.strip()] = words[0] if words else ""
        return out
    return {}


def read_platform(which):
    """The platform as Ansible's facts name it; ``which(name)`` finds a program or returns None."""
    release = read_os_release()
    out = {}
    if release.get("ID"):
        out["distribution"] = _DISTRIBUTIONS.get(release["ID"], release["ID"])
        out["distribution_release"] = release.get("VERSION_CODENAME", "")
        out["distribution_major_version"] = release.get("VERSION_ID", "").split(".")[0]
    out["architecture"] = pyplatform.machine()
    out["pkg_mgr"] = next((name for program, name in _PKG_MGRS if which(program)), None)
    if os.path.isdir("/run/systemd/system"):
        out["service_mgr"] = "systemd"
    else:
        try:
            with open("/proc/1/comm") as fh:
                out["service_mgr"] = fh.read().strip()
        except OSError:
            out["service_mgr"] = None
    out["apparmor"] = "enabled" if os.path.exists("/sys/kernel/security/apparmor") else "disabled"
    return out


def stat_of(path):
    """type, mode, owner and group of a path; None when it does not exist."""
    try:
        st = os.stat(path)
    except OSError:
        return None
    kind = "file" if stat.S_ISREG(st.st_mode) else "directory" if stat.S_ISDIR(st.st_mode) else "other"

    def name(getter, ident):
        try:
            return getter(ident)[0]
        except KeyError:
            return str(ident)

    return {
        "type": kind,
        "mode": "%04o" % stat.S_IMODE(st.st_mode),
        "owner": name(pwd.getpwuid, st.st_uid),
        "group": name(grp.getgrgid, st.st_gid),
    }


def read_daemon_json(path):
    out = {"path": path, "exists": os.path.exists(path), "content": None, "mtime": None}
    out["stat"] = stat_of(path)
    if out["stat"] and out["stat"]["type"] == "file":
        with open(path, "rb") as fh:
            out["content"] = fh.read().decode("utf-8", "replace")
        out["mtime"] = os.stat(path).st_mtime
    return out


def read_accounts(users):
    try:
        group = list(grp.getgrnam("docker").gr_mem)
    except KeyError:
        group = None
    existing = []
    for user in users:
        try:
            pwd.getpwnam(user)
            existing.append(user)
        except KeyError:
            pass
    return group, existing


def read_unit(run, name):
    """The unit's file state, active state and the start time (epoch seconds) of its main process."""
    rc, out = run(["systemctl", "show", name, "--property=UnitFileState,ActiveState,ExecMainStartTimestampMonotonic"])
    if rc != 0:
        return {"enabled": None, "active": None}, None
    props = dict(line.partition("=")[::2] for line in out.splitlines() if "=" in line)
    unit = {"enabled": props.get("UnitFileState") or "", "active": props.get("ActiveState") or ""}
    started = None
    mono = props.get("ExecMainStartTimestampMonotonic", "0")
    if unit["active"] == "active" and mono.isdigit() and int(mono) > 0:
        # systemd's monotonic timestamps and time.monotonic() are both CLOCK_MONOTONIC.
        started = time.time() - (time.monotonic() - int(mono) / 1e6)
    return unit, started


def read_packages(run, names):
    """Installed packages of ``names`` and their versions; None without dpkg."""
    if not names:
        return {}
    rc, out = run(["dpkg-query", "-W", "-f=${db:Status-Abbrev}|${Package}|${Version}\\n", *names])
    if rc is None:
        return None
    found = {}
    for line in out.splitlines():
        status, _sep, rest = line.partition("|")
        name, _sep, version = rest.partition("|")
        if len(status) > 1 and status[1] == "i" and name:
            found.setdefault(name, version)
    return found


def read_candidates(run, names):
    """The version apt would install for each of ``names`` (from the package lists on the host)."""
    if not names:
        return {}
    rc, out = run(["apt-cache", "policy", *names])
    found, current = {}, None
    for line in out.splitlines() if rc == 0 else []:
        if line and not line[0].isspace() and line.endswith(":"):
            current = line[:-1]
        elif current and line.strip().startswith("Candidate:"):
            version = line.split(":", 1)[1].strip()
            if version and version != "(none)":
                found[current] = version
    return found


class _UnixHTTPConnection(http.client.HTTPConnection):
    def __init__(self, path, timeout):
        http.client.HTTPConnection.__init__(self, "localhost", timeout=timeout)
        self._path = path

    def connect(self):
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.settimeout(self.timeout)
        sock.connect(self._path)
        self.sock = sock


def _info_over_socket(url, timeout):
    if not url.startswith("unix://"):
        raise OSError("%s can be read only with the Docker SDK for Python (python3-docker), which is missing" % url)
    conn = _UnixHTTPConnection(url[len("unix://") :], timeout)
    try:
        conn.request("GET", "/info")
        resp = conn.getresponse()
        body = resp.read()
        if resp.status != 200:
            raise OSError("GET /info answered %s %s" % (resp.status, body[:200].decode("utf-8", "replace")))
        return json.loads(body.decode("utf-8"))
    finally:
        conn.close()


def _info_with_sdk(url, timeout):
    client = docker.APIClient(base_url=url, version="auto", timeout=timeout)
    try:
        return client.info()
    finally:
        client.close()


def read_engine(url, timeout, use_sdk=HAS_DOCKER_SDK):
    client = "docker-sdk" if use_sdk else "socket"
    out = {"running": False, "version": None, "live_restore": None, "logging_driver": None, "client": client}
    try:
        info = _info_with_sdk(url, timeout) if use_sdk else _info_over_socket(url, timeout)
    except Exception as exc:  # any failure to reach the engine means: no usable engine here
        out["error"] = "cannot reach the Docker daemon at %s: %s" % (url, exc)
        return out
    if not isinstance(info, dict) or not info.get("ServerVersion"):
        out["error"] = "the Docker daemon at %s answered without a ServerVersion" % url
        return out
    out.update(
        running=True,
        version=str(info["ServerVersion"]),
        live_restore=bool(info.get("LiveRestoreEnabled")),
        logging_driver=info.get("LoggingDriver"),
        error="",
    )
    return out


def probe(params, run, which):
    """Everything the module returns; ``run(argv)`` gives (rc, stdout), rc None when the program is missing."""
    key_path = params["repo_key_path"]
    group, users = read_accounts(params["users"])
    unit, started = (
        read_unit(run, params["service_name"]) if which("systemctl") else ({"enabled": None, "active": None}, None)
    )
    packages = read_packages(run, params["packages"]) if which("dpkg-query") else None
    missing = [n for n in params["candidates"] if packages is None or n not in packages]
    url = params["docker_host"] or os.environ.get("DOCKER_HOST") or _DEFAULT_HOST
    engine = read_engine(url, params["timeout"])
    engine["started"] = started
    return {
        "platform": read_platform(which),
        "route_localnet_writable": os.access(_ROUTE_LOCALNET, os.W_OK) if os.path.exists(_ROUTE_LOCALNET) else None,
        "apt": {
            "python_apt": importlib.util.find_spec("apt_pkg") is not None,
            "legacy_docker_list": os.path.exists("/etc/apt/sources.list.d/docker.list"),
            "repo_key": os.path.isfile(key_path) and os.path.getsize(key_path) > 0,
            "keyring_dir": os.path.isdir(os.path.dirname(key_path)),
        },
        "unit": unit,
        "docker_group": group,
        "users": users,
        "daemon_json": read_daemon_json(params["daemon_config_path"]),
        "packages": packages,
        "candidates": read_candidates(run, missing) if missing and which("apt-cache") else {},
        "engine": engine,
    }


def main():
    module = AnsibleModule(
        argument_spec=dict(
            service_name=dict(type="str", default="docker"),
            daemon_config_path=dict(type="path", default="/etc/docker/daemon.json"),
            repo_key_path=dict(type="path", default="/etc/apt/keyrings/docker.asc"),
            packages=dict(type="list", elements="str", default=[]),
            candidates=dict(type="list", elements="str", default=[]),
            users=dict(type="list", elements="str", default=[]),
            docker_host=dict(type="str"),
            timeout=dict(type="int", default=5),
        ),
        supports_check_mode=True,
    )

    def which(program):
        return module.get_bin_path(program)

    def run(argv):
        path = which(argv[0])
        if path is None:
            return None, ""
        rc, out, _err = module.run_command([path, *argv[1:]], environ_update={"LC_ALL": "C"})
        return rc, out

    module.exit_json(changed=False, **probe(module.params, run, which))


if __name__ == "__main__":
    main()
