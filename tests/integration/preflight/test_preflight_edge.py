"""gateway_preflight on an edge host of the test bed, through ansible, against fakes reachable by name."""

import re
import time

import pytest

from .conftest import AUTHORITY, EDGE, ENDPOINT, PRIVATE, PRIVATE_CA_ON_EDGE, PROXY, SKEWED

pytestmark = pytest.mark.docker


def by(checks, check, purpose=None):
    found = [c for c in checks if c["check"] == check and (purpose is None or c["purpose"] == purpose)]
    assert found, f"no {check}/{purpose} result in {checks}"
    return found[0]


def host_state(lab):
    """What a preflight must leave alone: files changed since the marker, firewall rules, listening sockets."""
    changed = lab.edge(
        "sh",
        "-c",
        "find /etc /usr /var /opt /srv /root /home -xdev -newer /run/pf-marker "
        "-not -path '/root/.ansible*' -not -path '/var/log/*' -not -path '/var/lib/systemd/*' 2>/dev/null | sort",
    ).stdout
    return changed, lab.edge("sh", "-c", "iptables -S; iptables -t nat -S").stdout, lab.edge("ss", "-Htlnu").stdout


@pytest.fixture
def marker(lab):
    lab.edge("touch", "/run/pf-marker")
    time.sleep(1.1)  # mtime granularity: anything written from now on is newer than the marker


@pytest.fixture
def drop_direct_443(lab):
    """A firewall rule in the edge host's own network namespace that drops every outbound TCP 443."""
    lab.edge("iptables", "-I", "OUTPUT", "-p", "tcp", "--dport", "443", "-j", "DROP")
    yield
    lab.edge("iptables", "-D", "OUTPUT", "-p", "tcp", "--dport", "443", "-j", "DROP")


def test_healthy_host_passes_in_check_mode_too(lab):
    args = {
        "endpoint": f"https://{ENDPOINT}",
        "auth_mode": "azureAdApp",
        "authority": f"https://{AUTHORITY}",
        "ports": ["80", "443", "4291/udp"],
    }
    before = len(lab.requests("pf-fake"))
    for check_mode in (False, True):
        host, _seconds, rc = lab.preflight(args, check_mode=check_mode)
        assert rc == 0, host.get("msg")
        assert host["changed"] is False and host["failed_checks"] == []
        statuses = [(c["check"], c["purpose"], c["status"]) for c in host["checks"]]
        assert statuses == [
            ("dns", "configuration", "ok"),
            ("tcp", "configuration", "ok"),
            ("tls", "configuration", "ok"),
            ("clock", "configuration", "ok"),
            ("dns", "entra", "ok"),
            ("tcp", "entra", "ok"),
            ("tls", "entra", "ok"),
            # Another cloud's authority (the lab's): no regional host, but Resource Manager for the RBAC check.
            ("dns", "resource_manager", "ok"),
            ("tcp", "resource_manager", "ok"),
            ("tls", "resource_manager", "ok"),
            ("port", "port", "ok"),
            ("port", "port", "ok"),
            ("port", "port", "ok"),
        ]
        tls = by(host["checks"], "tls")
        assert tls["details"]["issuer"] == "Preflight Lab Root" and tls["details"]["days_to_expiry"] > 300
        clock = by(host["checks"], "clock")
        assert abs(clock["details"]["skew_seconds"]) < 3 and clock["details"]["status_code"] == 401
        # systemd's timedatectl answers on the edge host (a container has no NTP client of its own).
        assert clock["details"]["ntp_synchronized"] in (True, False)
        assert host["report"][0].split()[:4] == ["CHECK", "STATUS", "TARGET", "SECONDS"]
    # Only anonymous GETs reached the Configuration API: no token, no Authorization header.
    seen = lab.requests("pf-fake")[before:]
    assert [(r["method"], r["path"], r["authorization"]) for r in seen] == [("GET", "/", False)] * 2


