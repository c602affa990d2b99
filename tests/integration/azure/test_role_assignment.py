"""role_assignment against the fake ARM with the real SDK, through the module entry point."""

import time
import uuid

READER_ROLE = "acdd72a7-3385-48ef-bd42-f606fba81ae7"  # built-in Reader


def _args(azure, principal, **kw):
    base = dict(scope=azure.rg_scope("rg-apim"), role_definition=READER_ROLE, principal_id=principal)
    base.update(kw)
    return base


def _principal(azure, **kw):
    return azure.fake.state.add_principal(str(uuid.uuid4()), **kw)


def test_create_rerun_and_case_insensitive(azure):
    pid = _principal(azure)
    r = azure.module("role_assignment", _args(azure, pid), diff=True)
    assert r["rc"] == 0 and r["changed"] is True, r
    ra = r["role_assignment"]
    assert ra["principal_type"] == "ServicePrincipal" and ra["scope"] == azure.rg_scope("rg-apim")
    assert r["diff"]["before"] == {} and r["diff"]["after"]["principal_id"] == pid
    put = next(q for q in azure.fake.arm_requests() if q["method"] == "PUT")
    assert put["body"]["properties"]["principalType"] == "ServicePrincipal"
    azure.fake.clear_requests()
    again = azure.module(
        "role_assignment",
        _args(
            azure,
            pid.upper(),
            scope=azure.rg_scope("RG-APIM").upper().replace("/SUBSCRIPTIONS", "/subscriptions"),
            role_definition=f"/providers/Microsoft.Authorization/roleDefinitions/{READER_ROLE.upper()}",
        ),
    )
    assert again["rc"] == 0 and again["changed"] is False, again
    assert again["id"] == r["id"]
    assert [q["method"] for q in azure.fake.arm_requests()] == ["GET"]
    assert len(azure.fake.state.role_assignments) == 1


def test_existing_under_another_name_is_ok(azure):
    pid = _principal(azure)
    first = azure.module("role_assignment", _args(azure, pid, name=str(uuid.uuid4())))
    assert first["changed"] is True
    r = azure.module("role_assignment", _args(azure, pid))
    assert r["rc"] == 0 and r["changed"] is False and r["id"] == first["id"]
    assert len(azure.fake.state.role_assignments) == 1


def test_role_assignment_exists_from_arm_is_ok(azure):
    """A stale list (or a racing writer) makes the PUT hit 409 RoleAssignmentExists: reported, not failed."""
    pid = _principal(azure)
    azure.module("role_assignment", _args(azure, pid, name=str(uuid.uuid4())))
    st = azure.fake.state
    st.knobs["stale_assignment_lists"] = 1
    r = azure.module("role_assignment", _args(azure, pid, name=str(uuid.uuid4())))
    assert r["rc"] == 0 and r["changed"] is False, r
    statuses = [(q["method"], q["status"]) for q in azure.fake.arm_requests() if q["method"] == "PUT"]
    assert statuses[-1] == ("PUT", 409)
    assert len(st.role_assignments) == 1


def test_check_mode_writes_nothing(azure):
    pid = _principal(azure)
    r = azure.module("role_assignment", _args(azure, pid), check=True, diff=True)
    assert r["changed"] is True and r["diff"]["after"]["principal_id"] == pid
    assert azure.writes() == [] and azure.fake.state.role_assignments == {}


def test_absent(azure):
    pid = _principal(azure)
    azure.module("role_assignment", _args(azure, pid))
    r = azure.module("role_assignment", _args(azure, pid, state="absent"), check=True)
    assert r["changed"] is True and azure.writes()[-1]["method"] == "PUT"
    r = azure.module("role_assignment", _args(azure, pid, state="absent"), diff=True)
    assert r["changed"] is True and len(r["removed"]) == 1 and r["diff"]["after"] == {}
    assert azure.fake.state.role_assignments == {}
    assert azure.module("role_assignment", _args(azure, pid, state="absent"))["changed"] is False


def test_description_updated_in_place(azure):
    pid = _principal(azure)
    first = azure.module("role_assignment", _args(azure, pid, description="a"))
    r = azure.module("role_assignment", _args(azure, pid, description="b"), diff=True)
    assert r["changed"] is True and r["id"] == first["id"] and r["role_assignment"]["description"] == "b"
    assert r["diff"]["before"]["description"] == "a"


def test_principal_not_found_clears_after_replication(azure):
    pid = _principal(azure, appears_after=3, missed_lookups=1)
    t0 = time.monotonic()
    r = azure.module("role_assignment", _args(azure, pid, principal_type=None, principal_wait_timeout=30))
    assert r["rc"] == 0 and r["changed"] is True, r
    assert time.monotonic() - t0 >= 1  # at least one back-off
    codes = [q["status"] for q in azure.fake.arm_requests() if q["method"] == "PUT"]
    assert codes[0] == 400 and codes[-1] == 201


