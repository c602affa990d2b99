"""The preflight run against real servers on 127.0.0.1: the Configuration API fake over TLS and a CONNECT proxy."""

import json
import os
import socket
import subprocess
import sys
import threading
import time

import pytest
import trustme

from ansible_collections.apim.selfhosted.plugins.module_utils import preflight as gp
from ansible_collections.apim.selfhosted.plugins.module_utils.host_ports import process_command
from ansible_collections.apim.selfhosted.plugins.module_utils.preflight_ports import port_checks
from apim_testkit.preflight.connect_proxy import serve as serve_proxy

HERE = os.path.dirname(os.path.abspath(__file__))
FAKE = os.path.join(HERE, "..", "..", "fixtures", "preflight", "confapi_fake.py")
MODULE = os.path.join(HERE, "..", "..", "..", "plugins", "modules", "gateway_preflight.py")
NAME = "localhost"


def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Fake:
    def __init__(self, tmp, ca, offset=0.0):
        cert = ca.issue_cert(NAME, "127.0.0.1")
        self.cert, self.key = tmp / "cert.pem", tmp / "key.pem"
        cert.cert_chain_pems[0].write_to_path(str(self.cert))
        cert.private_key_pem.write_to_path(str(self.key))
        self.port = free_port()
        cmd = [sys.executable, FAKE, "--cert", str(self.cert), "--key", str(self.key), "--bind", "127.0.0.1"]
        cmd += ["--port", str(self.port), "--date-offset", str(offset)]
        self.proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True)
        self.lines = []
        assert json.loads(self.proc.stdout.readline())["listening"] == self.port
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self):
        for line in self.proc.stdout:
            self.lines.append(json.loads(line))

    def requests(self):
        time.sleep(0.1)
        return [line for line in self.lines if "method" in line]

    def stop(self):
        self.proc.terminate()
        self.proc.wait(10)


@pytest.fixture(scope="module")
def ca():
    return trustme.CA(organization_name="Preflight Lab CA")


@pytest.fixture
def fake(tmp_path, ca):
    server = Fake(tmp_path, ca)
    yield server
    server.stop()


@pytest.fixture
def ca_file(tmp_path, ca):
    path = tmp_path / "ca.pem"
    ca.cert_pem.write_to_path(str(path))
    return str(path)


def runner(args):
    proc = subprocess.run(args, capture_output=True, text=True, check=False)
    return proc.returncode, proc.stdout, proc.stderr


def params(**kw):
    base = {
        "endpoint": "https://localhost:1",
        "auth_mode": "token",
        "authority": "https://login.microsoftonline.com",
        "extra_endpoints": [],
        "https_proxy": "",
        "http_proxy": "",
        "no_proxy": [],
        "extra_hosts": {},
        "ca_bundle": None,
        "ca_bundle_variable": "gateway_preflight_ca_bundle",
        "timeout": 2.0,
        "clock_skew_threshold": 300,
        "ports": [],
        "bind_address": "0.0.0.0",
        "container_name": "apim-gateway",
        "checks": list(gp.ALL_CHECKS),
    }
    base.update(kw)
    return base


def by(checks, check, status=None):
    found = [c for c in checks if c["check"] == check and (status is None or c["status"] == status)]
    assert found, f"no {check} result in {checks}"
    return found[0]


def test_healthy_endpoint_passes_and_sends_no_credentials(fake, ca_file):
    checks, seconds = gp.run(params(endpoint=f"https://{NAME}:{fake.port}", ca_bundle=ca_file), runner)
    assert [c["status"] for c in checks] == ["ok"] * 4, checks
    tls = by(checks, "tls")
    assert tls["details"]["issuer"] == "Preflight Lab CA"
    assert tls["details"]["days_to_expiry"] > 300
    assert abs(by(checks, "clock")["details"]["skew_seconds"]) < 3
    assert by(checks, "clock")["details"]["status_code"] == 401
    assert seconds < 2
    assert fake.requests() == [
        {
            "method": "GET",
            "path": "/",
            "host": f"{NAME}:{fake.port}",
            "authorization": False,
            "user_agent": "apim-selfhosted-preflight",
        }
    ]


def test_unknown_ca_fails_naming_the_variable_and_the_issuer(fake):
    checks, _ = gp.run(params(endpoint=f"{NAME}:{fake.port}"), runner)
    tls = by(checks, "tls")
    assert tls["status"] == "failed"
    assert "'Preflight Lab CA'" in tls["message"] and "does not trust" in tls["message"]
    assert tls["fix"].startswith(
        "set gateway_preflight_ca_bundle to a PEM bundle that contains the CA 'Preflight Lab CA'"
    )
    # The clock is still measured, over an unverified connection that carries nothing secret.
    clock = by(checks, "clock")
    assert clock["status"] == "ok" and clock["details"]["verified"] is False


