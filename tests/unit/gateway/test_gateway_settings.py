"""The shared validation path: good settings render the documented env-file; each bad one is refused by name."""

import base64
import datetime as dt
import os

import pytest
import yaml
from gw_tokens import make

from ansible_collections.apim.selfhosted.plugins.filter.gateway_settings import (
    collection_version,
    gateway_settings,
    role_spec,
)
from ansible_collections.apim.selfhosted.plugins.module_utils.gateway_plan import env_file_text, render_env
from ansible_collections.apim.selfhosted.plugins.module_utils.gateway_setting_rules import (
    CIPHER_SUITES,
    MANAGED_SETTINGS,
)
from ansible_collections.apim.selfhosted.plugins.module_utils.gateway_settings import validate

ROLE = os.path.join(os.path.dirname(__file__), "..", "..", "..", "roles", "gateway")
TENANT = "72f988bf-86f1-41af-91ab-2d7cd011db47"
CLIENT = "0b9e0d1e-4d0c-4a87-b1b2-5b0f3e1a6c11"


def defaults():
    with open(os.path.join(ROLE, "defaults", "main.yml")) as fh:
        values = yaml.safe_load(fh)
    values["gateway_backup_path"] = "/var/lib/apim-gateway/apim-gateway"
    return values


def good(**over):
    values = defaults()
    values.update(gateway_endpoint="contoso.configuration.azure-api.net", gateway_token=make("gw1"))
    values.update(over)
    return values


def check(**over):
    values = good(**over)
    result = gateway_settings(values)
    # What the host module gets besides the plan: the secrets, as no_log options.
    result["_secrets"] = {
        "token": values.get("gateway_token"),
        "client_secret": values.get("gateway_azure_ad_client_secret"),
    }
    return result


def pairs(result):
    return render_env(result["env"], result["_secrets"])


def env(result):
    return dict(pairs(result))


def test_defaults_match_the_argument_spec():
    spec = role_spec()
    values = defaults()
    assert set(values) <= set(spec)
    for name, option in spec.items():
        if "default" in option:
            assert values[name] == option["default"], name
        assert option.get("description"), f"{name} has no description"
    for secret in ("gateway_token", "gateway_azure_ad_client_secret", "gateway_registry_password"):
        assert spec[secret].get("no_log") is True


def test_token_auth_renders_the_portal_layout():
    token = make("gw1", prefix=False)
    result = check(gateway_token=token)
    assert result["errors"] == [], result["errors"]
    e = env(result)
    assert e["config.service.endpoint"] == "https://contoso.configuration.azure-api.net"
    assert e["config.service.auth"] == "GatewayKey " + token
    assert "config.service.auth.key" not in e and "gateway.name" not in e
    assert e["runtime.deployment.mechanism"] == "Ansible"
    assert e["runtime.deployment.orchestrator.type"] == "Docker"
    assert e["runtime.deployment.artifact.source"] == "apim.selfhosted"
    assert e["runtime.deployment.artifact.version"] == collection_version() != "unknown"
    assert e["telemetry.logs.std.color"] == "true" and e["telemetry.metrics.cloud"] == "true"
    assert result["token"]["gateway_id"] == "gw1" and 18 <= result["token"]["days_left"] <= 20
    text = env_file_text(pairs(result))
    assert text.splitlines()[0] == "config.service.endpoint=https://contoso.configuration.azure-api.net"
    assert all("=" in line for line in text.splitlines())
    # The plan itself holds no secret: the token's line is a template.
    assert token.rsplit("&", 1)[1] not in repr({k: v for k, v in result.items() if k != "_secrets"})
    assert [e for e in result["env"] if e["secret"]] == [
        {"key": "config.service.auth", "value": "GatewayKey {token}", "secret": True}
    ]


def test_key_layout_uses_the_same_token_variable():
    token = make("edge-gw")
    result = check(gateway_token=token, gateway_token_layout="key")
    assert result["errors"] == []
    e = env(result)
    assert e["config.service.auth"] == "key"
    assert e["config.service.auth.key"] == token
    assert e["gateway.name"] == "edge-gw"


@pytest.mark.parametrize(
    "endpoint",
    [
        "contoso.configuration.azure-api.net",
        "https://contoso.configuration.azure-api.net",
        "HTTPS://Contoso.Configuration.Azure-Api.Net/",
        "https://contoso.configuration.azure-api.net:443",
    ],
)
def test_both_endpoint_forms_render_one_stable_form(endpoint):
    result = check(gateway_endpoint=endpoint)
    assert result["errors"] == []
    assert env(result)["config.service.endpoint"] == "https://contoso.configuration.azure-api.net"


