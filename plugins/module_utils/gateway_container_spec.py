# -*- coding: utf-8 -*-
# Copyright (c) apim.selfhosted contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The one container spec builder: from the plan's ``container`` part to what the engine is asked to create, and
from what the engine reports back to the fields the plan manages, for comparison.

Pure functions over plain data (no Docker SDK here): ``gateway_engine`` turns ``create_request`` into API calls.
The gateway container and the throwaway containers that prove credentials are built here, so their hardening
cannot drift apart.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import re

from ansible_collections.apim.selfhosted.plugins.module_utils.gateway_plan import (
    BACKUP_MOUNT,
    CHECK_SUFFIX,
    LABEL_AUTH_DIGEST,
    LABEL_PROVEN_AT,
    LABEL_ROLE,
    ROLE_CREDENTIAL_CHECK,
)

SECURITY_OPTS = ["no-new-privileges:true"]
CAP_DROP = ["ALL"]
_DURATION = re.compile(r"^([0-9]+)(ms|s|m|h)$")
_UNIT_NS = {"ms": 10**6, "s": 10**9, "m": 60 * 10**9, "h": 3600 * 10**9}
# Settings a throwaway container must not have: it must not join the real gateways' neighborhood.
_THROWAWAY_DROP = ("neighborhood.", "policy.rate-limit.sync.port")
# Labels that record what a container was started with; they are not part of the plan's comparison.
INFO_LABELS = (LABEL_AUTH_DIGEST, LABEL_PROVEN_AT)
# Env keys whose values are never shown, whatever the plan says of them (an older plan may have had a secret there).
_ALWAYS_HIDDEN = ("config.service.auth",)

FIELDS = (
    "image", "env", "user", "capabilities", "security_opts", "privileged", "read_only", "ports", "mounts",
    "memory", "cpus", "pids_limit", "healthcheck", "restart_policy", "log", "labels", "etc_hosts", "dns_servers",
    "stop_timeout", "network_mode",
)  # fmt: skip


def duration_ns(text):
    m = _DURATION.match(str(text))
    if not m:
        raise ValueError("not a duration: %s" % text)
    return int(m.group(1)) * _UNIT_NS[m.group(2)]


def throwaway(container, env_pairs):
    """The plan of a throwaway container that proves credentials: the same hardening, image and settings, but no
    published ports, no backup mount, no neighborhood and no restart policy."""
    spec = dict(container)
    spec["name"] = container["name"] + CHECK_SUFFIX
    spec["ports"] = []
    spec["mounts"] = [m for m in container.get("mounts", []) if m["target"] != BACKUP_MOUNT]
    spec["restart_policy"] = "no"
    spec["healthcheck"] = {"test": ["NONE"]}
    spec["labels"] = {LABEL_ROLE: ROLE_CREDENTIAL_CHECK}
    pairs = [(k, v) for k, v in env_pairs if not k.startswith(_THROWAWAY_DROP)]
    return spec, pairs


def _healthcheck(hc):
    if not hc or hc.get("test") == ["NONE"]:
        return {"Test": ["NONE"]}
    out = {"Test": list(hc["test"]), "Retries": int(hc.get("retries", 3))}
    for key, name in (("interval", "Interval"), ("timeout", "Timeout"), ("start_period", "StartPeriod")):
        if hc.get(key):
            out[name] = duration_ns(hc[key])
    return out


def _port_key(p):
    return "%s/%s" % (p["container_port"], p.get("protocol", "tcp"))


def _port_bindings(ports):
    out = {}
    for p in ports:
        out.setdefault(_port_key(p), []).append({"HostIp": p["host_ip"], "HostPort": str(p["host_port"])})
    return out


def _managed_labels(labels):
    return {k: v for k, v in (labels or {}).items() if k.startswith("io.apim.selfhosted.") and k not in INFO_LABELS}


def create_request(container, env_pairs, image, info_labels=None):
    """What to create, as plain data: ``config`` (the container), ``host`` (its host config). ``info_labels``:
    labels that record facts about this container (its credentials' digest, when they were proven)."""
    config = {
        "image": image,
        "name": container["name"],
        "user": container["user"],
        "environment": ["%s=%s" % (k, v) for k, v in env_pairs],
        "ports": [(p["container_port"], p.get("protocol", "tcp")) for p in container.get("ports", [])],
        "labels": dict(container.get("labels", {}), **(info_labels or {})),
        "healthcheck": _healthcheck(container.get("healthcheck")),
        "stop_timeout": container.get("stop_timeout"),
        "detach": True,
    }
    memory = int(container.get("memory") or 0)
    host = {
        "port_bindings": _port_bindings(container.get("ports", [])),
        "mounts": [dict(m) for m in container.get("mounts", [])],
        "restart_policy": {"Name": container.get("restart_policy", "unless-stopped")},
        "mem_limit": memory or None,
        "memswap_limit": memory or None,
        "nano_cpus": round(float(container["cpus"]) * 10**9) if container.get("cpus") else None,
        "pids_limit": container.get("pids_limit"),
        "cap_drop": list(CAP_DROP),
        "security_opt": list(SECURITY_OPTS),
        "privileged": False,
        "read_only": False,
        "log_config": {
            "Type": container.get("log_driver", "json-file"),
            "Config": dict(container.get("log_options", {})),
        },
        "extra_hosts": dict(container.get("etc_hosts", {})),
        "dns": list(container.get("dns_servers", [])),
    }
    return {"config": config, "host": host}


