# -*- coding: utf-8 -*-
# Copyright (c) apim.selfhosted contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The env-file side of the validator: endpoint, image and authentication (the gateway's other settings are in
``gateway_setting_rules``).

Each function takes the checker (``gateway_settings._Checker``) and appends env-file lines to ``env`` as
``{"key", "value", "secret"}``; a secret line's value is a template (``GatewayKey {token}``) that the host module
fills in, so the plan never holds a secret.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import datetime
import os
import re

from ansible_collections.apim.selfhosted.plugins.module_utils.gateway_plan import PlanError, certificate_digest
from ansible_collections.apim.selfhosted.plugins.module_utils.token_format import (
    TokenFormatError,
    gateway_id_problem,
    parse,
)

MIGRATE_PLAYBOOK = "apim.selfhosted.migrate_v2"
ENDPOINT_SUFFIXES = (".configuration.azure-api.net", ".configuration.azure-api.cn", ".configuration.azure-api.us")
ROLLING_TAGS_HINT = "latest, v2, v2-preview, beta"

HOSTNAME = re.compile(
    r"^(?=.{1,253}$)([A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)(\.[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*$"
)
_GUID = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")
_IMMUTABLE_TAG = re.compile(r"^([0-9]+)\.([0-9]+)\.([0-9]+)$")
_DOCKER_TAG = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$")
_REPOSITORY = re.compile(
    r"^(?:[A-Za-z0-9.-]+(?::[0-9]+)?/)?[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*(?:/[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*)*$"
)
_DIGEST = re.compile(r"^sha256:[0-9a-f]{64}$")


def version_text(version):
    return ".".join(str(p) for p in version)


def add(env, key, value, secret=False):
    env.append({"key": key, "value": value, "secret": secret})


def endpoint(c):
    """The Configuration API endpoint in its one stable form (``https://host[:port]``), or None."""
    raw = c.text("gateway_endpoint")
    if not raw:
        c.err(
            "gateway_endpoint is required: the Configuration API endpoint, e.g. <apim-name>.configuration.azure-api.net"
        )
        return None
    lowered = raw.lower()
    if ".management.azure-api.net" in lowered or "/subscriptions/" in lowered:
        c.err(
            "gateway_endpoint is a v1 Configuration API endpoint (*.management.azure-api.net/subscriptions/...), "
            "retired since October 2023; move this gateway to the v2 endpoint with the %s playbook" % MIGRATE_PLAYBOOK
        )
        return None
    if any(ch.isspace() for ch in raw):
        c.err("gateway_endpoint must not contain whitespace")
        return None
    rest = raw
    if "://" in raw:
        scheme, rest = raw.split("://", 1)
        if scheme.lower() == "http":
            c.err("gateway_endpoint uses http://; the Configuration API is only reachable over https")
            return None
        if scheme.lower() != "https":
            c.err("gateway_endpoint has scheme '%s'; use a bare host or https://<host>" % scheme)
            return None
    if "?" in rest or "#" in rest or "@" in rest:
        c.err("gateway_endpoint must be a host (optionally https:// and :port), without user, query or fragment")
        return None
    hostport, _sep, path = rest.partition("/")
    if path.strip("/"):
        c.err("gateway_endpoint must not have a path ('/%s'); give the host only" % path)
        return None
    return _endpoint_host(c, hostport)


def _endpoint_host(c, hostport):
    host, port = hostport, None
    if ":" in hostport:
        host, _sep, port_text = hostport.rpartition(":")
        if not port_text.isdigit() or not 1 <= int(port_text) <= 65535:
            c.err("gateway_endpoint has an invalid port '%s'" % port_text)
            return None
        port = int(port_text)
    host = host.lower().rstrip(".")
    if not HOSTNAME.match(host):
        c.err("gateway_endpoint host '%s' is not a valid DNS name" % host)
        return None
    custom = [str(h).lower().rstrip(".") for h in c.get("gateway_endpoint_custom_hostnames", [])]
    if not host.endswith(ENDPOINT_SUFFIXES) and host not in custom:
        c.err(
            "gateway_endpoint host '%s' is not a v2 Configuration API host (<apim-name>.configuration.azure-api.net); "
            "declare a custom hostname in gateway_endpoint_custom_hostnames" % host
        )
        return None
    if host.endswith(ENDPOINT_SUFFIXES) and host.split(".", 1)[0] == "":
        c.err("gateway_endpoint has no service name before .configuration.azure-api.*")
        return None
    return "https://%s%s" % (host, ":%d" % port if port and port != 443 else "")


