"""The lab end to end: `lab/lab.sh up` twice, then `lab/lab.sh down` (the README's first command).

The first `up` starts the fakes and edge hosts and runs the playbooks; the API calls through the gateway, over HTTP
and over HTTPS for the configured hostname, must reach the backend. The second `up` must change nothing (changed=0
over every playbook). Then the gateway configuration path: HTTPS presents the uploaded certificate, an API that is
not associated answers 404, check mode writes nothing to Azure, -vvv shows no secret, and removing the association
stops serving the API. Between `up` and `down`, Event Grid to Event-Driven Ansible on the running lab
(tests/integration/eda/lab_rotation_cases.py): one lab, brought up once, under one lock for the whole module.
`down` must leave no container, process or state behind. Uses the lab's own names, so it replaces a running lab.
"""

import base64
import fcntl
import json
import os
import pathlib
import re
import shlex
import socket
import ssl
import subprocess
import time
import urllib.request

import pytest

pytestmark = pytest.mark.docker

ROOT = pathlib.Path(__file__).resolve().parents[3]
LAB = ROOT / "lab" / "lab.sh"
DONE = re.compile(r"lab up: done in (\d+) s, changed=(\d+)")


def lab(cmd, timeout):
    t0 = time.monotonic()
    proc = subprocess.run(
        ["bash", str(LAB), cmd], capture_output=True, text=True, timeout=timeout, cwd=ROOT,
        env={**os.environ, "LAB_LOCKED": "1"},
    )  # fmt: skip
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, f"lab {cmd} failed (exit {proc.returncode}):\n{out[-6000:]}"
    return out, time.monotonic() - t0


def answers(out):
    """The JSON bodies that the lab printed after its curl commands."""
    found = {}
    lines = out.splitlines()
    for i, line in enumerate(lines):
        if line.startswith("$ ") and "curl" in line and i + 1 < len(lines):
            try:
                found[line[2:]] = json.loads(lines[i + 1])
            except ValueError:
                found[line[2:]] = lines[i + 1]
    return found


@pytest.fixture(scope="module")
def lab_lock():
    """The lock lab.sh takes, held across the whole module: no other lab.sh (a person's, another test run's) can run
    between this module's up, up and down."""
    with open(LAB) as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        yield


def test_lab_up_twice(docker_engine, edge_image, lab_lock):
    lab("down", timeout=300)  # start from nothing, as on a fresh machine
    first, t_first = lab("up", timeout=900)
    m = DONE.search(first)
    assert m, first[-3000:]
    calls = answers(first)
    assert len(calls) == 3, first[-3000:]
    for cmd, body in calls.items():
        assert isinstance(body, dict), (cmd, body)
        assert body["backend"] == "lab-backend-1" and body["path"] == "/hello", (cmd, body)
        assert body["method"] == "GET" and "X-Gateway-Instance" in body["headers"], (cmd, body)
    assert any(c.startswith("docker exec lab-edge-1 curl") for c in calls), calls
    assert any("--resolve api.contoso.test:443:" in c and "https://api.contoso.test/echo/hello" in c for c in calls)
    assert "cannot be pulled here" in first and "gateway-sim-2.12.3.tar" in first

    second, t_second = lab("up", timeout=600)
    m2 = DONE.search(second)
    assert m2, second[-3000:]
    assert int(m2[2]) == 0, "a second lab up changed something:\n" + "\n".join(
        line for line in second.splitlines() if line.startswith(("changed:", "TASK", "(")) or "changed=" in line
    )
    assert all(isinstance(b, dict) and b["backend"] == "lab-backend-1" for b in answers(second).values())
    assert "started" not in "".join(line for line in second.splitlines() if line.startswith("[lab]"))
    print(f"lab up: first {t_first:.0f} s, second {t_second:.0f} s")
    gateway_configuration_path()


# Event Grid token events drive the rotation through the real ansible-rulebook, on the lab that is up now.
from ..eda.lab_rotation_cases import (  # noqa: E402, F401
    balancer,
    eda,
    test_near_expiry_event_rotates_lab_gw_under_load,
    test_other_gateway_changes_nothing,
    test_replayed_event_changes_nothing,
    test_unauthenticated_or_malformed_delivery_starts_nothing,
)
from ..eda.lab_rotation_cases import lab_env as _lab_env  # noqa: E402


@pytest.fixture(scope="module")
def the_lab(lab_lock):
    return _lab_env()


def test_lab_down_leaves_nothing(docker_engine, lab_lock):
    lab("down", timeout=300)

    left = subprocess.run(
        ["python3", str(ROOT / "lab" / "lab.py"), "check"], capture_output=True, text=True, timeout=120, cwd=ROOT
    )
    assert left.returncode == 0, left.stdout + left.stderr
    names = docker_engine("ps", "-a", "--format", "{{.Names}}").stdout.split()
    assert not [n for n in names if n.startswith("lab-")], names
    assert not pathlib.Path(os.environ.get("APIM_TESTBED_HOME", "/var/lib/apim-testbed"), "lab").exists()
    assert not (ROOT / "lab" / "inventory" / "group_vars" / "gateways" / "addresses.yml").exists()


# ---- the gateway configuration path (issue 18), on the running lab ----------------------------------------
HOSTNAME = "api.contoso.test"


