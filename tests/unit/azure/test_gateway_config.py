"""Pure pieces of the gateway configuration modules (no network)."""

import datetime as dt

import pytest
from cryptography.hazmat.primitives.serialization import pkcs12

from ansible_collections.apim.selfhosted.plugins.module_utils import apim_resources, azure_client, pfx
from ansible_collections.apim.selfhosted.plugins.modules import (
    gateway_hostname,
    gateway_migration_info,
    gateway_resource_info,
)


@pytest.mark.parametrize(
    "hostname, name",
    [
        ("api.contoso.com", "api-contoso-com"),
        ("API.Contoso.com", "api-contoso-com"),
        ("*.contoso.com", "wildcard-contoso-com"),
        ("*", "default"),
        ("edge_01.contoso.com", "edge-01-contoso-com"),
    ],
)
def test_default_hostname_configuration_name(hostname, name):
    assert gateway_hostname.default_name(hostname) == name
    assert apim_resources.ENTITY_ID_RE.match(name)


@pytest.mark.parametrize(
    "hostname, ok",
    [
        ("api.contoso.com", True),
        ("*.contoso.com", True),
        ("*", True),
        ("a..b", False),
        ("a b", False),
        ("*.*.x", False),
    ],
)
def test_hostname_pattern(hostname, ok):
    assert bool(gateway_hostname.HOSTNAME_RE.match(hostname)) is ok


def test_days_left_counts_whole_days_and_goes_negative():
    now = dt.datetime(2030, 1, 1, tzinfo=dt.timezone.utc)
    assert apim_resources.days_left(now + dt.timedelta(days=10, hours=23), now) == 10
    assert apim_resources.days_left(now - dt.timedelta(hours=1), now) == -1
    assert apim_resources.days_left(dt.datetime(2030, 1, 3), now) == 2  # naive is UTC
    assert apim_resources.days_left(None, now) is None


def _cert(name, days):
    return {"name": name, "days_left": days, "expiration_date": "x"}


def test_expiring_lists_hostnames_and_authorities_soonest_first():
    rows = [
        {
            "name": "lyon",
            "hostname_configurations": [
                {"hostname": "a.test", "certificate": _cert("a", 40)},
                {"hostname": "b.test", "certificate": _cert("b", 3)},
                {"hostname": "c.test", "certificate": None},
            ],
            "certificate_authorities": [{"details": _cert("ca", -2)}],
        }
    ]
    found = gateway_resource_info.expiring(rows, 30)
    assert [(e["certificate"], e["role"], e["days_left"]) for e in found] == [
        ("ca", "certificate_authority", -2),
        ("b", "hostname", 3),
    ]
    assert [e["certificate"] for e in gateway_resource_info.expiring(rows, 41)] == ["ca", "b", "a"]


def test_migration_rows_group_per_instance():
    def row(sub, rg, name, title, **kw):
        return dict(subscriptionId=sub, resourceGroup=rg, instanceName=name, recommendationTitle=title, **kw)

    rows = [
        row("S", "rg", "apim", "Use self-hosted gateway v2"),
        row("s", "RG", "APIM", "Use Configuration API v2 for self-hosted gateways", recommendationMetadata={"k": 1}),
        row("s", "rg", "b", "Something new"),
    ]
    out = gateway_migration_info.group(rows)
    assert [i["name"] for i in out] == ["apim", "b"]
    assert [f["concern"] for f in out[0]["findings"]] == ["image", "configuration_api"]
    assert out[0]["findings"][1]["metadata"] == {"k": 1} and out[1]["findings"][0]["concern"] == "other"
    assert out[0]["id"] == "/subscriptions/S/resourceGroups/rg/providers/Microsoft.ApiManagement/service/apim"


class _Detail:
    def __init__(self, target, message):
        self.target, self.message = target, message


class _Err:
    message = "One or more fields contain incorrect values:"
    details = [_Detail("keyVault", "Failed to access Key Vault secret 'x'."), _Detail(None, "second")]


class _Exc(Exception):
    error = _Err()


def test_error_message_carries_the_details():
    assert azure_client.error_message(_Exc()) == (
        "One or more fields contain incorrect values: keyVault: Failed to access Key Vault secret 'x'. second"
    )


def test_read_pfx_facts_and_wrong_password():
    import trustme
    from cryptography import x509
    from cryptography.hazmat.primitives import serialization

    leaf = trustme.CA().issue_cert("api.contoso.test")
    cert = x509.load_pem_x509_certificate(leaf.cert_chain_pems[0].bytes())
    key = serialization.load_pem_private_key(leaf.private_key_pem.bytes(), None)
    data = pkcs12.serialize_key_and_certificates(b"x", key, cert, None, serialization.BestAvailableEncryption(b"pw"))
    facts = pfx.read_pfx(data, "pw")
    assert facts["has_private_key"] and len(facts["thumbprint"]) == 40 and facts["thumbprint"].isupper()
    assert facts["not_after"] == cert.not_valid_after_utc
    for password in ("wrong", None):
        with pytest.raises(pfx.PfxError, match="password does not open it"):
            pfx.read_pfx(data, password)
    with pytest.raises(pfx.PfxError):
        pfx.read_pfx(b"not a pfx", "pw")
    only_cert = pkcs12.serialize_key_and_certificates(b"x", None, cert, None, serialization.NoEncryption())
    assert pfx.read_pfx(only_cert, None)["has_private_key"] is False