def test_custom_endpoint_hostname_with_port():
    result = check(gateway_endpoint="apim-config.test:8443", gateway_endpoint_custom_hostnames=["APIM-config.test"])
    assert result["errors"] == []
    assert env(result)["config.service.endpoint"] == "https://apim-config.test:8443"


def test_entra_app_secret():
    result = check(
        gateway_token=None,
        gateway_auth_mode="azureAdApp",
        gateway_name="edge-gw",
        gateway_azure_ad_tenant_id=TENANT,
        gateway_azure_ad_client_id=CLIENT,
        gateway_azure_ad_client_secret="s3cr3t~value",
    )
    assert result["errors"] == []
    e = env(result)
    assert e["config.service.auth"] == "azureAdApp"
    assert e["gateway.name"] == "edge-gw"
    assert e["config.service.auth.azureAd.tenantId"] == TENANT
    assert e["config.service.auth.azureAd.clientSecret"] == "s3cr3t~value"
    assert result["token"] is None


def test_entra_on_2_2_warns():
    result = check(
        gateway_token=None,
        gateway_auth_mode="azureAdApp",
        gateway_name="edge-gw",
        gateway_azure_ad_tenant_id=TENANT,
        gateway_azure_ad_client_id=CLIENT,
        gateway_azure_ad_client_secret="x",
        gateway_image_tag="2.2.1",
        gateway_backup_enabled=False,
    )
    assert result["errors"] == []
    assert any("gateway_auth_mode" in w and "2.2.1" in w for w in result["warnings"])


def test_full_settings_render():
    result = check(
        gateway_neighborhood_host="gw-peers.internal",
        gateway_tls_server_ciphers=["tls_aes_256_gcm_sha384", "TLS_CHACHA20_poly1305_SHA256"],
        gateway_tls_client_ciphers="TLS_RSA_WITH_AES_128_CBC_SHA, TLS_AES_128_GCM_SHA256",
        gateway_local_ca_enabled=True,
        gateway_forwarded_proto_enabled=True,
        gateway_certificate_revocation_validation=True,
        gateway_integration_timeout="00:02:00",
        gateway_local_metrics="statsd",
        gateway_statsd_endpoint="10.0.0.5:8125",
        gateway_statsd_sampling="0.25",
        gateway_statsd_tag_format="influxDB",
        gateway_opentelemetry_collector_uri="http://otel:4317",
        gateway_opentelemetry_histogram_buckets=[10, 50, "250", 1000.5],
        gateway_opentelemetry_system_metrics=True,
        gateway_log_color=False,
        gateway_cloud_metrics=False,
        gateway_local_logs="rfc5424",
        gateway_local_logs_endpoint="10.0.0.6:514",
        gateway_local_logs_facility="7",
        gateway_https_proxy="http://proxy.internal:3128",
        gateway_no_proxy=["10.0.0.0/8", ".internal"],
        gateway_extra_settings={"net.server.http2.enabled": "true", "Logs.ApplicationInsights.Endpoint": "https://x"},
        gateway_extra_hosts={"contoso.configuration.azure-api.net": "10.1.2.3"},
        gateway_bind_address="10.0.0.7",
    )
    assert result["errors"] == []
    e = env(result)
    assert e["neighborhood.host"] == "gw-peers.internal"
    assert e["neighborhood.heartbeat.port"] == "4291" and e["policy.rate-limit.sync.port"] == "4290"
    # Any case and order in, the documented spelling out, in the order given.
    assert e["net.server.tls.ciphers.allowed-suites"] == "TLS_AES_256_GCM_SHA384,TLS_CHACHA20_POLY1305_SHA256"
    assert e["net.client.tls.ciphers.allowed-suites"] == "TLS_RSA_WITH_AES_128_CBC_SHA,TLS_AES_128_GCM_SHA256"
    assert e["certificates.local.ca.enabled"] == "true"
    assert e["telemetry.logs.std.color"] == "false" and e["telemetry.metrics.cloud"] == "false"
    assert e["telemetry.logs.local"] == "rfc5424"
    assert e["telemetry.logs.local.rfc5424.endpoint"] == "10.0.0.6:514"
    assert e["telemetry.logs.local.rfc5424.facility"] == "7"
    assert e["telemetry.metrics.local.statsd.sampling"] == "0.25"
    assert e["telemetry.metrics.local.statsd.tag-format"] == "influxDB"
    assert e["observability.opentelemetry.histogram.buckets"] == "10,50,250,1000.5"
    assert e["observability.opentelemetry.system-metrics.enabled"] == "true"
    assert e["NO_PROXY"] == "10.0.0.0/8,.internal"
    assert e["observability.opentelemetry.enabled"] == "true"
    assert e["Logs.ApplicationInsights.Endpoint"] == "https://x"
    ports = [(p["host_ip"], p["host_port"], p["container_port"], p["protocol"]) for p in result["container"]["ports"]]
    # The UDP ports go to the host's address on the neighbours' network, which the host module finds.
    assert ports == [
        ("10.0.0.7", 80, 8080, "tcp"),
        ("10.0.0.7", 443, 8081, "tcp"),
        ("neighbours", 4290, 4290, "udp"),
        ("neighbours", 4291, 4291, "udp"),
    ]
    assert result["container"]["ready_url"] == "http://10.0.0.7:80/status-0123456789abcdef"


