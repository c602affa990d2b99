"""gateway_api, service_certificate, gateway_hostname, gateway_certificate_authority and gateway_resource_info
against the fake ARM with the real azure-mgmt-apimanagement SDK, through the modules' entry points."""

import base64

from apim_testkit.fake_arm import apim_children

from .conftest import make_pfx

RG, SVC, GW = "rg-apim", "contoso", "lyon"


def _base(azure, **kw):
    return dict(dict(resource_group=RG, service_name=SVC, subscription_id=azure.sub), **kw)


def _instance(azure, apis=("echo", "orders")):
    st = azure.fake.state
    st.add_service(SVC, RG)
    for api in apis:
        apim_children.add_api(st, SVC, RG, api, display_name=f"{api.title()} API", path=api)
    r = azure.module("gateway_resource", _base(azure, name=GW, location_data={"name": "Lyon plant"}))
    assert r["rc"] == 0, r
    azure.fake.clear_requests()


def _arm(azure):
    return [(q["method"], q["path"].rsplit("/", 2)[-2:], q["status"]) for q in azure.fake.arm_requests()]


def _upload(azure, tmp_path, name="edge", hostname="api.contoso.test", password="pfx-pass", days=90, diff=False):  # noqa: S107
    pfx, thumb, _ca = make_pfx(tmp_path / f"{name}-{days}.pfx", hostname, password, days=days)
    r = azure.module("service_certificate", _base(azure, name=name, pfx_path=pfx, password=password), diff=diff)
    return r, pfx, thumb


# ---- gateway_api -----------------------------------------------------------------------------------------
def test_apis_by_id_and_name_rerun_exclusive_absent(azure):
    _instance(azure, apis=("echo", "orders", "billing"))
    r = azure.module("gateway_api", _base(azure, gateway=GW, apis=["echo", "Orders API"]), diff=True)
    assert r["rc"] == 0 and r["changed"] is True and r["apis"] == ["echo", "orders"], r
    assert r["diff"] == {"before": {"apis": []}, "after": {"apis": ["echo", "orders"]}}
    assert sorted(q["status"] for q in azure.fake.arm_requests() if q["method"] == "PUT") == [201, 201]
    azure.fake.clear_requests()
    again = azure.module("gateway_api", _base(azure, gateway=GW, apis=["ECHO", "orders"]))
    assert again["changed"] is False and [q["method"] for q in azure.fake.arm_requests()] == ["GET", "GET"]
    r = azure.module("gateway_api", _base(azure, gateway=GW, apis=["billing"], exclusive=True))
    assert r["changed"] is True and r["apis"] == ["billing"] and r["removed"] == ["echo", "orders"], r
    linked = sorted(azure.fake.state.children["gateway_apis"].values())
    assert linked == ["billing"]
    r = azure.module("gateway_api", _base(azure, gateway=GW, apis=["billing"], state="absent"))
    assert r["changed"] is True and r["apis"] == [] and not azure.fake.state.children["gateway_apis"]
    assert azure.module("gateway_api", _base(azure, gateway=GW, apis=["billing"], state="absent"))["changed"] is False


def test_apis_check_mode_and_unknown_api(azure):
    _instance(azure)
    r = azure.module("gateway_api", _base(azure, gateway=GW, apis=["echo"]), check=True)
    assert r["changed"] is True and r["added"] == ["echo"] and azure.writes() == []
    r = azure.module("gateway_api", _base(azure, gateway=GW, apis=["echo", "payments"]))
    assert r["rc"] == 1 and "'payments' is no API id or display name" in r["msg"] and "orders (Orders API)" in r["msg"]
    assert azure.writes() == []
    r = azure.module("gateway_api", _base(azure, gateway="nowhere", apis=["echo"]))
    assert r["rc"] == 1 and "404" in r["msg"] and "Gateway not found" in r["msg"] and "\n" not in r["msg"]


