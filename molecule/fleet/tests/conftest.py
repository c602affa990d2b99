"""Drive the fleet playbooks against Molecule's three edge hosts, with load through the load balancer.

The inventory is Molecule's (its group_vars read ``fleet_vars.yml`` in the ephemeral directory, see
molecule.yml); a test changes "the inventory" by rewriting that file, as an operator changes group_vars.
"""

import contextlib
import datetime as dt
import hashlib
import json
import os
import re
import subprocess
import sys
import time
import urllib.request

import pytest
import yaml

SCENARIO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
REPO = os.path.dirname(os.path.dirname(SCENARIO))
FIXTURES = os.path.join(REPO, "tests", "fixtures")

HOSTS = ("apim-fleet-1", "apim-fleet-2", "apim-fleet-3")
CONTAINER = "apim-gateway"
ENV_FILE = f"/etc/apim-gateway/{CONTAINER}.env"
BACKUP_DIR = f"/var/lib/apim-gateway/{CONTAINER}"
STATUS_URL = "http://127.0.0.1:80/status-0123456789abcdef"
LOADGEN = os.path.join(FIXTURES, "fleet", "loadgen.py")
FIGURES = {}


def ephemeral():
    return os.environ["MOLECULE_EPHEMERAL_DIRECTORY"]


def fleet():
    """What prepare.yml learnt: host addresses, LB and DNS addresses, the fakes."""
    with open(os.path.join(ephemeral(), "fleet.json")) as fh:
        return json.load(fh)


def fleet_vars():
    with open(os.path.join(ephemeral(), "fleet_vars.yml")) as fh:
        return yaml.safe_load(fh)


def update_fleet_vars(**changes):
    """Change the inventory (fleet_vars.yml), as an operator edits group_vars or the vault."""
    data = {**fleet_vars(), **changes}
    path = os.path.join(ephemeral(), "fleet_vars.yml")
    with open(os.open(path + ".tmp", os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600), "w") as fh:
        yaml.safe_dump(data, fh)
    os.replace(path + ".tmp", path)


def write_json(name, data):
    path = os.path.join(ephemeral(), name)
    with open(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600), "w") as fh:
        json.dump(data, fh)
    return path


def write_inventory(name, hostvars):
    """An extra YAML inventory that adds host variables (merged over Molecule's inventory)."""
    path = os.path.join(ephemeral(), name)
    data = {"gateways": {"hosts": {h: v for h, v in hostvars.items()}}}
    with open(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600), "w") as fh:
        yaml.safe_dump(data, fh)
    return path


def playbook(name, extra=None, args=(), inventories=(), timeout=900):
    """Run apim.selfhosted.<name> as an operator does; return (rc, output without colours, seconds)."""
    cmd = ["ansible-playbook", "-i", os.path.join(ephemeral(), "inventory")]
    for inv in inventories:
        cmd += ["-i", inv]
    cmd.append(f"apim.selfhosted.{name}")
    if extra:
        cmd += ["-e", "@" + write_json(f"extra-{name}.json", extra)]
    env = {
        **os.environ,
        "ANSIBLE_NOCOLOR": "1",
        "ANSIBLE_FORCE_COLOR": "0",
        "ANSIBLE_PIPELINING": "true",
        "ANSIBLE_STDOUT_CALLBACK": "ansible.builtin.default",
        "ANSIBLE_RETRY_FILES_ENABLED": "0",
    }
    t0 = time.monotonic()
    proc = subprocess.run([*cmd, *args], capture_output=True, text=True, timeout=timeout, env=env)
    out = re.sub(r"\x1b\[[0-9;]*m", "", proc.stdout + proc.stderr)
    return proc.returncode, out, round(time.monotonic() - t0, 1)


def recap(output):
    """{host: {ok, changed, failed, ...}} from the PLAY RECAP."""
    found = {}
    for line in output.splitlines():
        m = re.match(r"^(\S+)\s+:\s+(ok=.*)$", line)
        if m and m.group(1) in HOSTS:
            found[m.group(1)] = {k: int(v) for k, v in (p.split("=") for p in m.group(2).split())}
    return found


def host_exec(host, *cmd, check=True, timeout=120, input=None):
    return subprocess.run(
        ["docker", "exec", "-i", host, *cmd], check=check, capture_output=True, text=True, timeout=timeout, input=input
    )


def inspect(host, name=CONTAINER):
    out = host_exec(host, "docker", "inspect", name, check=False)
    return json.loads(out.stdout)[0] if out.returncode == 0 else None


def status_code(host):
    out = host_exec(
        host, "curl", "-s", "-o", "/dev/null", "-w", "%{http_code}", "--max-time", "5", STATUS_URL, check=False
    )
    return out.stdout.strip()


