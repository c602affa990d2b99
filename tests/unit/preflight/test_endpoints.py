"""preflight_endpoints: the endpoints of the documents' FQDN table for the settings in use, and endpoint values."""

import pytest

from ansible_collections.apim.selfhosted.plugins.module_utils.preflight_common import InputError, parse_endpoint
from ansible_collections.apim.selfhosted.plugins.module_utils.preflight_endpoints import plan

ALL = {"entra", "storage", "application_insights", "event_hubs", "external_cache", "extra"}


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("apim.configuration.azure-api.net", ("https", "apim.configuration.azure-api.net", 443)),
        ("https://apim.configuration.azure-api.net/", ("https", "apim.configuration.azure-api.net", 443)),
        ("https://apim.configuration.azure-api.net:8443", ("https", "apim.configuration.azure-api.net", 8443)),
        ("collector.local:4318", ("https", "collector.local", 4318)),
        ("http://collector.local:4318", ("http", "collector.local", 4318)),
    ],
)
def test_endpoints_accept_host_and_url_forms(value, expected):
    assert parse_endpoint(value, "endpoint") == expected


@pytest.mark.parametrize(
    "value",
    [
        "",
        "https://apim.management.azure-api.net/subscriptions/x/resourceGroups/y",
        "ftp://apim.configuration.azure-api.net",
        "https://user@apim.configuration.azure-api.net",
        "https://apim.configuration.azure-api.net:99999",
    ],
)
def test_bad_endpoints_are_refused_by_name(value):
    with pytest.raises(InputError, match=r"^extra_endpoints\[2\]"):
        parse_endpoint(value, "extra_endpoints[2]")


def params(**kw):
    base = {
        "endpoint": "contoso.configuration.azure-api.net",
        "auth_mode": "token",
        "authority": "https://login.microsoftonline.com",
        "region": "",
        "resource_manager": "https://management.azure.com",
        "features": [],
        "storage_accounts": [],
        "application_insights_endpoint": "https://dc.services.visualstudio.com/v2/track",
        "application_insights_region": "",
        "event_hubs_namespaces": [],
        "external_caches": [],
        "extra_endpoints": [],
    }
    base.update(kw)
    return base


def targets(jobs):
    return [(j["purpose"], "%s:%s" % (j["host"], j["port"])) for j in jobs]


def test_a_token_gateway_needs_only_the_configuration_api():
    jobs = plan(params(), ALL)
    assert targets(jobs) == [("configuration", "contoso.configuration.azure-api.net:443")]
    assert jobs[0]["clock"] and jobs[0]["tls"] and jobs[0]["proxied"]


def test_entra_needs_the_authority_the_regional_host_and_resource_manager():
    jobs = plan(params(auth_mode="azureAdApp", region="WestEurope"), ALL)
    assert targets(jobs)[1:] == [
        ("entra", "login.microsoftonline.com:443"),
        ("entra_regional", "westeurope.login.microsoft.com:443"),
        ("resource_manager", "management.azure.com:443"),
    ]
    assert "RBAC" in jobs[3]["why"] and not jobs[3]["clock"]
    assert targets(plan(params(auth_mode="azureAdApp", region="westeurope"), ALL - {"entra"}))[1:] == []


def test_entra_in_the_public_cloud_without_a_region_is_refused_by_name():
    with pytest.raises(InputError, match=r"^region: required with auth_mode azureAdApp.*<region>\.login\.microsoft"):
        plan(params(auth_mode="azureAdApp"), ALL)


def test_entra_policies_with_a_token_need_sign_in_but_not_resource_manager():
    jobs = plan(params(features=["entra_policies"], region="westeurope"), ALL)
    assert targets(jobs)[1:] == [
        ("entra", "login.microsoftonline.com:443"),
        ("entra_regional", "westeurope.login.microsoft.com:443"),
    ]
    assert jobs[1]["why"] == jobs[2]["why"] == "policies that use Microsoft Entra ID"
    with pytest.raises(InputError, match=r"^region: required with features entra_policies"):
        plan(params(features=["entra_policies"]), ALL)