# ---- service_certificate ---------------------------------------------------------------------------------
def test_certificate_from_pfx_rerun_replace(azure, tmp_path):
    _instance(azure)
    r, pfx, thumb = _upload(azure, tmp_path)
    assert r["rc"] == 0 and r["changed"] is True, r
    cert = r["certificate"]
    assert cert["thumbprint"] == thumb and 88 <= cert["days_left"] <= 90 and cert["key_vault"] is None
    assert "CN=" not in str(cert.get("data")) and "password" not in cert
    assert [(m, s) for m, _p, s in _arm(azure)] == [("GET", 404), ("PUT", 201)]
    azure.fake.clear_requests()
    again = azure.module("service_certificate", _base(azure, name="edge", pfx_path=pfx, password="pfx-pass"))
    assert again["changed"] is False and [q["method"] for q in azure.fake.arm_requests()] == ["GET"]
    azure.fake.clear_requests()
    r2, _pfx2, thumb2 = _upload(azure, tmp_path, days=200, diff=True)
    assert r2["changed"] is True and r2["certificate"]["thumbprint"] == thumb2 != thumb
    put = next(q for q in azure.fake.arm_requests() if q["method"] == "PUT")
    etag = azure.fake.state.children["certificates"]
    assert put["status"] == 200 and put["if_match"] and put["if_match"].strip('"').startswith("AAAAAAAA")
    assert len(etag) == 1


def test_wrong_password_fails_before_any_request(azure, tmp_path):
    _instance(azure)
    pfx, _thumb, _ca = make_pfx(tmp_path / "e.pfx", "api.contoso.test", "right")
    azure.fake.clear_requests()
    r = azure.module("service_certificate", _base(azure, name="edge", pfx_path=pfx, password="Not-The-Pfx-Pw"))
    assert r["rc"] == 1 and r["msg"].startswith(f"pfx_path '{pfx}': the password does not open it"), r
    r = azure.module(
        "service_certificate", _base(azure, name="edge", pfx_data="not base64!", password="Another-Pw-123")
    )
    assert r["rc"] == 1 and "pfx_data must be the base64" in r["msg"]
    assert azure.fake.requests == []  # not even a token request


def test_certificate_from_key_vault(azure, tmp_path):
    _instance(azure)
    secret = "https://contoso-kv.vault.azure.net/secrets/edge"
    _pfx, _thumb, ca = make_pfx(tmp_path / "kv.pfx", "kv.contoso.test", "x")
    leaf = ca.issue_cert("kv.contoso.test")
    apim_children.add_key_vault_certificate(azure.fake.state, secret, leaf.cert_chain_pems[0].bytes().decode())
    args = _base(azure, name="kv-edge", key_vault={"secret_identifier": secret})
    r = azure.module("service_certificate", args)
    assert r["rc"] == 1 and "HTTP 400 ValidationError" in r["msg"], r  # the instance has no identity yet
    assert azure.module("service_identity", _base(azure))["changed"] is True
    r = azure.module("service_certificate", args)
    assert r["rc"] == 0 and r["changed"] is True and r["certificate"]["key_vault"]["last_status"] == "Success", r
    assert r["certificate"]["subject"] and r["certificate"]["thumbprint"]
    azure.fake.clear_requests()
    assert (
        azure.module("service_certificate", dict(args, key_vault={"secret_identifier": secret + "/"}))["changed"]
        is False
    )
    bad = dict(args, key_vault={"secret_identifier": secret, "identity_client_id": "0000"})
    r = azure.module("service_certificate", bad)
    assert r["rc"] == 1 and "not assigned to the service" in r["msg"]


def test_certificate_absent_while_in_use_then_gone(azure, tmp_path):
    _instance(azure)
    _upload(azure, tmp_path)
    r = azure.module("gateway_hostname", _base(azure, gateway=GW, hostname="api.contoso.test", certificate="edge"))
    assert r["rc"] == 0, r
    r = azure.module("service_certificate", _base(azure, name="edge", state="absent"))
    assert r["rc"] == 1 and "it is in use" in r["msg"] and "remove the gateway hostname configurations" in r["msg"]
    azure.module("gateway_hostname", _base(azure, gateway=GW, hostname="api.contoso.test", state="absent"))
    r = azure.module("service_certificate", _base(azure, name="edge", state="absent"), check=True)
    assert r["changed"] is True and azure.fake.state.children["certificates"]
    r = azure.module("service_certificate", _base(azure, name="edge", state="absent"))
    assert r["changed"] is True and not azure.fake.state.children["certificates"]
    assert next(q for q in azure.fake.arm_requests() if q["method"] == "DELETE")["if_match"].startswith('"AAAA')


