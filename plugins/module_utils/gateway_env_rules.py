# -*- coding: utf-8 -*-
# Copyright (c) apim.selfhosted contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The env-file side of the validator: endpoint, image, authentication and the gateway's settings.

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

# Documented setting families (settings reference); anything else in gateway_extra_settings is a typo or unsupported.
EXTRA_SETTING_PREFIXES = (
    "config.service.",
    "neighborhood.",
    "policy.",
    "telemetry.",
    "observability.",
    "logs.",
    "net.",
    "security.",
    "certificates.",
    "Microsoft.WindowsAzure.ApiManagement.Gateway.",
)

# The cipher suites that the self-hosted gateway overview lists ("Available cipher suites"), in its order and
# spelling; the default of both allow-lists in the settings reference.
CIPHER_SUITES = (
    "TLS_AES_256_GCM_SHA384",
    "TLS_CHACHA20_POLY1305_SHA256",
    "TLS_AES_128_GCM_SHA256",
    "TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384",
    "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384",
    "TLS_DHE_RSA_WITH_AES_256_GCM_SHA384",
    "TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256",
    "TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256",
    "TLS_DHE_RSA_WITH_CHACHA20_POLY1305_SHA256",
    "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256",
    "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256",
    "TLS_DHE_RSA_WITH_AES_128_GCM_SHA256",
    "TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA384",
    "TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA384",
    "TLS_DHE_RSA_WITH_AES_256_CBC_SHA256",
    "TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA256",
    "TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA256",
    "TLS_DHE_RSA_WITH_AES_128_CBC_SHA256",
    "TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA",
    "TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA",
    "TLS_DHE_RSA_WITH_AES_256_CBC_SHA",
    "TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA",
    "TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA",
    "TLS_DHE_RSA_WITH_AES_128_CBC_SHA",
    "TLS_RSA_WITH_AES_256_GCM_SHA384",
    "TLS_RSA_WITH_AES_128_GCM_SHA256",
    "TLS_RSA_WITH_AES_256_CBC_SHA256",
    "TLS_RSA_WITH_AES_128_CBC_SHA256",
    "TLS_RSA_WITH_AES_256_CBC_SHA",
    "TLS_RSA_WITH_AES_128_CBC_SHA",
)
_CIPHER_BY_KEY = {name.upper(): name for name in CIPHER_SUITES}

# Local log types (telemetry.logs.local): which take an endpoint and a facility, which need an endpoint (the
# settings reference: "Yes if telemetry.logs.local is set to ..."; json has a documented default), and that default.
LOCAL_LOG_ENDPOINT_TYPES = ("localsyslog", "rfc5424", "journal", "json")
LOCAL_LOG_FACILITY_TYPES = ("localsyslog", "rfc5424")
LOCAL_LOG_ENDPOINT_REQUIRED = ("localsyslog", "rfc5424", "journal")
LOCAL_LOG_DEFAULT_ENDPOINTS = {"json": "127.0.0.1:8888"}
# The host's syslog socket; the role mounts it at the localsyslog endpoint, as Microsoft's Helm chart does.
HOST_SYSLOG_SOCKET = "/dev/log"

# What the gateway reports to Azure about how it was deployed (the Helm chart writes Helm/Kubernetes here).
DEPLOYMENT_MECHANISM = "Ansible"
DEPLOYMENT_ORCHESTRATOR = "Docker"
DEPLOYMENT_ARTIFACT_SOURCE = "apim.selfhosted"

