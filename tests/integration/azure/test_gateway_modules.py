"""gateway_resource and gateway_token against the fake ARM with the real azure-mgmt-apimanagement SDK."""

import datetime as dt

from apim_testkit.gateway_sim.apimsim import token as gwtoken


def _gw(azure, **kw):
    a = dict(
        resource_group="rg-apim",
        service_name="contoso",
        name="lyon",
        location_data={"name": "Lyon plant"},
        subscription_id=azure.sub,
    )
    a.update(kw)
    return a


def _tok(azure, **kw):
    a = dict(resource_group="rg-apim", service_name="contoso", gateway="lyon", subscription_id=azure.sub)
    a.update(kw)
    return a


def _keys(azure):
    return next(iter(azure.fake.state.gateways.values()))["keys"]


def test_gateway_create_rerun_update_delete(azure):
    azure.fake.state.add_service("contoso", "rg-apim")
    r = azure.module("gateway_resource", _gw(azure, description="edge"), diff=True)
    assert r["rc"] == 0 and r["changed"] is True, r
    assert r["gateway"]["location_data"]["name"] == "Lyon plant" and r["diff"]["before"] == {}
    assert next(q for q in azure.fake.arm_requests() if q["method"] == "PUT")["status"] == 201
    azure.fake.clear_requests()
    r = azure.module("gateway_resource", _gw(azure))
    assert r["changed"] is False and [q["method"] for q in azure.fake.arm_requests()] == ["GET"]
    r = azure.module("gateway_resource", _gw(azure, location_data={"name": "Lyon plant", "city": "Lyon"}), diff=True)
    assert r["changed"] is True and r["diff"]["after"]["location_data"]["city"] == "Lyon"
    assert r["gateway"]["description"] == "edge"
    assert [q["status"] for q in azure.fake.arm_requests() if q["method"] == "PUT"] == [200]
    r = azure.module("gateway_resource", _gw(azure, state="absent"), check=True)
    assert r["changed"] is True and azure.fake.state.gateways
    r = azure.module("gateway_resource", _gw(azure, state="absent"))
    assert r["changed"] is True and not azure.fake.state.gateways
    delete = next(q for q in azure.fake.arm_requests() if q["method"] == "DELETE")
    assert delete["status"] == 200
    assert azure.module("gateway_resource", _gw(azure, state="absent"))["changed"] is False


def test_gateway_check_mode_and_bad_input(azure):
    azure.fake.state.add_service("contoso", "rg-apim")
    r = azure.module("gateway_resource", _gw(azure), check=True)
    assert r["changed"] is True and azure.writes() == []
    r = azure.module("gateway_resource", _gw(azure, location_data=None))
    assert r["rc"] == 1 and "location_data (with name) is required" in r["msg"]
    n = len(azure.fake.requests)
    for args, text in ((_gw(azure, name="a&b"), "name must be"), (_gw(azure, subscription_id="x"), "subscription_id")):
        r = azure.module("gateway_resource", args)
        assert r["rc"] == 1 and text in r["msg"]
    assert len(azure.fake.requests) == n


def test_gateway_unknown_service_is_one_line(azure):
    r = azure.module("gateway_resource", _gw(azure, service_name="nope"))
    assert r["rc"] == 1 and "ResourceNotFound" in r["msg"] and "\n" not in r["msg"]


def test_token_is_valid_for_the_current_key(azure):
    azure.fake.state.add_service("contoso", "rg-apim")
    azure.module("gateway_resource", _gw(azure))
    r = azure.module("gateway_token", _tok(azure, key_type="secondary", expires_in_days=7))
    assert r["rc"] == 0 and r["changed"] is True, r
    assert r["token"].startswith("GatewayKey lyon&") and r["gateway_id"] == "lyon"
    expiry = gwtoken.verify(r["token"], "lyon", [_keys(azure)["secondary"]])
    assert expiry.strftime("%Y-%m-%dT%H:%M:00Z") == r["expiry"]
    assert dt.timedelta(days=6, hours=23) < expiry - dt.datetime.now(dt.timezone.utc) <= dt.timedelta(days=7)
    body = next(q for q in azure.fake.arm_requests() if q["path"].endswith("/generateToken"))["body"]
    assert body["keyType"] == "secondary"


