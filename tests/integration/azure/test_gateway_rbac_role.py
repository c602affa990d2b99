"""The gateway_rbac role through ansible-playbook (playbooks/rbac.yml) against the fake ARM."""

import pathlib
import re
import uuid

PLAYBOOK = (pathlib.Path(__file__).resolve().parents[3] / "playbooks" / "rbac.yml").read_text()
VALIDATOR = "API Management Configuration API Access Validator Service Role"
READER = "API Management Gateway Configuration Reader Role"


def _vars(azure, gw_principal, **kw):
    v = {
        "gateway_rbac_subscription_id": azure.sub,
        "gateway_rbac_apim_resource_group": "rg-apim",
        "gateway_rbac_apim_name": "contoso",
        "gateway_rbac_gateway_principal_id": gw_principal,
        "gateway_rbac_azure": azure.auth,
    }
    v.update(kw)
    return v


def _recap(proc):
    m = re.search(r"localhost\s+: ok=(\d+)\s+changed=(\d+)\s+unreachable=(\d+)\s+failed=(\d+)", proc.stdout)
    assert m, proc.stdout[-3000:] + proc.stderr[-2000:]
    return {"ok": int(m[1]), "changed": int(m[2]), "failed": int(m[4])}


def _setup(azure, **svc):
    gw = azure.fake.state.add_client("gateway-app", "gateway-app-secret")["principal_id"]
    azure.fake.state.add_service("contoso", "rg-apim", **svc)
    return gw


def test_first_run_then_unchanged_run(azure):
    gw = _setup(azure, system_identity=True)
    proc = azure.playbook(PLAYBOOK, _vars(azure, gw))
    assert proc.returncode == 0 and _recap(proc)["changed"] == 4, proc.stdout[-3000:]
    st = azure.fake.state
    roles = {r["properties"]["roleName"]: r for r in st.role_definitions.values()}
    assert set(roles) == {VALIDATOR, READER}
    v, r = roles[VALIDATOR]["properties"], roles[READER]["properties"]
    assert (
        v["permissions"][0]["actions"] == ["Microsoft.Authorization/*/read"]
        and v["permissions"][0]["dataActions"] == []
    )
    assert v["description"] == (
        "Can access RBAC permissions on the API Management resource to authorize requests in Configuration API."
    )
    assert r["permissions"][0]["dataActions"] == ["Microsoft.ApiManagement/service/gateways/getConfiguration/action"]
    assert r["permissions"][0]["actions"] == []
    assert r["description"] == "Can read self-hosted gateway configuration from Configuration API"
    assert v["assignableScopes"] == [azure.sub_scope] == r["assignableScopes"]
    svc = next(iter(st.services.values()))
    by_principal = {a["properties"]["principalId"]: a["properties"] for a in st.role_assignments.values()}
    assert by_principal[svc["system"]["principal_id"]]["scope"] == azure.rg_scope("rg-apim")
    assert by_principal[svc["system"]["principal_id"]]["roleDefinitionId"].endswith(roles[VALIDATOR]["name"])
    assert by_principal[gw]["scope"] == azure.apim_scope("rg-apim", "contoso")
    assert by_principal[gw]["roleDefinitionId"].endswith(roles[READER]["name"])
    assert all(p["principalType"] == "ServicePrincipal" for p in by_principal.values())

    azure.fake.clear_requests()
    proc = azure.playbook(PLAYBOOK, _vars(azure, gw))
    assert proc.returncode == 0 and _recap(proc)["changed"] == 0, proc.stdout[-3000:]
    arm = azure.fake.arm_requests()
    assert azure.writes() == []
    assert 4 <= len(arm) <= 5, [(q["method"], q["path"]) for q in arm]


def test_check_mode_sends_no_write(azure):
    gw = _setup(azure, system_identity=True)
    proc = azure.playbook(PLAYBOOK, _vars(azure, gw), check=True, diff=True)
    assert proc.returncode == 0 and _recap(proc)["changed"] == 4, proc.stdout[-3000:]
    assert [q for q in azure.fake.arm_requests() if q["method"] in ("PUT", "DELETE", "PATCH")] == []
    assert azure.fake.state.role_definitions == {} and azure.fake.state.role_assignments == {}
    assert VALIDATOR in proc.stdout  # the diff shows what would be written


