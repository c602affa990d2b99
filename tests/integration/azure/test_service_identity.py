"""service_identity against the fake ARM with the real SDK, through the module entry point."""


def _args(azure, **kw):
    return dict(dict(resource_group="rg-apim", service_name="contoso", subscription_id=azure.sub), **kw)


def _svc(azure):
    return next(iter(azure.fake.state.services.values()))


def test_enable_keeps_user_assigned_then_unchanged(azure):
    uai = f"{azure.rg_scope('rg-id')}/providers/Microsoft.ManagedIdentity/userAssignedIdentities/ops"
    azure.fake.state.add_service("contoso", "rg-apim", user_identities=[uai], identity_delay=1)
    r = azure.module(
        "service_identity",
        _args(
            azure,
        ),
        check=True,
        diff=True,
    )
    assert r["rc"] == 0 and r["changed"] is True and r["principal_id"] == "", r
    assert r["diff"]["after"]["type"] == "SystemAssigned, UserAssigned" and azure.writes() == []
    r = azure.module(
        "service_identity",
        _args(
            azure,
        ),
        diff=True,
    )
    assert r["rc"] == 0 and r["changed"] is True, r
    svc = _svc(azure)
    assert r["principal_id"] == svc["system"]["principal_id"] and list(svc["user"]) == [uai]
    assert r["identity"]["user_assigned"] == [uai] and r["identity"]["tenant_id"] == azure.fake.state.tenant_id
    patch = next(q for q in azure.fake.arm_requests() if q["method"] == "PATCH")
    assert patch["body"]["identity"]["type"] == "SystemAssigned, UserAssigned"
    azure.fake.clear_requests()
    again = azure.module(
        "service_identity",
        _args(
            azure,
        ),
    )
    assert again["changed"] is False and again["principal_id"] == r["principal_id"]
    assert [q["method"] for q in azure.fake.arm_requests()] == ["GET"]


def test_check_only_fails_naming_the_option(azure):
    azure.fake.state.add_service("contoso", "rg-apim")
    r = azure.module("service_identity", _args(azure, enable_if_missing=False))
    assert r["rc"] == 1 and "enable_if_missing: true" in r["msg"] and "\n" not in r["msg"], r
    assert azure.writes() == []


def test_disable_keeps_user_assigned(azure):
    uai = f"{azure.rg_scope('rg-id')}/providers/Microsoft.ManagedIdentity/userAssignedIdentities/ops"
    azure.fake.state.add_service("contoso", "rg-apim", system_identity=True, user_identities=[uai])
    r = azure.module("service_identity", _args(azure, state="absent"))
    assert r["rc"] == 0 and r["changed"] is True and r["principal_id"] == "", r
    svc = _svc(azure)
    assert svc["system"] is None and list(svc["user"]) == [uai]
    assert azure.module("service_identity", _args(azure, state="absent"))["changed"] is False


def test_unknown_instance_is_one_line(azure):
    r = azure.module("service_identity", _args(azure, service_name="nope"))
    assert r["rc"] == 1 and "ResourceNotFound" in r["msg"] and "\n" not in r["msg"]
