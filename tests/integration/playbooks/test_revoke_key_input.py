"""revoke_key refuses unusable variables in its first task, on the controller, before Azure or any host is asked,
with one message that names the variables; a malformed token never appears in the output."""

import json
import os
import subprocess

import pytest

SECRET = "c2VjcmV0LXNpZ25hdHVyZS12YWx1ZQ=="
AZURE = {"rotate_resource_group": "rg-apim", "rotate_service_name": "contoso"}
CASES = {
    "neither token nor key": {**AZURE},
    "both token and key": {**AZURE, "revoke_token": f"gw1&203001010000&{SECRET}", "revoke_key_type": "primary"},
    "malformed token": {**AZURE, "revoke_token": f"not a token {SECRET}"},
    "unknown key": {**AZURE, "revoke_key_type": "tertiary", "apim_gateway": "gw1"},
    "key without gateway": {**AZURE, "revoke_key_type": "primary"},
    "no resource group": {"rotate_service_name": "contoso", "revoke_key_type": "primary", "apim_gateway": "gw1"},
    "supplied tokens": {
        **AZURE,
        "revoke_key_type": "primary",
        "apim_gateway": "gw1",
        "rotate_token_source": "supplied",
    },
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_unusable_variables_stop_the_run_before_anything_is_asked(case, tmp_path):
    inventory = tmp_path / "hosts.ini"
    # An unreachable host: any task that touched it would fail with UNREACHABLE instead of the message.
    inventory.write_text("[gateways]\napim-a ansible_host=192.0.2.1 ansible_connection=ssh\n")
    extra = tmp_path / "extra.json"
    extra.write_text(json.dumps(CASES[case]))
    proc = subprocess.run(
        ["ansible-playbook", "-i", str(inventory), "apim.selfhosted.revoke_key", "-e", f"@{extra}"],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "ANSIBLE_NOCOLOR": "1"},
    )
    out = proc.stdout + proc.stderr
    assert proc.returncode == 2, out
    assert "Revocation variables are not usable: give either revoke_token" in out, out
    assert "No host was changed." in out and "UNREACHABLE" not in out
    assert "TASK [Tell which key signs" not in out and "PLAY [Plan the rotation" not in out
    assert SECRET not in out