def test_another_clouds_authority_needs_no_region():
    jobs = plan(
        params(
            auth_mode="azureAdApp",
            authority="https://login.microsoftonline.us",
            resource_manager="https://management.usgovcloudapi.net",
        ),
        ALL,
    )
    assert [t for _p, t in targets(jobs)[1:]] == ["login.microsoftonline.us:443", "management.usgovcloudapi.net:443"]


def test_api_inspector_or_quotas_need_blob_and_table_of_each_storage_account():
    jobs = plan(params(features=["quotas"], storage_accounts=["contosost", "other.table.core.windows.net"]), ALL)
    assert targets(jobs)[1:] == [
        ("storage", "contosost.blob.core.windows.net:443"),
        ("storage", "contosost.table.core.windows.net:443"),
        ("storage", "other.table.core.windows.net:443"),
    ]
    assert "blob" in jobs[1]["why"] and "table" in jobs[2]["why"]
    with pytest.raises(InputError, match=r"^storage_accounts: required when features name api_inspector or quotas"):
        plan(params(features=["api_inspector"]), ALL)


def test_application_insights_endpoints_follow_the_setting_and_the_region():
    jobs = plan(params(features=["application_insights"], region="northeurope"), ALL)
    assert [t for _p, t in targets(jobs)[1:]] == [
        "dc.services.visualstudio.com:443",
        "rt.services.visualstudio.com:443",
        "northeurope.livediagnostics.monitor.azure.com:443",
    ]
    jobs = plan(
        params(
            features=["application_insights"],
            application_insights_endpoint="https://dc.applicationinsights.us/v2/track",
            application_insights_region="usgovvirginia",
        ),
        ALL,
    )
    assert targets(jobs)[1][1] == "dc.applicationinsights.us:443"
    with pytest.raises(InputError, match=r"^application_insights_region: required"):
        plan(params(features=["application_insights"]), ALL)


def test_event_hubs_namespaces_and_external_caches():
    jobs = plan(
        params(
            features=["event_hubs", "external_cache"],
            event_hubs_namespaces=[
                "contoso-logs",
                "other.servicebus.windows.net:5671",
                "logs2:5671",
                "https://x.y.net",
            ],
            external_caches=["cache.contoso.net", "redis://10.0.0.9"],
        ),
        ALL,
    )
    assert targets(jobs)[1:] == [
        ("event_hubs", "contoso-logs.servicebus.windows.net:443"),
        ("event_hubs", "other.servicebus.windows.net:5671"),
        ("event_hubs", "logs2.servicebus.windows.net:5671"),
        ("event_hubs", "x.y.net:443"),
        ("external_cache", "cache.contoso.net:6380"),
        ("external_cache", "10.0.0.9:6379"),
    ]
    # A Redis client ignores HTTP proxies; rediss is TLS, redis plain TCP.
    assert [(j["tls"], j["proxied"]) for j in jobs[5:]] == [(True, False), (False, False)]
    with pytest.raises(InputError, match=r"^external_caches\[0\]: 'https://c:1' must use rediss:// \(or redis://\)"):
        plan(params(features=["external_cache"], external_caches=["https://c:1"]), ALL)


@pytest.mark.parametrize(
    ("kw", "message"),
    [
        ({"storage_accounts": ["x"]}, r"^storage_accounts: given, but features does not name api_inspector or quotas"),
        ({"event_hubs_namespaces": ["x"]}, r"^event_hubs_namespaces: given, but features does not name event_hubs"),
        ({"features": ["event_hubs"]}, r"^event_hubs_namespaces: required"),
        ({"features": ["external_cache"]}, r"^external_caches: required"),
        ({"endpoint": "http://apim.configuration.azure-api.net"}, r"^endpoint: .*https"),
        ({"auth_mode": "azureAdApp", "region": "x", "resource_manager": "http://arm"}, r"^resource_manager: .*https"),
    ],
)
def test_inputs_that_cannot_be_used_are_refused_by_name(kw, message):
    with pytest.raises(InputError, match=message):
        plan(params(**kw), ALL)
