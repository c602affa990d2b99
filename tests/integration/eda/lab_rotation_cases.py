"""Event Grid to Event-Driven Ansible in the lab, end to end, under load.

The lab (`lab/lab.sh up`: the fake ARM with Event Grid, the Configuration API fake, two edge hosts running the gateway
with a token for lab-gw) gets a load balancer in front of its two gateways and steady traffic through it. The
rulebook apim.selfhosted.gateway_token_events runs under the real ansible-rulebook with the event source on HTTPS;
apim.selfhosted.event_subscription subscribes it to the instance (the fake Event Grid validates it). Then:

- a GatewayTokenNearExpiry event for lab-gw that Event Grid delivers rotates the token on both hosts through
  apim.selfhosted.rotate_token, with no failed request; the time from the delivery to the last host serving with
  the new token is measured (figure EDA_ROTATION);
- an event for another gateway runs the rotation but changes no host (apim_gateway);
- the same event delivered again (Event Grid delivers at least once) is dropped by the source: no run, no change;
- an unauthenticated and a malformed delivery are refused with a log line and start nothing.

The tests run inside tests/integration/lab/test_lab.py, between its `up` and its `down` (one lab, one lock, one
xdist worker); `the_lab` here is for running this file alone (it brings the lab up when it is not, and down again
afterwards in that case).
"""

import contextlib
import fcntl
import json
import os
import pathlib
import shlex
import shutil
import ssl
import subprocess
import sys
import threading
import time
import urllib.request
import uuid

import jinja2
import pytest
import requests

from apim_testkit.fake_arm.eventgrid import token_event
from apim_testkit.rulebook import Rulebook, free_port, tls_files

pytestmark = pytest.mark.docker

ROOT = pathlib.Path(__file__).resolve().parents[3]
FIXTURES = ROOT / "tests" / "fixtures"
LAB = ROOT / "lab" / "lab.sh"
HOSTS = ("lab-edge-1", "lab-edge-2")
ARM = "https://127.0.0.1:18443"
STATUS_PATH = "/status-0123456789abcdef"
LB = "eda-lab-lb"
SUBSCRIPTION = "gateway-token-events"
SECRET = "eda-" + uuid.uuid4().hex
PLAY_START = r"PLAY \[Plan the rotation and validate every host"
DONE = {}  # what the rotation test did, for the replay test


def sh(*cmd, check=True, timeout=120, **kw):
    return subprocess.run(cmd, check=check, capture_output=True, text=True, timeout=timeout, **kw)


def lab(cmd, timeout=1500):
    proc = sh("bash", str(LAB), cmd, check=False, timeout=timeout, cwd=ROOT, env={**os.environ, "LAB_LOCKED": "1"})
    assert proc.returncode == 0, f"lab {cmd} failed:\n{(proc.stdout + proc.stderr)[-5000:]}"


def lab_env():
    out = sh(sys.executable, str(ROOT / "lab" / "lab.py"), "env").stdout
    env = {}
    for line in out.splitlines():
        key, _, value = line.removeprefix("export ").partition("=")
        env[key] = shlex.split(value)[0] if value else ""
    return env


def arm_admin(env, path, body):
    ctx = ssl.create_default_context(cafile=f"{env['LAB_STATE_DIR']}/arm/ca.pem")
    req = urllib.request.Request(  # noqa: S310 - the lab's fake ARM on 127.0.0.1
        ARM + path, data=json.dumps(body).encode(), method="POST", headers={"Content-Type": "application/json"}
    )
    with urllib.request.urlopen(req, timeout=120, context=ctx) as resp:  # noqa: S310
        raw = resp.read()
    return json.loads(raw) if raw else {}


def host_exec(host, *cmd, check=True):
    return sh("docker", "exec", host, *cmd, check=check, timeout=60)


def running(host):
    """(container id, the token of the running gateway container, the status path's answer) of one edge host."""
    out = host_exec(host, "docker", "inspect", "apim-gateway", check=False)
    if out.returncode != 0:
        return None, None, None
    info = json.loads(out.stdout)[0]
    env = dict(e.split("=", 1) for e in info["Config"]["Env"] if "=" in e)
    token = env.get("config.service.auth.key") if env.get("config.service.auth") == "key" else env.get(
        "config.service.auth")  # fmt: skip
    code = host_exec(
        host, "curl", "-s", "-o", "/dev/null", "-w", "%{http_code}", "--max-time", "3",
        f"http://127.0.0.1{STATUS_PATH}", check=False,
    ).stdout.strip()  # fmt: skip
    return info["Id"], token, code