# Settings the role writes from its own variables; the extra map must not override them.
MANAGED_SETTINGS = {
    "config.service.endpoint": "gateway_endpoint",
    "config.service.auth": "gateway_auth_mode / gateway_token",
    "config.service.auth.key": "gateway_token",
    "gateway.name": "gateway_name",
    "config.service.auth.azureAd.tenantId": "gateway_azure_ad_tenant_id",
    "config.service.auth.azureAd.clientId": "gateway_azure_ad_client_id",
    "config.service.auth.azureAd.clientSecret": "gateway_azure_ad_client_secret",
    "config.service.auth.azureAd.certificatePath": "gateway_azure_ad_certificate_path",
    "config.service.auth.azureAd.authority": "gateway_azure_ad_authority",
    "config.service.auth.tokenAudience": "gateway_token_audience",
    "config.service.endpoint.disableCertificateValidation": "gateway_disable_certificate_validation",
    "config.service.integration.timeout": "gateway_integration_timeout",
    "neighborhood.host": "gateway_neighborhood_host",
    "neighborhood.heartbeat.port": "gateway_heartbeat_port",
    "policy.rate-limit.sync.port": "gateway_rate_limit_sync_port",
    "telemetry.logs.std": "gateway_log_format",
    "telemetry.logs.std.level": "gateway_log_level",
    "telemetry.logs.std.color": "gateway_log_color",
    "telemetry.logs.local": "gateway_local_logs",
    "telemetry.metrics.cloud": "gateway_cloud_metrics",
    "telemetry.metrics.local": "gateway_local_metrics",
    "telemetry.metrics.local.statsd.endpoint": "gateway_statsd_endpoint",
    "telemetry.metrics.local.statsd.sampling": "gateway_statsd_sampling",
    "telemetry.metrics.local.statsd.tag-format": "gateway_statsd_tag_format",
    "observability.opentelemetry.enabled": "gateway_opentelemetry_collector_uri",
    "observability.opentelemetry.collector.uri": "gateway_opentelemetry_collector_uri",
    "observability.opentelemetry.histogram.buckets": "gateway_opentelemetry_histogram_buckets",
    "observability.opentelemetry.system-metrics.enabled": "gateway_opentelemetry_system_metrics",
    "net.server.tls.ciphers.allowed-suites": "gateway_tls_server_ciphers",
    "net.client.tls.ciphers.allowed-suites": "gateway_tls_client_ciphers",
    "certificates.local.ca.enabled": "gateway_local_ca_enabled",
    "net.server.http.forwarded.proto.enabled": "gateway_forwarded_proto_enabled",
    "security.certificate-revocation.validation.enabled": "gateway_certificate_revocation_validation",
    "runtime.deployment.mechanism": "(always %s)" % DEPLOYMENT_MECHANISM,
    "runtime.deployment.orchestrator.type": "(always %s)" % DEPLOYMENT_ORCHESTRATOR,
    "runtime.deployment.artifact.source": "(always %s)" % DEPLOYMENT_ARTIFACT_SOURCE,
    "runtime.deployment.artifact.version": "(always this collection's version)",
}
for _type in LOCAL_LOG_ENDPOINT_TYPES:
    MANAGED_SETTINGS["telemetry.logs.local.%s.endpoint" % _type] = "gateway_local_logs_endpoint"
for _type in LOCAL_LOG_FACILITY_TYPES:
    MANAGED_SETTINGS["telemetry.logs.local.%s.facility" % _type] = "gateway_local_logs_facility"
# The gateway reads its settings as .NET configuration, whose keys are case-insensitive.
_MANAGED_BY_KEY = {k.lower(): (k, v) for k, v in MANAGED_SETTINGS.items()}

HOSTNAME = re.compile(
    r"^(?=.{1,253}$)([A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)(\.[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*$"
)
_GUID = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")
_IMMUTABLE_TAG = re.compile(r"^([0-9]+)\.([0-9]+)\.([0-9]+)$")
_DOCKER_TAG = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$")
_REPOSITORY = re.compile(
    r"^(?:[A-Za-z0-9.-]+(?::[0-9]+)?/)?[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*(?:/[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*)*$"
)
_TIMESPAN = re.compile(r"^([0-9]{2}):([0-5][0-9]):([0-5][0-9])$")
_DIGEST = re.compile(r"^sha256:[0-9a-f]{64}$")
_SETTING_KEY = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")
_HOST_PORT = re.compile(r"^(?P<host>[^:/\s]+|\[[0-9A-Fa-f:.]+\]):(?P<port>[0-9]{1,5})$")


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


