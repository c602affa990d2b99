# -*- coding: utf-8 -*-
# Copyright (c) apim.selfhosted contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The container side of the validator: identity, ports, resources, logging, healthcheck, network and mounts.

``container(c)`` returns the ``container`` part of the plan that the ``gateway_container`` module takes (plain data,
no secret), ``backup(c, ...)`` its ``backup`` part.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import ipaddress
import re

from ansible_collections.apim.selfhosted.plugins.module_utils.gateway_env_rules import HOSTNAME, version_text
from ansible_collections.apim.selfhosted.plugins.module_utils.gateway_plan import (
    BACKUP_MOUNT,
    CONTAINER_HTTP_PORT,
    CONTAINER_HTTPS_PORT,
    ENV_DIR,
    LABEL_READY_URL,
    LABEL_ROLE,
    NEIGHBOUR_ADDRESS,
    PREVIOUS_SUFFIX,
    ROLE_GATEWAY,
    backup_path_problem,
    certificate_path,
)
from ansible_collections.apim.selfhosted.plugins.module_utils.gateway_setting_rules import HOST_SYSLOG_SOCKET

DEFAULT_STATUS_PATH = "/status-0123456789abcdef"
DEFAULT_CONTAINER_UID = 1001
BACKUP_GID = 1001

_CONTAINER_NAME = re.compile(r"^[a-zA-Z0-9][a-zA-Z0-9_.-]{0,54}$")
_USER = re.compile(r"^(?P<user>[0-9]+|[a-z_][a-z0-9_-]{0,31})(?::(?P<group>[0-9]+|[a-z_][a-z0-9_-]{0,31}))?$")
_MEMORY = re.compile(r"^([0-9]+(?:\.[0-9]+)?)([bkmg]?)$", re.IGNORECASE)
_DURATION = re.compile(r"^[0-9]+(ms|s|m|h)$")
_STATUS_PATH = re.compile(r"^/[A-Za-z0-9._~/-]*$")
_MEMORY_UNITS = {"": 1, "b": 1, "k": 1024, "m": 1024**2, "g": 1024**3}


def _ip(text):
    try:
        return ipaddress.ip_address(text)
    except ValueError:
        return None


def container(c):
    """The container part of the plan."""
    spec = _identity(c)
    probe_host = _ports(c, spec)
    _readiness(c, spec, probe_host)
    _resources(c, spec)
    _logging(c, spec)
    _healthcheck(c, spec)
    _network(c, spec)
    spec["mounts"] = _mounts(c, spec)
    spec["labels"] = {LABEL_ROLE: ROLE_GATEWAY, LABEL_READY_URL: spec["ready_url"]}
    return spec


def _identity(c):
    spec = {}
    name = c.text("gateway_container_name")
    if not _CONTAINER_NAME.match(name):
        c.err("gateway_container_name '%s' must be 1-55 letters, digits, '_', '.' or '-'" % name)
    spec["name"] = name
    spec["previous_name"] = name + PREVIOUS_SUFFIX
    spec["env_file"] = "%s/%s.env" % (ENV_DIR, name)
    user = c.text("gateway_user")
    m = _USER.match(user)
    c.uid = DEFAULT_CONTAINER_UID
    if not m:
        c.err("gateway_user '%s' must be uid[:gid] or name[:group]" % user)
    elif m.group("user") in ("0", "root"):
        c.err("gateway_user '%s' runs the gateway as root (uid 0); that is refused, use 1001:1001" % user)
    elif m.group("user").isdigit():
        c.uid = int(m.group("user"))
    spec["user"] = user
    if c.get("gateway_local_ca_enabled", False) and m and m.group("user") != str(DEFAULT_CONTAINER_UID):
        c.err("gateway_local_ca_enabled needs the gateway to run as uid 1001; gateway_user is '%s'" % user)
    if c.get("gateway_read_only_rootfs", False):
        c.err(
            "gateway_read_only_rootfs: a read-only root filesystem is not supported by the gateway "
            "(it writes its CA bundle at start)"
        )
    return spec


def _ports(c, spec):
    """Published ports; returns the host to probe readiness on."""
    bind = c.text("gateway_bind_address")
    ip = _ip(bind)
    if ip is None:
        c.err("gateway_bind_address '%s' must be an IP address (0.0.0.0 for all)" % bind)
        probe_host = "127.0.0.1"
    elif ip.version == 6:
        probe_host = "[::1]" if ip.is_unspecified else "[%s]" % bind
    else:
        probe_host = "127.0.0.1" if ip.is_unspecified else bind
    http = c.port("gateway_http_port")
    https = c.port("gateway_https_port")
    if http and https and http == https:
        c.err("gateway_http_port and gateway_https_port must differ")
    ports = [
        {"host_ip": bind, "host_port": http, "container_port": CONTAINER_HTTP_PORT, "protocol": "tcp"},
        {"host_ip": bind, "host_port": https, "container_port": CONTAINER_HTTPS_PORT, "protocol": "tcp"},
    ]
    if c.text("gateway_neighborhood_host"):
        udp_bind = _neighbour_bind(c)
        for var in ("gateway_rate_limit_sync_port", "gateway_heartbeat_port"):
            p = c.port(var)
            ports.append({"host_ip": udp_bind, "host_port": p, "container_port": p, "protocol": "udp"})
    spec["ports"] = ports
    spec["http_port"] = http
    return probe_host


