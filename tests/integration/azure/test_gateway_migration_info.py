"""gateway_migration_info: the migration guide's Resource Graph query with the real azure-mgmt-resourcegraph SDK
against the fake ARM, which evaluates it over seeded Azure Advisor recommendations."""

import uuid

import pytest

from apim_testkit.fake_arm import resource_graph

V2_IMAGE = "Use self-hosted gateway v2"
V2_API = "Use Configuration API v2 for self-hosted gateways"


def _seed(azure):
    st = azure.fake.state
    other_sub = str(uuid.uuid4())
    st.add_service("contoso", "rg-apim")
    st.add_service("fabrikam", "rg-edge", subscription_id=other_sub)
    azure.module("gateway_resource", dict(resource_group="rg-apim", service_name="contoso", name="lyon",
                                          location_data={"name": "Lyon"}, subscription_id=azure.sub))  # fmt: skip
    resource_graph.add_advisor_recommendation(st, "contoso", "rg-apim", V2_IMAGE, {"gatewayName": "lyon"})
    resource_graph.add_advisor_recommendation(st, "contoso", "rg-apim", V2_API)
    resource_graph.add_advisor_recommendation(st, "fabrikam", "rg-edge", V2_API, subscription=other_sub)
    resource_graph.add_advisor_recommendation(st, "contoso", "rg-apim", "Enable zone redundancy")
    azure.fake.clear_requests()
    return other_sub


def test_lists_instances_with_their_findings_and_gateways(azure):
    other_sub = _seed(azure)
    azure.fake.state.knobs["graph_page_size"] = 1  # the fake pages: the module follows $skipToken
    r = azure.module("gateway_migration_info", dict(subscriptions=[azure.sub, other_sub]), check=True)
    assert r["rc"] == 0 and r["changed"] is False and r["count"] == 2, r
    by_name = {i["name"]: i for i in r["instances"]}
    contoso = by_name["contoso"]
    assert sorted(f["concern"] for f in contoso["findings"]) == ["configuration_api", "image"]
    assert next(f for f in contoso["findings"] if f["concern"] == "image")["metadata"] == {"gatewayName": "lyon"}
    assert contoso["gateways"] == [{"name": "lyon", "location": "Lyon"}]
    assert by_name["fabrikam"]["subscription_id"] == other_sub and by_name["fabrikam"]["gateways"] == []
    graph = [q for q in azure.fake.arm_requests() if "ResourceGraph" in q["path"]]
    assert len(graph) == 3 and graph[0]["body"]["query"] == r["query"] and "AdvisorResources" in r["query"]
    assert graph[0]["query"]["api-version"] == "2021-03-01" and azure.writes() == graph  # POST, but read-only


def test_default_subscription_and_nothing_found(azure):
    _seed(azure)
    r = azure.module("gateway_migration_info", dict(subscription_id=azure.sub, list_gateways=False))
    assert [i["name"] for i in r["instances"]] == ["contoso"] and r["instances"][0]["gateways"] == []
    r = azure.module("gateway_migration_info", dict(subscriptions=[str(uuid.uuid4())]))
    assert r["rc"] == 0 and r["instances"] == [] and r["count"] == 0


def test_bad_subscription_fails_before_any_request(azure):
    r = azure.module("gateway_migration_info", dict(subscriptions=["prod"]))
    assert r["rc"] == 1 and "subscriptions must be GUIDs" in r["msg"] and azure.fake.requests == []


def test_fake_refuses_what_it_cannot_evaluate(azure):
    """The fake evaluates the query; one it cannot is a 400 BadRequest with InvalidQuery, as Resource Graph says."""
    from azure.core.exceptions import HttpResponseError
    from azure.identity import ClientSecretCredential
    from azure.mgmt.resourcegraph import ResourceGraphClient
    from azure.mgmt.resourcegraph.models import QueryRequest

    e = azure.fake.env()
    cred = ClientSecretCredential(e["tenant_id"], e["client_id"], e["client_secret"], authority=e["url"],
                                  disable_instance_discovery=True, connection_verify=azure.fake.ca_file)  # fmt: skip
    client = ResourceGraphClient(cred, base_url=e["url"], credential_scopes=[e["url"] + "/.default"],
                                 connection_verify=azure.fake.ca_file, retry_total=0)  # fmt: skip
    with pytest.raises(HttpResponseError) as err:
        client.resources(QueryRequest(subscriptions=[azure.sub], query="Resources | summarize count()"))
    assert err.value.status_code == 400 and err.value.error.code == "BadRequest"
    assert err.value.error.details[0].code == "InvalidQuery"
