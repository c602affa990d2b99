# -*- coding: utf-8 -*-
# Copyright (c) apim.selfhosted contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Issuer, subject and expiry of a certificate, for messages: from ``cryptography`` where the host has it
(Debian's python3-cryptography), else from the small reader in ``der_reader``. Both give the same facts."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import datetime

from ansible_collections.apim.selfhosted.plugins.module_utils import der_reader

try:
    from cryptography import x509

    HAS_CRYPTOGRAPHY = True
except ImportError:  # the host has no python3-cryptography: der_reader reads the certificate
    HAS_CRYPTOGRAPHY = False


def _cryptography_fields(der):
    cert = x509.load_der_x509_certificate(der)

    def fields(name):
        known = der_reader.OID_NAMES
        return [(known[a.oid.dotted_string], a.value) for a in name if a.oid.dotted_string in known]

    not_after = getattr(cert, "not_valid_after_utc", None)
    if not_after is None:  # cryptography < 42 gives a naive UTC datetime
        not_after = cert.not_valid_after.replace(tzinfo=datetime.timezone.utc)
    return {"issuer": fields(cert.issuer), "subject": fields(cert.subject), "not_after": not_after}


def name_text(fields):
    """The name a person knows a certificate by: its CN, else O, else OU, else all known attributes."""
    values = dict(fields)
    for key in ("CN", "O", "OU"):
        if key in values:
            return values[key]
    return ", ".join("%s=%s" % kv for kv in fields) or "(empty name)"


def cert_facts(der, use_cryptography=None):
    """{"issuer", "subject", "not_after"} of a DER certificate; ValueError (or IndexError, TypeError) if it is none.

    use_cryptography: None picks cryptography when importable; False forces the DER reader.
    """
    if use_cryptography is None:
        use_cryptography = HAS_CRYPTOGRAPHY
    raw = _cryptography_fields(der) if use_cryptography else der_reader.certificate_fields(der)
    return {"issuer": name_text(raw["issuer"]), "subject": name_text(raw["subject"]), "not_after": raw["not_after"]}


def expiry_facts(der, now=None):
    """cert_facts for a report: not_after as ISO text and whole days to expiry; issuer None when unreadable."""
    try:
        facts = cert_facts(der)
    except (ValueError, IndexError, TypeError):
        return {"issuer": None, "subject": None}
    not_after = facts.pop("not_after")
    now = now or datetime.datetime.now(datetime.timezone.utc)
    facts["not_after"] = not_after.strftime("%Y-%m-%dT%H:%M:%SZ")
    facts["days_to_expiry"] = int((not_after - now).total_seconds() // 86400)
    return facts