def _neighbour_bind(c):
    """Where the UDP neighborhood ports are published: an address given, or the marker that the host module
    replaces with the host's address on the neighbours' network (found from neighborhood.host on the host)."""
    bind = c.text("gateway_neighborhood_bind_address")
    if not bind:
        return NEIGHBOUR_ADDRESS
    if _ip(bind) is None:
        c.err(
            "gateway_neighborhood_bind_address '%s' must be an IP address (empty: the host's address on the network "
            "where gateway_neighborhood_host's addresses are)" % bind
        )
    elif _ip(bind).is_unspecified:
        c.warn(
            "gateway_neighborhood_bind_address %s publishes the UDP neighborhood ports on every address of the host; "
            "allow them only from the neighbours in the host's firewall" % bind
        )
    return bind


def _readiness(c, spec, probe_host):
    status_path = c.text("gateway_status_path") or DEFAULT_STATUS_PATH
    if not _STATUS_PATH.match(status_path):
        c.err("gateway_status_path '%s' must be an absolute URL path such as %s" % (status_path, DEFAULT_STATUS_PATH))
    spec["status_path"] = status_path
    spec["ready_url"] = "http://%s:%s%s" % (probe_host, spec.pop("http_port"), status_path)
    try:
        spec["ready_timeout"] = int(c.get("gateway_ready_timeout", 180))
        if not 5 <= spec["ready_timeout"] <= 3600:
            raise ValueError
    except (TypeError, ValueError):
        c.err("gateway_ready_timeout must be a number of seconds between 5 and 3600")
        spec["ready_timeout"] = 180
    try:
        spec["stop_timeout"] = int(c.get("gateway_stop_timeout", 60))
    except (TypeError, ValueError):
        c.err("gateway_stop_timeout must be a whole number of seconds")
        spec["stop_timeout"] = 60
    try:
        spec["log_lines"] = max(0, int(c.get("gateway_log_lines", 40)))
    except (TypeError, ValueError):
        c.err("gateway_log_lines must be a whole number")
        spec["log_lines"] = 40


def memory_bytes(text):
    m = _MEMORY.match(text)
    if not m:
        return None
    return int(float(m.group(1)) * _MEMORY_UNITS[m.group(2).lower()])


def _resources(c, spec):
    policy = c.get("gateway_restart_policy", "unless-stopped")
    if policy not in ("always", "unless-stopped"):
        c.err("gateway_restart_policy must be always or unless-stopped (survives reboots), got '%s'" % policy)
    spec["restart_policy"] = policy
    memory = c.text("gateway_memory")
    size = memory_bytes(memory)
    if size is None:
        c.err("gateway_memory '%s' must be a size such as 2g or 1536m" % memory)
    elif size < 256 * 1024**2:
        c.err("gateway_memory '%s' is below 256m; the gateway does not start with less" % memory)
    spec["memory"] = size or 0
    try:
        cpus = float(c.get("gateway_cpus"))
        if not 0 < cpus <= 512:
            raise ValueError
    except (TypeError, ValueError):
        c.err("gateway_cpus must be a number of CPUs above 0, got %s" % c.get("gateway_cpus"))
        cpus = 1.0
    spec["cpus"] = cpus
    try:
        pids = int(c.get("gateway_pids_limit"))
        if pids < 64:
            raise ValueError
    except (TypeError, ValueError):
        c.err("gateway_pids_limit must be a whole number of at least 64 (no unlimited)")
        pids = 4096
    spec["pids_limit"] = pids


def _logging(c, spec):
    driver = c.get("gateway_log_driver", "json-file")
    spec["log_driver"] = driver
    spec["log_options"] = {}
    if driver in ("json-file", "local"):
        max_size = c.text("gateway_log_max_size")
        if not re.match(r"^[0-9]+[kmg]$", max_size):
            c.err("gateway_log_max_size '%s' must be a size such as 10m" % max_size)
        try:
            max_files = int(c.get("gateway_log_max_files"))
            if max_files < 1:
                raise ValueError
        except (TypeError, ValueError):
            c.err("gateway_log_max_files must be a whole number of at least 1")
            max_files = 1
        spec["log_options"] = {"max-size": max_size, "max-file": str(max_files)}