def lab_env():
    out = subprocess.run(["python3", str(ROOT / "lab" / "lab.py"), "env"], capture_output=True, text=True, check=True)
    env = dict(os.environ, ANSIBLE_CONFIG=str(ROOT / "lab" / "ansible.cfg"), ANSIBLE_NOCOLOR="1")
    for line in out.stdout.splitlines():
        key, _eq, value = line.removeprefix("export ").partition("=")
        env[key] = shlex.split(value)[0] if value else ""
    return env


def gateway_config(env, *args):
    secrets = f"{env['LAB_STATE_DIR']}/secrets/edge-certificate.yml"
    proc = subprocess.run(
        ["ansible-playbook", "-i", "lab/inventory/hosts.yml", "lab/playbooks/gateway_config.yml", "-e", f"@{secrets}",
         *args],
        capture_output=True, text=True, timeout=600, cwd=ROOT, env=env,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-2000:]
    return proc.stdout + proc.stderr


def recap_changed(out):
    return sum(int(m) for m in re.findall(r"^\S+\s+: ok=\d+\s+changed=(\d+)", out, re.MULTILINE))


def edge_ip():
    state = pathlib.Path(os.environ.get("APIM_TESTBED_HOME", "/var/lib/apim-testbed"), "lab")
    return json.loads((state / "edges.json").read_text())["lab-edge-1"]


def https(env, path):
    """(HTTP status, body) of curl --resolve with the lab's CA, as a client of the API would call it."""
    fakes_json = json.loads(pathlib.Path(env["LAB_STATE_DIR"], "fakes.json").read_text())
    proc = subprocess.run(
        ["curl", "-s", "--max-time", "10", "--resolve", f"{HOSTNAME}:443:{edge_ip()}", "--cacert",
         fakes_json["ca_file"], "-w", "\n%{http_code}", f"https://{HOSTNAME}{path}"],
        capture_output=True, text=True, timeout=30, check=False,
    )  # fmt: skip
    body, _sep, status = proc.stdout.rpartition("\n")
    return (int(status) if status.isdigit() else None), body


def served_thumbprint():
    ctx = ssl.create_default_context()
    ctx.check_hostname, ctx.verify_mode = False, ssl.CERT_NONE
    with (
        socket.create_connection((edge_ip(), 443), timeout=10) as raw,
        ctx.wrap_socket(raw, server_hostname=HOSTNAME) as s,
    ):
        der = s.getpeercert(binary_form=True)
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes

    return x509.load_der_x509_certificate(der).fingerprint(hashes.SHA1()).hex().upper()  # noqa: S303


def uploaded_thumbprint(env):
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.serialization import pkcs12

    secrets = pathlib.Path(env["LAB_STATE_DIR"], "secrets")
    password = re.search(r"lab_edge_pfx_password: (\S+)", (secrets / "edge-certificate.yml").read_text())[1]
    _key, cert, _extra = pkcs12.load_key_and_certificates((secrets / "edge.pfx").read_bytes(), password.encode())
    return cert.fingerprint(hashes.SHA1()).hex().upper(), password  # noqa: S303


def arm_writes(env):
    ready = json.loads(pathlib.Path(env["LAB_STATE_DIR"], "arm", "ready").read_text())
    ctx = ssl.create_default_context(cafile=str(pathlib.Path(env["LAB_STATE_DIR"], "arm", "ca.pem")))
    with urllib.request.urlopen(ready["url"] + "/_fake/requests", context=ctx, timeout=10) as resp:  # noqa: S310
        return [r for r in json.loads(resp.read())["value"] if r["kind"] == "arm" and r["method"] in ("PUT", "DELETE")]


def until(predicate, timeout=40):
    deadline = time.monotonic() + timeout
    while not predicate() and time.monotonic() < deadline:
        time.sleep(2)
    return predicate()


def gateway_configuration_path():
    env = lab_env()
    thumbprint, password = uploaded_thumbprint(env)
    assert served_thumbprint() == thumbprint
    status, body = https(env, "/echo/hello")
    assert status == 200 and json.loads(body)["backend"] == "lab-backend-1"
    assert https(env, "/orders/list")[0] == 404  # orders exists in the instance, not associated with the gateway

    # Check mode with a change: reported, nothing written to Azure, still served.
    writes = len(arm_writes(env))
    out = gateway_config(env, "--check", "--diff", "-e", '{"gateway_config_apis": []}')
    assert recap_changed(out) >= 1 and len(arm_writes(env)) == writes
    assert https(env, "/echo/hello")[0] == 200

    # -vvv: no password, no PFX content, no key.
    pfx = base64.b64encode(pathlib.Path(env["LAB_STATE_DIR"], "secrets", "edge.pfx").read_bytes()).decode()
    out = gateway_config(env, "-vvv")
    assert recap_changed(out) == 0
    for secret in (password, pfx[:40], env["AZURE_SECRET"]):
        assert secret not in out

    # Removing the association stops serving the API (the gateway polls the Configuration API).
    out = gateway_config(env, "-e", '{"gateway_config_apis": []}')
    assert recap_changed(out) >= 2  # the association removed, the Configuration API fake told
    assert until(lambda: https(env, "/echo/hello")[0] == 404), https(env, "/echo/hello")

    # Back to the lab as `up` left it (the event tests that follow send traffic to /echo).
    out = gateway_config(env)
    assert recap_changed(out) >= 2
    assert until(lambda: https(env, "/echo/hello")[0] == 200), https(env, "/echo/hello")
