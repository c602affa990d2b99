"""cert_info and der_reader: the same issuer, subject and expiry from cryptography and from the DER reader."""

import datetime as dt
import ssl

import pytest
import trustme

from ansible_collections.apim.selfhosted.plugins.module_utils import cert_info, der_reader

NOT_AFTER = dt.datetime(2031, 5, 17, 8, 30, tzinfo=dt.UTC)


def der_of(cert):
    return ssl.PEM_cert_to_DER_cert(cert.cert_chain_pems[0].bytes().decode())


@pytest.fixture(scope="module")
def leaf():
    ca = trustme.CA(organization_name="Contoso Inspection")
    return der_of(ca.issue_cert("apim.configuration.azure-api.net", not_after=NOT_AFTER))


@pytest.mark.parametrize("use_cryptography", [True, False])
def test_certificate_facts(leaf, use_cryptography):
    facts = cert_info.cert_facts(leaf, use_cryptography=use_cryptography)
    assert facts["issuer"] == "Contoso Inspection"
    assert facts["not_after"] == NOT_AFTER
    assert facts["subject"].startswith("trustme")  # trustme's leaf certificates carry O=trustme, no CN


def test_both_readers_agree_on_a_root_and_a_generalized_time():
    # A validity past 2049 is a GeneralizedTime (RFC 5280), before it a UTCTime.
    ca = trustme.CA(organization_name="Far Future PKI", organization_unit_name="Edge")
    far = der_of(ca.issue_cert("far.example", not_after=dt.datetime(2051, 1, 2, 3, 4, 5, tzinfo=dt.UTC)))
    for der in (far, ssl.PEM_cert_to_DER_cert(ca.cert_pem.bytes().decode())):
        assert cert_info.cert_facts(der, use_cryptography=True) == cert_info.cert_facts(der, use_cryptography=False)
    assert cert_info.cert_facts(far, use_cryptography=False)["not_after"].year == 2051


def test_der_reader_on_its_own(leaf):
    fields = der_reader.certificate_fields(leaf)
    assert ("O", "Contoso Inspection") in fields["issuer"]
    assert fields["not_after"] == NOT_AFTER
    assert der_reader.oid(bytes.fromhex("550403")) == "2.5.4.3"  # commonName
    assert der_reader.read(bytes.fromhex("3082010a00"), 0) == (0x30, 4, 4 + 0x010A)  # long-form length


def test_name_text_prefers_cn_then_o_then_ou():
    assert cert_info.name_text([("O", "Org"), ("CN", "Name")]) == "Name"
    assert cert_info.name_text([("OU", "Unit"), ("O", "Org")]) == "Org"
    assert cert_info.name_text([("C", "DE")]) == "C=DE"
    assert cert_info.name_text([]) == "(empty name)"


@pytest.mark.parametrize("use_cryptography", [True, False])
def test_garbage_is_no_certificate(use_cryptography):
    with pytest.raises((ValueError, IndexError, TypeError)):
        cert_info.cert_facts(b"\x30\x03\x02\x01\x00", use_cryptography=use_cryptography)


def test_expiry_facts_count_whole_days_and_survive_garbage(leaf):
    facts = cert_info.expiry_facts(leaf, now=NOT_AFTER - dt.timedelta(days=10, hours=1))
    assert facts["not_after"] == "2031-05-17T08:30:00Z" and facts["days_to_expiry"] == 10
    assert cert_info.expiry_facts(b"junk") == {"issuer": None, "subject": None}
