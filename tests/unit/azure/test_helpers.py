"""Pure helpers of the Azure client and modules (no network)."""

import datetime as dt

import pytest

from ansible_collections.apim.selfhosted.plugins.module_utils import apim_identity, azure_credential
from ansible_collections.apim.selfhosted.plugins.module_utils import azure_client as ac
from ansible_collections.apim.selfhosted.plugins.modules import gateway_token, role_definition


def test_stable_guid_is_deterministic_and_case_insensitive():
    a = ac.stable_guid("roleAssignment", "/subscriptions/ABC", "X")
    assert a == ac.stable_guid("roleassignment", "/subscriptions/abc", "x")
    assert a != ac.stable_guid("roleAssignment", "/subscriptions/abc", "y")
    assert ac.is_guid(a)


@pytest.mark.parametrize(
    "value, ok",
    [
        ("6f5e3c5c-2a4e-4c1b-9b0e-5a7d1c2f8e41", True),
        ("6F5E3C5C-2A4E-4C1B-9B0E-5A7D1C2F8E41", True),
        ("6f5e3c5c2a4e4c1b9b0e5a7d1c2f8e41", False),
        ("my-app", False),
        ("", False),
        (None, False),
    ],
)
def test_is_guid(value, ok):
    assert ac.is_guid(value) is ok


def test_ids_compare_by_trailing_guid_and_case():
    a = "/subscriptions/S/providers/Microsoft.Authorization/roleDefinitions/ACDD72A7-3385-48EF-BD42-F606FBA81AE7"
    b = "/providers/Microsoft.Authorization/roleDefinitions/acdd72a7-3385-48ef-bd42-f606fba81ae7"
    assert ac.trailing_guid(a) == ac.trailing_guid(b)
    assert ac.same_id("/subscriptions/S/resourceGroups/RG/", "/subscriptions/s/resourcegroups/rg")
    assert not ac.same_id("/subscriptions/s/resourceGroups/rg", "/subscriptions/s/resourceGroups/rg2")


def test_role_definition_id_and_subscription_of():
    assert ac.subscription_of("/subscriptions/abc/resourceGroups/x") == "abc"
    assert ac.subscription_of("/providers/Microsoft.Management/managementGroups/mg") is None
    assert ac.role_definition_id("/subscriptions/abc/resourceGroups/x", "g") == (
        "/subscriptions/abc/providers/Microsoft.Authorization/roleDefinitions/g"
    )
    assert ac.role_definition_id("/providers/Microsoft.Management/managementGroups/mg", "g") == (
        "/providers/Microsoft.Authorization/roleDefinitions/g"
    )


def test_one_line():
    assert ac.one_line("a\n  b\tc ") == "a b c"


def test_token_scope_per_cloud_is_documented_table():
    assert ac.CLOUDS["AzureUSGovernment"][2] == "https://management.core.usgovcloudapi.net/.default"
    assert ac.CLOUDS["AzureChinaCloud"][0] == "https://login.chinacloudapi.cn"


def _flat(**kw):
    base = dict(
        role_name="R",
        description="d",
        _blocks=1,
        assignable_scopes=["/subscriptions/A"],
        actions=["X/*/read"],
        not_actions=[],
        data_actions=[],
        not_data_actions=[],
    )
    base.update(kw)
    return base


def test_role_definition_compare_is_case_and_order_insensitive():
    cur = _flat(actions=["Microsoft.A/*/read", "Microsoft.B/write"])
    assert not role_definition._differs(cur, _flat(actions=["microsoft.b/WRITE", "MICROSOFT.A/*/read"]))
    assert not role_definition._differs(cur, _flat(actions=cur["actions"], assignable_scopes=["/SUBSCRIPTIONS/a/"]))
    assert role_definition._differs(cur, _flat(actions=["Microsoft.A/*/read"]))
    assert role_definition._differs(_flat(_blocks=2), _flat())
    # description None means "leave it"
    assert not role_definition._differs(_flat(), _flat(description=None))
    assert role_definition._differs(_flat(), _flat(description="other"))