def _healthcheck(c, spec):
    if not c.get("gateway_healthcheck_enabled", True):
        spec["healthcheck"] = {"test": ["NONE"]}
        return
    # No wget -T: Docker's healthcheck timeout bounds the probe, and some BusyBox builds crash on -T.
    test = c.get("gateway_healthcheck_command") or [
        "CMD",
        "wget",
        "-q",
        "-O",
        "/dev/null",
        "http://127.0.0.1:%d%s" % (CONTAINER_HTTP_PORT, spec["status_path"]),
    ]
    if not isinstance(test, list) or not test or test[0] not in ("CMD", "CMD-SHELL"):
        c.err("gateway_healthcheck_command must be a list starting with CMD or CMD-SHELL")
    elif any("curl" in str(part) for part in test):
        c.err("gateway_healthcheck_command uses curl; the gateway image has no curl (use BusyBox wget)")
    health = {"test": [str(t) for t in test] if isinstance(test, list) else [str(test)]}
    for var, key in (
        ("gateway_healthcheck_interval", "interval"),
        ("gateway_healthcheck_timeout", "timeout"),
        ("gateway_healthcheck_start_period", "start_period"),
    ):
        value = c.text(var)
        if not _DURATION.match(value):
            c.err("%s '%s' must be a duration such as 30s" % (var, value))
        health[key] = value
    try:
        health["retries"] = int(c.get("gateway_healthcheck_retries"))
    except (TypeError, ValueError):
        c.err("gateway_healthcheck_retries must be a whole number")
        health["retries"] = 3
    spec["healthcheck"] = health


def _network(c, spec):
    hosts = c.get("gateway_extra_hosts", {})
    spec["etc_hosts"] = {}
    if not isinstance(hosts, dict):
        c.err("gateway_extra_hosts must be a mapping of host name to IP address")
    else:
        for host, addr in hosts.items():
            if not HOSTNAME.match(str(host)):
                c.err("gateway_extra_hosts: '%s' is not a valid host name" % host)
            if _ip(str(addr)) is None:
                c.err("gateway_extra_hosts: the address for %s must be an IP address, got '%s'" % (host, addr))
            spec["etc_hosts"][str(host)] = str(addr)
    dns = [str(d) for d in c.get("gateway_dns_servers", [])]
    for d in dns:
        if _ip(d) is None:
            c.err("gateway_dns_servers: '%s' is not an IP address" % d)
    spec["dns_servers"] = dns


def _mounts(c, spec):
    mounts = []
    if c.get("gateway_backup_enabled", True):
        mounts.append({"source": c.text("gateway_backup_path").rstrip("/"), "target": BACKUP_MOUNT, "read_only": False})
    ca = c.get("gateway_ca_bundle_mounts", [])
    if not isinstance(ca, list):
        c.err("gateway_ca_bundle_mounts must be a list of {source, target}")
        ca = []
    for item in ca:
        if (
            not isinstance(item, dict)
            or not str(item.get("source", "")).startswith("/")
            or not str(item.get("target", "")).startswith("/")
        ):
            c.err("gateway_ca_bundle_mounts: each item needs an absolute source (host) and target (container) path")
            continue
        if str(item["target"]).rstrip("/") == BACKUP_MOUNT:
            c.err("gateway_ca_bundle_mounts: %s is the backup mount" % BACKUP_MOUNT)
            continue
        mounts.append({"source": str(item["source"]), "target": str(item["target"]), "read_only": True})
    cert = c.text("gateway_azure_ad_certificate_path")
    if cert and c.get("gateway_auth_mode", "token") == "azureAdApp" and c.text("gateway_azure_ad_certificate"):
        mounts.append({"source": certificate_path(spec["env_file"]), "target": cert, "read_only": True})
    if c.text("gateway_local_logs") == "localsyslog" and c.text("gateway_local_logs_endpoint").startswith("/"):
        # As Microsoft's Helm chart does: the host's syslog socket at the endpoint (a socket works read-only).
        mounts.append(
            {"source": HOST_SYSLOG_SOCKET, "target": c.text("gateway_local_logs_endpoint"), "read_only": True}
        )
    if c.get("gateway_local_ca_enabled", False) and not ca:
        c.warn(
            "gateway_local_ca_enabled: the gateway uses the CA certificates mounted into the container, and "
            "gateway_ca_bundle_mounts mounts none"
        )
    targets = [m["target"].rstrip("/") for m in mounts]
    for target in sorted(set(t for t in targets if targets.count(t) > 1)):
        c.err("gateway_ca_bundle_mounts: %s is mounted twice (another variable mounts it already)" % target)
    return mounts


def backup(c, state):
    """The backup part of the plan. The path is checked for every use of it (create, chown, mount, remove), whatever
    gateway_backup_enabled says: a path that could hurt the host is refused before any host is touched."""
    enabled = bool(c.get("gateway_backup_enabled", True))
    remove = bool(c.get("gateway_remove_backup", False)) and state == "absent"
    path = c.text("gateway_backup_path")
    if enabled or remove or path:
        problem = backup_path_problem(path)
        if problem:
            c.err("gateway_backup_path '%s' %s" % (path, problem))
    if enabled and state == "present" and c.version_checks and c.version is not None:
        if (2, 12, 0) <= c.version < (2, 12, 2):
            c.err(
                "gateway_backup_enabled: restore from backup is broken in gateway %s (2.12.0-2.12.1); pin "
                "gateway_image_tag 2.12.3 or newer" % version_text(c.version)
            )
    return {
        "enabled": enabled,
        "path": path.rstrip("/"),
        "owner": c.uid,
        "group": BACKUP_GID,
        "remove": remove,
    }