def wait_status(host, code="200", timeout=60):
    deadline = time.monotonic() + timeout
    seen = None
    while time.monotonic() < deadline:
        seen = status_code(host)
        if seen == code:
            return seen
        time.sleep(1)
    return seen


def env_file(host):
    text = host_exec(host, "cat", ENV_FILE).stdout
    return dict(line.split("=", 1) for line in text.splitlines() if "=" in line)


def env_sha(host):
    out = host_exec(host, "sha256sum", ENV_FILE, check=False)
    return out.stdout.split()[0] if out.returncode == 0 else None


def running_token(host):
    env = env_file(host)
    return env["config.service.auth.key"] if env.get("config.service.auth") == "key" else env["config.service.auth"]


def token_expiry(token):
    field = token.removeprefix("GatewayKey ").split("&")[1]
    return dt.datetime.strptime(field, "%Y%m%d%H%M").replace(tzinfo=dt.timezone.utc)


def secret_parts(token):
    """The parts of a token that must never be printed: the signature (and the whole value)."""
    bare = token.removeprefix("GatewayKey ")
    return [bare, bare.split("&")[2]]


def container_ids():
    return {h: (inspect(h) or {}).get("Id") for h in HOSTS}


def sign(days, gateway_id="gw-edge", key=None):
    from apim_testkit.gateway_sim.apimsim import token as simtoken

    key = key or fleet()["fakes"]["gateway_key"]
    expiry = dt.datetime.now(dt.timezone.utc) + dt.timedelta(days=days)
    return "GatewayKey " + simtoken.sign(gateway_id, expiry, key)


def confapi_state():
    with urllib.request.urlopen(fleet()["fakes"]["admin_url"] + "/admin/state", timeout=10) as resp:  # noqa: S310 - the fake's admin URL on apim-testnet
        return json.loads(resp.read())


def lb_log(since):
    out = subprocess.run(
        ["docker", "logs", "--since", since, "apim-fleet-lb"], capture_output=True, text=True, timeout=60, check=False
    )
    return (out.stdout + out.stderr).splitlines()


def lb_retried(lines):
    """Requests that the load balancer retried or redispatched (the retries field of its HTTP log)."""
    count = 0
    for line in lines:
        m = re.search(r" [-A-Za-z]{4} \d+/\d+/\d+/\d+/(\+?)(\d+) ", line)
        if m and (m.group(1) or m.group(2) != "0"):
            count += 1
    return count


@contextlib.contextmanager
def load(name, rate=40, max_seconds=600, max_requests=40000):
    """Bounded load through the load balancer for the duration of the block; the summary lands in the dict."""
    f = fleet()
    out = os.path.join(ephemeral(), f"load-{name}.json")
    stop = os.path.join(ephemeral(), f"load-{name}.stop")
    for path in (out, stop):
        if os.path.exists(path):
            os.unlink(path)
    subnet = subprocess.run(
        ["docker", "network", "inspect", "-f", "{{ (index .IPAM.Config 0).Subnet }}", f["network"]],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    since = dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S")
    proc = subprocess.Popen(
        [
            sys.executable,
            LOADGEN,
            "--url",
            f"http://{f['lb_ip']}/echo",
            "--allow-cidr",
            subnet,
            "--rate",
            str(rate),
            "--max-seconds",
            str(max_seconds),
            "--max-requests",
            str(max_requests),
            "--out",
            out,
            "--stop-file",
            stop,
        ]
    )
    result = {}
    try:
        time.sleep(1.5)  # traffic flows before the change starts
        yield result
        time.sleep(2.0)  # and after it ends
    finally:
        with open(stop, "w"):
            pass
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    with open(out) as fh:
        result.update(json.load(fh))
    result["lb_retried"] = lb_retried(lb_log(since))


def figure(name, **values):
    """Record and print a figure for the report (visible with pytest -s, Molecule's verify output)."""
    FIGURES[name] = values
    print(f"\nFLEET FIGURE {name}: " + json.dumps(values, sort_keys=True))


def load_figure(name, result, **values):
    """A figure of a run under load: the load generator's summary plus the run's own values."""
    keys = ("requests", "failed", "failures", "lb_retried", "latency_ms")
    figure(name, **{k: result[k] for k in keys}, **values)


@pytest.fixture(scope="session", autouse=True)
def _print_figures():
    yield
    if FIGURES:
        print("\nFLEET FIGURES " + json.dumps(FIGURES, sort_keys=True))
        write_json("fleet_figures.json", FIGURES)


def sha256(text):
    return hashlib.sha256(text.encode()).hexdigest()
