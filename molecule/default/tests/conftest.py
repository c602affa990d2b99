"""Drive ansible-playbook against Molecule's edge host, and read the gateway's state from the host."""

import base64
import datetime as dt
import hashlib
import json
import os
import re
import subprocess
import time

import pytest
import yaml

SCENARIO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
REPO = os.path.dirname(os.path.dirname(SCENARIO))

HOST = "apim-gw-edge-1"
CONTAINER = "apim-gateway"
ENV_FILE = f"/etc/apim-gateway/{CONTAINER}.env"
STATUS_URL = "http://127.0.0.1:80/status-0123456789abcdef"


def ephemeral():
    return os.environ["MOLECULE_EPHEMERAL_DIRECTORY"]


def gateway_vars():
    with open(os.path.join(ephemeral(), "gateway_vars.yml")) as fh:
        return yaml.safe_load(fh)


def host_exec(*cmd, check=True, timeout=120):
    return subprocess.run(["docker", "exec", HOST, *cmd], check=check, capture_output=True, text=True, timeout=timeout)


def playbook(extra=None, args=(), timeout=600):
    """Run converge.yml with extra vars; return (rc, combined output)."""
    cmd = ["ansible-playbook", "-i", os.path.join(ephemeral(), "inventory"), os.path.join(SCENARIO, "converge.yml")]
    if extra:
        path = os.path.join(ephemeral(), "extra_vars.json")
        with open(path, "w") as fh:
            json.dump(extra, fh)
        os.chmod(path, 0o600)
        cmd += ["-e", "@" + path]
    env = {**os.environ, "ANSIBLE_NOCOLOR": "1", "ANSIBLE_FORCE_COLOR": "0"}
    proc = subprocess.run([*cmd, *args], capture_output=True, text=True, timeout=timeout, env=env)
    return proc.returncode, re.sub(r"\x1b\[[0-9;]*m", "", proc.stdout + proc.stderr)


def recap(output):
    line = next(ln for ln in output.splitlines() if ln.startswith(HOST) and "ok=" in ln)
    return {k: int(v) for k, v in (part.split("=") for part in line.split(":", 1)[1].split())}


def converged_token():
    """The converged token as the gateway reads it (the role adds the prefix to a bare value)."""
    token = gateway_vars()["gateway_token"]
    return token if token.startswith("GatewayKey ") else "GatewayKey " + token


def new_token(days=20, gateway_id=None):
    """A token the Configuration API fake accepts when it gave us its key; else the right shape only."""
    v = gateway_vars()
    gateway_id = gateway_id or v.get("molecule_gateway_id", "gw-edge")
    expiry = dt.datetime.now(dt.timezone.utc) + dt.timedelta(days=days)
    key = v.get("molecule_gateway_key")
    if key:
        from apim_testkit.gateway_sim.apimsim import token as simtoken

        return "GatewayKey " + simtoken.sign(gateway_id, expiry, key)
    sig = base64.b64encode(os.urandom(64)).decode()
    return f"GatewayKey {gateway_id}&{expiry.strftime('%Y%m%d%H%M')}&{sig}"


def status_code():
    out = host_exec("curl", "-s", "-o", "/dev/null", "-w", "%{http_code}", "--max-time", "5", STATUS_URL, check=False)
    return out.stdout.strip()


def wait_status(code="200", timeout=90):
    deadline = time.monotonic() + timeout
    seen = None
    while time.monotonic() < deadline:
        seen = status_code()
        if seen == code:
            return seen
        time.sleep(2)
    return seen


def inspect(name=CONTAINER):
    out = host_exec("docker", "inspect", name, check=False)
    return json.loads(out.stdout)[0] if out.returncode == 0 else None


def containers():
    return host_exec("docker", "ps", "-a", "--format", "{{.Names}}").stdout.split()


def env_file_sha():
    return hashlib.sha256(host_exec("cat", ENV_FILE).stdout.encode()).hexdigest()


def env_file():
    return dict(line.split("=", 1) for line in host_exec("cat", ENV_FILE).stdout.splitlines() if line)


@pytest.fixture
def running_gateway():
    """The converged gateway, serving; returns its id and start time."""
    assert wait_status("200") == "200"
    info = inspect()
    return {"id": info["Id"], "started": info["State"]["StartedAt"], "sha": env_file_sha()}


@pytest.fixture
def converged(running_gateway):
    """Re-converge first (a no-op run when an earlier test left the host converged)."""
    rc, out = playbook()
    assert rc == 0, out
    assert wait_status("200") == "200"
    info = inspect()
    return {"id": info["Id"], "started": info["State"]["StartedAt"], "sha": env_file_sha()}