def test_principal_that_never_appears_fails_after_timeout(azure):
    pid = str(uuid.uuid4())
    t0 = time.monotonic()
    r = azure.module("role_assignment", _args(azure, pid, principal_type="", principal_wait_timeout=3))
    took = time.monotonic() - t0
    assert r["rc"] == 1 and "not found in the directory after 3s" in r["msg"], r
    assert 2 <= took < 15


def test_principal_type_skips_directory_lookup(azure):
    """As in Azure: with a type, a principal still replicating can be assigned at once."""
    pid = _principal(azure, appears_after=600)
    r = azure.module("role_assignment", _args(azure, pid))
    assert r["rc"] == 0 and r["changed"] is True


def test_name_taken_by_other_principal(azure):
    name = str(uuid.uuid4())
    azure.module("role_assignment", _args(azure, _principal(azure), name=name))
    r = azure.module("role_assignment", _args(azure, _principal(azure), name=name))
    assert r["rc"] == 1 and "already exists for another principal" in r["msg"]


def test_role_by_name_and_unknown_role(azure):
    pid = _principal(azure)
    r = azure.module("role_assignment", _args(azure, pid, role_definition="Reader"))
    assert r["rc"] == 0 and r["role_assignment"]["role_definition_id"].endswith(READER_ROLE)
    r = azure.module("role_assignment", _args(azure, pid, role_definition="No Such Role"))
    assert r["rc"] == 1 and "was not found" in r["msg"]


def test_forbidden_caller_gets_one_line(azure):
    azure.fake.deny(azure.fake.env()["principal_id"], ["Microsoft.Authorization/roleAssignments/write"])
    r = azure.module("role_assignment", _args(azure, _principal(azure)))
    assert r["rc"] == 1 and "permission denied (AuthorizationFailed)" in r["msg"] and "\n" not in r["msg"]
    assert "User Access Administrator" in r["msg"]


def test_throttled_list_with_retry_after(azure):
    azure.fake.throttle("GET", "roleAssignments", count=1, retry_after=1)
    r = azure.module("role_assignment", _args(azure, _principal(azure)))
    assert r["rc"] == 0 and r["changed"] is True
    assert [q["status"] for q in azure.fake.arm_requests()][:2] == [429, 200]


def test_bad_input_rejected_before_any_request(azure):
    pid = _principal(azure)
    cases = [
        (_args(azure, "not-a-guid"), "principal_id must be an object id"),
        (_args(azure, pid, scope="resourceGroups/x"), "scope must be an ARM scope"),
        (_args(azure, pid, auth_source="password"), "auth_source"),
        (_args(azure, pid, name="abc"), "name must be a GUID"),
        (_args(azure, pid, principal_type="Robot"), "principal_type must be one of"),
        (dict(scope=azure.sub_scope, role_definition=READER_ROLE), "one of the following is required"),
    ]
    for args, text in cases:
        r = azure.module("role_assignment", args)
        assert r["rc"] == 1 and text in r["msg"], (args, r)
    assert azure.fake.requests == []


def test_apim_identity_missing_fails_naming_option(azure):
    azure.fake.state.add_service("contoso", "rg-apim")
    r = azure.module(
        "role_assignment",
        dict(
            scope=azure.rg_scope("rg-apim"),
            role_definition=READER_ROLE,
            apim_service=dict(resource_group="rg-apim", name="contoso"),
        ),
    )
    assert r["rc"] == 1 and "apim_service.enable_system_identity" in r["msg"]
    assert azure.writes() == []


def test_apim_identity_enabled_keeps_user_assigned(azure):
    uai = f"{azure.rg_scope('rg-id')}/providers/Microsoft.ManagedIdentity/userAssignedIdentities/ops"
    azure.fake.state.add_service("contoso", "rg-apim", user_identities=[uai], identity_delay=2)
    args = dict(
        scope=azure.rg_scope("rg-apim"),
        role_definition=READER_ROLE,
        apim_service=dict(resource_group="rg-apim", name="contoso", enable_system_identity=True),
    )
    r = azure.module("role_assignment", args, check=True)
    assert r["changed"] is True and r["identity_enabled"] is True and azure.writes() == []
    r = azure.module("role_assignment", args)
    assert r["rc"] == 0 and r["changed"] is True and r["identity_enabled"] is True, r
    svc = next(iter(azure.fake.state.services.values()))
    assert svc["system"]["principal_id"] == r["principal_id"]
    assert list(svc["user"]) == [uai]
    patch = next(q for q in azure.fake.arm_requests() if q["method"] == "PATCH")
    assert patch["body"]["identity"]["type"] == "SystemAssigned, UserAssigned"
    azure.fake.clear_requests()
    r = azure.module("role_assignment", args)
    assert r["changed"] is False and azure.writes() == []
