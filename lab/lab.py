"""The lab's stand-ins for Azure and for edge VMs: start them (idempotently), describe them, remove them.

lab/lab.sh calls this with the test bed's Python; the playbooks it runs afterwards are the collection's own.

    python3 lab/lab.py up      fake ARM (process), Configuration API fake + backend, edge hosts; writes the
                               addresses file of the inventory. Parts that already run are kept as they are.
    python3 lab/lab.py env     shell exports: the Azure credential (the names an AWX/AAP Azure credential
                               injects) and LAB_STATE_DIR
    python3 lab/lab.py show    where the gateway answers, and one API call through it (run and printed)
    python3 lab/lab.py down    remove everything `up` started, and the lab's state
    python3 lab/lab.py check   exit 0 when nothing of the lab is left (the test of `down`)

State: $LAB_STATE_DIR (default $APIM_TESTBED_HOME/lab, i.e. /var/lib/apim-testbed/lab), mode 0700.
"""

import argparse
import json
import os
import pathlib
import secrets
import shlex
import shutil
import signal
import ssl
import subprocess
import sys
import time
import urllib.error
import urllib.request

from apim_testkit import edgefleet
from apim_testkit.gateway_sim import fakes

ROOT = pathlib.Path(__file__).resolve().parents[1]
HOME = os.environ.get("APIM_TESTBED_HOME", "/var/lib/apim-testbed")
STATE = pathlib.Path(os.environ.get("LAB_STATE_DIR") or f"{HOME}/lab")
ARM_DIR = STATE / "arm"
FAKES_DIR = STATE / "fakes"
SECRETS_DIR = STATE / "secrets"
FAKES_JSON = STATE / "fakes.json"
# Derived from the fakes' state: dropped whenever the fake they came from is (re)started.
TOKEN_FILE = SECRETS_DIR / "gateway-token.yml"
KEYS_MARKER = STATE / "confapi-keys.sha256"
EDGE_PFX = SECRETS_DIR / "edge.pfx"  # issued by the fakes' CA
EDGE_SECRETS = SECRETS_DIR / "edge-certificate.yml"  # its password, as extra vars

INVENTORY = ROOT / "lab" / "inventory"
ADDRESSES = INVENTORY / "group_vars" / "gateways" / "addresses.yml"

NAME = "lab"  # fakes.py name: containers lab-confapi, lab-backend-1 (label io.apim.fakes=lab)
LABEL = "io.apim.lab"  # edge hosts
EDGE_HOSTS = ("lab-edge-1", "lab-edge-2")
# The values of lab/inventory/host_vars/localhost.yml: fixed, so that the inventory is a readable example.
ARM_PORT = 18443
ARM_URL = f"https://127.0.0.1:{ARM_PORT}"
TENANT_ID = "7a1b0c2d-3e4f-4a5b-8c6d-7e8f9a0b1c2d"
SUBSCRIPTION_ID = "5c3d2e1f-0a9b-4c8d-9e7f-6a5b4c3d2e1f"
RESOURCE_GROUP = "rg-apim"
SERVICE = "contoso"
GATEWAY = "lab-gw"
GATEWAY_APP_CLIENT_ID = "lab-gateway-app"
GATEWAY_APP_PRINCIPAL_ID = "0d6c5b4a-3f2e-4d1c-8b0a-9f8e7d6c5b4a"
# The hostname the gateway serves HTTPS for (host_vars/localhost.yml, gateway_config_hostnames) and the APIs of
# the instance: the gateway serves echo, not orders.
EDGE_HOSTNAME = "api.contoso.test"
APIS = ("echo", "orders")
SIM_IMAGE = os.environ.get("APIM_SIM_IMAGE", "apim-testbed/gateway-sim")


def log(msg):
    print(f"[lab] {msg}", flush=True)


def _write(path, text, mode=0o600):
    """Write ``text`` unless the file already holds it; return True when it was written."""
    path = pathlib.Path(path)
    if path.exists() and path.read_text() == text:
        return False
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    with open(os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode), "w") as fh:
        fh.write(text)
    os.chmod(tmp, mode)
    os.replace(tmp, path)
    return True


def _forget(*paths):
    for p in paths:
        pathlib.Path(p).unlink(missing_ok=True)