def image(c):
    """The image reference ``repository:tag``, ``repository@sha256:...`` or ``repository:tag@sha256:...``; sets the
    checker's version from the tag (None for a rolling tag or none). A digest is the most immutable pin: a rolling
    tag beside it needs no opt-in, and the version checks apply to the tag when it is a version."""
    repo = c.text("gateway_image_repository")
    if not repo or not _REPOSITORY.match(repo):
        c.err("gateway_image_repository '%s' is not a valid image repository" % repo)
    digest = c.text("gateway_image_digest").lower()
    if digest and not _DIGEST.match(digest):
        c.err("gateway_image_digest '%s' must be sha256:<64 hex digits> (the image's registry digest)" % digest)
    tag = c.text("gateway_image_tag")
    m = _IMMUTABLE_TAG.match(tag)
    if m:
        c.version = tuple(int(p) for p in m.groups())
        if c.version[0] < 2:
            c.err(
                "gateway_image_tag %s is a v%d gateway, retired since October 2023; move to a 2.x tag with the %s "
                "playbook" % (tag, c.version[0], MIGRATE_PLAYBOOK)
            )
        elif c.version[0] > 2:
            c.warn("gateway_image_tag %s is a major version this collection was not built for" % tag)
    elif tag and not _DOCKER_TAG.match(tag):
        hint = "; give a digest in gateway_image_digest" if "@" in tag else ""
        c.err("gateway_image_tag '%s' is not a valid image tag%s" % (tag, hint))
    elif not tag and not digest:
        c.err("gateway_image_tag is required (a major.minor.patch version) unless gateway_image_digest pins the image")
    elif digest:
        c.version_checks = False
        c.warn(
            "gateway_image_digest pins the image but gateway_image_tag %s names no version: version checks skipped"
            % ("'%s'" % tag if tag else "is empty")
        )
    elif not c.get("gateway_allow_rolling_tag", False):
        c.err(
            "gateway_image_tag '%s' is not an immutable major.minor.patch tag (rolling tags such as %s change under a "
            "running fleet); pin a version, pin a digest (gateway_image_digest) or set gateway_allow_rolling_tag: true"
            % (tag, ROLLING_TAGS_HINT)
        )
    else:
        c.version_checks = False
        c.warn(
            "gateway_image_tag '%s' is a rolling tag (gateway_allow_rolling_tag: true): version checks skipped" % tag
        )
    return "%s%s%s" % (repo, ":" + tag if tag else "", "@" + digest if digest else "")


def image_source(c, container_name):
    """Where the image comes from when it is not on the host (no secret: the registry password stays a variable)."""
    source = c.get("gateway_image_source", "pull")
    tarball = c.text("gateway_image_tarball")
    if source == "tarball":
        if not tarball:
            c.err("gateway_image_tarball is required when gateway_image_source is tarball")
        elif os.path.isabs(tarball) and not os.path.isfile(tarball):
            c.err("gateway_image_tarball %s does not exist on the controller" % tarball)
        if c.text("gateway_image_digest"):
            c.err(
                "gateway_image_digest: an image loaded from a tarball (gateway_image_source: tarball) carries no "
                "registry digest to find it by; pin the tag and keep the tarball's checksum instead"
            )
    user, password = c.text("gateway_registry_username"), c.text("gateway_registry_password")
    if bool(user) != bool(password):
        c.err("gateway_registry_username and gateway_registry_password must be set together")
    if (user or password) and source != "pull":
        c.warn("gateway_registry_username is only used when gateway_image_source is pull")
    remote_dir = c.text("gateway_image_tarball_remote_dir") or "/var/tmp"  # noqa: S108
    if not remote_dir.startswith("/"):
        c.err("gateway_image_tarball_remote_dir must be an absolute path on the host")
    return {
        "source": source,
        "tarball": tarball if source == "tarball" else "",
        "remote_tarball": "%s/%s-image.tar" % (remote_dir.rstrip("/"), container_name) if source == "tarball" else "",
        "registry_url": c.text("gateway_registry_url"),
        "registry_username": user,
        "registry_login": bool(source == "pull" and user and password),
    }


def token(c, env):
    """The token's lines (a template), and its facts: gateway id, expiry, days left."""
    layout = c.get("gateway_token_layout", "GatewayKey")
    raw = c.v.get("gateway_token")
    if raw is None or (isinstance(raw, str) and not raw.strip()):
        c.err("gateway_token is required when gateway_auth_mode is token (the gateway's access token)")
        return None
    if not isinstance(raw, str):
        c.err("gateway_token must be a string")
        return None
    try:
        gateway_id, expiry = parse(raw)
    except TokenFormatError as exc:
        c.err("gateway_token: %s" % exc)
        return None
    _token_expiry(c, expiry)
    name = c.text("gateway_name")
    if name and not _gateway_name_problem(c, name) and name.lower() != gateway_id.lower():
        c.err("gateway_token was issued for gateway '%s' but gateway_name is '%s'" % (gateway_id, name))
    value = "GatewayKey {token}"
    if layout == "GatewayKey":
        add(env, "config.service.auth", value, secret=True)
    elif layout == "key":
        add(env, "config.service.auth", "key")
        add(env, "config.service.auth.key", value, secret=True)
        add(env, "gateway.name", name or gateway_id)
    else:
        c.err("gateway_token_layout must be GatewayKey or key, got '%s'" % layout)
    for var in ("gateway_azure_ad_client_secret", "gateway_azure_ad_certificate_path", "gateway_azure_ad_certificate"):
        if c.text(var):
            c.err("%s is set but gateway_auth_mode is token; unset it or use gateway_auth_mode: azureAdApp" % var)
    return {"gateway_id": gateway_id, "expiry": expiry.isoformat(), "days_left": (expiry - c.now).days}