def ip_of(name):
    return sh(
        "docker", "inspect", "-f", '{{ (index .NetworkSettings.Networks "apim-testnet").IPAddress }}', name
    ).stdout.strip()


@pytest.fixture(scope="module")
def the_lab(docker_engine, edge_image):
    with open(LAB) as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # no other lab.sh between our up and down
        was_up = sh(sys.executable, str(ROOT / "lab" / "lab.py"), "check", check=False).returncode != 0
        lab("up")
        try:
            yield lab_env()
        finally:
            if not was_up:
                lab("down", timeout=600)


@pytest.fixture(scope="module")
def balancer(the_lab, tmp_path_factory):
    """haproxy in front of both gateways, with health checks on the status path (as the fleet scenario has it)."""
    folder = tmp_path_factory.mktemp("lb")
    os.chmod(folder, 0o755)  # noqa: S103 - haproxy in its container reads it
    template = jinja2.Template((FIXTURES / "fleet" / "haproxy.cfg.j2").read_text(), keep_trailing_newline=True)
    backends = [{"name": h, "ip": ip_of(h)} for h in HOSTS]
    (folder / "haproxy.cfg").write_text(template.render(fleet_status_path=STATUS_PATH, fleet_backends=backends))
    os.chmod(folder / "haproxy.cfg", 0o644)
    sh("docker", "rm", "-f", LB, check=False)
    sh(
        "docker", "run", "-d", "--name", LB, "--label", "io.apim.eda=lab", "--network", "apim-testnet",
        "-v", f"{folder}:/fleet:ro", os.environ.get("APIM_NET_IMAGE", "apim-testbed/netfixtures:bookworm"),
        "haproxy", "-db", "-f", "/fleet/haproxy.cfg",
    )  # fmt: skip
    try:
        address = ip_of(LB)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            with contextlib.suppress(OSError):
                with urllib.request.urlopen(f"http://{address}/echo/ready", timeout=3) as r:
                    if r.status == 200:
                        break
            time.sleep(0.5)
        else:
            pytest.fail("the load balancer never answered through the gateways")
        yield address
    finally:
        sh("docker", "rm", "-f", LB, check=False)


@contextlib.contextmanager
def load(address, folder):
    """Bounded traffic through the load balancer while the block runs; the loadgen summary lands in the dict."""
    out, stop = folder / f"load-{uuid.uuid4().hex[:6]}.json", folder / "load.stop"
    stop.unlink(missing_ok=True)
    subnet = sh("docker", "network", "inspect", "-f", "{{ (index .IPAM.Config 0).Subnet }}", "apim-testnet").stdout
    proc = subprocess.Popen(
        [sys.executable, str(FIXTURES / "fleet" / "loadgen.py"), "--url", f"http://{address}/echo",
         "--allow-cidr", subnet.strip(), "--rate", "20", "--max-seconds", "900", "--max-requests", "20000",
         "--out", str(out), "--stop-file", str(stop)],
    )  # fmt: skip
    result = {}
    try:
        time.sleep(1.5)
        yield result
        time.sleep(2.0)
    finally:
        stop.touch()
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    result.update(json.loads(out.read_text()))