def test_local_ca_is_about_mounted_certificates():
    result = check(gateway_local_ca_enabled=True)
    assert result["errors"] == []
    assert any("gateway_local_ca_enabled" in w and "gateway_ca_bundle_mounts" in w for w in result["warnings"])
    mounts = [{"source": "/etc/ssl/corp/ca.crt", "target": "/usr/local/share/ca-certificates/corp.crt"}]
    result = check(gateway_local_ca_enabled=True, gateway_ca_bundle_mounts=mounts)
    assert result["warnings"] == [] and env(result)["certificates.local.ca.enabled"] == "true"


def test_neighborhood_bind_address_given():
    result = check(gateway_neighborhood_host="gw-peers.internal", gateway_neighborhood_bind_address="10.9.0.4")
    assert result["errors"] == [] and result["warnings"] == []
    udp = [(p["host_ip"], p["host_port"]) for p in result["container"]["ports"] if p["protocol"] == "udp"]
    assert udp == [("10.9.0.4", 4290), ("10.9.0.4", 4291)]
    result = check(gateway_neighborhood_host="gw-peers.internal", gateway_neighborhood_bind_address="0.0.0.0")
    assert result["errors"] == []
    assert any("gateway_neighborhood_bind_address" in w and "firewall" in w for w in result["warnings"])


# The settings that Microsoft's Helm chart (1.15.1, configmap.yaml and deployment.yaml) writes, without the
# Kubernetes-only ones (k8s.ingress.*, runtime.deployment.highAvailability.enabled, runtime.deployment.dapr.enabled)
# and the proxy variables.
HELM_CHART_SETTINGS = """
config.service.endpoint gateway.name config.service.auth config.service.auth.azureAd.tenantId
config.service.auth.azureAd.clientId config.service.auth.azureAd.authority config.service.auth.azureAd.clientSecret
telemetry.metrics.cloud telemetry.logs.std telemetry.logs.std.level telemetry.logs.std.color telemetry.logs.local
telemetry.logs.local.localsyslog.endpoint telemetry.logs.local.localsyslog.facility
telemetry.logs.local.rfc5424.endpoint telemetry.logs.local.rfc5424.facility telemetry.logs.local.journal.endpoint
telemetry.logs.local.json.endpoint telemetry.metrics.local telemetry.metrics.local.statsd.endpoint
telemetry.metrics.local.statsd.sampling telemetry.metrics.local.statsd.tag-format observability.opentelemetry.enabled
observability.opentelemetry.collector.uri observability.opentelemetry.histogram.buckets
observability.opentelemetry.system-metrics.enabled net.server.tls.ciphers.allowed-suites
net.client.tls.ciphers.allowed-suites runtime.deployment.mechanism runtime.deployment.artifact.version
runtime.deployment.artifact.source runtime.deployment.orchestrator.type neighborhood.host
""".split()


def test_every_setting_of_microsofts_helm_chart_has_a_role_variable():
    assert len(HELM_CHART_SETTINGS) == len(set(HELM_CHART_SETTINGS)) == 33
    assert [k for k in HELM_CHART_SETTINGS if k not in MANAGED_SETTINGS] == []
    spec = role_spec()
    for key in HELM_CHART_SETTINGS:
        variable = MANAGED_SETTINGS[key]
        assert variable.startswith("(always") or all(v.strip() in spec for v in variable.split("/")), key


def test_chart_defaults_and_local_log_endpoints():
    e = env(check())
    assert (e["telemetry.logs.std.color"], e["telemetry.metrics.cloud"]) == ("true", "true")
    assert not any(k.startswith(("telemetry.logs.local", "telemetry.metrics.local", "observability.")) for k in e)
    e = env(check(gateway_local_logs="json"))
    assert e["telemetry.logs.local.json.endpoint"] == "127.0.0.1:8888"
    e = env(check(gateway_local_metrics="statsd", gateway_statsd_endpoint="statsd.internal:8125"))
    assert e["telemetry.metrics.local.statsd.sampling"] == "1"
    assert e["telemetry.metrics.local.statsd.tag-format"] == "dogStatsD"
    result = check(
        gateway_local_logs="localsyslog", gateway_local_logs_endpoint="/dev/log", gateway_local_logs_facility=7
    )
    assert result["errors"] == []
    assert env(result)["telemetry.logs.local.localsyslog.endpoint"] == "/dev/log"
    assert {"source": "/dev/log", "target": "/dev/log", "read_only": True} in result["container"]["mounts"]


