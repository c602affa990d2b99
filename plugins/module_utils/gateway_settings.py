# -*- coding: utf-8 -*-
# Copyright (c) apim.selfhosted contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The one validation path for a self-hosted gateway's settings.

``validate(values)`` takes the role's variables (``gateway_*``, as in roles/gateway/meta/argument_specs.yml),
checks every rule on the controller and returns the env-file lines, the container's settings, the token's
facts, and lists of errors and warnings. Every message names the variable it is about and never contains a
secret value. The role and the fleet playbooks call it through the ``apim.selfhosted.gateway_settings``
filter before any host is touched.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import datetime
import ipaddress
import os
import re

from ansible.module_utils.common.arg_spec import ArgumentSpecValidator

from ansible_collections.apim.selfhosted.plugins.module_utils.token_format import (
    TokenFormatError,
    parse,
    strip_prefix,
)

UTC = datetime.timezone.utc
MIGRATE_PLAYBOOK = "apim.selfhosted.migrate_v2"
CONTAINER_HTTP_PORT = 8080
CONTAINER_HTTPS_PORT = 8081
BACKUP_MOUNT = "/apim/config"
DEFAULT_STATUS_PATH = "/status-0123456789abcdef"
PREVIOUS_SUFFIX = "-previous"
DEFAULT_CONTAINER_UID = 1001
BACKUP_GID = 1001

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
    "telemetry.logs.local": "gateway_local_logs",
    "telemetry.metrics.local": "gateway_local_metrics",
    "telemetry.metrics.local.statsd.endpoint": "gateway_statsd_endpoint",
    "observability.opentelemetry.enabled": "gateway_opentelemetry_collector_uri",
    "observability.opentelemetry.collector.uri": "gateway_opentelemetry_collector_uri",
    "net.server.tls.ciphers.allowed-suites": "gateway_tls_server_ciphers",
    "net.client.tls.ciphers.allowed-suites": "gateway_tls_client_ciphers",
    "certificates.local.ca.enabled": "gateway_local_ca_enabled",
    "net.server.http.forwarded.proto.enabled": "gateway_forwarded_proto_enabled",
    "security.certificate-revocation.validation.enabled": "gateway_certificate_revocation_validation",
    "runtime.deployment.mechanism": "(always Ansible)",
}

_HOSTNAME = re.compile(
    r"^(?=.{1,253}$)([A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)(\.[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*$"
)
_GUID = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")
_GATEWAY_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,79}$")
_CONTAINER_NAME = re.compile(r"^[a-zA-Z0-9][a-zA-Z0-9_.-]{0,54}$")
_IMMUTABLE_TAG = re.compile(r"^([0-9]+)\.([0-9]+)\.([0-9]+)$")
_DOCKER_TAG = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$")
_REPOSITORY = re.compile(
    r"^(?:[A-Za-z0-9.-]+(?::[0-9]+)?/)?[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*(?:/[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*)*$"
)
_USER = re.compile(r"^(?P<user>[0-9]+|[a-z_][a-z0-9_-]{0,31})(?::(?P<group>[0-9]+|[a-z_][a-z0-9_-]{0,31}))?$")
_MEMORY = re.compile(r"^([0-9]+(?:\.[0-9]+)?)([bkmg]?)$", re.IGNORECASE)
_DURATION = re.compile(r"^[0-9]+(ms|s|m|h)$")
_TIMESPAN = re.compile(r"^([0-9]{2}):([0-5][0-9]):([0-5][0-9])$")
_CIPHER = re.compile(r"^[A-Z0-9_]+$")
_SETTING_KEY = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")
_STATUS_PATH = re.compile(r"^/[A-Za-z0-9._~/-]*$")
_HOST_PORT = re.compile(r"^(?P<host>[^:/\s]+|\[[0-9A-Fa-f:.]+\]):(?P<port>[0-9]{1,5})$")
_MEMORY_UNITS = {"": 1, "b": 1, "k": 1024, "m": 1024**2, "g": 1024**3}


