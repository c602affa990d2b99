# -*- coding: utf-8 -*-
# Copyright (c) apim.selfhosted contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The gateway's settings besides endpoint and credentials: neighborhood, telemetry (local logs, StatsD,
OpenTelemetry), TLS cipher lists, feature flags, proxies, the deployment markers and ``gateway_extra_settings``.

Like ``gateway_env_rules``, each function takes the checker and appends env-file lines.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import re

from ansible_collections.apim.selfhosted.plugins.module_utils.gateway_env_rules import HOSTNAME, add

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

_TIMESPAN = re.compile(r"^([0-9]{2}):([0-5][0-9]):([0-5][0-9])$")
_SETTING_KEY = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")
_HOST_PORT = re.compile(r"^(?P<host>[^:/\s]+|\[[0-9A-Fa-f:.]+\]):(?P<port>[0-9]{1,5})$")


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