# ---- fake ARM (a process on 127.0.0.1) --------------------------------------------------------------------
def _arm_pid():
    try:
        pid = int((ARM_DIR / "pid").read_text())
        cmdline = pathlib.Path(f"/proc/{pid}/cmdline").read_bytes()
    except (OSError, ValueError):
        return None
    return pid if b"fake_arm" in cmdline else None


def _arm_call(method, path, body=None, timeout=10):
    ctx = ssl.create_default_context(cafile=str(ARM_DIR / "ca.pem"))
    data = None if body is None else json.dumps(body).encode()
    headers = {"Content-Type": "application/json"}
    req = urllib.request.Request(ARM_URL + path, data=data, method=method, headers=headers)  # noqa: S310 - https
    with urllib.request.urlopen(req, timeout=timeout, context=ctx) as resp:  # noqa: S310 - https on 127.0.0.1
        raw = resp.read()
    return json.loads(raw) if raw else {}


def _arm_answers():
    try:
        return _arm_call("GET", "/_fake/env", timeout=5)
    except (OSError, ValueError):
        return None


def _stop_arm():
    pid = _arm_pid()
    if not pid:
        return False
    os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and _arm_pid():
        time.sleep(0.2)
    if _arm_pid():
        os.kill(pid, signal.SIGKILL)
    return True


def arm_up():
    pid = _arm_pid()
    if pid and (ARM_DIR / "ready").exists() and _arm_answers():
        log(f"fake ARM + Entra: already running on {ARM_URL} (pid {pid})")
        return False
    _stop_arm()
    ARM_DIR.mkdir(parents=True, exist_ok=True)
    _forget(ARM_DIR / "ready", TOKEN_FILE, KEYS_MARKER)
    logfile = open(ARM_DIR / "log", "ab")
    proc = subprocess.Popen(
        [
            sys.executable, "-m", "apim_testkit.fake_arm", "--port", str(ARM_PORT), "--state-dir", str(ARM_DIR),
            "--tenant-id", TENANT_ID, "--subscription-id", SUBSCRIPTION_ID,
        ],
        stdin=subprocess.DEVNULL, stdout=logfile, stderr=logfile, start_new_session=True,
    )  # fmt: skip
    logfile.close()
    (ARM_DIR / "pid").write_text(str(proc.pid))
    deadline = time.monotonic() + 60
    while not (ARM_DIR / "ready").exists():
        if proc.poll() is not None:
            tail = (ARM_DIR / "log").read_text(errors="replace")[-1500:]
            raise SystemExit(f"the fake ARM exited (is port {ARM_PORT} on 127.0.0.1 in use?):\n{tail}")
        if time.monotonic() > deadline:
            raise SystemExit("the fake ARM did not become ready within 60 s")
        time.sleep(0.2)
    # What exists in Azure before anyone runs the collection: the API Management instance (no identity yet, so
    # rbac.yml enables it) and the Entra app the gateways would sign in as (for the RBAC assignment).
    _arm_call("POST", "/_fake/services", {"name": SERVICE, "resource_group": RESOURCE_GROUP, "identity_delay": 1})
    _arm_call(
        "POST",
        "/_fake/clients",
        {"client_id": GATEWAY_APP_CLIENT_ID, "secret": None, "principal_id": GATEWAY_APP_PRINCIPAL_ID},
    )
    log(f"fake ARM + Entra: started on {ARM_URL} (pid {proc.pid}), instance '{SERVICE}' in {RESOURCE_GROUP}")
    return True


# ---- Configuration API fake + backend (containers on apim-testnet) ----------------------------------------
def _running(names):
    out = fakes.docker("ps", "--filter", "status=running", "--format", "{{.Names}}", check=False).stdout.split()
    return [n for n in names if n in out]


def fakes_up():
    if FAKES_JSON.exists():
        known = json.loads(FAKES_JSON.read_text())
        if len(_running(known["containers"])) == len(known["containers"]):
            try:
                fakes.admin(known["admin_url"])
                log(f"Configuration API fake + backend: already running ({', '.join(known['containers'])})")
                return known
            except OSError:
                pass
    fakes.down(NAME)
    _forget(KEYS_MARKER, EDGE_PFX, EDGE_SECRETS)  # a new CA: the edge certificate is issued again
    info = fakes.up(name=NAME, state_dir=FAKES_DIR, gateways=(GATEWAY,), service=SERVICE)
    _write(FAKES_JSON, json.dumps(info, indent=1))
    names = ", ".join(info["containers"])
    log(f"Configuration API fake + backend: started ({names}), {info['endpoint']} at {info['confapi_ip']}")
    return info