def _version_text(version):
    return ".".join(str(p) for p in version)


class _Checker:
    def __init__(self, values, now):
        self.v = values
        self.now = now
        self.errors = []
        self.warnings = []
        self.version = None
        self.version_checks = True

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
                % (name, feature, _version_text(minimum), _version_text(self.version))
            )


def _ip(text):
    try:
        return ipaddress.ip_address(text)
    except ValueError:
        return None


def _bool_text(value):
    return "true" if value else "false"


def _check_value(c, key, value, source):
    """Env-file values: one line each; docker strips surrounding whitespace, so refuse it."""
    if any(ch in value for ch in ("\n", "\r", "\x00")):
        c.err("%s: the value for %s contains a line break or NUL" % (source, key))
        return False
    if value != value.strip():
        c.err("%s: the value for %s has leading or trailing whitespace" % (source, key))
        return False
    return True


def _endpoint(c):
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
    host, port = hostport, None
    if ":" in hostport:
        host, _sep, port_text = hostport.rpartition(":")
        if not port_text.isdigit() or not 1 <= int(port_text) <= 65535:
            c.err("gateway_endpoint has an invalid port '%s'" % port_text)
            return None
        port = int(port_text)
    host = host.lower().rstrip(".")
    if not _HOSTNAME.match(host):
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


def _image(c):
    repo = c.text("gateway_image_repository")
    if not repo or not _REPOSITORY.match(repo):
        c.err("gateway_image_repository '%s' is not a valid image repository" % repo)
    tag = c.text("gateway_image_tag")
    rolling_ok = bool(c.get("gateway_allow_rolling_tag", False))
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
    elif not tag or not _DOCKER_TAG.match(tag):
        c.err("gateway_image_tag '%s' is not a valid image tag" % tag)
    elif not rolling_ok:
        c.err(
            "gateway_image_tag '%s' is not an immutable major.minor.patch tag (rolling tags such as %s change under a "
            "running fleet); pin a version or set gateway_allow_rolling_tag: true" % (tag, ROLLING_TAGS_HINT)
        )
    else:
        c.version_checks = False
        c.warn(
            "gateway_image_tag '%s' is a rolling tag (gateway_allow_rolling_tag: true): version checks skipped" % tag
        )

    source = c.get("gateway_image_source", "pull")
    if source == "tarball":
        tarball = c.text("gateway_image_tarball")
        if not tarball:
            c.err("gateway_image_tarball is required when gateway_image_source is tarball")
        elif os.path.isabs(tarball) and not os.path.isfile(tarball):
            c.err("gateway_image_tarball %s does not exist on the controller" % tarball)
    user, password = c.text("gateway_registry_username"), c.text("gateway_registry_password")
    if bool(user) != bool(password):
        c.err("gateway_registry_username and gateway_registry_password must be set together")
    if (user or password) and source != "pull":
        c.warn("gateway_registry_username is only used when gateway_image_source is pull")
    return "%s:%s" % (repo, tag)


def _token(c, env):
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
    facts = {"gateway_id": gateway_id, "expiry": expiry.isoformat(), "days_left": (expiry - c.now).days}
    if expiry <= c.now:
        c.err(
            "gateway_token expired at %s UTC; get a new token (apim.selfhosted.rotate_token)"
            % expiry.strftime("%Y-%m-%d %H:%M")
        )
    else:
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
    name = c.text("gateway_name")
    if name and name.lower() != gateway_id.lower():
        c.err("gateway_token was issued for gateway '%s' but gateway_name is '%s'" % (gateway_id, name))
    value = "GatewayKey " + strip_prefix(raw)
    if layout == "GatewayKey":
        env.append(("config.service.auth", value))
    elif layout == "key":
        env.append(("config.service.auth", "key"))
        env.append(("config.service.auth.key", value))
        env.append(("gateway.name", name or gateway_id))
    else:
        c.err("gateway_token_layout must be GatewayKey or key, got '%s'" % layout)
    for var in ("gateway_azure_ad_client_secret", "gateway_azure_ad_certificate_path"):
        if c.text(var):
            c.err("%s is set but gateway_auth_mode is token; unset it or use gateway_auth_mode: azureAdApp" % var)
    return facts


