"""Playbooks run through ansible-runner, AWX's executor, the way an AWX/AAP job runs them.

The Azure credential arrives as AWX's "Microsoft Azure Resource Manager" credential injects it (environment
variables AZURE_CLIENT_ID, AZURE_SECRET, AZURE_TENANT, AZURE_SUBSCRIPTION_ID), the gateway token as the credential
type of docs/awx/ injects it (extra variable gateway_token). The fake ARM answers over TLS on 127.0.0.1. The run
must succeed, and no secret may appear in anything the runner keeps: stdout, the job events, the artifacts.
"""

import datetime as dt
import json
import os
import pathlib
import secrets
import subprocess
import sys

import pytest
import yaml
from jinja2.sandbox import ImmutableSandboxedEnvironment

from apim_testkit.fake_arm import FakeArm
from apim_testkit.gateway_sim.apimsim import token as gwtoken

ROOT = pathlib.Path(__file__).resolve().parents[3]

COLLECTIONS = os.environ.get("ANSIBLE_COLLECTIONS_PATH", "/var/lib/apim-testbed/collections")


@pytest.fixture(scope="module")
def arm(tmp_path_factory):
    fake = FakeArm().start()
    fake.ca_file = str(fake.write_ca(tmp_path_factory.mktemp("arm") / "ca.pem"))
    yield fake
    fake.stop()


@pytest.fixture
def awx_credential(arm):
    """A caller of its own with a long random secret, in the environment names AWX injects."""
    arm.state.reset()
    client_id = "awx-job-" + secrets.token_hex(4)
    secret = "awx~" + secrets.token_urlsafe(30)
    arm.state.add_client(client_id, secret)
    env = {
        "AZURE_CLIENT_ID": client_id,
        "AZURE_SECRET": secret,
        "AZURE_TENANT": arm.state.tenant_id,
        "AZURE_SUBSCRIPTION_ID": arm.state.subscription_id,
    }
    return env, secret


class Job:
    """What ansible-runner left in artifacts/<ident>/: status, rc, stdout, job events, stats."""

    def __init__(self, pdd, ident):
        self.dir = pdd / "artifacts" / ident
        self.status = (self.dir / "status").read_text().strip()
        self.rc = int((self.dir / "rc").read_text())
        self.stdout = (self.dir / "stdout").read_text(errors="replace")
        events = [json.loads(p.read_text()) for p in (self.dir / "job_events").glob("*.json")]
        self.events = sorted(events, key=lambda e: e.get("counter", 0))
        stats = [e for e in self.events if e.get("event") == "playbook_on_stats"]
        self.stats = stats[-1]["event_data"] if stats else {}


def run(tmp_path, playbook, extravars, envvars, verbosity=0):
    """One AWX-like job: AWX writes env/envvars, env/extravars and inventory/ into a private data dir and runs
    ansible-runner on it (here its CLI, in a process of its own, as AWX's worker does)."""
    pdd = tmp_path / "job"
    (pdd / "env").mkdir(parents=True)
    (pdd / "inventory").mkdir()
    (pdd / "inventory" / "hosts").write_text(
        f"localhost ansible_connection=local ansible_python_interpreter={sys.executable}\n"
    )
    env = {
        **envvars,
        "ANSIBLE_COLLECTIONS_PATH": COLLECTIONS,
        "ANSIBLE_NOCOLOR": "1",
        "ANSIBLE_RETRY_FILES_ENABLED": "0",
    }
    for name, data in (("envvars", env), ("extravars", extravars)):
        path = pdd / "env" / name
        path.write_text(json.dumps(data))
        path.chmod(0o600)
    cmd = ["ansible-runner", "run", str(pdd), "-p", str(playbook), "--ident", "job"]
    if verbosity:
        cmd.append("-" + "v" * verbosity)
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=600, check=False)
    job = Job(pdd, "job")
    job.console = proc.stdout + proc.stderr
    return job, pdd


def artifacts_text(pdd):
    """Everything ansible-runner wrote under artifacts/ (stdout, job events, status, rc, fact cache, ...).

    Except artifacts/<ident>/command: ansible-runner's record of its own input (the command line and the whole
    environment it was given, the injected credential included), written mode 0600 whatever the playbook does;
    AWX removes the private data dir when the job ends. The test checks its mode instead.
    """
    kept = []
    for p in sorted((pdd / "artifacts").rglob("*")):
        if p.is_file() and p.name == "command" and p.parent.parent.name == "artifacts":
            assert p.stat().st_mode & 0o077 == 0, f"{p} is readable by others"
        elif p.is_file():
            kept.append((p, p.read_text(errors="replace")))
    return kept


def assert_never_shown(r, pdd, *values):
    events = json.dumps(r.events)
    kept = artifacts_text(pdd)
    assert kept and r.events, "ansible-runner kept no artifacts"
    for value in values:
        assert value not in r.stdout and value not in r.console, "a secret is in the job's stdout"
        assert value not in events, "a secret is in the job's events"
        leaked = [str(p.relative_to(pdd)) for p, text in kept if value in text]
        assert not leaked, f"a secret is in the runner's artifacts: {leaked}"


