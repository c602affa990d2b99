"""Host selection of the fleet playbooks: apim_hosts as an operator writes it (one host, a comma-separated list,
a group with an exclusion) selects exactly those hosts, also in the plays that intersect it with a group the
playbook builds at run time (which is empty when the playbook is parsed, so those plays list no host)."""

import os
import re
import subprocess

import pytest

PLAYBOOKS = ("deploy", "rotate_token", "revoke_key", "migrate_v2", "status", "remove")
SELECTIONS = {
    "apim-a": {"apim-a"},
    "apim-a,apim-b": {"apim-a", "apim-b"},
    "gateways:!apim-c": {"apim-a", "apim-b"},
    "gateways,!apim-b": {"apim-a", "apim-c"},
}


@pytest.fixture(scope="module")
def inventory(tmp_path_factory):
    path = tmp_path_factory.mktemp("inv") / "hosts.ini"
    path.write_text("[gateways]\napim-a\napim-b\napim-c\n")
    return str(path)


def plays(playbook, inventory, apim_hosts):
    """[(pattern, {hosts})] from ansible-playbook --list-hosts."""
    cmd = ["ansible-playbook", "-i", inventory, f"apim.selfhosted.{playbook}", "--list-hosts"]
    out = subprocess.run(
        [*cmd, "-e", f"apim_hosts={apim_hosts}"],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "ANSIBLE_NOCOLOR": "1"},
    )
    assert out.returncode == 0, out.stdout + out.stderr
    found = []
    for block in re.split(r"\n\s*play #\d+ ", out.stdout)[1:]:
        pattern = re.search(r"pattern: (\[.*\])", block).group(1)
        hosts = set(re.findall(r"^\s{6}(\S+)\s*$", block, re.M))
        found.append((pattern, hosts))
    return found


@pytest.mark.parametrize("playbook", PLAYBOOKS)
@pytest.mark.parametrize("apim_hosts", sorted(SELECTIONS))
def test_apim_hosts_selects_exactly_the_given_hosts(playbook, apim_hosts, inventory):
    found = plays(playbook, inventory, apim_hosts)
    assert found, playbook
    for pattern, hosts in found:
        if "&apim_" in pattern:
            assert hosts == set(), (pattern, hosts)
        else:
            assert hosts == SELECTIONS[apim_hosts], (pattern, hosts)