def _azure_ad(c, env):
    if c.text("gateway_token"):
        c.err("gateway_token is set but gateway_auth_mode is azureAdApp; set only one way to authenticate")
    if c.version_checks and c.version is not None:
        if c.version < (2, 2, 0):
            c.needs((2, 2, 0), "gateway_auth_mode", "Microsoft Entra app authentication")
        elif c.version < (2, 3, 0):
            c.warn(
                "gateway_auth_mode azureAdApp with gateway_image_tag %s: Entra's how-to says 2.2, the settings "
                "reference says 2.3 or newer" % _version_text(c.version)
            )
    name = c.text("gateway_name")
    if not name:
        c.err("gateway_name (the gateway resource's name) is required when gateway_auth_mode is azureAdApp")
    elif not _GATEWAY_ID.match(name):
        c.err("gateway_name '%s' is not a valid gateway resource name" % name)
    tenant = c.text("gateway_azure_ad_tenant_id")
    if not tenant:
        c.err("gateway_azure_ad_tenant_id is required when gateway_auth_mode is azureAdApp")
    elif not (_GUID.match(tenant) or (_HOSTNAME.match(tenant) and "." in tenant)):
        c.err("gateway_azure_ad_tenant_id must be a tenant GUID or a verified domain name")
    client = c.text("gateway_azure_ad_client_id")
    if not client:
        c.err("gateway_azure_ad_client_id is required when gateway_auth_mode is azureAdApp")
    elif not _GUID.match(client):
        c.err("gateway_azure_ad_client_id must be the Entra app's client id (a GUID)")
    secret = c.v.get("gateway_azure_ad_client_secret") or ""
    cert = c.text("gateway_azure_ad_certificate_path")
    if not secret and not cert:
        c.err(
            "gateway_azure_ad_client_secret or gateway_azure_ad_certificate_path is required when gateway_auth_mode "
            "is azureAdApp"
        )
    if secret and cert:
        c.err("set either gateway_azure_ad_client_secret or gateway_azure_ad_certificate_path, not both")
    env.append(("config.service.auth", "azureAdApp"))
    env.append(("gateway.name", name))
    env.append(("config.service.auth.azureAd.tenantId", tenant))
    env.append(("config.service.auth.azureAd.clientId", client))
    if secret:
        if not isinstance(secret, str):
            c.err("gateway_azure_ad_client_secret must be a string")
        else:
            env.append(("config.service.auth.azureAd.clientSecret", secret))
    if cert:
        if not cert.startswith("/"):
            c.err("gateway_azure_ad_certificate_path must be an absolute path inside the container")
        if c.version_checks:
            c.needs((2, 3, 0), "gateway_azure_ad_certificate_path", "Entra certificate authentication")
        env.append(("config.service.auth.azureAd.certificatePath", cert))
    for var, key in (
        ("gateway_azure_ad_authority", "config.service.auth.azureAd.authority"),
        ("gateway_token_audience", "config.service.auth.tokenAudience"),
    ):
        url = c.text(var)
        if url:
            if not url.lower().startswith("https://") or any(ch.isspace() for ch in url):
                c.err("%s must be an https:// URL" % var)
            env.append((key, url))


def _ciphers(c, var):
    value = c.get(var, [])
    if isinstance(value, str):
        value = value.split(",")
    names = [str(s).strip() for s in value]
    if not names:
        return None
    bad = [n for n in names if not n or not _CIPHER.match(n)]
    if bad:
        c.err("%s holds invalid cipher suite names: %s" % (var, ", ".join(repr(b) for b in bad)))
        return None
    if len(set(names)) != len(names):
        c.err("%s lists a cipher suite more than once" % var)
    if c.version_checks:
        c.needs((2, 1, 1), var, "TLS cipher allow-lists")
    return ",".join(names)


