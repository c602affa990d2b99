"""preflight_proxy: which proxy the gateway takes for an endpoint, and proxy values as .NET reads them."""

import pytest

from ansible_collections.apim.selfhosted.plugins.module_utils.preflight_common import InputError
from ansible_collections.apim.selfhosted.plugins.module_utils.preflight_proxy import (
    ProxySettings,
    bypasses_proxy,
    connect_request,
    parse_no_proxy,
    parse_proxy,
    refusal_fix,
)

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
    assert bypasses_proxy(host, parse_no_proxy([entry])) is bypass


def test_no_proxy_items_may_be_comma_lists():
    entries = parse_no_proxy(["localhost, .corp.local", " ", "apim.x.net"])
    assert entries == ["localhost", ".corp.local", "apim.x.net"]


def test_https_endpoints_use_only_https_proxy():
    proxies = ProxySettings("", "http://web-proxy:8080", [])
    assert proxies.for_endpoint("https", "apim.configuration.azure-api.net") is None
    assert proxies.for_endpoint("http", "collector.local")["host"] == "web-proxy"
    proxies = ProxySettings("proxy.corp:3128", "", [".corp"])
    assert proxies.for_endpoint("https", "apim.configuration.azure-api.net")["port"] == 3128
    assert proxies.for_endpoint("https", "registry.corp") is None


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
    proxy = parse_proxy(value, "https_proxy")
    assert (proxy["host"], proxy["port"], proxy["user"], proxy["password"]) == (host, port, user, password)


@pytest.mark.parametrize("value", ["https://proxy.corp:443", "socks5://proxy:1080", "proxy:notaport", "proxy:70000"])
def test_bad_proxy_values_are_refused_by_name(value):
    with pytest.raises(InputError, match=r"^https_proxy: "):
        parse_proxy(value, "https_proxy")


def test_connect_request_carries_basic_credentials_only_when_given():
    plain = connect_request("apim.x.net", 443, parse_proxy("proxy:3128", "https_proxy"))
    assert plain.startswith(b"CONNECT apim.x.net:443 HTTP/1.1\r\nHost: apim.x.net:443\r\n")
    assert b"Proxy-Authorization" not in plain and plain.endswith(b"\r\n\r\n")
    with_user = connect_request("apim.x.net", 443, parse_proxy("http://edge:pw@proxy:3128", "https_proxy"))
    assert b"Proxy-Authorization: Basic ZWRnZTpwdw==\r\n" in with_user  # base64("edge:pw")


@pytest.mark.parametrize(
    ("status", "start"),
    [
        (407, "give the proxy credentials in https_proxy"),
        (403, "allow CONNECT to a:443"),
        (502, "check that the proxy"),
    ],
)
def test_each_refusal_has_its_own_fix(status, start):
    assert refusal_fix(status, "a:443", "proxy:3128", "https_proxy").startswith(start)