def test_no_secret_in_verbose_output(azure, tmp_path):
    _instance(azure)
    password = "S3cret-pfx-passw0rd"
    pfx, _thumb, _ca = make_pfx(tmp_path / "v.pfx", "api.contoso.test", password)
    data = base64.b64encode(open(pfx, "rb").read()).decode()
    play = """
- hosts: localhost
  gather_facts: false
  module_defaults:
    group/apim.selfhosted.azure: "{{ azure }}"
  tasks:
    - apim.selfhosted.service_certificate:
        resource_group: rg-apim
        service_name: contoso
        name: edge
        pfx_data: "{{ pfx_data }}"
        password: "{{ pfx_password }}"
        subscription_id: "{{ sub }}"
"""
    extra = {"azure": azure.auth, "sub": azure.sub, "pfx_data": data, "pfx_password": password}
    for check in (True, False):
        proc = azure.playbook(play, extra, verbosity=3, diff=True, check=check)
        out = proc.stdout + proc.stderr
        assert proc.returncode == 0, out[-3000:]
        for secret in (password, data[:60], data[-60:], azure.secret):
            assert secret not in out
    key_pem = azure.fake.state.children["certificates"][next(iter(azure.fake.state.children["certificates"]))]["key"]
    assert key_pem.splitlines()[1] not in out


# ---- gateway_hostname ------------------------------------------------------------------------------------
def test_hostname_create_rerun_update_delete(azure, tmp_path):
    _instance(azure)
    args = _base(azure, gateway=GW, hostname="api.contoso.test", certificate="edge")
    r = azure.module("gateway_hostname", args)
    assert r["rc"] == 1 and "'edge' is not a certificate" in r["msg"] and azure.writes() == [], r
    _upload(azure, tmp_path)
    azure.fake.clear_requests()
    r = azure.module("gateway_hostname", args, diff=True)
    assert r["rc"] == 0 and r["changed"] is True, r
    hc = r["hostname_configuration"]
    assert hc["name"] == "api-contoso-test" and hc["certificate_id"].endswith("/certificates/edge")
    assert (hc["tls10_enabled"], hc["tls11_enabled"], hc["http2_enabled"], hc["negotiate_client_certificate"]) == (
        False,
        False,
        False,
        False,
    )
    assert [q["status"] for q in azure.fake.arm_requests() if q["method"] == "PUT"] == [201]
    azure.fake.clear_requests()
    assert azure.module("gateway_hostname", args)["changed"] is False
    assert [q["method"] for q in azure.fake.arm_requests()] == ["GET"]
    r = azure.module("gateway_hostname", dict(args, http2_enabled=True, negotiate_client_certificate=True), diff=True)
    assert (
        r["changed"] is True and r["diff"]["before"]["http2_enabled"] is False and r["diff"]["after"]["http2_enabled"]
    )
    put = next(q for q in azure.fake.arm_requests() if q["method"] == "PUT")
    assert put["status"] == 200 and put["if_match"] and put["body"]["properties"]["tls10Enabled"] is False
    r = azure.module("gateway_hostname", dict(args, state="absent"))
    assert r["changed"] is True and not azure.fake.state.children["hostnames"]
    assert azure.module("gateway_hostname", dict(args, state="absent"))["changed"] is False