def test_clock_skew_fails_with_the_measured_difference(tmp_path, ca, ca_file):
    skewed = Fake(tmp_path, ca, offset=-600)
    try:
        checks, _ = gp.run(params(endpoint=f"{NAME}:{skewed.port}", ca_bundle=ca_file), runner)
    finally:
        skewed.stop()
    clock = by(checks, "clock")
    assert clock["status"] == "failed"
    assert 598 <= clock["details"]["skew_seconds"] <= 602
    assert "ahead of the Configuration API's Date" in clock["message"]
    checks, _ = gp.run(params(endpoint=f"{NAME}:{skewed.port}", ca_bundle=ca_file, clock_skew_threshold=900), runner)
    assert by(checks, "clock")["status"] in ("failed", "skipped")  # the fake is gone: no answer, never ok


@pytest.fixture
def black_hole():
    """A port on 127.0.0.1 whose SYNs go unanswered: a listener with a full accept queue, like a DROP rule."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(0)
    filler = socket.create_connection(listener.getsockname(), timeout=2)
    yield listener.getsockname()[1]
    filler.close()
    listener.close()


def test_dropped_port_fails_within_the_timeout(black_hole):
    name = "apim.configuration.azure-api.net"
    t0 = time.monotonic()
    checks, _ = gp.run(params(endpoint=f"{name}:{black_hole}", extra_hosts={name: "127.0.0.1"}, timeout=1.0), runner)
    assert time.monotonic() - t0 < 2.5
    dns = by(checks, "dns")
    assert dns["details"]["source"] == "extra_hosts" and dns["details"]["addresses"] == ["127.0.0.1"]
    tcp = by(checks, "tcp")
    assert tcp["status"] == "failed" and "within 1 s" in tcp["message"]
    assert f"allow outbound TCP {black_hole}" in tcp["fix"]
    assert by(checks, "tls")["status"] == "skipped"


def test_proxy_tunnel_with_credentials(fake, ca_file):
    proxy = serve_proxy(allow_port=[fake.port], user="edge", password="s3cr3t-pw")
    url = f"http://127.0.0.1:{proxy.server_address[1]}"
    try:
        checks, _ = gp.run(params(endpoint=f"{NAME}:{fake.port}", ca_bundle=ca_file, https_proxy=url), runner)
        tcp = by(checks, "tcp")
        assert tcp["status"] == "failed" and "407" in tcp["message"]
        assert "credentials in https_proxy" in tcp["fix"]
        auth_url = f"http://edge:s3cr3t-pw@127.0.0.1:{proxy.server_address[1]}"
        checks, _ = gp.run(params(endpoint=f"{NAME}:{fake.port}", ca_bundle=ca_file, https_proxy=auth_url), runner)
        assert all(c["status"] == "ok" for c in checks), checks
        assert by(checks, "tcp")["details"]["via"] == f"127.0.0.1:{proxy.server_address[1]}"
        # The endpoint's own lookup is left to the proxy: the first DNS result is the proxy's name.
        assert [c["purpose"] for c in checks if c["check"] == "dns"] == ["proxy", "configuration"]
        checks, _ = gp.run(
            params(endpoint=f"{NAME}:{fake.port}", ca_bundle=ca_file, https_proxy=auth_url, no_proxy=["localhost"]),
            runner,
        )
        assert by(checks, "tcp")["details"]["via"] == "direct"
    finally:
        proxy.shutdown()
        proxy.server_close()


def test_proxy_refusing_the_port_fails_with_its_allow_list(fake, ca_file):
    proxy = serve_proxy(allow_port=[443])
    try:
        url = f"127.0.0.1:{proxy.server_address[1]}"
        checks, _ = gp.run(params(endpoint=f"{NAME}:{fake.port}", ca_bundle=ca_file, https_proxy=url), runner)
    finally:
        proxy.shutdown()
        proxy.server_close()
    tcp = by(checks, "tcp")
    assert tcp["status"] == "failed" and "403" in tcp["message"] and "allow-list" in tcp["fix"]


def test_module_masks_the_proxy_password_and_fails_with_one_message(tmp_path, fake, ca_file):
    proxy = serve_proxy(allow_port=[fake.port], user="edge", password="pw-Zq81")
    args = {
        "endpoint": f"{NAME}:{fake.port}",
        "https_proxy": f"http://edge:pw-Zq81@127.0.0.1:{proxy.server_address[1]}",
        "ca_bundle": ca_file,
        "extra_endpoints": ["127.0.0.1:1"],
        "ports": [str(fake.port)],
        "_ansible_check_mode": True,
    }
    path = tmp_path / "args.json"
    path.write_text(json.dumps({"ANSIBLE_MODULE_ARGS": args}))
    try:
        # The module imports the collection's module_utils, as AnsiballZ bundles them on a host.
        env = {**os.environ, "PYTHONPATH": os.pathsep.join(p for p in sys.path if p)}
        proc = subprocess.run([sys.executable, MODULE, str(path)], capture_output=True, text=True, timeout=60, env=env)
    finally:
        proxy.shutdown()
        proxy.server_close()
    assert "pw-Zq81" not in proc.stdout + proc.stderr
    out = json.loads(proc.stdout)
    assert out["failed"] is True and out["changed"] is False
    assert out["failed_checks"] == ["tcp 127.0.0.1:1", f"port {fake.port}/tcp"]
    lines = out["msg"].splitlines()
    assert lines[0] == "Preflight found 2 problem(s) on this host:"
    # The extra endpoint goes through the proxy too, whose allow-list refuses port 1.
    assert lines[1].startswith("- tcp 127.0.0.1:1: the proxy 127.0.0.1:")
    assert "refused the tunnel to 127.0.0.1:1: 403 Forbidden. Fix: allow CONNECT to 127.0.0.1:1" in lines[1]
    assert lines[2].startswith(f"- port {fake.port}/tcp: {fake.port}/tcp on 0.0.0.0 is held by pid {fake.proc.pid} (")
    assert by(out["checks"], "tcp")["details"]["via"].startswith("127.0.0.1:")


def test_udp_port_held_by_a_socket_is_named():
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
        checks = port_checks([f"{port}/udp", f"{port}/tcp"], "127.0.0.1", "apim-gateway", 2.0)
    assert [c["status"] for c in checks] == ["failed", "ok"]
    assert checks[0]["details"]["holder"] == [f"pid {os.getpid()} ({process_command(os.getpid())})"]
    assert port_checks([f"{port}/udp"], "127.0.0.1", "apim-gateway", 2.0)[0]["status"] == "ok"


def test_entra_endpoints_each_fail_with_what_the_gateway_needs_them_for(fake, ca_file):
    closed = free_port()
    checks, _ = gp.run(
        params(
            endpoint=f"{NAME}:{fake.port}",
            ca_bundle=ca_file,
            auth_mode="azureAdApp",
            authority=f"https://{NAME}:{fake.port}",  # another cloud's authority: no regional host
            resource_manager=f"https://127.0.0.1:{closed}",
            checks=["dns", "tcp", "tls", "entra"],
        ),
        runner,
    )
    entra = [(c["check"], c["purpose"], c["status"]) for c in checks if c["purpose"] != "configuration"]
    assert entra == [
        ("dns", "entra", "ok"),
        ("tcp", "entra", "ok"),
        ("tls", "entra", "ok"),
        ("dns", "resource_manager", "ok"),
        ("tcp", "resource_manager", "failed"),
        ("tls", "resource_manager", "skipped"),
    ]
    arm = by(checks, "tcp", "failed")
    assert arm["message"] == (
        f"cannot connect to 127.0.0.1 port {closed}: Connection refused; the gateway needs it for Entra "
        "authentication: the gateway checks RBAC permissions in Azure Resource Manager"
    )
    assert arm["details"]["needed_for"].startswith("Entra authentication")
    assert "needed_for" not in by(checks, "tls")["details"]  # the Configuration API's own results


def test_a_plain_external_cache_gets_dns_and_tcp_only_and_never_the_proxy(fake, ca_file):
    proxy = serve_proxy(allow_port=[fake.port])
    try:
        checks, _ = gp.run(
            params(
                endpoint=f"{NAME}:{fake.port}",
                ca_bundle=ca_file,
                https_proxy=f"127.0.0.1:{proxy.server_address[1]}",
                http_proxy=f"127.0.0.1:{proxy.server_address[1]}",
                features=["external_cache"],
                external_caches=[f"redis://127.0.0.1:{fake.port}", f"rediss://{NAME}:{fake.port}"],
            ),
            runner,
        )
    finally:
        proxy.shutdown()
        proxy.server_close()
    cache = [(c["check"], c["status"], c["details"].get("via")) for c in checks if c["purpose"] == "external_cache"]
    assert cache == [
        ("dns", "ok", None),
        ("tcp", "ok", "direct"),
        ("dns", "ok", None),
        ("tcp", "ok", "direct"),
        ("tls", "ok", None),
    ]
