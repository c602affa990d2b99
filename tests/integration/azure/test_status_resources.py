"""The status playbook's report of what each gateway resource serves, read from the fake ARM with the real SDK:
the APIs, the hostnames and a warning for a certificate that expires soon."""

import json
import os
import subprocess
import sys

from .conftest import ROOT
from .test_gateway_config_modules import GW, RG, SVC, _base, _instance, _upload


def test_status_shows_apis_hostnames_and_warns_before_a_certificate_expires(azure, tmp_path):
    _instance(azure)
    assert azure.module("gateway_api", _base(azure, gateway=GW, apis=["echo"]))["rc"] == 0
    r, _pfx, _thumb = _upload(azure, tmp_path, days=10)
    assert r["rc"] == 0, r
    assert (
        azure.module("gateway_hostname", _base(azure, gateway=GW, hostname="api.contoso.test", certificate="edge"))[
            "rc"
        ]
        == 0
    )
    inventory = {
        "gateways": {
            "hosts": {
                "edge-status-1": {
                    "ansible_connection": "local",
                    "ansible_python_interpreter": sys.executable,
                    # No such container on this machine: the host part reports it absent.
                    "gateway_container_name": "apim-status-test-none",
                    "gateway_name": GW,
                    "rotate_resource_group": RG,
                    "rotate_service_name": SVC,
                    "rotate_subscription_id": azure.sub,
                }
            }
        }
    }
    azure.fake.clear_requests()
    inv = tmp_path / "inventory.json"
    inv.write_text(json.dumps(inventory))
    extra = tmp_path / "extra.json"
    extra.write_text(json.dumps({"status_azure_options": azure.auth, "status_certificate_min_days": 30}))
    proc = subprocess.run(
        ["ansible-playbook", "-i", str(inv), "playbooks/status.yml", "-e", f"@{extra}"],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=300,
        env={**os.environ, "ANSIBLE_NOCOLOR": "1"},
    )
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, out[-4000:]
    assert f"{SVC}/{GW}: APIs echo; hostnames api.contoso.test; fewest certificate days left" in out, out[-4000:]
    assert f"WARNING: {GW}: the certificate edge of api.contoso.test" in out and "days left)" in out, out[-4000:]
    assert azure.secret not in out
    assert azure.writes() == []  # reads only