def test_all_thirty_documented_cipher_suites_are_accepted():
    assert len(CIPHER_SUITES) == len(set(CIPHER_SUITES)) == 30
    result = check(gateway_tls_server_ciphers=list(reversed([c.lower() for c in CIPHER_SUITES])))
    assert result["errors"] == []
    assert env(result)["net.server.tls.ciphers.allowed-suites"] == ",".join(reversed(CIPHER_SUITES))


@pytest.mark.parametrize(
    ("tag", "digest_ref", "version", "checks"),
    [
        ("2.12.3", "repo:2.12.3@", "2.12.3", True),
        ("", "repo@", None, False),
        ("v2", "repo:v2@", None, False),
    ],
)
def test_image_pinned_by_digest(tag, digest_ref, version, checks):
    digest = "sha256:" + "ab" * 32
    result = check(gateway_image_repository="registry.corp.example:5000/apim/gateway", gateway_image_tag=tag,
                   gateway_image_digest=digest.upper().replace("SHA256", "sha256"))  # fmt: skip
    assert result["errors"] == [], result["errors"]
    want = digest_ref.replace("repo", "registry.corp.example:5000/apim/gateway") + digest
    assert result["image"] == want
    assert result["version"] == version and result["version_checks"] is checks
    if not checks:
        assert any("gateway_image_digest" in w and "version checks skipped" in w for w in result["warnings"])


def test_version_checks_apply_to_the_tag_beside_a_digest():
    result = check(gateway_image_tag="2.12.1", gateway_image_digest="sha256:" + "0" * 64)
    assert any("gateway_backup_enabled" in e and "2.12.1" in e for e in result["errors"])


def test_entra_certificate_is_placed_by_the_role_and_only_its_digest_is_in_the_plan():
    pem = CERT_PEM
    result = check(**{**ENTRA, "gateway_azure_ad_client_secret": None, "gateway_azure_ad_certificate": pem,
                      "gateway_azure_ad_certificate_path": "/apim/certificates/app.pem"})  # fmt: skip
    assert result["errors"] == []
    cert = result["certificate_file"]
    assert cert["path"] == "/etc/apim-gateway/apim-gateway.azure-ad-cert"
    assert (cert["owner"], cert["mode"]) == (1001, "0400") and len(cert["digest"]) == 64
    assert {"source": cert["path"], "target": "/apim/certificates/app.pem", "read_only": True} in result["container"][
        "mounts"
    ]
    assert env(result)["config.service.auth.azureAd.certificatePath"] == "/apim/certificates/app.pem"
    assert "PRIVATE KEY" not in repr({k: v for k, v in result.items() if k != "_secrets"})
    # A PFX in base64 is accepted as well; no certificate: an empty digest (a file left over is removed).
    pfx = base64.b64encode(b"\x30\x82\x0a\x00" + os.urandom(200)).decode()
    assert check(**{**ENTRA, "gateway_azure_ad_client_secret": None, "gateway_azure_ad_certificate": pfx,
                    "gateway_azure_ad_certificate_path": "/c/app.pfx"})["errors"] == []  # fmt: skip
    assert check()["certificate_file"]["digest"] == ""


def test_container_defaults_are_hardened():
    c = check()["container"]
    assert c["user"] == "1001:1001"
    assert [(p["host_ip"], p["host_port"], p["container_port"]) for p in c["ports"]] == [
        ("0.0.0.0", 80, 8080),
        ("0.0.0.0", 443, 8081),
    ]
    assert c["mounts"] == [
        {"source": "/var/lib/apim-gateway/apim-gateway", "target": "/apim/config", "read_only": False}
    ]
    backup = check()["backup"]
    assert (backup["owner"], backup["group"], backup["enabled"]) == (1001, 1001, True)
    assert c["healthcheck"]["test"][:2] == ["CMD", "wget"]
    assert "curl" not in " ".join(c["healthcheck"]["test"])
    assert c["healthcheck"]["test"][-1] == "http://127.0.0.1:8080/status-0123456789abcdef"
    assert c["memory"] == 2 * 1024**3 and c["cpus"] == 2.0
    assert c["restart_policy"] == "unless-stopped"
    assert c["ready_url"] == "http://127.0.0.1:80/status-0123456789abcdef"


