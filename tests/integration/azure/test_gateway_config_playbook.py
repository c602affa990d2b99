"""playbooks/gateway_config.yml through ansible-playbook against the fake ARM."""

import base64
import pathlib
import re

from apim_testkit.fake_arm import apim_children

from .conftest import make_pfx

PLAYBOOK = (pathlib.Path(__file__).resolve().parents[3] / "playbooks" / "gateway_config.yml").read_text()
PASSWORD = "Edge-Pfx-Secret-42"


def _recap(proc):
    m = re.search(r"localhost\s+: ok=(\d+)\s+changed=(\d+)\s+unreachable=(\d+)\s+failed=(\d+)", proc.stdout)
    assert m, proc.stdout[-3000:] + proc.stderr[-2000:]
    return {"ok": int(m[1]), "changed": int(m[2]), "failed": int(m[4])}


def _setup(azure, tmp_path):
    st = azure.fake.state
    st.add_service("contoso", "rg-apim")
    for api in ("echo", "orders"):
        apim_children.add_api(st, "contoso", "rg-apim", api, display_name=f"{api.title()} API")
    r = azure.module("gateway_resource", dict(resource_group="rg-apim", service_name="contoso", name="lyon",
                                               location_data={"name": "Lyon"}, subscription_id=azure.sub))  # fmt: skip
    assert r["rc"] == 0, r
    pfx, thumb, _ca = make_pfx(tmp_path / "edge.pfx", "api.contoso.test", PASSWORD)
    azure.fake.clear_requests()
    return pfx, thumb


def _vars(azure, pfx, **kw):
    v = {
        "gateway_config_resource_group": "rg-apim",
        "gateway_config_service_name": "contoso",
        "gateway_config_gateway": "lyon",
        "gateway_config_subscription_id": azure.sub,
        "gateway_config_apis": ["Echo API"],
        "gateway_config_apis_exclusive": True,
        "gateway_config_certificates": [{"name": "edge", "pfx_path": pfx, "password": PASSWORD}],
        "gateway_config_hostnames": [{"hostname": "api.contoso.test", "certificate": "edge"}],
        "gateway_config_azure": azure.auth,
    }
    v.update(kw)
    return v


def test_first_run_rerun_and_check_mode(azure, tmp_path):
    pfx, thumb = _setup(azure, tmp_path)
    proc = azure.playbook(PLAYBOOK, _vars(azure, pfx), check=True, diff=True)
    assert proc.returncode == 0 and _recap(proc)["changed"] == 3, proc.stdout[-3000:]
    assert azure.writes() == []
    proc = azure.playbook(PLAYBOOK, _vars(azure, pfx))
    assert proc.returncode == 0 and _recap(proc)["changed"] == 3, proc.stdout[-3000:]
    st = azure.fake.state.children
    assert next(iter(st["certificates"].values()))["view"]["properties"]["thumbprint"] == thumb
    assert list(st["gateway_apis"].values()) == ["echo"]
    assert "lyon serves echo; HTTPS for api.contoso.test" in proc.stdout
    azure.fake.clear_requests()
    proc = azure.playbook(PLAYBOOK, _vars(azure, pfx), verbosity=3, diff=True)
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0 and _recap(proc)["changed"] == 0, proc.stdout[-3000:]
    assert azure.writes() == []
    pfx_b64 = base64.b64encode(pathlib.Path(pfx).read_bytes()).decode()
    for secret in (PASSWORD, pfx_b64[:40], azure.secret):
        assert secret not in out


def test_wrong_password_and_bad_variables_fail_before_any_write(azure, tmp_path):
    pfx, _thumb = _setup(azure, tmp_path)
    bad = _vars(azure, pfx, gateway_config_certificates=[{"name": "edge", "pfx_path": pfx, "password": "Not-It-9"}])
    proc = azure.playbook(PLAYBOOK, bad)
    assert proc.returncode != 0 and f"pfx_path '{pfx}': the password does not open it" in proc.stdout
    assert azure.writes() == []
    for extra, name in (
        ({"gateway_config_gateway": None}, "gateway_config_gateway"),
        ({"gateway_config_hostnames": [{"hostname": "a.test"}]}, "certificate"),
        ({"gateway_config_certificates": [{"name": "x"}]}, "pfx_path"),
        ({"gateway_config_apis_exclusive": "maybe"}, "gateway_config_apis_exclusive"),
    ):
        proc = azure.playbook(PLAYBOOK, _vars(azure, pfx, **extra))
        assert proc.returncode != 0 and name in proc.stdout, (extra, proc.stdout[-2000:])
    assert azure.fake.requests == []
