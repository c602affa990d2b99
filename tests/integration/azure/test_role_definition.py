"""role_definition against the fake ARM with the real SDK, through the module entry point."""

import uuid

READER = "Microsoft.ApiManagement/service/gateways/getConfiguration/action"


def _args(azure, **kw):
    base = dict(name="Gateway Reader", description="reads", scope=azure.sub_scope, data_actions=[READER])
    base.update(kw)
    return base


def test_create_then_rerun_is_unchanged(azure):
    r = azure.module("role_definition", _args(azure), diff=True)
    assert r["rc"] == 0 and r["changed"] is True, r
    rd = r["role_definition"]
    assert rd["data_actions"] == [READER] and rd["assignable_scopes"] == [azure.sub_scope]
    assert r["id"] == f"{azure.sub_scope}/providers/Microsoft.Authorization/roleDefinitions/{rd['name']}"
    assert r["diff"]["before"] == {} and r["diff"]["after"]["role_name"] == "Gateway Reader"
    stored = azure.fake.state.role_definitions[rd["name"]]
    assert stored["properties"]["permissions"][0]["dataActions"] == [READER]
    azure.fake.clear_requests()
    # Same content in another case and order: no change, and a single read.
    again = azure.module("role_definition", _args(azure, scope=azure.sub_scope.upper(), data_actions=[READER.lower()]))
    assert again["rc"] == 0 and again["changed"] is False, again
    assert again["id"].lower() == r["id"].lower()
    assert [(q["method"], q["status"]) for q in azure.fake.arm_requests()] == [("GET", 200)]


def test_deterministic_guid(azure):
    a = azure.module("role_definition", _args(azure))
    azure.fake.state.reset()
    b = azure.module("role_definition", _args(azure))
    assert a["role_definition"]["name"] == b["role_definition"]["name"]


def test_update_with_diff(azure):
    azure.module("role_definition", _args(azure))
    r = azure.module(
        "role_definition", _args(azure, description="reads more", actions=["Microsoft.Authorization/*/read"]), diff=True
    )
    assert r["changed"] is True
    assert r["diff"]["before"]["description"] == "reads" and r["diff"]["after"]["description"] == "reads more"
    assert r["diff"]["after"]["actions"] == ["Microsoft.Authorization/*/read"]
    puts = [q for q in azure.writes() if q["method"] == "PUT"]
    assert len(puts) == 2 and puts[1]["status"] == 201  # update answers 201 as ARM does


def test_check_mode_writes_nothing(azure):
    r = azure.module("role_definition", _args(azure), check=True, diff=True)
    assert r["changed"] is True and r["diff"]["after"]["role_name"] == "Gateway Reader"
    assert azure.writes() == [] and azure.fake.state.role_definitions == {}
    azure.module("role_definition", _args(azure))
    azure.fake.clear_requests()
    r = azure.module("role_definition", _args(azure, description="x"), check=True)
    assert r["changed"] is True and azure.writes() == []
    r = azure.module("role_definition", _args(azure, state="absent"), check=True)
    assert r["changed"] is True and azure.writes() == []
    assert len(azure.fake.state.role_definitions) == 1


def test_absent(azure):
    azure.module("role_definition", _args(azure))
    r = azure.module("role_definition", _args(azure, state="absent"), diff=True)
    assert r["changed"] is True and r["diff"]["after"] == {}
    assert azure.fake.state.role_definitions == {}
    r = azure.module("role_definition", _args(azure, state="absent"))
    assert r["changed"] is False


def test_absent_refused_while_assigned(azure):
    r = azure.module("role_definition", _args(azure))
    azure.module(
        "role_assignment",
        dict(scope=azure.sub_scope, role_definition=r["id"], principal_id=azure.fake.env()["principal_id"]),
    )
    r = azure.module("role_definition", _args(azure, state="absent"))
    assert r["rc"] == 1 and "still assigned" in r["msg"]


def test_adopts_same_name_under_other_guid(azure):
    other = str(uuid.uuid4())
    azure.fake.state.role_definitions[other] = {
        "id": f"{azure.sub_scope}/providers/Microsoft.Authorization/roleDefinitions/{other}",
        "name": other,
        "type": "Microsoft.Authorization/roleDefinitions",
        "properties": {
            "roleName": "Gateway Reader",
            "type": "CustomRole",
            "description": "old",
            "assignableScopes": [azure.sub_scope],
            "permissions": [{"actions": [], "notActions": [], "dataActions": [READER], "notDataActions": []}],
        },
    }
    r = azure.module("role_definition", _args(azure))
    assert r["rc"] == 0 and r["changed"] is True and r["adopted"] is True
    assert r["role_definition"]["name"] == other
    assert list(azure.fake.state.role_definitions) == [other]
    assert azure.fake.state.role_definitions[other]["properties"]["description"] == "reads"


def test_same_name_outside_scope_is_a_clear_error(azure):
    azure.module("role_definition", _args(azure))
    other_sub = f"/subscriptions/{uuid.uuid4()}"
    r = azure.module("role_definition", _args(azure, scope=other_sub))
    assert r["rc"] == 1
    assert "already exists in the tenant" in r["msg"] and "\n" not in r["msg"]


def test_bad_input_rejected_before_any_request(azure):
    cases = [
        (_args(azure, data_actions=[]), "empty permissions"),
        (_args(azure, scope="subscriptions/x"), "scope must be an ARM scope"),
        (_args(azure, assignable_scopes=["/"]), "assignable_scopes must be an ARM scope"),
        (_args(azure, auth_source="kerberos"), "auth_source"),
        (_args(azure, name="x" * 129), "name must be"),
    ]
    for args, text in cases:
        r = azure.module("role_definition", args)
        assert r["rc"] == 1 and text in r["msg"], (args, r)
    assert azure.fake.requests == []


def test_unknown_data_action_is_refused_by_arm(azure):
    r = azure.module("role_definition", _args(azure, data_actions=["Microsoft.Foo/bar/action"]))
    assert r["rc"] == 1 and "InvalidDataActionOrNotDataAction" in r["msg"]


def test_forbidden_caller_gets_one_line(azure):
    azure.fake.deny(azure.fake.env()["principal_id"], ["Microsoft.Authorization/roleDefinitions/write"])
    r = azure.module("role_definition", _args(azure))
    assert r["rc"] == 1
    assert "permission denied (AuthorizationFailed)" in r["msg"] and "roleDefinitions/write" in r["msg"]
    assert "Traceback" not in r["msg"] and "\n" not in r["msg"]


def test_throttled_put_is_retried_after_retry_after(azure):
    import time

    azure.fake.throttle("PUT", "roleDefinitions", count=2, retry_after=1)
    t0 = time.monotonic()
    r = azure.module("role_definition", _args(azure))
    assert r["rc"] == 0 and r["changed"] is True
    assert time.monotonic() - t0 >= 2  # the SDK slept Retry-After twice
    assert [q["status"] for q in azure.fake.arm_requests() if q["method"] == "PUT"] == [429, 429, 201]


def test_throttling_that_never_ends_fails_clearly(azure):
    azure.fake.throttle("GET", "roleDefinitions", count=10, retry_after=1)
    r = azure.module("role_definition", _args(azure, request_retries=1))
    assert r["rc"] == 1 and "throttled the request (429) after 1 retries" in r["msg"]
    assert len([q for q in azure.fake.arm_requests() if q["status"] == 429]) == 2