def test_healthcheck_off_and_status_path():
    c = check(gateway_healthcheck_enabled=False, gateway_status_path="/internal-status-0123456789abcdef")["container"]
    assert c["healthcheck"] == {"test": ["NONE"]}
    assert c["ready_url"].endswith("/internal-status-0123456789abcdef")


def test_rolling_tag_allowed_skips_version_checks():
    result = check(
        gateway_image_tag="v2", gateway_allow_rolling_tag=True, gateway_tls_server_ciphers=["TLS_AES_128_GCM_SHA256"]
    )
    assert result["errors"] == []
    assert result["version_checks"] is False
    assert any("version checks skipped" in w and "gateway_image_tag" in w for w in result["warnings"])


def test_token_expiring_soon_warns():
    result = check(gateway_token=make("gw1", dt.timedelta(days=3)))
    assert result["errors"] == []
    assert any("gateway_token" in w and "gateway_token_warn_days" in w for w in result["warnings"])
    result = check(gateway_token=make("gw1", dt.timedelta(days=3)), gateway_token_warn_days=2)
    assert not any("gateway_token" in w for w in result["warnings"])


def test_string_inputs_from_extra_vars_are_coerced():
    result = check(gateway_http_port="8080", gateway_https_port="8443", gateway_backup_enabled="false")
    assert result["errors"] == []
    assert result["container"]["ports"][0]["host_port"] == 8080
    assert result["container"]["mounts"] == []


def test_unknown_variable_warns():
    result = check(gateway_tokn="x")
    assert result["errors"] == []
    assert any("gateway_tokn" in w for w in result["warnings"])


def test_absent_needs_no_endpoint_or_token():
    result = gateway_settings({**defaults(), "gateway_state": "absent"})
    assert result["errors"] == []
    assert result["container"]["env_file"] == "/etc/apim-gateway/apim-gateway.env"


CERT_PEM = (
    "-----BEGIN CERTIFICATE-----\nMIIBszCCAVmgAwIBAgIU\n-----END CERTIFICATE-----\n"
    "-----BEGIN PRIVATE KEY-----\nMIGHAgEAMBMGByqGSM49\n-----END PRIVATE KEY-----\n"
)
ENTRA = {
    "gateway_token": None,
    "gateway_auth_mode": "azureAdApp",
    "gateway_name": "edge-gw",
    "gateway_azure_ad_tenant_id": TENANT,
    "gateway_azure_ad_client_id": CLIENT,
    "gateway_azure_ad_client_secret": "s3cr3t",
}

