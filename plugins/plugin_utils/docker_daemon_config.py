# -*- coding: utf-8 -*-
# Copyright (c) apim.selfhosted contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The daemon.json that the docker role writes: the keys it manages (from its variables), merged into the host's file
(every other key kept), and what the running engine needs for it (nothing, a restart, a reload first)."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json

from ansible_collections.apim.selfhosted.plugins.plugin_utils.docker_daemon_keys import (
    ROTATING_DRIVERS,
    UNIT_FLAGS,
    check_known,
    check_value,
    is_str,
    typename,
)


def _options(v, errors, warnings):
    """docker_daemon_options as (key, where, value) after the key checks; refused keys are left out."""
    out = []
    for key, value in (v["docker_daemon_options"] or {}).items():
        where = "docker_daemon_options[%r]" % key
        if not is_str(key):
            errors.append("docker_daemon_options: key %r must be a string" % (key,))
            continue
        if key in UNIT_FLAGS:
            msg = (
                "%s: the %s unit passes %s, and dockerd does not start with a key that is also a flag; "
                "change the unit with a systemd drop-in instead" % (where, v["docker_service_name"], UNIT_FLAGS[key])
            )
            if v["docker_install_source"] != "none":
                errors.append(msg)
                continue
            warnings.append(msg + " (written as given: docker_install_source is none)")
        check_known(errors, warnings, key, where)
        out.append((key, where, value))
    return out


def managed_keys(v, errors, warnings):
    """The keys the role writes as {key: (variable, value)} (managed variables, then docker_daemon_options on top), and
    the keys it removes."""
    managed = {
        "live-restore": ("docker_live_restore", v["docker_live_restore"]),
        "icc": ("docker_icc", v["docker_icc"]),
        "userland-proxy": ("docker_userland_proxy", v["docker_userland_proxy"]),
        "no-new-privileges": ("docker_no_new_privileges", v["docker_no_new_privileges"]),
        "log-driver": ("docker_log_driver", v["docker_log_driver"]),
        "log-level": ("docker_log_level", v["docker_log_level"]),
    }
    removed = []
    options = _options(v, errors, warnings)
    for key, where, value in options:
        if value is None:
            managed.pop(key, None)
            removed.append(key)
        else:
            managed[key] = (where, value)
    driver = managed.get("log-driver", (None, "json-file"))[1]
    if not any(key == "log-opts" for key, _w, _v in options):
        if driver in ROTATING_DRIVERS:
            rotation = {"max-size": v["docker_log_max_size"], "max-file": str(v["docker_log_max_file"])}
            managed["log-opts"] = ("docker_log_max_size/docker_log_max_file", rotation)
        else:
            removed.append("log-opts")
    failed = " ".join(errors)
    for key, (where, value) in managed.items():
        # A variable that the argument spec refused already has its message.
        if where.startswith("docker_daemon_options") or where.split("/", maxsplit=1)[0] not in failed:
            check_value(errors, key, value, where)
    return managed, removed


def parse_existing(existing, path, errors):
    """The host's daemon.json text as a mapping; {} when empty, None when missing or unreadable (with an error)."""
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
            "%s on this host (docker_daemon_config_path) must hold a JSON object, got %s" % (path, typename(data))
        )
        return None
    return data


def merge(current, managed, removed):
    config = dict(current or {})
    for key, (_where, value) in managed.items():
        config[key] = value
    for key in removed:
        config.pop(key, None)
    return config


def canonical(data):
    return json.dumps(data, sort_keys=True, separators=(",", ":"))


def _not_applied(path, config, engine, mtime, errors, warnings):
    """Whether the running engine has not read the file as it is now (a restart is due although the content is right):
    it started before the file was last written, e.g. after a run whose restart never happened."""
    if not engine["running"]:
        return False
    differs = engine["live_restore"] != (config.get("live-restore") is True) or engine["logging_driver"] != config.get(
        "log-driver", "json-file"
    )
    started = engine.get("started")
    if started is not None and mtime is not None and started < mtime:
        warnings.append(
            "the running Docker Engine started before %s was last written and has not applied it; it is restarted"
            % path
        )
        return True
    if differs:
        errors.append(
            "the running Docker Engine reports live-restore %s and log driver %s, but %s (docker_daemon_config_path) "
            "asks for %s and %s although the engine started after the file was written: its unit may read another "
            "file (--config-file; see systemctl cat docker)"
            % (engine["live_restore"], engine["logging_driver"], path, config.get("live-restore", False),
               config.get("log-driver", "json-file"))
        )  # fmt: skip
    return False


def plan_daemon_json(v, host, existing, managed, removed, errors, warnings):
    """The daemon.json decisions: merged config, text to write, whether it changed, whether the file and its directory
    are already right, and what the running engine needs (restart, reload first)."""
    path, engine = v["docker_daemon_config_path"], host["engine"]
    current = parse_existing(existing, path, errors)
    config = merge(current, managed, removed)
    out = {"managed": dict((k, val) for k, (_w, val) in managed.items())}
    if config.get("userland-proxy") is False and host.get("userland_proxy_possible") is False:
        where = managed.get("userland-proxy", ("%s (userland-proxy)" % path,))[0]
        warnings.append(
            "%s is false, but dockerd cannot set net.ipv4.conf.*.route_localnet on this host (/proc/sys is read-only, "
            "as in an unprivileged container) and would not start; userland-proxy stays true here" % where
        )
        config["userland-proxy"] = True
        out["managed"]["userland-proxy"] = True
    if errors:
        return out
    changed = current is None or canonical(current) != canonical(config)
    pending = not changed and _not_applied(path, config, engine, host.get("daemon_json_mtime"), errors, warnings)
    restart = (changed or pending) and engine["running"]
    live = config.get("live-restore") is True
    if changed and engine["running"] and not live:
        warnings.append(
            "live-restore is off in the new daemon.json: the daemon restart stops the running containers (only those "
            "with a restart policy come back)"
        )
    out.update(
        config=config,
        content=existing if not changed else json.dumps(config, indent=2) + "\n",
        changed=changed,
        file_ok=not changed and host.get("daemon_json_file_ok", False),
        restart=restart,
        reload_first=restart and live and engine["live_restore"] is False,
    )
    return out