def _ciphers(c, var):
    """An allow-list of the documented suites, in the given order, each in its documented spelling."""
    value = c.get(var, [])
    if isinstance(value, str):
        value = value.split(",")
    names = [str(s).strip() for s in value]
    if not names:
        return None
    unknown = [n for n in names if n.upper() not in _CIPHER_BY_KEY]
    if unknown:
        c.err(
            "%s: %s %s not among the %d cipher suites of the self-hosted gateway (the overview's \"Available cipher "
            'suites", e.g. TLS_AES_256_GCM_SHA384)'
            % (var, ", ".join(repr(n) for n in unknown), "is" if len(unknown) == 1 else "are", len(CIPHER_SUITES))
        )
        return None
    spelled = [_CIPHER_BY_KEY[n.upper()] for n in names]
    if len(set(spelled)) != len(spelled):
        c.err("%s lists a cipher suite more than once" % var)
    if c.version_checks:
        c.needs((2, 1, 1), var, "TLS cipher allow-lists")
    return ",".join(spelled)


def _url(c, var, schemes=("http", "https")):
    url = c.text(var)
    if not url:
        return ""
    scheme, sep, rest = url.partition("://")
    if not sep or scheme.lower() not in schemes or not rest or any(ch.isspace() for ch in url):
        c.err("%s must be a URL (%s://...)" % (var, "|".join(schemes)))
    return url


def settings(c, env):
    """Neighborhood, telemetry, TLS, feature flags and proxies."""
    _neighborhood(c, env)
    _telemetry(c, env)
    for var, key in (
        ("gateway_tls_server_ciphers", "net.server.tls.ciphers.allowed-suites"),
        ("gateway_tls_client_ciphers", "net.client.tls.ciphers.allowed-suites"),
    ):
        joined = _ciphers(c, var)
        if joined:
            add(env, key, joined)
    _features(c, env)
    for var, key in (("gateway_http_proxy", "HTTP_PROXY"), ("gateway_https_proxy", "HTTPS_PROXY")):
        proxy = _url(c, var)
        if proxy:
            add(env, key, proxy)
    no_proxy = c.get("gateway_no_proxy", [])
    if isinstance(no_proxy, str):
        no_proxy = [no_proxy]
    no_proxy = [str(n).strip() for n in no_proxy if str(n).strip()]
    if no_proxy:
        add(env, "NO_PROXY", ",".join(no_proxy))


def _neighborhood(c, env):
    nb = c.text("gateway_neighborhood_host")
    if not nb:
        return
    if not HOSTNAME.match(nb):
        c.err("gateway_neighborhood_host '%s' is not a valid DNS name" % nb)
    add(env, "neighborhood.host", nb)
    hb = c.port("gateway_heartbeat_port")
    rl = c.port("gateway_rate_limit_sync_port")
    if hb and rl and hb == rl:
        c.err("gateway_heartbeat_port and gateway_rate_limit_sync_port must differ")
    add(env, "neighborhood.heartbeat.port", str(hb))
    add(env, "policy.rate-limit.sync.port", str(rl))


def _telemetry(c, env):
    add(env, "telemetry.logs.std", str(c.get("gateway_log_format", "text")))
    add(env, "telemetry.logs.std.level", str(c.get("gateway_log_level", "info")))
    add(env, "telemetry.logs.std.color", _flag(c.get("gateway_log_color", True)))
    _local_logs(c, env)
    add(env, "telemetry.metrics.cloud", _flag(c.get("gateway_cloud_metrics", True)))
    _statsd(c, env)
    _opentelemetry(c, env)


def _flag(value):
    return "true" if value else "false"


def _number(value):
    """A number as the settings write it: 1, 0.5, 2500."""
    return "%g" % value


