"""gateway_preflight's parts without a network: proxy choice as the gateway makes it, input parsing, certificates."""

import datetime as dt
import ssl

import pytest
import trustme

from ansible_collections.apim.selfhosted.plugins.modules import gateway_preflight as gp

# NO_PROXY as .NET's HttpEnvironmentProxy applies it (the gateway is a .NET application):
# a leading dot matches the domain itself and every name below it, anything else only the same name;
# '*', '*.domain', CIDR ranges and ports are literal strings that match no host name.
NO_PROXY_CASES = [
    (".contoso.com", "contoso.com", True),
    (".contoso.com", "apim.contoso.com", True),
    (".contoso.com", "a.b.CONTOSO.com", True),
    (".contoso.com", "notcontoso.com", False),
    ("contoso.com", "contoso.com", True),
    ("contoso.com", "apim.contoso.com", False),
    ("Apim.Configuration.Azure-Api.Net", "apim.configuration.azure-api.net", True),
    ("*.configuration.azure-api.net", "apim.configuration.azure-api.net", False),
    ("*", "apim.configuration.azure-api.net", False),
    ("10.0.0.0/8", "10.1.2.3", False),
    ("10.1.2.3", "10.1.2.3", True),
    ("apim.contoso.com:443", "apim.contoso.com", False),
]


@pytest.mark.parametrize(("entry", "host", "bypass"), NO_PROXY_CASES)
def test_no_proxy_matches_like_the_gateway(entry, host, bypass):
    assert gp.bypasses_proxy(host, gp.parse_no_proxy([entry])) is bypass


def test_no_proxy_items_may_be_comma_lists():
    entries = gp.parse_no_proxy(["localhost, .corp.local", " ", "apim.x.net"])
    assert entries == ["localhost", ".corp.local", "apim.x.net"]


def make(params=None):
    base = {
        "endpoint": "apim.configuration.azure-api.net",
        "https_proxy": "",
        "http_proxy": "",
        "no_proxy": [],
        "extra_hosts": {},
        "ca_bundle": None,
        "ca_bundle_variable": "gateway_ca",
        "timeout": 1.0,
        "clock_skew_threshold": 300,
        "checks": list(gp.ALL_CHECKS),
    }
    base.update(params or {})
    return gp.Preflight(base, runner=None)


def test_https_endpoints_use_only_https_proxy():
    pre = make({"http_proxy": "http://web-proxy:8080"})
    assert pre.proxy_for("https", "apim.configuration.azure-api.net") is None
    assert pre.proxy_for("http", "collector.local")["host"] == "web-proxy"
    pre = make({"https_proxy": "proxy.corp:3128", "no_proxy": [".corp"]})
    assert pre.proxy_for("https", "apim.configuration.azure-api.net")["port"] == 3128
    assert pre.proxy_for("https", "registry.corp") is None


@pytest.mark.parametrize(
    ("value", "host", "port", "user", "password"),
    [
        ("proxy.corp", "proxy.corp", 80, None, None),
        ("http://proxy.corp:3128/", "proxy.corp", 3128, None, None),
        ("HTTP://u%40x:p%3Aw@proxy.corp:3128", "proxy.corp", 3128, "u@x", "p:w"),
        ("http://[fd00::1]:8080", "fd00::1", 8080, None, None),
    ],
)
def test_proxy_values_parse_as_dotnet_does(value, host, port, user, password):
    proxy = gp.parse_proxy(value, "https_proxy")
    assert (proxy["host"], proxy["port"], proxy["user"], proxy["password"]) == (host, port, user, password)


@pytest.mark.parametrize("value", ["https://proxy.corp:443", "socks5://proxy:1080", "proxy:notaport", "proxy:70000"])
def test_bad_proxy_values_are_refused_by_name(value):
    with pytest.raises(gp.InputError, match=r"^https_proxy: "):
        gp.parse_proxy(value, "https_proxy")


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("apim.configuration.azure-api.net", ("https", "apim.configuration.azure-api.net", 443)),
        ("https://apim.configuration.azure-api.net/", ("https", "apim.configuration.azure-api.net", 443)),
        ("https://apim.configuration.azure-api.net:8443", ("https", "apim.configuration.azure-api.net", 8443)),
        ("collector.local:4318", ("https", "collector.local", 4318)),
        ("http://collector.local:4318", ("http", "collector.local", 4318)),
    ],
)
def test_endpoints_accept_host_and_url_forms(value, expected):
    assert gp.parse_endpoint(value, "endpoint") == expected