def test_unresolvable_name_fails_with_the_dns_message_and_changes_nothing(lab, marker):
    before = host_state(lab)
    name = "apim-nowhere.configuration.azure-api.net"
    host, _seconds, rc = lab.preflight({"endpoint": name, "ports": ["80"]})
    assert rc != 0 and host["failed"] is True and host["changed"] is False
    assert host["failed_checks"] == [f"dns {name}:443"]
    assert host["msg"].splitlines() == [
        "Preflight found 1 problem(s) on this host:",
        f"- dns {name}:443: cannot resolve {name}: Name or service not known. Fix: make {name} resolvable on this "
        "host: add it to the DNS servers in /etc/resolv.conf, add an /etc/hosts entry, or give the gateway an "
        "extra_hosts entry for it.",
    ]
    assert [c["status"] for c in host["checks"]] == ["failed", "skipped", "skipped", "skipped", "ok"]
    assert host_state(lab) == before


def test_hosts_file_and_extra_hosts_count(lab):
    address = lab.edge("getent", "hosts", ENDPOINT).stdout.split()[0]
    lab.edge("sh", "-c", f"echo '{address} apim-hosts-file.configuration.azure-api.net' >> /etc/hosts")
    try:
        # The certificate is not for these names: DNS and TCP pass, TLS fails on the name, as the gateway would.
        host, _s, _rc = lab.preflight({"endpoint": "apim-hosts-file.configuration.azure-api.net", "checks": ["dns"]})
        assert host["failed_checks"] == [] and by(host["checks"], "dns")["details"]["addresses"] == [address]
        host, _s, _rc = lab.preflight(
            {"endpoint": "apim-only-in-container.example", "extra_hosts": {"apim-only-in-container.example": address}}
        )
        assert by(host["checks"], "dns")["details"]["source"] == "extra_hosts"
        assert by(host["checks"], "tcp")["status"] == "ok"
        tls = by(host["checks"], "tls")
        assert tls["status"] == "failed" and "does not match the name apim-only-in-container.example" in tls["message"]
    finally:
        # /etc/hosts is a bind mount in a container: rewrite it in place, sed -i cannot rename over it.
        lab.edge("sh", "-c", "grep -v apim-hosts-file /etc/hosts > /tmp/hosts; cat /tmp/hosts > /etc/hosts")


def test_dropped_443_fails_within_the_timeout(lab, drop_direct_443):
    t0 = time.monotonic()
    host, _seconds, rc = lab.preflight({"endpoint": ENDPOINT, "timeout": 2})
    elapsed = time.monotonic() - t0
    assert rc != 0
    tcp = by(host["checks"], "tcp")
    assert tcp["status"] == "failed" and 1.9 <= tcp["seconds"] <= 3.0
    assert tcp["message"] == (
        f"no answer from {ENDPOINT} port 443 within 2 s: the connection is dropped (firewall or egress allow-list)"
    )
    assert tcp["fix"].startswith(f"allow outbound TCP 443 from this host to {ENDPOINT} (")
    assert host["failed_checks"] == [f"tcp {ENDPOINT}:443"]  # TLS and clock are skipped, not failed
    assert elapsed < 2 + 15  # the timeout plus ansible's own start-up over docker exec


def test_unknown_ca_fails_naming_the_variable_and_passes_with_the_bundle(lab):
    args = {"endpoint": PRIVATE, "ca_bundle_variable": "gateway_preflight_ca_bundle"}
    host, _seconds, rc = lab.preflight(args)
    assert rc != 0
    tls = by(host["checks"], "tls")
    assert tls["status"] == "failed"
    assert tls["message"].startswith(
        f"certificate for {PRIVATE} is issued by 'Contoso Private PKI', a CA this host does not trust"
    )
    assert tls["fix"].startswith("set gateway_preflight_ca_bundle to a PEM bundle that contains the CA 'Contoso")
    assert "gateway_preflight_ca_bundle" in host["msg"]
    host, _seconds, rc = lab.preflight({**args, "ca_bundle": PRIVATE_CA_ON_EDGE})
    assert rc == 0, host.get("msg")
    assert by(host["checks"], "tls")["details"]["issuer"] == "Contoso Private PKI"