@pytest.mark.parametrize(
    "text, expected",
    [
        ("2030-01-02", dt.datetime(2030, 1, 2, tzinfo=dt.timezone.utc)),
        ("2030-01-02T03:04:05Z", dt.datetime(2030, 1, 2, 3, 4, 5, tzinfo=dt.timezone.utc)),
        ("2030-01-02T05:04:05+02:00", dt.datetime(2030, 1, 2, 3, 4, 5, tzinfo=dt.timezone.utc)),
        ("2030-01-02T03:04:05", dt.datetime(2030, 1, 2, 3, 4, 5, tzinfo=dt.timezone.utc)),
    ],
)
def test_parse_expiry(text, expected):
    assert gateway_token.parse_expiry(text) == expected


@pytest.mark.parametrize("text", ["tomorrow", "2030-13-01", "01/02/2030"])
def test_parse_expiry_rejects(text):
    with pytest.raises(ValueError):
        gateway_token.parse_expiry(text)


def _params(**kw):
    base = dict(auth_source="auto", client_id=None, secret=None, tenant=None)
    base.update(kw)
    return base


@pytest.mark.parametrize(
    "params, environ, which, expected",
    [
        (_params(secret="s"), {"AZURE_CLIENT_ID": "c", "AZURE_SECRET": "s", "AZURE_TENANT": "t"}, "az", "credential"),
        (_params(client_id="c", tenant="t"), {}, None, "credential"),
        (_params(), {"AZURE_CLIENT_ID": "c", "AZURE_CLIENT_SECRET": "s", "AZURE_TENANT_ID": "t"}, "az", "env"),
        (_params(), {"AZURE_CLIENT_ID": "c", "AZURE_SECRET": "s"}, None, "msi"),
        (_params(), {"AZURE_FEDERATED_TOKEN_FILE": "/f"}, "az", "workload_identity"),
        (_params(), {"IDENTITY_ENDPOINT": "http://x"}, "az", "msi"),
        (_params(), {}, "az", "cli"),
        (_params(), {}, None, "msi"),
        (_params(auth_source="env"), {}, "az", "env"),
    ],
)
def test_auth_source_auto_order(params, environ, which, expected):
    assert azure_credential.pick_auth_source(params, environ, which=lambda _name: which) == expected


def test_credential_arguments_name_what_is_missing():
    with pytest.raises(azure_credential.CredentialSettingError, match="missing: secret, tenant"):
        azure_credential.credential_arguments("credential", _params(client_id="c"), {})
    with pytest.raises(azure_credential.CredentialSettingError, match="AZURE_SECRET or AZURE_CLIENT_SECRET"):
        azure_credential.credential_arguments("env", _params(), {"AZURE_CLIENT_ID": "c", "AZURE_TENANT": "t"})
    environ = {"AZURE_CLIENT_ID": "c", "AZURE_SECRET": "awx", "AZURE_CLIENT_SECRET": "sdk", "AZURE_TENANT": "t"}
    name, kw = azure_credential.credential_arguments("env", _params(), environ)
    assert name == "ClientSecretCredential" and kw["client_secret"] == "awx"  # AWX's name wins


class _Identity:
    def __init__(self, type_, users=None, principal_id=None):
        self.type, self.user_assigned_identities, self.principal_id, self.tenant_id = type_, users, principal_id, "t"


@pytest.mark.parametrize(
    "identity, system, expected",
    [
        (None, True, {"identity": {"type": "SystemAssigned"}}),
        (_Identity("None"), False, {"identity": {"type": "None"}}),
        (
            _Identity("UserAssigned", {"/u/1": object()}),
            True,
            {"identity": {"type": "SystemAssigned, UserAssigned", "user_assigned_identities": {"/u/1": {}}}},
        ),
        (
            _Identity("SystemAssigned, UserAssigned", {"/u/1": object()}, "p"),
            False,
            {"identity": {"type": "UserAssigned", "user_assigned_identities": {"/u/1": {}}}},
        ),
    ],
)
def test_identity_patch_keeps_user_assigned(identity, system, expected):
    assert apim_identity.patch_body(identity, system) == expected


def test_identity_view():
    v = apim_identity.identity_view(_Identity("SystemAssigned,UserAssigned", {"/u/2": 1, "/u/1": 1}, "p"))
    assert v == {
        "type": "SystemAssigned,UserAssigned",
        "system_assigned": True,
        "principal_id": "p",
        "tenant_id": "t",
        "user_assigned": ["/u/1", "/u/2"],
    }
    assert apim_identity.identity_view(None)["system_assigned"] is False