def _local_logs(c, env):
    kind = c.text("gateway_local_logs")
    endpoint = c.text("gateway_local_logs_endpoint")
    facility = c.get("gateway_local_logs_facility")
    if kind:
        add(env, "telemetry.logs.local", kind)
    if kind not in LOCAL_LOG_ENDPOINT_TYPES:
        for var, value in (("gateway_local_logs_endpoint", endpoint), ("gateway_local_logs_facility", facility)):
            if value not in (None, ""):
                c.err("%s is set but gateway_local_logs is '%s'; it is used with %s"
                      % (var, kind, ", ".join(LOCAL_LOG_ENDPOINT_TYPES)))  # fmt: skip
        return
    endpoint = endpoint or LOCAL_LOG_DEFAULT_ENDPOINTS.get(kind, "")
    if not endpoint:
        c.err(
            "gateway_local_logs_endpoint is required when gateway_local_logs is %s (telemetry.logs.local.%s.endpoint "
            "has no default)" % (kind, kind)
        )
    elif kind == "localsyslog" and not endpoint.startswith("/"):
        c.err(
            "gateway_local_logs_endpoint must be a socket path in the container with localsyslog (e.g. /dev/log); "
            "the role mounts the host's %s there" % HOST_SYSLOG_SOCKET
        )
    elif not (endpoint.startswith("/") or _HOST_PORT.match(endpoint)):
        c.err("gateway_local_logs_endpoint must be a path in the container or host:port, got '%s'" % endpoint)
    if endpoint:
        add(env, "telemetry.logs.local.%s.endpoint" % kind, endpoint)
    if facility is None or facility == "":
        return
    if kind not in LOCAL_LOG_FACILITY_TYPES:
        c.err("gateway_local_logs_facility is set but gateway_local_logs %s takes no facility" % kind)
    elif isinstance(facility, bool) or not isinstance(facility, int) or not 0 <= facility <= 23:
        c.err("gateway_local_logs_facility must be a syslog facility code 0-23, got %s" % facility)
    else:
        add(env, "telemetry.logs.local.%s.facility" % kind, str(facility))


def _statsd(c, env):
    metrics = c.text("gateway_local_metrics")
    if metrics:
        add(env, "telemetry.metrics.local", metrics)
    statsd = c.text("gateway_statsd_endpoint")
    if metrics != "statsd":
        if statsd:
            c.err("gateway_statsd_endpoint is set but gateway_local_metrics is not statsd")
        return
    if not statsd or not _HOST_PORT.match(statsd):
        c.err("gateway_statsd_endpoint (host:port) is required when gateway_local_metrics is statsd")
    else:
        add(env, "telemetry.metrics.local.statsd.endpoint", statsd)
    sampling = c.get("gateway_statsd_sampling", 1.0)
    if isinstance(sampling, bool) or not isinstance(sampling, (int, float)) or not 0 <= sampling <= 1:
        c.err("gateway_statsd_sampling must be a rate between 0 and 1, got %s" % sampling)
    else:
        add(env, "telemetry.metrics.local.statsd.sampling", _number(sampling))
    add(env, "telemetry.metrics.local.statsd.tag-format", str(c.get("gateway_statsd_tag_format", "dogStatsD")))


def _opentelemetry(c, env):
    otel = _url(c, "gateway_opentelemetry_collector_uri")
    buckets = c.get("gateway_opentelemetry_histogram_buckets", [])
    system = bool(c.get("gateway_opentelemetry_system_metrics", False))
    if not otel:
        for var, value in (("gateway_opentelemetry_histogram_buckets", buckets),
                           ("gateway_opentelemetry_system_metrics", system)):  # fmt: skip
            if value:
                c.err("%s is set but gateway_opentelemetry_collector_uri is empty (OpenTelemetry is off)" % var)
        return
    add(env, "observability.opentelemetry.enabled", "true")
    add(env, "observability.opentelemetry.collector.uri", otel)
    if buckets:
        if not isinstance(buckets, list) or any(
            isinstance(b, bool) or not isinstance(b, (int, float)) or b <= 0 for b in buckets
        ):
            c.err("gateway_opentelemetry_histogram_buckets must be a list of positive numbers (milliseconds)")
        elif any(buckets[i] >= buckets[i + 1] for i in range(len(buckets) - 1)):
            c.err("gateway_opentelemetry_histogram_buckets must be in increasing order, got %s" % buckets)
        else:
            add(env, "observability.opentelemetry.histogram.buckets", ",".join(_number(b) for b in buckets))
    if system and c.version_checks:
        c.needs((2, 3, 0), "gateway_opentelemetry_system_metrics", "OpenTelemetry system metrics")
    add(env, "observability.opentelemetry.system-metrics.enabled", _flag(system))


