# -*- coding: utf-8 -*-
# Copyright (c) apim.selfhosted contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The one validation path for a self-hosted gateway's settings.

``validate(values)`` takes the role's variables (``gateway_*``, as in roles/gateway/meta/argument_specs.yml),
checks every rule on the controller and returns the plan that the host modules carry out: the env-file lines
(secret values as templates), the container, the backup, the image and its source, the token's facts, and lists
of errors and warnings. The plan holds no secret; ``secret_digest`` lets a host module check that it got the
secrets that were validated. Every message names the variable it is about and never contains a secret value.

The rules live in two rooms: ``gateway_env_rules`` (endpoint, image, authentication, settings) and
``gateway_container_rules`` (identity, ports, resources, logging, healthcheck, network, mounts, backup).
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import datetime

from ansible.module_utils.common.arg_spec import ArgumentSpecValidator

from ansible_collections.apim.selfhosted.plugins.module_utils import gateway_container_rules as crules
from ansible_collections.apim.selfhosted.plugins.module_utils import gateway_env_rules as erules
from ansible_collections.apim.selfhosted.plugins.module_utils import gateway_setting_rules as srules
from ansible_collections.apim.selfhosted.plugins.module_utils.gateway_plan import (
    CERTIFICATE_MODE,
    PlanError,
    auth_digest,
    certificate_path,
    env_file_text,
    render_env,
    secret_digest,
    secret_names,
)

UTC = datetime.timezone.utc


class _Checker:
    def __init__(self, values, now):
        self.v = values
        self.now = now
        self.errors = []
        self.warnings = []
        self.version = None
        self.version_checks = True
        self.uid = crules.DEFAULT_CONTAINER_UID
        self.certificate_digest = ""

    def err(self, msg):
        self.errors.append(msg)

    def warn(self, msg):
        self.warnings.append(msg)

    def get(self, name, default=None):
        value = self.v.get(name)
        return default if value is None else value

    def text(self, name):
        """A string variable, stripped; '' when unset."""
        value = self.v.get(name)
        if value is None:
            return ""
        if not isinstance(value, str):
            value = str(value)
        return value.strip()

    def port(self, name):
        value = self.v.get(name)
        try:
            number = int(value)
        except (TypeError, ValueError):
            self.err("%s must be a port number (1-65535)" % name)
            return None
        if isinstance(value, bool) or not 1 <= number <= 65535:
            self.err("%s must be a port number (1-65535), got %s" % (name, value))
            return None
        return number

    def needs(self, minimum, name, feature):
        """Refuse a feature the pinned image version cannot do."""
        if self.version is not None and self.version < minimum:
            self.err(
                "%s (%s) needs gateway image %s or newer; gateway_image_tag is %s"
                % (name, feature, erules.version_text(minimum), erules.version_text(self.version))
            )


def _check_value(c, key, value):
    """Env-file values: one line each; Docker strips surrounding whitespace, so refuse it."""
    if any(ch in value for ch in ("\n", "\r", "\x00")):
        c.err("gateway settings: the value for %s contains a line break or NUL" % key)
    elif value != value.strip():
        c.err("gateway settings: the value for %s has leading or trailing whitespace" % key)


def _unique(messages):
    seen = set()
    return [m for m in messages if not (m in seen or seen.add(m))]


def _checked_values(values, spec, errors, warnings):
    values = dict(values or {})
    if not spec:
        return values
    for k in sorted(k for k in values if k not in spec):
        warnings.append("%s is not a variable of the gateway role (typo?); it is ignored" % k)
        values.pop(k)
    result = ArgumentSpecValidator(spec).validate(values)
    errors.extend(result.error_messages)
    return result.validated_parameters


def _env(c, out, collection_version):
    env = []
    endpoint = erules.endpoint(c)
    erules.add(env, "config.service.endpoint", endpoint or "")
    out["image"] = erules.image(c)
    mode = c.get("gateway_auth_mode", "token")
    if mode == "token":
        out["token"] = erules.token(c, env)
    elif mode == "azureAdApp":
        erules.azure_ad(c, env)
    else:
        c.err("gateway_auth_mode must be token or azureAdApp, got '%s'" % mode)
    srules.settings(c, env)
    srules.extra_settings(c, env)
    srules.deployment_markers(env, collection_version)
    seen = set()
    for item in env:
        # The gateway reads setting names case-insensitively.
        if item["key"].lower() in seen:
            c.err("the setting %s would be written twice" % item["key"])
        seen.add(item["key"].lower())
        if not item["secret"]:
            _check_value(c, item["key"], item["value"])
    out["auth"] = {"mode": mode, "layout": c.get("gateway_token_layout", "GatewayKey"), "endpoint": endpoint or ""}
    return env


def validate(values, now=None, spec=None, collection_version=None):
    """Check the role's variables; see the module docstring. ``spec``: the role's argument_specs options;
    ``collection_version``: this collection's version, reported to Azure as the deployment artifact's."""
    now = now or datetime.datetime.now(UTC)
    errors, warnings = [], []
    values = _checked_values(values, spec, errors, warnings)
    c = _Checker(values, now)
    c.errors, c.warnings = errors, warnings
    state = c.get("gateway_state", "present")
    out = {"state": state, "env": [], "token": None, "version_checks": True, "image": None, "version": None}
    if state == "present":
        env = _env(c, out, collection_version)
        out["container"] = crules.container(c)
        out["image_source"] = erules.image_source(c, out["container"]["name"])
        out["env"] = env
        secrets = {"token": values.get("gateway_token"), "client_secret": values.get("gateway_azure_ad_client_secret")}
        try:
            out["secret_digest"] = secret_digest(secrets, secret_names(env))
            # Which credentials the gateway would run with, without them: hosts compare it with theirs.
            out["auth_digest"] = auth_digest(render_env(env, secrets), c.certificate_digest)
        except (ValueError, PlanError) as exc:
            if not c.errors:  # a missing or malformed secret is already reported by its rule
                c.err(str(exc))
        out["version_checks"] = c.version_checks
        out["version"] = erules.version_text(c.version) if c.version else None
    else:
        # Removal needs the container's names, its env-file and the backup; the rest of the plan stays empty.
        out["container"] = crules.container(c)
        out["image"] = ""
        out["secret_digest"] = secret_digest({}, [])
    out["backup"] = crules.backup(c, state)
    out["proof"] = {
        "enabled": bool(c.get("gateway_prove_credentials", False)),
        "timeout": max(5, int(c.get("gateway_proof_timeout", 90) or 90)),
        "proven_at": c.text("gateway_credentials_proven_at"),
    }
    # The Entra app's certificate: a digest only; an empty digest removes a file left from an earlier plan.
    out["certificate_file"] = {
        "path": certificate_path(out["container"]["env_file"]),
        "owner": c.uid,
        "mode": "%04o" % CERTIFICATE_MODE,
        "digest": c.certificate_digest if state == "present" else "",
    }
    out["legacy"] = {
        "containers": [str(n) for n in c.get("gateway_legacy_containers", []) if str(n).strip()],
        "remove": bool(c.get("gateway_remove_legacy", True)),
    }
    out["errors"] = _unique(c.errors)
    out["warnings"] = _unique(c.warnings)
    return out


def env_preview(plan):
    """The env-file with every secret shown as ``<secret>``: for messages and docs, never for a host."""
    return env_file_text((e["key"], "<secret>" if e["secret"] else e["value"]) for e in plan.get("env", []))