def _env_dict(items):
    out = {}
    for item in items or []:
        key, _sep, value = item.partition("=")
        out[key] = value
    return out


def expected(container, env_pairs, image_info):
    """The managed fields as the engine would report them for a container created from this plan."""
    req = create_request(container, env_pairs, image_info.get("Id"))
    env = _env_dict((image_info.get("Config") or {}).get("Env"))
    env.update(env_pairs)
    host = req["host"]
    return {
        "image": image_info.get("Id"),
        "env": env,
        "user": container["user"],
        "capabilities": (list(CAP_DROP), []),
        "security_opts": sorted(SECURITY_OPTS),
        "privileged": False,
        "read_only": False,
        "ports": host["port_bindings"],
        "mounts": sorted((m["source"], m["target"], bool(m.get("read_only"))) for m in host["mounts"]),
        "memory": (host["mem_limit"] or 0, host["memswap_limit"] or 0),
        "cpus": host["nano_cpus"] or 0,
        "pids_limit": host["pids_limit"] or 0,
        "healthcheck": req["config"]["healthcheck"],
        "restart_policy": host["restart_policy"]["Name"],
        "log": host["log_config"],
        "labels": _managed_labels(req["config"]["labels"]),
        "etc_hosts": sorted("%s:%s" % kv for kv in host["extra_hosts"].items()),
        "dns_servers": host["dns"],
        "stop_timeout": req["config"]["stop_timeout"],
        "network_mode": "bridge",
    }


def _bindings(bindings):
    return {
        key: [{"HostIp": b.get("HostIp", ""), "HostPort": str(b.get("HostPort", ""))} for b in value or []]
        for key, value in (bindings or {}).items()
    }


def actual(info):
    """The managed fields of a container as ``inspect`` reports them (an ``expected``-shaped dict)."""
    cfg, hc = info.get("Config") or {}, info.get("HostConfig") or {}
    binds = hc.get("Binds") or []
    mounts = [(m.get("Source"), m.get("Target"), bool(m.get("ReadOnly"))) for m in hc.get("Mounts") or []]
    mounts += [("bind:" + b, "", False) for b in binds]  # -v mounts the spec never makes: always a difference
    health = cfg.get("Healthcheck") or {"Test": ["NONE"]}
    if health.get("Test") == ["NONE"]:
        health = {"Test": ["NONE"]}
    labels = cfg.get("Labels") or {}
    log = hc.get("LogConfig") or {}
    return {
        "image": info.get("Image"),
        "env": _env_dict(cfg.get("Env")),
        "user": cfg.get("User") or "",
        "capabilities": (list(hc.get("CapDrop") or []), list(hc.get("CapAdd") or [])),
        "security_opts": sorted(hc.get("SecurityOpt") or []),
        "privileged": bool(hc.get("Privileged")),
        "read_only": bool(hc.get("ReadonlyRootfs")),
        "ports": _bindings(hc.get("PortBindings")),
        "mounts": sorted(mounts),
        "memory": (hc.get("Memory") or 0, hc.get("MemorySwap") or 0),
        "cpus": hc.get("NanoCpus") or 0,
        "pids_limit": hc.get("PidsLimit") or 0,
        "healthcheck": health,
        "restart_policy": (hc.get("RestartPolicy") or {}).get("Name") or "no",
        "log": {"Type": log.get("Type"), "Config": log.get("Config") or {}},
        "labels": _managed_labels(labels),
        "etc_hosts": sorted(hc.get("ExtraHosts") or []),
        "dns_servers": list(hc.get("Dns") or []),
        "stop_timeout": cfg.get("StopTimeout"),
        "network_mode": "bridge" if hc.get("NetworkMode") in ("default", "bridge", None, "") else hc.get("NetworkMode"),
    }


def differences(want, have):
    """Names of the fields that differ; env differences as ``env:<key>``."""
    out = []
    for field in FIELDS:
        if field == "env":
            keys = sorted(set(want["env"]) | set(have["env"]))
            out.extend("env:%s" % k for k in keys if want["env"].get(k) != have["env"].get(k))
        elif field == "healthcheck":
            if _health_norm(want[field]) != _health_norm(have[field]):
                out.append(field)
        elif want[field] != have[field]:
            out.append(field)
    return out


def _health_norm(h):
    if h.get("Test") == ["NONE"]:
        return {"Test": ["NONE"]}
    return {k: h.get(k) or 0 for k in ("Test", "Interval", "Timeout", "StartPeriod", "Retries")}


def shown_keys(env):
    """The env-file keys whose values --diff may show: the plan's own non-secret settings, never an auth one."""
    return {e["key"] for e in env if not e.get("secret") and not e["key"].startswith(_ALWAYS_HIDDEN)}


def describe(field, values, shown):
    """One line for --diff: the value of a field; env values only for keys in ``shown`` (see ``shown_keys``)."""
    if field.startswith("env:"):
        key = field[4:]
        value = values["env"].get(key)
        if value is None:
            return "%s: (unset)" % field
        return "%s: %s" % (field, value if key in shown else "(hidden)")
    return "%s: %s" % (field, values[field])


def diff(want, have, fields, shown):
    """An Ansible diff of the differing fields; values of secret settings are never shown."""
    return {
        "before": "".join(describe(f, have, shown) + "\n" for f in fields),
        "after": "".join(describe(f, want, shown) + "\n" for f in fields),
        "before_header": "running container",
        "after_header": "plan",
    }