@pytest.mark.parametrize(
    "value",
    [
        "",
        "https://apim.management.azure-api.net/subscriptions/x/resourceGroups/y",
        "ftp://apim.configuration.azure-api.net",
        "https://user@apim.configuration.azure-api.net",
        "https://apim.configuration.azure-api.net:99999",
    ],
)
def test_bad_endpoints_are_refused_by_name(value):
    with pytest.raises(gp.InputError, match=r"^extra_endpoints\[2\]"):
        gp.parse_endpoint(value, "extra_endpoints[2]")


def test_http_configuration_endpoint_is_refused():
    params = {**make().p, "auth_mode": "token", "authority": "", "extra_endpoints": [], "ports": []}
    params["endpoint"] = "http://apim.configuration.azure-api.net"
    with pytest.raises(gp.InputError, match=r"^endpoint: .*https"):
        gp.run(params, runner=None)


def test_missing_ca_bundle_names_the_variable(tmp_path):
    with pytest.raises(gp.InputError, match=r"^gateway_ca: .*does not exist"):
        make({"ca_bundle": str(tmp_path / "missing.pem")})
    bad = tmp_path / "bad.pem"
    bad.write_text("not a certificate")
    with pytest.raises(gp.InputError, match=r"^gateway_ca: .*not a readable PEM"):
        make({"ca_bundle": str(bad)})


@pytest.mark.parametrize(("value", "expected"), [("80", (80, "tcp")), ("4291/UDP", (4291, "udp")), (443, (443, "tcp"))])
def test_ports(value, expected):
    assert gp.parse_port(value) == expected


@pytest.mark.parametrize("value", ["0", "65536", "80/sctp", "http"])
def test_bad_ports_are_refused_by_name(value):
    with pytest.raises(gp.InputError, match=r"^ports: "):
        gp.parse_port(value)


def test_docker_ps_ports_are_read_per_host_port_and_protocol():
    text = (
        "apim-gateway\t0.0.0.0:80->8080/tcp, :::80->8080/tcp, 127.0.0.1:4290-4291->4290-4291/udp\n"
        "other\t8081/tcp, [::1]:9000->9000/tcp\n"
    )
    ports = gp.parse_docker_ports(text)
    assert ports[(80, "tcp")] == [("apim-gateway", "0.0.0.0"), ("apim-gateway", "::")]
    assert ports[(4291, "udp")] == [("apim-gateway", "127.0.0.1")]
    assert ports[(9000, "tcp")] == [("other", "::1")]
    assert (8081, "tcp") not in ports  # exposed, not published


@pytest.mark.parametrize(
    ("bound", "wanted", "blocks"),
    [
        ("0.0.0.0", "10.0.0.5", True),
        ("10.0.0.5", "0.0.0.0", True),
        ("10.0.0.5", "10.0.0.6", False),
        ("::ffff:10.0.0.5", "10.0.0.5", True),
        ("::", "127.0.0.1", True),
    ],
)
def test_port_address_overlap(bound, wanted, blocks):
    assert gp.overlaps(bound, wanted) is blocks


def test_proc_net_addresses():
    assert gp.hex_address("0100007F", 4) == "127.0.0.1"
    assert gp.hex_address("00000000000000000000000001000000", 6) == "::1"


def test_certificate_facts_from_der_match_the_ssl_module():
    ca = trustme.CA(organization_name="Contoso Inspection")
    cert = ca.issue_cert("apim.configuration.azure-api.net", not_after=dt.datetime(2031, 5, 17, 8, 30, tzinfo=dt.UTC))
    der = ssl.PEM_cert_to_DER_cert(cert.cert_chain_pems[0].bytes().decode())
    facts = gp.cert_facts(der)
    assert facts["issuer"] == "Contoso Inspection"
    assert facts["not_after"] == dt.datetime(2031, 5, 17, 8, 30, tzinfo=dt.UTC)
    assert facts["subject"].startswith("trustme")  # trustme's leaf certificates carry O=trustme, no CN


def test_failure_message_lists_every_failed_check_with_its_fix():
    checks = [
        gp.result("dns", "a:443", "configuration", "failed", "cannot resolve a", "add a DNS entry"),
        gp.result("tcp", "b:443", "extra", "skipped", "not tried"),
        gp.result("port", "80/tcp", "port", "failed", "80/tcp is held by pid 1 (nginx)", "stop nginx"),
    ]
    message = gp.failure_message([c for c in checks if c["status"] == "failed"])
    assert message.splitlines() == [
        "Preflight found 2 problem(s) on this host:",
        "- dns a:443: cannot resolve a. Fix: add a DNS entry.",
        "- port 80/tcp: 80/tcp is held by pid 1 (nginx). Fix: stop nginx.",
    ]
    table = gp.table(checks)
    assert table[0].split() == ["CHECK", "STATUS", "TARGET", "SECONDS", "RESULT"]
    assert "-> fix: stop nginx" in table[3]