def test_proxy_carries_the_checks_while_direct_egress_is_dropped(lab, drop_direct_443):
    proxy = f"http://{PROXY}:8888"
    host, _seconds, rc = lab.preflight({"endpoint": ENDPOINT, "https_proxy": proxy, "timeout": 2})
    assert rc == 0, host.get("msg")
    assert by(host["checks"], "tcp")["details"]["via"] == f"{PROXY}:8888"
    assert by(host["checks"], "dns", "proxy")["status"] == "ok"
    assert by(host["checks"], "clock")["status"] == "ok"
    log = lab_proxy_log()
    assert f"CONNECT {ENDPOINT}:443" in log

    # NO_PROXY as the gateway reads it: '.domain' bypasses the proxy (and direct egress is dropped) ...
    host, _seconds, rc = lab.preflight(
        {"endpoint": ENDPOINT, "https_proxy": proxy, "no_proxy": [".configuration.azure-api.net"], "timeout": 2}
    )
    assert rc != 0
    tcp = by(host["checks"], "tcp")
    assert tcp["details"]["via"] == "direct" and "within 2 s" in tcp["message"]
    # ... while '*.domain' is not understood by the gateway, so the proxy is still used.
    host, _seconds, rc = lab.preflight(
        {"endpoint": ENDPOINT, "https_proxy": proxy, "no_proxy": ["*.configuration.azure-api.net"], "timeout": 2}
    )
    assert rc == 0 and by(host["checks"], "tcp")["details"]["via"] == f"{PROXY}:8888"
    # Only HTTPS_PROXY applies to https: HTTP_PROXY alone leaves the connection direct, as in the gateway.
    host, _seconds, rc = lab.preflight({"endpoint": ENDPOINT, "http_proxy": proxy, "timeout": 2})
    assert rc != 0 and by(host["checks"], "tcp")["details"]["via"] == "direct"


def test_proxy_allow_list_refusal_names_the_proxy(lab):
    host, _seconds, rc = lab.preflight(
        {"endpoint": f"{ENDPOINT}:8443", "https_proxy": f"{PROXY}:8888", "checks": ["tcp"], "timeout": 3}
    )
    assert rc != 0
    tcp = by(host["checks"], "tcp")
    assert re.match(rf"the proxy {PROXY}:8888 refused the tunnel to {ENDPOINT}:8443: 403 ", tcp["message"])
    assert "allow-list" in tcp["fix"]


def lab_proxy_log():
    from .conftest import docker

    logs = docker("logs", "pf-proxy")
    return logs.stdout + logs.stderr


def test_skewed_date_fails_the_clock_check_with_the_measured_skew(lab):
    before = time.time()
    host, _seconds, rc = lab.preflight({"endpoint": SKEWED, "checks": ["clock"]})
    assert rc != 0
    assert host["failed_checks"] == [f"clock {SKEWED}:443"]
    clock = by(host["checks"], "clock")
    skew = clock["details"]["skew_seconds"]
    assert -603 <= skew <= -597
    assert re.match(
        r"host clock is (59\d|60[0-3])(\.\d)? s behind the Configuration API's Date, more than 300 s; NTP ",
        clock["message"],
    )
    # The machine's clock was never touched: the edge host still agrees with this one.
    edge_now = float(lab.edge("date", "+%s.%N").stdout)
    assert abs(edge_now - time.time()) < 5 and edge_now >= before
    host, _seconds, rc = lab.preflight({"endpoint": SKEWED, "checks": ["clock"], "clock_skew_threshold": 900})
    assert rc == 0 and by(host["checks"], "clock")["status"] == "ok"