@pytest.fixture(scope="module")
def eda(the_lab, tmp_path_factory):
    """The rulebook with the source on HTTPS, and the Event Grid subscription that delivers to it."""
    tmp = tmp_path_factory.mktemp("eda")
    ca, _, cert, key = tls_files(str(tmp))
    inventory = tmp / "inventory"
    shutil.copytree(ROOT / "lab" / "inventory", inventory)
    # Where each gateway host's gateway resource lives (docs/token-rotation.md), here in the fake ARM.
    (inventory / "group_vars" / "gateways" / "rotation.yml").write_text(
        "---\nrotate_resource_group: rg-apim\nrotate_service_name: contoso\nrotate_gateway_id: lab-gw\n"
        "rotate_azure_options:\n  resource_manager_endpoint: https://127.0.0.1:18443\n"
        '  authority_host: https://127.0.0.1:18443\n  ca_bundle: "{{ lab_state_dir }}/arm/ca.pem"\n'
    )
    port = free_port()
    (tmp / "vars.yml").write_text(
        f"eventgrid_host: 127.0.0.1\neventgrid_port: {port}\neventgrid_certfile: {cert}\neventgrid_keyfile: {key}\n"
        f"eventgrid_dedupe_file: {tmp}/eventgrid-ids.json\n"
    )
    env = {**the_lab, "EVENTGRID_SHARED_SECRET": SECRET, "ANSIBLE_CONFIG": str(ROOT / "lab" / "ansible.cfg")}
    book = Rulebook("apim.selfhosted.gateway_token_events", inventory, tmp / "vars.yml", env=env, cwd=tmp)
    book.cmd += ["--env-vars", "EVENTGRID_SHARED_SECRET"]
    book.start()
    book.url = f"https://127.0.0.1:{port}/"
    book.ca_file = str(tmp / "ca.pem")
    try:
        arm_admin(the_lab, "/_fake/eventgrid/trust", {"ca_pem": ca.cert_pem.bytes().decode()})
        play = tmp / "subscribe.yml"
        play.write_text(f"""
- name: Subscribe the Event-Driven Ansible source to the gateway token events of contoso
  hosts: localhost
  gather_facts: false
  tasks:
    - name: The event subscription
      apim.selfhosted.event_subscription:
        resource_group: rg-apim
        service_name: contoso
        name: {SUBSCRIPTION}
        endpoint_url: {book.url}
        shared_secret: "{{{{ lookup('ansible.builtin.env', 'EVENTGRID_SHARED_SECRET') }}}}"
        resource_manager_endpoint: https://127.0.0.1:18443
        authority_host: https://127.0.0.1:18443
        ca_bundle: "{{{{ lab_state_dir }}}}/arm/ca.pem"
""")
        proc = sh(
            "ansible-playbook", "-i", str(inventory), str(play), check=False, timeout=300, env={**os.environ, **env}
        )
        assert proc.returncode == 0 and "changed=1" in proc.stdout, proc.stdout[-3000:] + proc.stderr[-2000:]
        assert SECRET not in proc.stdout + proc.stderr
        book.wait_for("answered the subscription validation handshake")
        yield book
    finally:
        book.stop()


def topic(env):
    sub = env["AZURE_SUBSCRIPTION_ID"]
    return f"/subscriptions/{sub}/resourceGroups/rg-apim/providers/Microsoft.ApiManagement/service/contoso"


class Watch:
    """Per host, when its running gateway first served (status 200) with a token other than ``old``."""

    def __init__(self, old):
        self.old, self.at, self.token = old, {}, {}
        self.stop = threading.Event()
        self.threads = [threading.Thread(target=self._run, args=(h,), daemon=True) for h in HOSTS]
        for t in self.threads:
            t.start()

    def _run(self, host):
        while not self.stop.is_set() and host not in self.at:
            _, token, code = running(host)
            if token and token != self.old[host] and code == "200":
                self.at[host], self.token[host] = time.monotonic(), token
            time.sleep(0.3)

    def wait(self, timeout):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and len(self.at) < len(HOSTS):
            time.sleep(0.5)
        self.stop.set()