# (overrides, variable named in the error, a word of the reason)
BAD = {
    "expired token": ({"gateway_token": make("gw1", dt.timedelta(hours=-2))}, "gateway_token", "expired"),
    "malformed token": ({"gateway_token": "GatewayKey gw1&2026&abc"}, "gateway_token", "shape"),
    "missing token": ({"gateway_token": None}, "gateway_token", "required"),
    "token for another gateway": ({"gateway_name": "other-gw"}, "gateway_name", "issued"),
    "v1 endpoint": (
        {"gateway_endpoint": "https://contoso.management.azure-api.net/subscriptions/abc/resourceGroups/rg"},
        "gateway_endpoint",
        "apim.selfhosted.migrate_v2",
    ),
    "http endpoint": ({"gateway_endpoint": "http://contoso.configuration.azure-api.net"}, "gateway_endpoint", "http"),
    "endpoint with path": (
        {"gateway_endpoint": "https://contoso.configuration.azure-api.net/api"},
        "gateway_endpoint",
        "path",
    ),
    "undeclared custom endpoint": (
        {"gateway_endpoint": "config.example.com"},
        "gateway_endpoint_custom_hostnames",
        "v2",
    ),
    "missing endpoint": ({"gateway_endpoint": ""}, "gateway_endpoint", "required"),
    "rolling tag latest": ({"gateway_image_tag": "latest"}, "gateway_image_tag", "gateway_allow_rolling_tag"),
    "rolling tag v2": ({"gateway_image_tag": "v2"}, "gateway_image_tag", "rolling"),
    "v1 image tag": ({"gateway_image_tag": "1.2.3"}, "gateway_image_tag", "apim.selfhosted.migrate_v2"),
    "uid 0": ({"gateway_user": "0:0"}, "gateway_user", "root"),
    "root user by name": ({"gateway_user": "root"}, "gateway_user", "root"),
    "read-only root": ({"gateway_read_only_rootfs": True}, "gateway_read_only_rootfs", "not supported"),
    "missing Entra secret": (
        {**ENTRA, "gateway_azure_ad_client_secret": None},
        "gateway_azure_ad_client_secret",
        "required",
    ),
    "Entra without gateway name": ({**ENTRA, "gateway_name": None}, "gateway_name", "required"),
    "Entra client id not a GUID": (
        {**ENTRA, "gateway_azure_ad_client_id": "my-app"},
        "gateway_azure_ad_client_id",
        "GUID",
    ),
    "Entra secret and certificate": (
        {**ENTRA, "gateway_azure_ad_certificate_path": "/certs/app.pfx"},
        "gateway_azure_ad_certificate_path",
        "not both",
    ),
    "Entra on 2.1": ({**ENTRA, "gateway_image_tag": "2.1.5"}, "gateway_image_tag", "2.2.0"),
    "Entra certificate on 2.2": (
        {
            **ENTRA,
            "gateway_azure_ad_client_secret": None,
            "gateway_azure_ad_certificate_path": "/certs/app.pfx",
            "gateway_image_tag": "2.2.3",
        },
        "gateway_azure_ad_certificate_path",
        "2.3.0",
    ),
    "unknown auth mode": ({"gateway_auth_mode": "password"}, "gateway_auth_mode", "one of"),
    "unknown token layout": ({"gateway_token_layout": "bearer"}, "gateway_token_layout", "one of"),
    "invalid cipher list": (
        {"gateway_tls_server_ciphers": ["TLS_AES_256_GCM_SHA384", "rc4; drop"]},
        "gateway_tls_server_ciphers",
        "'rc4; drop' is not among the 30 cipher suites",
    ),
    "cipher suite the gateway does not offer": (
        {"gateway_tls_client_ciphers": "TLS_AES_128_GCM_SHA256,TLS_ECDHE_RSA_WITH_3DES_EDE_CBC_SHA"},
        "gateway_tls_client_ciphers",
        "'TLS_ECDHE_RSA_WITH_3DES_EDE_CBC_SHA' is not among",
    ),
    "cipher suite twice in another case": (
        {"gateway_tls_server_ciphers": ["TLS_AES_128_GCM_SHA256", "tls_aes_128_gcm_sha256"]},
        "gateway_tls_server_ciphers",
        "more than once",
    ),
    "localsyslog without endpoint": ({"gateway_local_logs": "localsyslog"}, "gateway_local_logs_endpoint", "required"),
    "rfc5424 without endpoint": ({"gateway_local_logs": "rfc5424"}, "gateway_local_logs_endpoint", "rfc5424"),
    "journal without endpoint": ({"gateway_local_logs": "journal"}, "gateway_local_logs_endpoint", "journal"),
    "localsyslog endpoint not a path": (
        {"gateway_local_logs": "localsyslog", "gateway_local_logs_endpoint": "10.0.0.1:514"},
        "gateway_local_logs_endpoint",
        "socket path",
    ),
    "local logs endpoint with auto": (
        {"gateway_local_logs": "auto", "gateway_local_logs_endpoint": "/dev/log"},
        "gateway_local_logs_endpoint",
        "is set but",
    ),
    "facility with journal": (
        {"gateway_local_logs": "journal", "gateway_local_logs_endpoint": "/run/log", "gateway_local_logs_facility": 3},
        "gateway_local_logs_facility",
        "no facility",
    ),
    "facility out of range": (
        {"gateway_local_logs": "rfc5424", "gateway_local_logs_endpoint": "/dev/log", "gateway_local_logs_facility": 24},
        "gateway_local_logs_facility",
        "0-23",
    ),
    "statsd sampling above 1": (
        {"gateway_local_metrics": "statsd", "gateway_statsd_endpoint": "s:8125", "gateway_statsd_sampling": 1.5},
        "gateway_statsd_sampling",
        "between 0 and 1",
    ),
    "statsd tag format misspelt": ({"gateway_statsd_tag_format": "ibrato"}, "gateway_statsd_tag_format", "one of"),
    "histogram buckets without a collector": (
        {"gateway_opentelemetry_histogram_buckets": [5, 10]},
        "gateway_opentelemetry_histogram_buckets",
        "collector_uri is empty",
    ),
    "histogram buckets out of order": (
        {
            "gateway_opentelemetry_collector_uri": "http://otel:4317",
            "gateway_opentelemetry_histogram_buckets": [50, 10],
        },
        "gateway_opentelemetry_histogram_buckets",
        "increasing",
    ),
    "system metrics on 2.2": (
        {
            "gateway_opentelemetry_collector_uri": "http://otel:4317",
            "gateway_opentelemetry_system_metrics": True,
            "gateway_image_tag": "2.2.1",
            "gateway_backup_enabled": False,
        },
        "gateway_opentelemetry_system_metrics",
        "2.3.0",
    ),
    "gateway name with a banned character": ({**ENTRA, "gateway_name": "edge#1"}, "gateway_name", "#"),
    "gateway name managed": ({**ENTRA, "gateway_name": "Managed"}, "gateway_name", "managed"),
    "gateway name too long": ({**ENTRA, "gateway_name": "g" * 81}, "gateway_name", "80"),
    "gateway name with a slash and a token": ({"gateway_name": "gw/1"}, "gateway_name", "/"),
    "token for a banned gateway id": (
        {"gateway_token": "GatewayKey gw:1&209901010000&c2lnbmF0dXJl"},
        "gateway_token",
        "gateway id contains :",
    ),
    "Entra certificate path without the certificate": (
        {**ENTRA, "gateway_azure_ad_client_secret": None, "gateway_azure_ad_certificate_path": "/c/app.pfx"},
        "gateway_azure_ad_certificate",
        "places the certificate on the host",
    ),
    "Entra certificate that is neither PEM nor PFX": (
        {
            **ENTRA,
            "gateway_azure_ad_client_secret": None,
            "gateway_azure_ad_certificate_path": "/c/app.pfx",
            "gateway_azure_ad_certificate": "not a certificate",
        },
        "gateway_azure_ad_certificate",
        "neither PEM",
    ),
    "Entra certificate PEM without its key": (
        {
            **ENTRA,
            "gateway_azure_ad_client_secret": None,
            "gateway_azure_ad_certificate_path": "/c/app.pem",
            "gateway_azure_ad_certificate": CERT_PEM.split("-----BEGIN PRIVATE")[0],
        },
        "gateway_azure_ad_certificate",
        "private key",
    ),
    "Entra certificate without a path": (
        {**ENTRA, "gateway_azure_ad_certificate": CERT_PEM},
        "gateway_azure_ad_certificate_path",
        "is not",
    ),
    "Entra certificate with a token": (
        {"gateway_azure_ad_certificate": CERT_PEM},
        "gateway_azure_ad_certificate",
        "token",
    ),
    "extra setting in another case": (
        {"gateway_extra_settings": {"config.service.Endpoint": "https://evil.example"}},
        "gateway_extra_settings",
        "config.service.endpoint: setting names are case-insensitive",
    ),
    "extra setting of a new managed key in capitals": (
        {"gateway_extra_settings": {"TELEMETRY.LOGS.STD.COLOR": "false"}},
        "gateway_extra_settings",
        "gateway_log_color",
    ),
    "extra setting twice in different case": (
        {"gateway_extra_settings": {"net.server.http2.enabled": "true", "Net.Server.HTTP2.Enabled": "false"}},
        "gateway_extra_settings",
        "same setting",
    ),
    "image digest malformed": ({"gateway_image_digest": "sha256:abc"}, "gateway_image_digest", "64 hex"),
    "image digest with a tarball": (
        {
            "gateway_image_digest": "sha256:" + "1" * 64,
            "gateway_image_source": "tarball",
            "gateway_image_tarball": __file__,
        },
        "gateway_image_digest",
        "tarball",
    ),
    "digest written into the tag": (
        {"gateway_image_tag": "2.12.3@sha256:" + "1" * 64},
        "gateway_image_tag",
        "gateway_image_digest",
    ),
    "neighborhood bind address a name": (
        {"gateway_neighborhood_host": "peers.internal", "gateway_neighborhood_bind_address": "eth0"},
        "gateway_neighborhood_bind_address",
        "IP address",
    ),
    "ciphers on 2.0": (
        {"gateway_tls_client_ciphers": ["TLS_AES_128_GCM_SHA256"], "gateway_image_tag": "2.0.4"},
        "gateway_image_tag",
        "2.1.1",
    ),
    "integration timeout on 2.3.4": (
        {"gateway_integration_timeout": "00:02:00", "gateway_image_tag": "2.3.4"},
        "gateway_integration_timeout",
        "2.3.5",
    ),
    "revocation on 2.3.5": (
        {"gateway_certificate_revocation_validation": True, "gateway_image_tag": "2.3.5"},
        "gateway_certificate_revocation_validation",
        "2.3.6",
    ),
    "backup on 2.12.1": ({"gateway_image_tag": "2.12.1"}, "gateway_backup_enabled", "2.12.1"),
    "unknown extra setting": ({"gateway_extra_settings": {"foo.bar": "1"}}, "gateway_extra_settings", "documented"),
    "extra setting overriding the token": (
        {"gateway_extra_settings": {"config.service.auth": "GatewayKey x"}},
        "gateway_extra_settings",
        "gateway_token",
    ),
    "extra setting with a line break": (
        {"gateway_extra_settings": {"net.server.http2.enabled": "false\nconfig.service.auth=evil"}},
        "net.server.http2.enabled",
        "line break",
    ),
    "http port out of range": ({"gateway_http_port": 70000}, "gateway_http_port", "1-65535"),
    "https port zero": ({"gateway_https_port": 0}, "gateway_https_port", "1-65535"),
    "same http and https port": ({"gateway_https_port": 80}, "gateway_https_port", "differ"),
    "port not a number": ({"gateway_http_port": "eighty"}, "gateway_http_port", "int"),
    "backup path not absolute": ({"gateway_backup_path": "var/lib/apim"}, "gateway_backup_path", "absolute"),
    "backup path is /": ({"gateway_backup_path": "/"}, "gateway_backup_path", "system directory"),
    "bind address a name": ({"gateway_bind_address": "edge-1"}, "gateway_bind_address", "IP"),
    "memory below minimum": ({"gateway_memory": "64m"}, "gateway_memory", "256m"),
    "restart policy no": ({"gateway_restart_policy": "no"}, "gateway_restart_policy", "one of"),
    "healthcheck with curl": (
        {"gateway_healthcheck_command": ["CMD", "curl", "-f", "http://127.0.0.1:8080/status-0123456789abcdef"]},
        "gateway_healthcheck_command",
        "curl",
    ),
    "status path not absolute": ({"gateway_status_path": "status"}, "gateway_status_path", "absolute"),
    "neighborhood not a DNS name": ({"gateway_neighborhood_host": "peers_all!"}, "gateway_neighborhood_host", "DNS"),
    "extra host address not an IP": ({"gateway_extra_hosts": {"cfg.test": "cfg"}}, "gateway_extra_hosts", "IP"),
    "tarball source without tarball": ({"gateway_image_source": "tarball"}, "gateway_image_tarball", "required"),
    "tarball missing on controller": (
        {"gateway_image_source": "tarball", "gateway_image_tarball": "/nonexistent/gw.tar"},
        "gateway_image_tarball",
        "does not exist",
    ),
    "local CA with another uid": (
        {"gateway_local_ca_enabled": True, "gateway_user": "1500:1001"},
        "gateway_local_ca_enabled",
        "1001",
    ),
    "container name with a slash": ({"gateway_container_name": "gw/1"}, "gateway_container_name", "letters"),
    "negative warn days": ({"gateway_token_warn_days": -1}, "gateway_token_warn_days", "negative"),
    "registry user without password": ({"gateway_registry_username": "me"}, "gateway_registry_password", "together"),
}