def test_token_expiry_date_and_limits(azure):
    azure.fake.state.add_service("contoso", "rg-apim")
    azure.module("gateway_resource", _gw(azure))
    when = (dt.datetime.now(dt.timezone.utc) + dt.timedelta(days=3)).strftime("%Y-%m-%dT%H:%M:%SZ")
    r = azure.module("gateway_token", _tok(azure, expiry=when))
    assert r["rc"] == 0 and r["expiry"] == when[:16] + ":00Z"
    azure.fake.clear_requests()
    far = (dt.datetime.now(dt.timezone.utc) + dt.timedelta(days=31)).date().isoformat()
    for args, text in (
        (_tok(azure, expires_in_days=31), "between 1 and 30"),
        (_tok(azure, expiry=far), "at most 30 days"),
        (_tok(azure, expiry="2020-01-01"), "in the past"),
        (_tok(azure, expiry="tomorrow"), "ISO 8601"),
        (_tok(azure, regenerate_key="primary"), "equals key_type"),
    ):
        r = azure.module("gateway_token", args)
        assert r["rc"] == 1 and text in r["msg"], (args, r)
    assert azure.fake.requests == []


def test_token_check_mode_returns_no_token(azure):
    azure.fake.state.add_service("contoso", "rg-apim")
    azure.module("gateway_resource", _gw(azure))
    keys = dict(_keys(azure))
    azure.fake.clear_requests()
    r = azure.module("gateway_token", _tok(azure, key_type="secondary", regenerate_key="primary"), check=True)
    assert r["rc"] == 0 and r["changed"] is True and r["token"] == "" and r["regenerated_key"] == "primary"
    assert [q["method"] for q in azure.fake.arm_requests()] == ["GET"]
    assert _keys(azure) == keys


def test_regenerate_key_invalidates_old_tokens(azure):
    azure.fake.state.add_service("contoso", "rg-apim")
    azure.module("gateway_resource", _gw(azure))
    old = azure.module("gateway_token", _tok(azure, key_type="primary"))["token"]
    gwtoken.verify(old, "lyon", list(_keys(azure).values()))
    r = azure.module("gateway_token", _tok(azure, key_type="secondary", regenerate_key="primary"))
    assert r["rc"] == 0 and r["regenerated_key"] == "primary"
    keys = list(_keys(azure).values())
    gwtoken.verify(r["token"], "lyon", keys)
    try:
        gwtoken.verify(old, "lyon", keys)
        raise AssertionError("a token signed with the regenerated key still verifies")
    except gwtoken.TokenError:
        pass
    assert [q["status"] for q in azure.fake.arm_requests() if q["path"].endswith("/regenerateKey")] == [204]


def test_token_for_missing_gateway(azure):
    azure.fake.state.add_service("contoso", "rg-apim")
    r = azure.module("gateway_token", _tok(azure))
    assert r["rc"] == 1 and "generating a token for gateway 'lyon'" in r["msg"] and "404" in r["msg"]


def test_old_module_name_redirects_with_group_defaults(azure):
    """apim.selfhosted.gateway (the name before 0.2.0) still runs, with the Azure options of the action group."""
    azure.fake.state.add_service("contoso", "rg-apim")
    play = """
- hosts: localhost
  gather_facts: false
  module_defaults:
    group/apim.selfhosted.azure: "{{ azure }}"
  tasks:
    - apim.selfhosted.gateway:
        resource_group: rg-apim
        service_name: contoso
        name: lyon
        location_data: {name: Lyon plant}
        subscription_id: "{{ sub }}"
"""
    proc = azure.playbook(play, {"azure": azure.auth, "sub": azure.sub})
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-2000:]
    assert "apim.selfhosted.gateway_resource" in proc.stderr + proc.stdout  # the deprecation names the new module
    assert next(iter(azure.fake.state.gateways.values()))["loc"] == {"name": "Lyon plant"}