# ---- edge hosts -------------------------------------------------------------------------------------------
def edges_up():
    missing = [n for n in EDGE_HOSTS if n not in _running(EDGE_HOSTS)]
    if missing:
        edgefleet.start(missing, labels=[LABEL])
        log(f"edge hosts: started {', '.join(missing)}")
    kept = [n for n in EDGE_HOSTS if n not in missing]
    if kept:
        log(f"edge hosts: already running {', '.join(kept)}")
    return {n: edgefleet.ip_of(n) for n in EDGE_HOSTS}


def write_addresses(info):
    lines = [
        "---",
        "# Written by `lab/lab.sh up` (do not edit; `lab/lab.sh down` removes it): where the Configuration API",
        "# fake answers on apim-testnet. Its address changes with every start of the fakes. The containers of an",
        "# edge host cannot use Docker's embedded DNS, so the gateway gets the names as /etc/hosts entries.",
        "# Yours: the address of a private Configuration API name, if your DNS does not resolve it.",
        "gateway_extra_hosts:",
        *[f"  {host}: {ip}" for host, ip in sorted(info["extra_hosts"].items())],
        "",
    ]
    return _write(ADDRESSES, "\n".join(lines), 0o644)


def instance_apis(info):
    """The APIs the instance holds before anyone runs the collection (made in the portal, in Azure)."""
    for api in APIS:
        _arm_call(
            "POST",
            "/_fake/apim/apis",
            {
                "service": SERVICE,
                "resource_group": RESOURCE_GROUP,
                "api_id": api,
                "display_name": f"{api.title()} API",
                "path": api,
                "service_url": info["backend_urls"][0] + "/",
            },
        )


def edge_certificate():
    """The PFX for EDGE_HOSTNAME and its password (extra vars), once per CA of the fakes."""
    if EDGE_PFX.exists() and EDGE_SECRETS.exists():
        return False
    SECRETS_DIR.mkdir(parents=True, exist_ok=True)
    os.chmod(SECRETS_DIR, 0o700)
    password = secrets.token_urlsafe(18)
    fakes.issue_pfx(FAKES_DIR, EDGE_HOSTNAME, password, str(EDGE_PFX))
    _write(EDGE_SECRETS, f"---\nlab_edge_pfx_password: {password}\n")
    log(f"edge certificate: {EDGE_HOSTNAME}, issued by the lab's CA ({EDGE_PFX.name}, password in {EDGE_SECRETS.name})")
    return True


def up(_args):
    STATE.mkdir(parents=True, exist_ok=True)
    os.chmod(STATE, 0o700)
    arm_up()
    info = fakes_up()
    instance_apis(info)
    edge_certificate()
    ips = edges_up()
    if write_addresses(info):
        log(f"inventory: wrote {ADDRESSES.relative_to(ROOT)}")
    (STATE / "edges.json").write_text(json.dumps(ips))


def env(_args):
    ready = json.loads((ARM_DIR / "ready").read_text())
    values = {
        # The names AWX/AAP's "Microsoft Azure Resource Manager" credential injects.
        "AZURE_CLIENT_ID": ready["client_id"],
        "AZURE_SECRET": ready["client_secret"],
        "AZURE_TENANT": ready["tenant_id"],
        "AZURE_SUBSCRIPTION_ID": ready["subscription_id"],
        "LAB_STATE_DIR": str(STATE),
    }
    for k, v in values.items():
        print(f"export {k}={shlex.quote(v)}")


def _curl(*args):
    return subprocess.run(
        ["curl", "-s", "--max-time", "10", "-w", "\nHTTP %{http_code}", *args],
        capture_output=True, text=True, timeout=30, check=False,
    )  # fmt: skip


def _answer(cmd, retry):
    """(body, whether it is the backend's answer) for a curl through the gateway, retried up to ``retry`` s."""
    deadline = time.monotonic() + retry
    while True:
        if cmd[0] == "docker":
            proc = subprocess.run(cmd, capture_output=True, text=True, timeout=30, check=False)
            body, status = proc.stdout, "HTTP 200" if proc.returncode == 0 else "failed"
        else:
            proc = _curl(*cmd)
            body, _sep, status = proc.stdout.rpartition("\n")
        try:
            answer = json.loads(body)
            good = status == "HTTP 200" and answer.get("path") == "/hello"
            good = good and answer.get("backend", "").startswith(f"{NAME}-backend")
        except ValueError:
            good = False
        if good or time.monotonic() > deadline:
            return body or proc.stderr or status, good
        time.sleep(2)