def test_near_expiry_event_rotates_lab_gw_under_load(the_lab, balancer, eda, tmp_path):
    before = {h: running(h) for h in HOSTS}
    assert all(b[2] == "200" for b in before.values()), before
    since = eda.mark()
    # Each instance of lab-gw reports its token: two events, one rotation.
    event = token_event(topic(the_lab), "lab-gw", "lab-edge-1")
    twin = token_event(topic(the_lab), "lab-gw", "lab-edge-2")
    with load(balancer, tmp_path) as traffic:
        watch = Watch({h: before[h][1] for h in HOSTS})
        t0 = time.monotonic()
        results = arm_admin(the_lab, "/_fake/eventgrid/publish", {"events": [event, twin]})["value"]
        assert [(r["delivered"], r["attempts"]) for r in results] == [(True, [200])] * 2, results
        queued_at, _ = eda.wait_for(rf"queued event {event['id']} Microsoft.ApiManagement.GatewayTokenNearExpiry "
                                    r"for gateway lab-gw", since=since)  # fmt: skip
        started_at, _ = eda.wait_for(PLAY_START, since=since, timeout=60)
        watch.wait(timeout=600)
        eda.wait_for(r"PLAY RECAP", since=since, timeout=300)
    after = {h: running(h) for h in HOSTS}
    assert set(watch.at) == set(HOSTS), f"not every host serves a new token:\n{eda.text(since)}"
    assert len({a[1] for a in after.values()}) == 1, "both hosts of lab-gw share the new token"
    assert all(a[1] != before[h][1] and a[0] != before[h][0] for h, a in after.items())
    assert traffic["failed"] == 0, traffic["failures"]
    assert len(eda.matching(PLAY_START, since)) == 1
    assert not eda.matching(r"failed=[1-9]|unreachable=[1-9]", since), eda.text(since)
    assert SECRET not in eda.text(since)
    for token in {a[1] for a in after.values()} | {b[1] for b in before.values()}:
        assert token.removeprefix("GatewayKey ").split("&")[2] not in eda.text(since)
    figures = {
        "delivery_to_last_host_s": round(max(watch.at.values()) - t0, 1),
        "delivery_to_first_host_s": round(min(watch.at.values()) - t0, 1),
        "delivery_to_queue_s": round(queued_at - t0, 2),
        "delivery_to_playbook_start_s": round(started_at - t0, 1),
        "requests": traffic["requests"],
        "failed": traffic["failed"],
    }
    print("\nEDA_ROTATION " + json.dumps(figures, sort_keys=True))
    DONE["event"] = event


def test_other_gateway_changes_nothing(the_lab, eda):
    before = {h: running(h) for h in HOSTS}
    since = eda.mark()
    event = token_event(topic(the_lab), topic(the_lab) + "/gateways/other-gw", "edge-9")
    (result,) = arm_admin(the_lab, "/_fake/eventgrid/publish", {"events": [event]})["value"]
    assert result["delivered"]
    eda.wait_for(PLAY_START, since=since, timeout=60)
    eda.wait_for(r"PLAY RECAP", since=since, timeout=300)
    assert eda.matching(r"not a host of gateway other-gw", since), eda.text(since)
    assert {h: running(h) for h in HOSTS} == before


def test_replayed_event_changes_nothing(the_lab, eda):
    done = DONE
    before = {h: running(h) for h in HOSTS}
    since = eda.mark()
    (result,) = arm_admin(the_lab, "/_fake/eventgrid/publish", {"events": [done["event"]]})["value"]
    assert result["delivered"] and result["attempts"] == [200]
    eda.wait_for(rf"dropped duplicate event {done['event']['id']} ", since=since)
    time.sleep(5)
    assert not eda.matching(r"PLAY \[", since), eda.text(since)
    assert {h: running(h) for h in HOSTS} == before


def test_unauthenticated_or_malformed_delivery_starts_nothing(the_lab, eda):
    before = {h: running(h) for h in HOSTS}
    since = eda.mark()
    event = token_event(topic(the_lab), "lab-gw", "lab-edge-2")
    r = requests.post(eda.url, json=[event], verify=eda.ca_file, timeout=20)
    assert r.status_code == 401
    r = requests.post(eda.url, params={"code": "not-it"}, json=[event], verify=eda.ca_file, timeout=20)
    assert r.status_code == 401
    r = requests.post(eda.url, params={"code": SECRET}, data=b"[{broken", verify=eda.ca_file, timeout=20)
    assert r.status_code == 400
    bad = dict(event, data={"gatewayInfo": {"gatewayId": "lab-gw"}})
    r = requests.post(eda.url, params={"code": SECRET}, json=[bad], verify=eda.ca_file, timeout=20)
    assert r.status_code == 400
    eda.wait_for(r"WARNING .*refused POST / from 127\.0\.0\.1: no shared secret", since=since)
    eda.wait_for(r"WARNING .*refused POST / from 127\.0\.0\.1: wrong shared secret", since=since)
    eda.wait_for(r"WARNING .*refused POST / from 127\.0\.0\.1: malformed delivery: the body is not JSON", since=since)
    eda.wait_for(r"WARNING .*refused POST / .*malformed delivery: event 1 of 1 \(.*\): data.tokenInfo is missing",
                 since=since)  # fmt: skip
    time.sleep(5)
    assert not eda.matching(r"PLAY \[|queued event", since), eda.text(since)
    assert {h: running(h) for h in HOSTS} == before
    assert SECRET not in eda.text(since)