def _url(c, var, schemes=("http", "https")):
    url = c.text(var)
    if not url:
        return ""
    scheme, sep, rest = url.partition("://")
    if not sep or scheme.lower() not in schemes or not rest or any(ch.isspace() for ch in url):
        c.err("%s must be a URL (%s://...)" % (var, "|".join(schemes)))
    return url


def _settings(c, env):
    nb = c.text("gateway_neighborhood_host")
    if nb:
        if not _HOSTNAME.match(nb):
            c.err("gateway_neighborhood_host '%s' is not a valid DNS name" % nb)
        env.append(("neighborhood.host", nb))
        hb = c.port("gateway_heartbeat_port")
        rl = c.port("gateway_rate_limit_sync_port")
        if hb and rl and hb == rl:
            c.err("gateway_heartbeat_port and gateway_rate_limit_sync_port must differ")
        env.append(("neighborhood.heartbeat.port", str(hb)))
        env.append(("policy.rate-limit.sync.port", str(rl)))

    env.append(("telemetry.logs.std", str(c.get("gateway_log_format", "text"))))
    env.append(("telemetry.logs.std.level", str(c.get("gateway_log_level", "info"))))
    local_logs = c.text("gateway_local_logs")
    if local_logs:
        env.append(("telemetry.logs.local", local_logs))
    metrics = c.text("gateway_local_metrics")
    if metrics:
        env.append(("telemetry.metrics.local", metrics))
    statsd = c.text("gateway_statsd_endpoint")
    if metrics == "statsd":
        if not statsd or not _HOST_PORT.match(statsd):
            c.err("gateway_statsd_endpoint (host:port) is required when gateway_local_metrics is statsd")
        else:
            env.append(("telemetry.metrics.local.statsd.endpoint", statsd))
    elif statsd:
        c.err("gateway_statsd_endpoint is set but gateway_local_metrics is not statsd")
    otel = _url(c, "gateway_opentelemetry_collector_uri")
    if otel:
        env.append(("observability.opentelemetry.enabled", "true"))
        env.append(("observability.opentelemetry.collector.uri", otel))

    for var, key in (
        ("gateway_tls_server_ciphers", "net.server.tls.ciphers.allowed-suites"),
        ("gateway_tls_client_ciphers", "net.client.tls.ciphers.allowed-suites"),
    ):
        joined = _ciphers(c, var)
        if joined:
            env.append((key, joined))

    if c.get("gateway_local_ca_enabled", False):
        env.append(("certificates.local.ca.enabled", "true"))
    if c.get("gateway_forwarded_proto_enabled", False):
        if c.version_checks:
            c.needs((2, 5, 0), "gateway_forwarded_proto_enabled", "X-Forwarded-Proto routing")
        env.append(("net.server.http.forwarded.proto.enabled", "true"))
    if c.get("gateway_certificate_revocation_validation", False):
        if c.version_checks:
            c.needs((2, 3, 6), "gateway_certificate_revocation_validation", "certificate revocation validation")
        env.append(("security.certificate-revocation.validation.enabled", "true"))
    timeout = c.text("gateway_integration_timeout")
    if timeout:
        if not _TIMESPAN.match(timeout) or timeout == "00:00:00":
            c.err("gateway_integration_timeout must be a time span HH:MM:SS, e.g. 00:01:40")
        if c.version_checks:
            c.needs((2, 3, 5), "gateway_integration_timeout", "Configuration API timeout")
        env.append(("config.service.integration.timeout", timeout))
    if c.get("gateway_disable_certificate_validation", False):
        c.warn(
            "gateway_disable_certificate_validation is true: the gateway does not check the Configuration API's "
            "certificate (testing only)"
        )
        env.append(("config.service.endpoint.disableCertificateValidation", "true"))

    for var, key in (("gateway_http_proxy", "HTTP_PROXY"), ("gateway_https_proxy", "HTTPS_PROXY")):
        proxy = _url(c, var)
        if proxy:
            env.append((key, proxy))
    no_proxy = c.get("gateway_no_proxy", [])
    if isinstance(no_proxy, str):
        no_proxy = [no_proxy]
    no_proxy = [str(n).strip() for n in no_proxy if str(n).strip()]
    if no_proxy:
        env.append(("NO_PROXY", ",".join(no_proxy)))