def test_port_held_by_another_process_fails(lab):
    lab.edge("sh", "-c", "nohup python3 -m http.server 18080 --bind 0.0.0.0 >/dev/null 2>&1 &")
    try:
        deadline = time.monotonic() + 10
        while ":18080" not in lab.edge("ss", "-Htln").stdout and time.monotonic() < deadline:
            time.sleep(0.2)
        pid = lab.edge("sh", "-c", "pgrep -f 'http.server 18080'").stdout.split()[0]
        host, _seconds, rc = lab.preflight({"endpoint": ENDPOINT, "checks": ["ports"], "ports": ["18080", "18081"]})
        assert rc != 0
        assert host["failed_checks"] == ["port 18080/tcp"]
        port = by(host["checks"], "port")
        assert port["message"] == (
            f"18080/tcp on 0.0.0.0 is held by pid {pid} (python3 -m http.server 18080 --bind 0.0.0.0)"
        )
        assert [c["status"] for c in host["checks"]] == ["failed", "ok"]
        # A port on another address of the host does not collide.
        host, _seconds, rc = lab.preflight(
            {"endpoint": ENDPOINT, "checks": ["ports"], "ports": ["18080"], "bind_address": "127.0.0.2"}
        )
        assert rc != 0  # 0.0.0.0 covers every address
    finally:
        lab.edge("pkill", "-f", "http.server 18080", check=False)


def test_playbook_prints_a_table_and_fails_only_bad_hosts(lab):
    good = {
        "preflight_hosts": EDGE,
        "gateway_endpoint": ENDPOINT,
        "gateway_http_port": 18090,
        "gateway_https_port": 18091,
    }
    proc, _seconds = lab.playbook(good)
    assert proc.returncode == 0, proc.stdout[-3000:]
    assert "CHECK  STATUS  TARGET" in proc.stdout and f"dns    ok      {ENDPOINT}:443" in proc.stdout
    assert "ok=4" in proc.stdout and "changed=0" in proc.stdout and "failed=0" in proc.stdout

    proc, _ = lab.playbook({**good, "gateway_endpoint": PRIVATE})
    assert proc.returncode != 0
    assert "set preflight_ca_bundle to a PEM bundle" in proc.stdout
    proc, _ = lab.playbook({**good, "gateway_endpoint": PRIVATE, "preflight_ca_bundle": PRIVATE_CA_ON_EDGE})
    assert proc.returncode == 0, proc.stdout[-3000:]


def test_playbook_refuses_bad_settings_before_touching_the_host(lab, marker):
    before = host_state(lab)
    for bad in (
        {"gateway_endpoint": ""},
        {"gateway_endpoint": "http://apim.configuration.azure-api.net"},
        {"gateway_endpoint": ENDPOINT, "preflight_checks": ["dns", "ping"]},
        {"gateway_endpoint": ENDPOINT, "preflight_timeout": 0},
    ):
        proc, _ = lab.playbook({"preflight_hosts": EDGE, **bad})
        assert proc.returncode != 0
        assert "Preflight settings are not usable: gateway_endpoint must be" in proc.stdout
        assert "Run the checks" not in proc.stdout.split("Check the preflight settings")[1].split("PLAY RECAP")[0]
    assert host_state(lab) == before
    assert EDGE in proc.stdout


# The network table's tests live in their own file but run here, on the worker that holds the preflight lab.
from .network_table_cases import (  # noqa: E402, F401
    drop_azure,
    test_each_blocked_endpoint_fails_with_what_the_gateway_needs_it_for,
    test_entra_without_a_region_is_refused_by_name,
    test_every_endpoint_the_settings_need_is_checked_and_passes,
    test_playbook_reads_the_gateway_role_variables_and_its_own,
    test_playbook_refuses_missing_network_inputs_by_name,
)
