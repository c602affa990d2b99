"""Every endpoint of the overview's FQDN table that the settings in use need, on an edge host of the test bed (run
with test_preflight_edge.py: the preflight lab has fixed names, so every test that uses it runs in one module, on
one xdist worker, and one teardown ends it).

The Azure names resolve to the lab's fakes through Docker's DNS on the test network (see preflight_lab.py); a
firewall rule in the edge host's own network namespace drops them to prove that each fails with its own message.
"""

import pytest

from apim_testkit import edgefleet

from .conftest import CACHE, EDGE, ENDPOINT, EVENT_HUBS, INGESTION, REGION, STORAGE

pytestmark = pytest.mark.docker

ARGS = {
    "endpoint": ENDPOINT,
    "auth_mode": "azureAdApp",  # the public cloud's authority: login.microsoftonline.com
    "region": REGION,
    "features": ["api_inspector", "application_insights", "event_hubs", "external_cache"],
    "storage_accounts": [STORAGE],
    "event_hubs_namespaces": [EVENT_HUBS],
    "external_caches": [CACHE],
    "checks": ["dns", "tcp", "tls", "entra", "storage", "application_insights", "event_hubs", "external_cache"],
    "timeout": 2,
}
# (target, purpose, what the failure says the gateway needs it for)
TABLE = [
    ("login.microsoftonline.com:443", "entra", "Entra ID sign-in of the gateway's app (its authority)"),
    (f"{REGION}.login.microsoft.com:443", "entra_regional", "Entra ID sign-in of the gateway's app (the regional"),
    ("management.azure.com:443", "resource_manager", "Entra authentication: the gateway checks RBAC permissions"),
    (f"{STORAGE}.blob.core.windows.net:443", "storage", "API inspector or quotas: the instance's Azure Storage blob"),
    (f"{STORAGE}.table.core.windows.net:443", "storage", "API inspector or quotas: the instance's Azure Storage table"),
    ("dc.services.visualstudio.com:443", "application_insights", "Application Insights (telemetry ingestion)"),
    ("rt.services.visualstudio.com:443", "application_insights", "Application Insights (live metrics)"),
    (f"{REGION}.livediagnostics.monitor.azure.com:443", "application_insights", "Application Insights (live metrics"),
    (f"{EVENT_HUBS}.servicebus.windows.net:443", "event_hubs", "logging to Event Hubs"),
    (f"{CACHE}:6380", "external_cache", "the external cache"),
]


@pytest.fixture
def drop_azure(lab):
    """Drop everything from the edge host to the fakes that answer for Azure and for the cache."""
    rules = [["OUTPUT", "-d", edgefleet.ip_of(name), "-j", "DROP"] for name in ("pf-fake-azure", "pf-fake-cache")]
    for rule in rules:
        lab.edge("iptables", "-I", *rule)
    yield
    for rule in rules:
        lab.edge("iptables", "-D", *rule)


def test_every_endpoint_the_settings_need_is_checked_and_passes(lab):
    host, _seconds, rc = lab.preflight(ARGS)
    assert rc == 0, host.get("msg")
    seen = [(c["target"], c["purpose"]) for c in host["checks"] if c["check"] == "tls"]
    assert seen == [(ENDPOINT + ":443", "configuration")] + [(t, p) for t, p, _why in TABLE]
    assert all(c["status"] == "ok" for c in host["checks"])
    for target, _purpose, why in TABLE:
        tls = next(c for c in host["checks"] if c["check"] == "tls" and c["target"] == target)
        assert tls["details"]["needed_for"].startswith(why) and tls["details"]["issuer"] == "Preflight Lab Root"


def test_each_blocked_endpoint_fails_with_what_the_gateway_needs_it_for(lab, drop_azure):
    host, _seconds, rc = lab.preflight(ARGS)
    assert rc != 0
    assert host["failed_checks"] == [f"tcp {target}" for target, _p, _w in TABLE]
    lines = host["msg"].splitlines()
    assert lines[0] == f"Preflight found {len(TABLE)} problem(s) on this host:"
    for line, (target, _purpose, why) in zip(lines[1:], TABLE, strict=True):
        host_name, port = target.rsplit(":", 1)
        assert line.startswith(
            f"- tcp {target}: no answer from {host_name} port {port} within 2 s: the connection is dropped "
            f"(firewall or egress allow-list); the gateway needs it for {why}"
        ), line
        assert f"Fix: allow outbound TCP {port} from this host to {host_name} (" in line
    # The Configuration API is not behind the rule and still passes.
    assert [c["status"] for c in host["checks"] if c["purpose"] == "configuration"] == ["ok"] * 3


def test_entra_without_a_region_is_refused_by_name(lab):
    args = {k: v for k, v in ARGS.items() if k != "region"}
    for key in ("features", "storage_accounts", "event_hubs_namespaces", "external_caches"):
        args[key] = []
    host, _seconds, rc = lab.preflight(args)
    assert rc != 0 and host["checks"] == []
    assert host["msg"].startswith("region: required with auth_mode azureAdApp")


def test_playbook_reads_the_gateway_role_variables_and_its_own(lab):
    proc, _seconds = lab.playbook(
        {
            "preflight_hosts": EDGE,
            "gateway_endpoint": ENDPOINT,
            "gateway_auth_mode": "azureAdApp",
            # .NET configuration keys are case-insensitive: the gateway reads this one, and so does the preflight.
            "gateway_extra_settings": {"Logs.ApplicationInsights.Endpoint": f"https://{INGESTION}/v2/track"},
            "gateway_http_port": 18090,
            "gateway_https_port": 18091,
            "preflight_region": REGION,
            "preflight_features": ["quotas", "application_insights", "event_hubs", "external_cache"],
            "preflight_storage_accounts": [STORAGE],
            "preflight_event_hubs_namespaces": [EVENT_HUBS],
            "preflight_external_caches": [f"rediss://{CACHE}"],
        }
    )
    assert proc.returncode == 0, proc.stdout[-3000:]
    for target, _purpose, _why in TABLE:
        if target != "dc.services.visualstudio.com:443":
            assert f"tls    ok      {target}" in proc.stdout, target
    assert f"tls    ok      {INGESTION}:443" in proc.stdout
    assert "dc.services.visualstudio.com" not in proc.stdout


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        ({"gateway_auth_mode": "azureAdApp"}, "preflight_region is required with gateway_auth_mode azureAdApp or the"),
        ({"preflight_features": ["quotas"]}, "preflight_storage_accounts is required when preflight_features names"),
        ({"preflight_features": ["caching"]}, "preflight_features must be a list of entra_policies, api_inspector,"),
        ({"preflight_external_caches": [CACHE]}, "preflight_features must name the features whose endpoints are"),
    ],
)
def test_playbook_refuses_missing_network_inputs_by_name(lab, extra, message):
    proc, _seconds = lab.playbook({"preflight_hosts": EDGE, "gateway_endpoint": ENDPOINT, **extra})
    assert proc.returncode != 0
    assert f"Preflight settings are not usable: {message}" in proc.stdout
    assert "TASK [Run the checks]" not in proc.stdout