def _extra_settings(c, env):
    extra = c.get("gateway_extra_settings", {})
    if not isinstance(extra, dict):
        c.err("gateway_extra_settings must be a mapping of setting name to value")
        return
    for key in sorted(extra, key=str):
        value = extra[key]
        key = str(key)
        if key in MANAGED_SETTINGS:
            c.err("gateway_extra_settings: %s is set by the role; use %s instead" % (key, MANAGED_SETTINGS[key]))
            continue
        if not _SETTING_KEY.match(key) or not key.startswith(EXTRA_SETTING_PREFIXES):
            c.err(
                "gateway_extra_settings: '%s' is not a documented gateway setting (allowed prefixes: %s)"
                % (key, ", ".join(EXTRA_SETTING_PREFIXES))
            )
            continue
        if isinstance(value, bool):
            value = _bool_text(value)
        elif isinstance(value, (int, float)):
            value = str(value)
        elif not isinstance(value, str):
            c.err("gateway_extra_settings: the value for %s must be a string, number or boolean" % key)
            continue
        env.append((key, value))


def _memory_bytes(text):
    m = _MEMORY.match(text)
    if not m:
        return None
    return float(m.group(1)) * _MEMORY_UNITS[m.group(2).lower()]


def _container(c):
    spec = {}
    name = c.text("gateway_container_name")
    if not _CONTAINER_NAME.match(name):
        c.err("gateway_container_name '%s' must be 1-55 letters, digits, '_', '.' or '-'" % name)
    spec["name"] = name
    spec["previous_name"] = name + PREVIOUS_SUFFIX
    spec["env_file"] = "/etc/apim-gateway/%s.env" % name

    user = c.text("gateway_user")
    m = _USER.match(user)
    uid = DEFAULT_CONTAINER_UID
    if not m:
        c.err("gateway_user '%s' must be uid[:gid] or name[:group]" % user)
    elif m.group("user") in ("0", "root"):
        c.err("gateway_user '%s' runs the gateway as root (uid 0); that is refused, use 1001:1001" % user)
    elif m.group("user").isdigit():
        uid = int(m.group("user"))
    spec["user"] = user
    if c.get("gateway_local_ca_enabled", False) and m and m.group("user") != str(DEFAULT_CONTAINER_UID):
        c.err("gateway_local_ca_enabled needs the gateway to run as uid 1001; gateway_user is '%s'" % user)
    if c.get("gateway_read_only_rootfs", False):
        c.err(
            "gateway_read_only_rootfs: a read-only root filesystem is not supported by the gateway "
            "(it writes its CA bundle at start)"
        )

    bind = c.text("gateway_bind_address")
    ip = _ip(bind)
    if ip is None:
        c.err("gateway_bind_address '%s' must be an IP address (0.0.0.0 for all)" % bind)
        bind_host, probe_host = bind, "127.0.0.1"
    elif ip.version == 6:
        bind_host = "[%s]" % bind
        probe_host = "[::1]" if ip.is_unspecified else "[%s]" % bind
    else:
        bind_host = bind
        probe_host = "127.0.0.1" if ip.is_unspecified else bind
    http = c.port("gateway_http_port")
    https = c.port("gateway_https_port")
    if http and https and http == https:
        c.err("gateway_http_port and gateway_https_port must differ")
    ports = [
        "%s:%s:%d" % (bind_host, http, CONTAINER_HTTP_PORT),
        "%s:%s:%d" % (bind_host, https, CONTAINER_HTTPS_PORT),
    ]
    if c.text("gateway_neighborhood_host"):
        for var in ("gateway_rate_limit_sync_port", "gateway_heartbeat_port"):
            p = c.port(var)
            ports.append("%s:%s:%s/udp" % (bind_host, p, p))
    spec["published_ports"] = ports

    status_path = c.text("gateway_status_path") or DEFAULT_STATUS_PATH
    if not _STATUS_PATH.match(status_path):
        c.err("gateway_status_path '%s' must be an absolute URL path such as %s" % (status_path, DEFAULT_STATUS_PATH))
    spec["ready_url"] = "http://%s:%s%s" % (probe_host, http, status_path)

    policy = c.get("gateway_restart_policy", "unless-stopped")
    if policy not in ("always", "unless-stopped"):
        c.err("gateway_restart_policy must be always or unless-stopped (survives reboots), got '%s'" % policy)
    spec["restart_policy"] = policy

    memory = c.text("gateway_memory")
    size = _memory_bytes(memory)
    if size is None:
        c.err("gateway_memory '%s' must be a size such as 2g or 1536m" % memory)
    elif size < 256 * 1024**2:
        c.err("gateway_memory '%s' is below 256m; the gateway does not start with less" % memory)
    spec["memory"] = memory
    try:
        cpus = float(c.get("gateway_cpus"))
        if not 0 < cpus <= 512:
            raise ValueError
    except (TypeError, ValueError):
        c.err("gateway_cpus must be a number of CPUs above 0, got %s" % c.get("gateway_cpus"))
        cpus = None
    spec["cpus"] = cpus
    try:
        pids = int(c.get("gateway_pids_limit"))
        if pids < 64:
            raise ValueError
    except (TypeError, ValueError):
        c.err("gateway_pids_limit must be a whole number of at least 64 (no unlimited)")
        pids = None
    spec["pids_limit"] = pids
    try:
        spec["stop_timeout"] = int(c.get("gateway_stop_timeout", 60))
    except (TypeError, ValueError):
        c.err("gateway_stop_timeout must be a whole number of seconds")
    try:
        spec["ready_timeout"] = int(c.get("gateway_ready_timeout", 180))
        if not 5 <= spec["ready_timeout"] <= 3600:
            raise ValueError
    except (TypeError, ValueError):
        c.err("gateway_ready_timeout must be a number of seconds between 5 and 3600")

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

    if c.get("gateway_healthcheck_enabled", True):
        # No wget -T: Docker's healthcheck timeout bounds the probe, and some BusyBox builds crash on -T.
        test = c.get("gateway_healthcheck_command") or [
            "CMD",
            "wget",
            "-q",
            "-O",
            "/dev/null",
            "http://127.0.0.1:%d%s" % (CONTAINER_HTTP_PORT, status_path),
        ]
        if not isinstance(test, list) or not test or test[0] not in ("CMD", "CMD-SHELL"):
            c.err("gateway_healthcheck_command must be a list starting with CMD or CMD-SHELL")
        elif any("curl" in str(part) for part in test):
            c.err("gateway_healthcheck_command uses curl; the gateway image has no curl (use BusyBox wget)")
        health = {"test": [str(t) for t in test] if isinstance(test, list) else test}
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
        spec["healthcheck"] = health
    else:
        spec["healthcheck"] = {"test": ["NONE"]}

    hosts = c.get("gateway_extra_hosts", {})
    spec["etc_hosts"] = {}
    if not isinstance(hosts, dict):
        c.err("gateway_extra_hosts must be a mapping of host name to IP address")
    else:
        for host, addr in hosts.items():
            if not _HOSTNAME.match(str(host)):
                c.err("gateway_extra_hosts: '%s' is not a valid host name" % host)
            if _ip(str(addr)) is None:
                c.err("gateway_extra_hosts: the address for %s must be an IP address, got '%s'" % (host, addr))
            spec["etc_hosts"][str(host)] = str(addr)
    dns = [str(d) for d in c.get("gateway_dns_servers", [])]
    for d in dns:
        if _ip(d) is None:
            c.err("gateway_dns_servers: '%s' is not an IP address" % d)
    spec["dns_servers"] = dns

    mounts = []
    backup = bool(c.get("gateway_backup_enabled", True))
    path = c.text("gateway_backup_path")
    if backup:
        if not path.startswith("/") or os.path.normpath(path) in ("/", "/etc", "/var", "/usr", "/tmp"):  # noqa: S108
            c.err("gateway_backup_path '%s' must be an absolute path of its own (not / or a system directory)" % path)
        elif any(ch in path for ch in (":", ",", "\n")) or os.path.normpath(path) != path.rstrip("/"):
            c.err("gateway_backup_path '%s' must be a plain, normalised absolute path" % path)
        if c.version_checks and c.version is not None and (2, 12, 0) <= c.version < (2, 12, 2):
            c.err(
                "gateway_backup_enabled: restore from backup is broken in gateway %s (2.12.0-2.12.1); pin "
                "gateway_image_tag 2.12.3 or newer" % _version_text(c.version)
            )
        mounts.append({"type": "bind", "source": path.rstrip("/"), "target": BACKUP_MOUNT, "read_only": False})
    spec["backup_enabled"] = backup
    spec["backup_path"] = path.rstrip("/")
    spec["backup_owner"] = uid
    spec["backup_group"] = BACKUP_GID

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
        mounts.append({"type": "bind", "source": str(item["source"]), "target": str(item["target"]), "read_only": True})
    cert_host = c.text("gateway_azure_ad_certificate_host_path")
    if cert_host:
        cert = c.text("gateway_azure_ad_certificate_path")
        if not cert_host.startswith("/") or not cert:
            c.err(
                "gateway_azure_ad_certificate_host_path must be an absolute host path, mounted at "
                "gateway_azure_ad_certificate_path"
            )
        else:
            mounts.append({"type": "bind", "source": cert_host, "target": cert, "read_only": True})
    spec["mounts"] = mounts
    return spec