def _token_expiry(c, expiry):
    if expiry <= c.now:
        c.err(
            "gateway_token expired at %s UTC; get a new token (apim.selfhosted.rotate_token)"
            % expiry.strftime("%Y-%m-%d %H:%M")
        )
        return
    try:
        warn_days = int(c.get("gateway_token_warn_days", 7))
    except (TypeError, ValueError):
        warn_days = 7
        c.err("gateway_token_warn_days must be a whole number of days")
    if warn_days < 0:
        c.err("gateway_token_warn_days must not be negative")
    elif expiry - c.now <= datetime.timedelta(days=warn_days):
        c.warn(
            "gateway_token expires at %s UTC, within gateway_token_warn_days (%d); rotate it soon"
            % (expiry.strftime("%Y-%m-%d %H:%M"), warn_days)
        )


def azure_ad(c, env):
    """Microsoft Entra app authentication; the client secret is a template line."""
    if c.text("gateway_token"):
        c.err("gateway_token is set but gateway_auth_mode is azureAdApp; set only one way to authenticate")
    if c.version_checks and c.version is not None:
        if c.version < (2, 2, 0):
            c.needs((2, 2, 0), "gateway_auth_mode", "Microsoft Entra app authentication")
        elif c.version < (2, 3, 0):
            c.warn(
                "gateway_auth_mode azureAdApp with gateway_image_tag %s: Entra's how-to says 2.2, the settings "
                "reference says 2.3 or newer" % version_text(c.version)
            )
    name = c.text("gateway_name")
    if not name:
        c.err("gateway_name (the gateway resource's name) is required when gateway_auth_mode is azureAdApp")
    else:
        _gateway_name_problem(c, name)
    tenant = c.text("gateway_azure_ad_tenant_id")
    if not tenant:
        c.err("gateway_azure_ad_tenant_id is required when gateway_auth_mode is azureAdApp")
    elif not (_GUID.match(tenant) or (HOSTNAME.match(tenant) and "." in tenant)):
        c.err("gateway_azure_ad_tenant_id must be a tenant GUID or a verified domain name")
    client = c.text("gateway_azure_ad_client_id")
    if not client:
        c.err("gateway_azure_ad_client_id is required when gateway_auth_mode is azureAdApp")
    elif not _GUID.match(client):
        c.err("gateway_azure_ad_client_id must be the Entra app's client id (a GUID)")
    add(env, "config.service.auth", "azureAdApp")
    add(env, "gateway.name", name)
    add(env, "config.service.auth.azureAd.tenantId", tenant)
    add(env, "config.service.auth.azureAd.clientId", client)
    _azure_ad_credential(c, env)
    for var, key in (
        ("gateway_azure_ad_authority", "config.service.auth.azureAd.authority"),
        ("gateway_token_audience", "config.service.auth.tokenAudience"),
    ):
        url = c.text(var)
        if url:
            if not url.lower().startswith("https://") or any(ch.isspace() for ch in url):
                c.err("%s must be an https:// URL" % var)
            add(env, key, url)


def _gateway_name_problem(c, name):
    """Azure's rule for the gateway resource's name (token_format.gateway_id_problem); True when refused."""
    problem = gateway_id_problem(name)
    if problem:
        c.err("gateway_name '%s' is not a valid gateway resource name: it %s" % (name, problem))
    return bool(problem)


def _azure_ad_credential(c, env):
    secret = c.v.get("gateway_azure_ad_client_secret") or ""
    cert = c.text("gateway_azure_ad_certificate_path")
    content = c.v.get("gateway_azure_ad_certificate") or ""
    if not secret and not cert:
        c.err(
            "gateway_azure_ad_client_secret or gateway_azure_ad_certificate_path is required when gateway_auth_mode "
            "is azureAdApp"
        )
    if secret and cert:
        c.err("set either gateway_azure_ad_client_secret or gateway_azure_ad_certificate_path, not both")
    if secret:
        if not isinstance(secret, str):
            c.err("gateway_azure_ad_client_secret must be a string")
        else:
            add(env, "config.service.auth.azureAd.clientSecret", "{client_secret}", secret=True)
    if cert:
        if not cert.startswith("/") or cert.rstrip("/") != cert or "/../" in cert + "/":
            c.err("gateway_azure_ad_certificate_path must be an absolute file path inside the container")
        if c.version_checks:
            c.needs((2, 3, 0), "gateway_azure_ad_certificate_path", "Entra certificate authentication")
        if not content:
            c.err(
                "gateway_azure_ad_certificate is required with gateway_azure_ad_certificate_path: the role places "
                "the certificate on the host (readable by the gateway's uid only) and mounts it at that path"
            )
        add(env, "config.service.auth.azureAd.certificatePath", cert)
    if content:
        if not cert:
            c.err("gateway_azure_ad_certificate is set but gateway_azure_ad_certificate_path is not")
        try:
            c.certificate_digest = certificate_digest(content)
        except PlanError as exc:
            c.err(str(exc))
