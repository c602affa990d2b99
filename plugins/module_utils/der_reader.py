# -*- coding: utf-8 -*-
# Copyright (c) apim.selfhosted contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""A small DER reader for the three X.509 fields the preflight reports: issuer, subject and notAfter.

Used only where the host has no ``cryptography`` package (see ``cert_info``). It reads what a TLS peer
certificate carries in the usual layout and nothing more: no signature, no extensions, no validation.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import datetime

# The name attributes a certificate's issuer or subject is shown by, in RDN order.
OID_NAMES = {"2.5.4.3": "CN", "2.5.4.10": "O", "2.5.4.11": "OU", "2.5.4.6": "C"}
UTC_TIME = 0x17
CONTEXT_0 = 0xA0  # [0] EXPLICIT version


def read(data, pos):
    """Return (tag, content_start, content_end) of the DER element at pos."""
    tag = data[pos]
    length = data[pos + 1]
    pos += 2
    if length & 0x80:
        count = length & 0x7F
        length = int.from_bytes(data[pos : pos + count], "big")
        pos += count
    return tag, pos, pos + length


def children(data, start, end):
    """The elements inside a constructed element's content."""
    pos = start
    while pos < end:
        tag, cstart, cend = read(data, pos)
        yield tag, cstart, cend
        pos = cend


def oid(raw):
    """Dotted text of an OBJECT IDENTIFIER's content octets."""
    first = raw[0]
    parts = [first // 40, first % 40]
    value = 0
    for byte in raw[1:]:
        value = (value << 7) | (byte & 0x7F)
        if not byte & 0x80:
            parts.append(value)
            value = 0
    return ".".join(str(p) for p in parts)


def name(data, start, end):
    """[(short name, value)] of the known attributes of a Name, in order."""
    fields = []
    for _tag, set_start, set_end in children(data, start, end):
        for _tag2, seq_start, seq_end in children(data, set_start, set_end):
            items = list(children(data, seq_start, seq_end))
            if len(items) != 2:
                continue
            key = oid(data[items[0][1] : items[0][2]])
            if key in OID_NAMES:
                fields.append((OID_NAMES[key], data[items[1][1] : items[1][2]].decode("utf-8", "replace")))
    return fields


def time_value(tag, raw):
    """UTCTime or GeneralizedTime (Z form, as RFC 5280 requires) as an aware datetime."""
    fmt = "%y%m%d%H%M%SZ" if tag == UTC_TIME else "%Y%m%d%H%M%SZ"
    return datetime.datetime.strptime(raw.decode("ascii"), fmt).replace(tzinfo=datetime.timezone.utc)


def certificate_fields(der):
    """{"issuer": [(k, v)], "subject": [(k, v)], "not_after": datetime} of a DER certificate.

    Raises ValueError, IndexError or TypeError on data that is not a certificate.
    """
    _tag, start, _end = read(der, 0)
    _tag, tbs_start, tbs_end = read(der, start)
    items = list(children(der, tbs_start, tbs_end))
    if items and items[0][0] == CONTEXT_0:
        items = items[1:]
    # serialNumber, signature, issuer, validity, subject
    issuer = name(der, items[2][1], items[2][2])
    validity = list(children(der, items[3][1], items[3][2]))
    subject = name(der, items[4][1], items[4][2])
    not_after = time_value(validity[1][0], der[validity[1][1] : validity[1][2]])
    return {"issuer": issuer, "subject": subject, "not_after": not_after}