def _unique(messages):
    seen = set()
    return [m for m in messages if not (m in seen or seen.add(m))]


def validate(values, now=None, spec=None):
    """Check the role's variables; see the module docstring. ``spec``: the role's argument_specs options."""
    now = now or datetime.datetime.now(UTC)
    warnings = []
    errors = []
    values = dict(values or {})
    if spec:
        unknown = sorted(k for k in values if k not in spec)
        for k in unknown:
            warnings.append("%s is not a variable of the gateway role (typo?); it is ignored" % k)
            values.pop(k)
        result = ArgumentSpecValidator(spec).validate(values)
        errors.extend(result.error_messages)
        values = result.validated_parameters
    c = _Checker(values, now)
    c.errors, c.warnings = errors, warnings
    state = c.get("gateway_state", "present")
    out = {"state": state, "env": [], "token": None, "version_checks": True, "image": None, "version": None}
    if state == "present":
        env = []
        endpoint = _endpoint(c)
        env.append(("config.service.endpoint", endpoint or ""))
        out["image"] = _image(c)
        out["container"] = _container(c)
        mode = c.get("gateway_auth_mode", "token")
        if mode == "token":
            out["token"] = _token(c, env)
        elif mode == "azureAdApp":
            _azure_ad(c, env)
        else:
            c.err("gateway_auth_mode must be token or azureAdApp, got '%s'" % mode)
        _settings(c, env)
        _extra_settings(c, env)
        env.append(("runtime.deployment.mechanism", "Ansible"))
        seen = set()
        for key, value in env:
            if key in seen:
                c.err("the setting %s would be written twice" % key)
            seen.add(key)
            _check_value(c, key, value, "gateway settings")
        out["env"] = env
        out["env_file_content"] = render_env_file(env)
        out["version_checks"] = c.version_checks
        out["version"] = _version_text(c.version) if c.version else None
    else:
        out["container"] = _container(c)
    out["errors"] = _unique(c.errors)
    out["warnings"] = _unique(c.warnings)
    return out


def render_env_file(env):
    """The env-file text: one KEY=VALUE per line, in the order given (stable)."""
    return "".join("%s=%s\n" % (k, v) for k, v in env)
