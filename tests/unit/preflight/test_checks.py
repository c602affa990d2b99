"""The DNS, TLS-trust, clock and report pieces of the preflight on their own."""

import socket
import time

import pytest

from ansible_collections.apim.selfhosted.plugins.module_utils.preflight import failure_message, table
from ansible_collections.apim.selfhosted.plugins.module_utils.preflight_clock import ntp_state, parse_date, run_command
from ansible_collections.apim.selfhosted.plugins.module_utils.preflight_common import InputError, result, with_timeout
from ansible_collections.apim.selfhosted.plugins.module_utils.preflight_dns import Resolver
from ansible_collections.apim.selfhosted.plugins.module_utils.preflight_tls import trust_context


def test_extra_hosts_and_literals_need_no_lookup():
    resolver = Resolver({"Apim.Contoso.Local": "10.1.2.3"}, 1.0)
    assert resolver.resolve("apim.contoso.local", 443) == (["10.1.2.3"], "extra_hosts")
    assert resolver.resolve("fd00::1", 443) == (["fd00::1"], "literal")
    ok = resolver.check("apim.contoso.local", 443, "configuration")
    assert ok["message"] == "apim.contoso.local resolves to 10.1.2.3 (extra_hosts)"
    assert ok["details"] == {"addresses": ["10.1.2.3"], "source": "extra_hosts"}
    proxy = resolver.check("127.0.0.1", 3128, "proxy", proxy_of="apim.x.net:443")
    assert proxy["message"] == "127.0.0.1 is an IP address, no lookup needed (proxy for apim.x.net:443)"


def test_a_name_that_does_not_resolve_fails_with_the_fix_but_is_only_reported_behind_a_proxy():
    resolver = Resolver({}, 2.0)
    failed = resolver.check("apim-nowhere.invalid", 443, "configuration")
    assert failed["status"] == "failed" and failed["message"].startswith("cannot resolve apim-nowhere.invalid: ")
    assert failed["fix"].startswith("make apim-nowhere.invalid resolvable on this host")
    assert resolver.check("p.invalid", 80, "proxy", proxy_of="a:443")["fix"].startswith("make the proxy name p.invalid")
    info = resolver.info("apim-nowhere.invalid", 443, "configuration", "proxy:3128")
    assert info["status"] == "ok" and info["details"]["source"] == "proxy"


def test_with_timeout_bounds_a_call_without_its_own_timeout():
    with pytest.raises(socket.timeout, match=r"no answer within 0\.2 s"):
        with_timeout(lambda: time.sleep(2), 0.2)
    assert with_timeout(lambda: 42, 1) == 42


def test_missing_ca_bundle_names_the_variable(tmp_path):
    with pytest.raises(InputError, match=r"^gateway_ca: .*does not exist"):
        trust_context(str(tmp_path / "missing.pem"), "gateway_ca")
    bad = tmp_path / "bad.pem"
    bad.write_text("not a certificate")
    with pytest.raises(InputError, match=r"^gateway_ca: .*not a readable PEM"):
        trust_context(str(bad), "gateway_ca")


@pytest.mark.parametrize(
    ("value", "timestamp"),
    [("Sun, 06 Nov 1994 08:49:37 GMT", 784111777), ("", None), ("yesterday", None), ("06 Nov 1994 08:49:37", None)],
)
def test_http_dates(value, timestamp):
    parsed = parse_date(value)
    assert (parsed.timestamp() if parsed else None) == timestamp


def test_ntp_state_from_timedatectl_or_unknown(tmp_path, monkeypatch):
    fake = tmp_path / "timedatectl"
    fake.write_text("#!/bin/sh\necho yes\n")
    fake.chmod(0o755)
    monkeypatch.setenv("PATH", str(tmp_path))
    assert ntp_state(lambda args: (0, "yes\n", "")) is True
    assert ntp_state(lambda args: (0, "no\n", "")) is False
    assert ntp_state(lambda args: (1, "", "Failed to connect to bus")) is None
    monkeypatch.setenv("PATH", str(tmp_path / "none"))
    assert ntp_state(lambda args: (0, "yes\n", "")) is None  # no timedatectl on this host


def test_run_command_gives_up_on_a_hanging_tool():
    assert run_command(lambda args: time.sleep(3), ["x"], 0.2) == (None, "")


def test_failure_message_lists_every_failed_check_with_its_fix():
    checks = [
        result("dns", "a:443", "configuration", "failed", "cannot resolve a", "add a DNS entry"),
        result("tcp", "b:443", "extra", "skipped", "not tried"),
        result("port", "80/tcp", "port", "failed", "80/tcp is held by pid 1 (nginx)", "stop nginx"),
    ]
    message = failure_message([c for c in checks if c["status"] == "failed"])
    assert message.splitlines() == [
        "Preflight found 2 problem(s) on this host:",
        "- dns a:443: cannot resolve a. Fix: add a DNS entry.",
        "- port 80/tcp: 80/tcp is held by pid 1 (nginx). Fix: stop nginx.",
    ]
    lines = table(checks)
    assert lines[0].split() == ["CHECK", "STATUS", "TARGET", "SECONDS", "RESULT"]
    assert "-> fix: stop nginx" in lines[3]