def show(_args):
    info = json.loads(FAKES_JSON.read_text())
    ips = {n: edgefleet.ip_of(n) for n in EDGE_HOSTS}
    path = info["api_path"] + "/hello"
    print()
    print(f"The gateway runs on every edge host (a container of {SIM_IMAGE}:2.12.3, loaded from the")
    print(f"tarball {os.environ.get('APIM_IMAGE_CACHE', HOME + '/images')}/gateway-sim-2.12.3.tar: the real image")
    print("mcr.microsoft.com/azure-api-management/gateway cannot be pulled here, the simulator stands in for it).")
    print("It gets its configuration from the Configuration API fake with a token that the fake ARM signed.")
    print()
    for name, ip in ips.items():
        print(
            f"  {name}: http://{ip}/  https://{EDGE_HOSTNAME}/ at {ip}  (status: http://{ip}/status-0123456789abcdef)"
        )
    first, ip = next(iter(ips.items()))
    https = f"https://{EDGE_HOSTNAME}{path}"
    resolve = ["--resolve", f"{EDGE_HOSTNAME}:443:{ip}", "--cacert", info["ca_file"]]
    ok = True
    for label, cmd, retry in (
        (f"docker exec {first} curl -s http://127.0.0.1{path}", ["docker", "exec", first, "curl", "-s",
                                                                "--max-time", "10", f"http://127.0.0.1{path}"], 0),
        (f"curl -s http://{ip}{path}", [f"http://{ip}{path}"], 0),
        # HTTPS with the certificate of the hostname configuration, checked against the lab's CA. The gateway
        # polls the Configuration API every 10 s, so a configuration changed a moment ago may need a retry.
        (f"curl -s --resolve {EDGE_HOSTNAME}:443:{ip} --cacert {info['ca_file']} {https}", [*resolve, https], 30),
    ):  # fmt: skip
        print()
        print(f"$ {label}")
        body, good = _answer(cmd, retry)
        print(body.strip())
        ok = ok and good
    print()
    print(f"The answer comes from the backend {info['backend_urls'][0]} through the gateway's API {info['api_path']}.")
    if not ok:
        raise SystemExit("lab: the API call through the gateway did not get the backend's answer")


def down(_args):
    if _stop_arm():
        log("fake ARM: stopped")
    fakes.down(NAME)
    log("Configuration API fake + backend: removed")
    edgefleet.remove(names=list(EDGE_HOSTS), label=LABEL)
    log("edge hosts: removed")
    if STATE.exists():
        shutil.rmtree(STATE)
        log(f"state: removed {STATE}")
    _forget(ADDRESSES)


def leftovers():
    """What of the lab still exists (empty when `down` left nothing)."""
    left = []
    for label in (LABEL, f"{fakes.LABEL}={NAME}"):
        ids = fakes.docker("ps", "-aq", "--filter", f"label={label}", check=False).stdout.split()
        left += [f"container {i} (label {label})" for i in ids]
    names = fakes.docker("ps", "-a", "--format", "{{.Names}}", check=False).stdout.split()
    left += [f"container {n}" for n in names if n in EDGE_HOSTS or n.startswith(f"{NAME}-")]
    for pid in os.listdir("/proc"):
        if pid.isdigit():
            try:
                cmd = pathlib.Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
            except OSError:
                continue
            if b"fake_arm" in cmd and str(ARM_PORT).encode() in cmd:
                left.append(f"fake ARM process {pid}")
    for p in (STATE, ADDRESSES):
        if p.exists():
            left.append(f"path {p}")
    return left


def check(_args):
    left = leftovers()
    for item in left:
        print(f"left over: {item}")
    raise SystemExit(1 if left else 0)


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("cmd", choices=["up", "env", "show", "down", "check"])
    args = p.parse_args(argv)
    {"up": up, "env": env, "show": show, "down": down, "check": check}[args.cmd](args)


if __name__ == "__main__":
    main()