def test_hostname_conflict_and_bad_input(azure, tmp_path):
    _instance(azure)
    _upload(azure, tmp_path)
    base = _base(azure, gateway=GW, certificate="edge")
    assert azure.module("gateway_hostname", dict(base, hostname="*"))["hostname_configuration"]["name"] == "default"
    r = azure.module("gateway_hostname", dict(base, hostname="*", name="other"))
    assert r["rc"] == 1 and "409" in r["msg"] and "already configured" in r["msg"], r
    n = len(azure.fake.requests)
    for args, text in (
        (dict(base, hostname="api contoso"), "hostname must be a DNS name"),
        (dict(base, hostname="a.test", name="a/b"), "name must be 1 to 80"),
        (_base(azure, gateway=GW, hostname="a.test"), "certificate"),
    ):
        r = azure.module("gateway_hostname", args)
        assert r["rc"] == 1 and text in r["msg"], (args, r)
    assert len(azure.fake.requests) == n


# ---- gateway_certificate_authority -----------------------------------------------------------------------
def test_certificate_authority(azure, tmp_path):
    _instance(azure)
    args = _base(azure, gateway=GW, certificate="root-ca")
    r = azure.module("gateway_certificate_authority", args)
    assert r["rc"] == 1 and "404" in r["msg"] and "Certificate not found" in r["msg"], r
    _upload(azure, tmp_path, name="root-ca", hostname="partners-root-ca.test")
    r = azure.module("gateway_certificate_authority", args, check=True)
    assert r["changed"] is True and not azure.fake.state.children["authorities"]
    r = azure.module("gateway_certificate_authority", args)
    assert r["changed"] is True and r["certificate_authority"]["trusted"] is True
    assert azure.module("gateway_certificate_authority", args)["changed"] is False
    r = azure.module("gateway_certificate_authority", dict(args, trusted=False), diff=True)
    assert r["changed"] is True and r["diff"]["after"]["trusted"] is False
    r = azure.module("gateway_certificate_authority", dict(args, state="absent"))
    assert r["changed"] is True and not azure.fake.state.children["authorities"]


# ---- gateway_resource_info -------------------------------------------------------------------------------
def test_info_lists_apis_hostnames_and_expiry(azure, tmp_path):
    _instance(azure, apis=("echo", "orders"))
    azure.module("gateway_resource", _base(azure, name="paris", location_data={"name": "Paris"}))
    azure.module("gateway_api", _base(azure, gateway=GW, apis=["echo"]))
    _upload(azure, tmp_path, name="soon", hostname="api.contoso.test", days=10)
    _upload(azure, tmp_path, name="later", hostname="www.contoso.test", days=200)
    _upload(azure, tmp_path, name="root-ca", hostname="root-ca.test", days=5)
    for host, cert in (("api.contoso.test", "soon"), ("www.contoso.test", "later")):
        azure.module("gateway_hostname", _base(azure, gateway=GW, hostname=host, certificate=cert))
    azure.module("gateway_certificate_authority", _base(azure, gateway="paris", certificate="root-ca"))
    azure.fake.clear_requests()
    r = azure.module("gateway_resource_info", _base(azure), check=True)
    assert r["rc"] == 0 and r["changed"] is False, r
    assert azure.writes() == [] and len(azure.fake.arm_requests()) == 2 + 3 * 2
    lyon, paris = r["gateways"]
    assert (lyon["name"], paris["name"]) == ("lyon", "paris")
    assert lyon["apis"] == [{"id": "echo", "display_name": "Echo API", "path": "echo"}] and paris["apis"] == []
    hosts = {h["hostname"]: h for h in lyon["hostname_configurations"]}
    assert set(hosts) == {"api.contoso.test", "www.contoso.test"}
    assert hosts["api.contoso.test"]["certificate"]["days_left"] in (9, 10) and lyon["min_days_left"] in (9, 10)
    assert paris["certificate_authorities"][0]["trusted"] is True and paris["min_days_left"] in (4, 5)
    assert [(e["gateway"], e["role"], e["certificate"]) for e in r["expiring"]] == [
        ("paris", "certificate_authority", "root-ca"),
        ("lyon", "hostname", "soon"),
    ]
    one = azure.module("gateway_resource_info", _base(azure, gateway="LYON", expiry_warning_days=7))
    assert [g["name"] for g in one["gateways"]] == ["lyon"] and one["expiring"] == []
    assert azure.module("gateway_resource_info", _base(azure, gateway="nowhere"))["gateways"] == []