@pytest.mark.parametrize("case", sorted(BAD))
def test_bad_input_is_refused_naming_the_variable(case):
    over, variable, reason = BAD[case]
    result = check(**over)
    assert result["errors"], f"{case}: accepted"
    matching = [e for e in result["errors"] if variable in e and reason.lower() in e.lower()]
    assert matching, f"{case}: {result['errors']}"


@pytest.mark.parametrize("case", sorted(BAD))
def test_messages_never_contain_secrets(case):
    over, _variable, _reason = BAD[case]
    values = good(**over)
    result = gateway_settings(values)
    secrets = [values.get("gateway_token"), values.get("gateway_azure_ad_client_secret")]
    for message in result["errors"] + result["warnings"]:
        for secret in secrets:
            if secret:
                assert secret not in message
                assert secret.split("&")[-1] not in message


def test_validate_without_spec_still_refuses_unknown_modes():
    values = good(gateway_auth_mode="password")
    result = validate(values)
    assert any("gateway_auth_mode" in e for e in result["errors"])


@pytest.mark.parametrize(
    ("path", "reason"),
    [
        ("/", "system directory"),
        ("/etc", "system directory"),
        ("/var/lib", "system directory"),
        ("/var/lib/docker", "lies in /var/lib/docker"),
        ("/var/lib/docker/volumes/apim", "lies in /var/lib/docker"),
        ("/etc/apim-gateway", "lies in /etc"),
        ("/home", "system directory"),
        ("/home/alice", "home directory"),
        ("/root", "system directory"),
        ("/data", "directory of its own"),
        ("var/lib/apim", "absolute"),
        ("/var/lib/../etc", "normalised"),
    ],
)
@pytest.mark.parametrize("state", ["present", "absent"])
@pytest.mark.parametrize("enabled", [True, False])
def test_backup_path_that_could_hurt_the_host_is_refused_whatever_backups_say(path, reason, state, enabled):
    result = check(
        gateway_backup_path=path, gateway_backup_enabled=enabled, gateway_state=state, gateway_remove_backup=True
    )
    matching = [e for e in result["errors"] if "gateway_backup_path" in e and reason in e]
    assert matching, result["errors"]


def test_backup_path_of_its_own_is_accepted():
    for path in ("/var/lib/apim-gateway/edge-1", "/srv/apim/backup", "/home/alice/apim-backup"):
        assert check(gateway_backup_path=path)["errors"] == [], path