def test_missing_identity_fails_naming_the_variable(azure):
    gw = _setup(azure)
    proc = azure.playbook(PLAYBOOK, _vars(azure, gw))
    assert proc.returncode != 0
    assert "gateway_rbac_enable_system_identity: true" in proc.stdout, proc.stdout[-3000:]
    assert [q for q in azure.fake.arm_requests() if q["method"] == "PATCH"] == []
    assert azure.fake.state.role_assignments == {}


def test_identity_enabled_on_request_keeping_user_assigned(azure):
    uai = f"{azure.rg_scope('rg-id')}/providers/Microsoft.ManagedIdentity/userAssignedIdentities/ops"
    gw = _setup(azure, user_identities=[uai], identity_delay=2)
    proc = azure.playbook(PLAYBOOK, _vars(azure, gw, gateway_rbac_enable_system_identity=True))
    assert proc.returncode == 0, proc.stdout[-3000:]
    svc = next(iter(azure.fake.state.services.values()))
    assert svc["system"] and list(svc["user"]) == [uai]
    principals = {a["properties"]["principalId"] for a in azure.fake.state.role_assignments.values()}
    assert principals == {svc["system"]["principal_id"], gw}
    azure.fake.clear_requests()
    proc = azure.playbook(PLAYBOOK, _vars(azure, gw, gateway_rbac_enable_system_identity=True))
    assert proc.returncode == 0 and _recap(proc)["changed"] == 0
    assert azure.writes() == []


def test_scopes_overridable(azure):
    gw = _setup(azure, system_identity=True)
    proc = azure.playbook(
        PLAYBOOK,
        _vars(
            azure,
            gw,
            gateway_rbac_access_validator_scope=azure.sub_scope,
            gateway_rbac_config_reader_scope=azure.rg_scope("rg-apim"),
        ),
    )
    assert proc.returncode == 0, proc.stdout[-3000:]
    scopes = sorted(a["properties"]["scope"] for a in azure.fake.state.role_assignments.values())
    assert scopes == sorted([azure.sub_scope, azure.rg_scope("rg-apim")])


def test_bad_input_fails_before_any_request(azure):
    gw = _setup(azure, system_identity=True)
    for extra, name in (
        ({"gateway_rbac_subscription_id": "prod"}, "gateway_rbac_subscription_id"),
        ({"gateway_rbac_gateway_principal_id": "my-app"}, "gateway_rbac_gateway_principal_id"),
        ({"gateway_rbac_config_reader_scope": "resourceGroups/x"}, "gateway_rbac_config_reader_scope"),
        ({"gateway_rbac_enable_system_identity": "maybe"}, "gateway_rbac_enable_system_identity"),
    ):
        proc = azure.playbook(PLAYBOOK, _vars(azure, gw, **extra))
        assert proc.returncode != 0 and name in proc.stdout, (extra, proc.stdout[-2000:])
    assert azure.fake.requests == []


def test_no_secret_in_verbose_output(azure):
    gw = _setup(azure, system_identity=True)
    proc = azure.playbook(PLAYBOOK, _vars(azure, gw), verbosity=3, diff=True)
    assert proc.returncode == 0, proc.stdout[-3000:]
    assert azure.secret not in proc.stdout + proc.stderr
    # The token the fake minted must not leak either.
    for tok in azure.fake.state.tokens:
        assert tok not in proc.stdout + proc.stderr
    assert "VALUE_SPECIFIED_IN_NO_LOG_PARAMETER" in proc.stdout or "********" in proc.stdout


def test_env_credential_awx_names(azure):
    """The AWX Azure credential injects AZURE_CLIENT_ID, AZURE_SECRET, AZURE_TENANT and AZURE_SUBSCRIPTION_ID."""
    gw = _setup(azure, system_identity=True)
    e = azure.fake.env()
    conn = {k: azure.auth[k] for k in ("resource_manager_endpoint", "authority_host", "ca_bundle")}
    proc = azure.playbook(
        PLAYBOOK,
        _vars(azure, gw, gateway_rbac_azure=conn),
        env={
            "AZURE_CLIENT_ID": e["client_id"],
            "AZURE_SECRET": e["client_secret"],
            "AZURE_TENANT": e["tenant_id"],
            "AZURE_SUBSCRIPTION_ID": e["subscription_id"],
        },
    )
    assert proc.returncode == 0, proc.stdout[-3000:]
    assert len(azure.fake.state.role_assignments) == 2
    assert str(uuid.UUID(gw)) in {a["properties"]["principalId"] for a in azure.fake.state.role_assignments.values()}
