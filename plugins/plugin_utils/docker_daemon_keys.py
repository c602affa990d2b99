# -*- coding: utf-8 -*-
# Copyright (c) apim.selfhosted contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The daemon.json keys that dockerd knows: their JSON types, choices, the engine version that added them, and the
keys the engine's systemd unit already passes as flags. Checks one key at a time; knows nothing of the role."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import difflib
import re

# The JSON type of every daemon.json key of dockerd 20.10 to 27 (dockerd refuses a key it does not know, and a value of
# another type).
BOOL = {
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
INT = {
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
STR = {
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
STR_LIST = {
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
STR_DICT = {"cluster-store-opts", "log-opts", "proxies"}
BOOL_DICT = {"features"}
DICT = {"builder", "default-network-opts", "default-ulimits", "runtimes"}
ADDRESS_POOLS = "default-address-pools"
KNOWN = BOOL | INT | STR | STR_LIST | STR_DICT | BOOL_DICT | DICT | {ADDRESS_POOLS}
CHOICES = {
    "log-level": ("debug", "info", "warn", "error", "fatal"),
    "default-cgroupns-mode": ("host", "private"),
    "default-ipc-mode": ("private", "shareable"),
    "log-format": ("text", "json"),
}
# Keys that older engines refuse ("the following directives don't match any configuration option"): the engine version
# that added each, and what to do on an older engine.
SINCE = {
    "proxies": (
        (23, 0),
        "set HTTP_PROXY, HTTPS_PROXY and NO_PROXY in a systemd drop-in of the docker unit instead "
        "(/etc/systemd/system/docker.service.d/proxy.conf), or use docker_install_source: docker_ce",
    ),
}
# Flags of the docker.service units of Debian's docker.io and of Docker CE: dockerd does not start when a key is set
# both as a flag and in daemon.json.
UNIT_FLAGS = {"hosts": "-H fd://", "containerd": "--containerd=/run/containerd/containerd.sock"}

ROTATING_DRIVERS = ("local", "json-file")
SIZE = re.compile(r"^[0-9]+(\.[0-9]+)? ?[kKmMgGtTpP]?[iI]?[bB]?$")


def typename(value):
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


def is_str(value):
    return isinstance(value, str)


def is_int(value):
    return isinstance(value, int) and not isinstance(value, bool)


def _pools_ok(value):
    return isinstance(value, list) and all(
        isinstance(p, dict) and is_str(p.get("base")) and is_int(p.get("size")) and set(p) <= {"base", "size"}
        for p in value
    )


# (key set, test of the value, what it must be)
_SHAPES = (
    (BOOL, lambda v: isinstance(v, bool), "a boolean (true or false, not a string)"),
    (INT, is_int, "an integer"),
    (STR, lambda v: is_str(v) and bool(v.strip()), "a non-empty string"),
    (STR_LIST, lambda v: isinstance(v, list) and all(is_str(i) for i in v), "a list of strings"),
    (
        STR_DICT,
        lambda v: isinstance(v, dict) and all(is_str(k) and is_str(i) for k, i in v.items()),
        'a mapping of strings to strings (quote numbers: "3")',
    ),
    (
        BOOL_DICT,
        lambda v: isinstance(v, dict) and all(isinstance(i, bool) for i in v.values()),
        "a mapping of names to booleans",
    ),
    (DICT, lambda v: isinstance(v, dict), "a mapping"),
    ({ADDRESS_POOLS}, _pools_ok, "a list of mappings with base (a CIDR string) and size (an integer)"),
)


def check_value(errors, key, value, where):
    """Refuse a daemon.json value of the wrong JSON type; ``where`` names the variable."""
    for keys, test, expected in _SHAPES:
        if key not in keys:
            continue
        if not test(value):
            errors.append("%s must be %s, got %s (%r)" % (where, expected, typename(value), value))
        elif key in CHOICES and value not in CHOICES[key]:
            errors.append("%s must be one of %s, got %r" % (where, ", ".join(CHOICES[key]), value))
        elif key == "log-opts" and "max-size" in value and not SIZE.match(value["max-size"]):
            errors.append("%s max-size must be a size such as 10m, got %r" % (where, value["max-size"]))
        return


def check_known(errors, warnings, key, where):
    """A key of docker_daemon_options that dockerd may not know: refuse a near miss, warn about the rest."""
    if key in KNOWN:
        return
    normal = key.strip().lower().replace("_", "-")
    near = [normal] if normal in KNOWN else difflib.get_close_matches(normal, sorted(KNOWN), n=1, cutoff=0.85)
    if near:
        errors.append("%s: unknown daemon.json key %r (did you mean %r?)" % (where, key, near[0]))
    else:
        warnings.append(
            "%s: %r is not a daemon.json key known to the role (dockerd 20.10 to 27); it is written as given, and a "
            "dockerd that does not know it will not start" % (where, key)
        )


def check_engine_version(errors, keys, engine_version, where_of):
    """Refuse keys that the engine this host runs (or will run) does not know. ``engine_version`` is a tuple or None
    (not known: nothing to check); ``where_of(key)`` names the variable that sets the key."""
    if engine_version is None:
        return
    for key in keys:
        if key in SINCE and engine_version < SINCE[key][0]:
            since, instead = SINCE[key]
            errors.append(
                "%s: Docker Engine %s on this host does not know the daemon.json key %r (added in %s) and would not "
                "start with it; %s" % (where_of(key), ".".join(map(str, engine_version)), key, "%d.%d" % since, instead)
            )