def test_rbac_playbook_with_the_awx_azure_credential(arm, awx_credential, tmp_path):
    env, secret = awx_credential
    gw = arm.state.add_client("gateway-app", "gateway-app-secret")["principal_id"]
    arm.state.add_service("contoso", "rg-apim", system_identity=True)
    extravars = {
        "gateway_rbac_subscription_id": env["AZURE_SUBSCRIPTION_ID"],
        "gateway_rbac_apim_resource_group": "rg-apim",
        "gateway_rbac_apim_name": "contoso",
        "gateway_rbac_gateway_principal_id": gw,
        # Only where Azure is: the credential itself comes from the environment, as in AWX.
        "gateway_rbac_azure": {
            "resource_manager_endpoint": arm.url,
            "authority_host": arm.url,
            "ca_bundle": arm.ca_file,
            "request_retry_backoff": 0.05,
        },
    }
    r, pdd = run(tmp_path, ROOT / "playbooks" / "rbac.yml", extravars, env)
    assert r.status == "successful" and r.rc == 0, r.stdout[-4000:]
    assert r.stats["changed"].get("localhost") == 4, r.stats
    callers = {q["caller"] for q in arm.arm_requests()}
    assert callers == {arm.state.clients[env["AZURE_CLIENT_ID"]]["principal_id"]}, callers
    assert len(arm.state.role_assignments) == 2
    assert_never_shown(r, pdd, secret)

    # -vvv, as someone debugging a job template would run it: still no secret.
    r, pdd = run(tmp_path / "vvv", ROOT / "playbooks" / "rbac.yml", extravars, env, verbosity=3)
    assert r.status == "successful" and r.stats["changed"].get("localhost", 0) == 0, r.stats
    assert "<localhost> ESTABLISH LOCAL CONNECTION" in r.stdout  # -vvv reached ansible-playbook
    assert_never_shown(r, pdd, secret)


TOKEN_PLAYBOOK = """
- name: A gateway and a token, as a rotation job template would get one
  hosts: localhost
  gather_facts: false
  module_defaults:
    group/apim.selfhosted.azure:
      resource_manager_endpoint: "{{ arm_url }}"
      authority_host: "{{ arm_url }}"
      ca_bundle: "{{ arm_ca }}"
  tasks:
    - name: Gateway resource
      apim.selfhosted.gateway_resource:
        resource_group: rg-apim
        service_name: contoso
        name: lyon
        location_data: {name: Lyon plant}
    - name: Token
      apim.selfhosted.gateway_token:
        resource_group: rg-apim
        service_name: contoso
        gateway: lyon
        expires_in_days: 10
      register: new_token
      no_log: true
    - name: Keep it where the test can read it
      ansible.builtin.copy:
        content: "{{ new_token.token }}"
        dest: "{{ token_out }}"
        mode: "0600"
      no_log: true
    - name: Expiry (not a secret)
      ansible.builtin.debug:
        msg: "{{ new_token.expiry }} ({{ new_token.token | apim.selfhosted.token_days_left }} days)"
"""


def test_gateway_token_run_keeps_the_token_and_the_credential_out_of_the_job(arm, awx_credential, tmp_path):
    env, secret = awx_credential
    arm.state.add_service("contoso", "rg-apim")
    pb = tmp_path / "token.yml"
    pb.write_text(TOKEN_PLAYBOOK)
    out = tmp_path / "token.out"
    extravars = {"arm_url": arm.url, "arm_ca": arm.ca_file, "token_out": str(out)}
    r, pdd = run(tmp_path, pb, extravars, env)
    assert r.status == "successful", r.stdout[-4000:]
    token = out.read_text()
    key = next(iter(arm.state.gateways.values()))["keys"]["primary"]
    gwtoken.verify(token, "lyon", [key])
    assert_never_shown(r, pdd, secret, token, token.split("&")[-1])


CHECK_PLAYBOOK = """
- name: What a job gets from the gateway token credential
  hosts: localhost
  gather_facts: false
  tasks:
    - name: The gateway role validates the injected token
      ansible.builtin.set_fact:
        checked: "{{ {'gateway_endpoint': 'contoso.configuration.azure-api.net', 'gateway_token': gateway_token,
                      'gateway_backup_path': '/var/lib/apim-gateway/gw'} | apim.selfhosted.gateway_settings }}"
      no_log: true
    - name: It is valid
      ansible.builtin.assert:
        that:
          - checked.errors == []
          - checked.token.gateway_id == 'lyon'
          - (gateway_token | apim.selfhosted.token_days_left) >= 13
        quiet: true
"""


def test_the_credential_type_injects_gateway_token_for_the_role(tmp_path):
    ct = yaml.safe_load((ROOT / "docs" / "awx" / "credential-type-gateway-token.yml").read_text())
    expiry = dt.datetime.now(dt.timezone.utc) + dt.timedelta(days=14)
    token = gwtoken.PREFIX + gwtoken.sign("lyon", expiry, gwtoken.new_key())
    # What AWX does at launch: render each injector with the credential's inputs.
    jinja = ImmutableSandboxedEnvironment()
    extravars = {k: jinja.from_string(v).render(gateway_token=token) for k, v in ct["injectors"]["extra_vars"].items()}
    assert extravars == {"gateway_token": token}
    pb = tmp_path / "check.yml"
    pb.write_text(CHECK_PLAYBOOK)
    r, pdd = run(tmp_path, pb, extravars, {}, verbosity=2)
    assert r.status == "successful", r.stdout[-4000:]
    # AWX keeps extra vars in env/extravars of the private data dir, not in the artifacts.
    assert_never_shown(r, pdd, token.split("&")[-1])