def _features(c, env):
    if c.get("gateway_local_ca_enabled", False):
        add(env, "certificates.local.ca.enabled", "true")
    if c.get("gateway_forwarded_proto_enabled", False):
        if c.version_checks:
            c.needs((2, 5, 0), "gateway_forwarded_proto_enabled", "X-Forwarded-Proto routing")
        add(env, "net.server.http.forwarded.proto.enabled", "true")
    if c.get("gateway_certificate_revocation_validation", False):
        if c.version_checks:
            c.needs((2, 3, 6), "gateway_certificate_revocation_validation", "certificate revocation validation")
        add(env, "security.certificate-revocation.validation.enabled", "true")
    timeout = c.text("gateway_integration_timeout")
    if timeout:
        if not _TIMESPAN.match(timeout) or timeout == "00:00:00":
            c.err("gateway_integration_timeout must be a time span HH:MM:SS, e.g. 00:01:40")
        if c.version_checks:
            c.needs((2, 3, 5), "gateway_integration_timeout", "Configuration API timeout")
        add(env, "config.service.integration.timeout", timeout)
    if c.get("gateway_disable_certificate_validation", False):
        c.warn(
            "gateway_disable_certificate_validation is true: the gateway does not check the Configuration API's "
            "certificate (testing only)"
        )
        add(env, "config.service.endpoint.disableCertificateValidation", "true")


def deployment_markers(env, collection_version):
    """What the gateway reports to Azure about its deployment: Docker, by this collection, at its version."""
    add(env, "runtime.deployment.mechanism", DEPLOYMENT_MECHANISM)
    add(env, "runtime.deployment.orchestrator.type", DEPLOYMENT_ORCHESTRATOR)
    add(env, "runtime.deployment.artifact.source", DEPLOYMENT_ARTIFACT_SOURCE)
    add(env, "runtime.deployment.artifact.version", collection_version or "unknown")


def extra_settings(c, env):
    """gateway_extra_settings: documented families only, never a setting that a variable manages. Keys compare
    case-insensitively, as the gateway's .NET configuration reads them."""
    extra = c.get("gateway_extra_settings", {})
    if not isinstance(extra, dict):
        c.err("gateway_extra_settings must be a mapping of setting name to value")
        return
    prefixes = tuple(p.lower() for p in EXTRA_SETTING_PREFIXES)
    seen = {}
    for key in sorted(extra, key=str):
        value = extra[key]
        key = str(key)
        managed = _MANAGED_BY_KEY.get(key.lower())
        if managed:
            same = "" if key == managed[0] else " (%s: setting names are case-insensitive)" % managed[0]
            c.err("gateway_extra_settings: %s is set by the role%s; use %s instead" % (key, same, managed[1]))
            continue
        if not _SETTING_KEY.match(key) or not key.lower().startswith(prefixes):
            c.err(
                "gateway_extra_settings: '%s' is not a documented gateway setting (allowed prefixes: %s)"
                % (key, ", ".join(EXTRA_SETTING_PREFIXES))
            )
            continue
        if key.lower() in seen:
            c.err(
                "gateway_extra_settings: %s and %s are the same setting (setting names are case-insensitive)"
                % (seen[key.lower()], key)
            )
            continue
        seen[key.lower()] = key
        if isinstance(value, bool):
            value = "true" if value else "false"
        elif isinstance(value, (int, float)):
            value = str(value)
        elif not isinstance(value, str):
            c.err("gateway_extra_settings: the value for %s must be a string, number or boolean" % key)
            continue
        add(env, key, value)
