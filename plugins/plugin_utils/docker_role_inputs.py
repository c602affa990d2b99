# -*- coding: utf-8 -*-
# Copyright (c) apim.selfhosted contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The docker role's inputs: its argument spec and platforms (read from the role's meta files), and the validation of
the role's variables on their own, before anything about the host is known."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import os
import re

from ansible.module_utils.common.arg_spec import ArgumentSpecValidator
from ansible.module_utils.common.yaml import yaml_load

from ansible_collections.apim.selfhosted.plugins.module_utils.role_vars import plain
from ansible_collections.apim.selfhosted.plugins.plugin_utils.docker_daemon_keys import SIZE, is_str, typename

_ROLE_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "roles", "docker")
_CACHE = {}

_VERSION = re.compile(r"^[0-9]+(\.[0-9]+){1,2}$")
CE_UPSTREAM = re.compile(r"^[0-9]+\.[0-9]+\.[0-9]+$")
CE_FULL = re.compile(r"^[0-9]+:[0-9][0-9A-Za-z.+~-]*$")
_USER = re.compile(r"^[a-z_][a-z0-9_.-]*\$?$")
_CHECKSUM = re.compile(r"^(sha256|sha384|sha512):[0-9a-fA-F]+$")


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


def _by_spec(raw, spec, errors, warnings):
    """Unknown variables dropped with a warning, then the argument spec's types, choices and defaults."""
    values = plain(raw or {})
    for name in sorted(k for k in values if k not in spec):
        warnings.append("%s is not a variable of the docker role (typo?); it is ignored" % name)
        values.pop(name)
    # The argument spec converts 'a=b' into a mapping; daemon.json keys come only as a mapping.
    options = values.get("docker_daemon_options")
    if options is not None and not isinstance(options, dict):
        errors.append(
            "docker_daemon_options must be a mapping of daemon.json keys to values, got %s (%r)"
            % (typename(options), options)
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
    return v


def _docker_ce_rules(v, errors, warnings):
    pin = v["docker_ce_version"] or ""
    if pin and not (CE_UPSTREAM.match(pin) or CE_FULL.match(pin)):
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


def _value_rules(v, errors):
    if not _VERSION.match(str(v["docker_min_version"] or "")):
        errors.append("docker_min_version must be a version such as 20.10 or 24.0.7, got %r" % v["docker_min_version"])
    if isinstance(v["docker_apt_cache_valid_time"], int) and v["docker_apt_cache_valid_time"] < 0:
        errors.append("docker_apt_cache_valid_time must be 0 or more seconds")
    if isinstance(v["docker_wait_timeout"], int) and v["docker_wait_timeout"] < 1:
        errors.append("docker_wait_timeout must be at least 1 second")
    path = v["docker_daemon_config_path"] or ""
    if not path.startswith("/") or path.endswith("/"):
        errors.append("docker_daemon_config_path must be an absolute file path, got %r" % path)
    if not re.match(r"^[A-Za-z0-9_.@-]+$", v["docker_service_name"] or ""):
        errors.append("docker_service_name must be a systemd unit name, got %r" % v["docker_service_name"])
    if not is_str(v["docker_log_max_size"]) or not SIZE.match(v["docker_log_max_size"] or ""):
        errors.append("docker_log_max_size must be a size such as 10m or 1g, got %r" % v["docker_log_max_size"])
    if isinstance(v["docker_log_max_file"], int) and v["docker_log_max_file"] < 1:
        errors.append("docker_log_max_file must be at least 1")
    if not (v["docker_log_driver"] or "").strip():
        errors.append("docker_log_driver must be a log driver name such as local or json-file")
    for user in v["docker_users"] or []:
        if not is_str(user) or not _USER.match(user):
            errors.append("docker_users: %r is not a user name" % (user,))


def validate_variables(raw):
    """Argument spec, raw types and cross-variable rules. Returns (values, errors, warnings)."""
    errors, warnings = [], []
    v = _by_spec(raw, role_spec(), errors, warnings)
    _value_rules(v, errors)
    _docker_ce_rules(v, errors, warnings)
    return v, errors, warnings
