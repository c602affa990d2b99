# -*- coding: utf-8 -*-
# Copyright (c) apim.selfhosted contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Which of a gateway's two keys signs a token, told without a token or a key leaving where it is.

A token is ``<gatewayId>&<yyyyMMddHHmm>&<signature>``, signed with the gateway's primary or secondary key. ARM's
generateToken for the same gateway, expiry minute and key gives the same token (the signature depends on nothing
else), so a token's SHA-256 digest, compared with the digests of the two tokens Azure makes for its expiry, names
its key. Hosts send digests (``fingerprint``), Azure is never asked for its keys.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import datetime
import hashlib

from ansible_collections.apim.selfhosted.plugins.module_utils.token_format import (
    ISO_MINUTE,
    parse,
    parse_iso,
    strip_prefix,
)

KEYS = ("primary", "secondary")
# A token no current key signs (its key was regenerated since, or it belongs to another gateway).
NONE = "none"
EXPIRED = "expired"
UTC = datetime.timezone.utc


def digest(token):
    """SHA-256 (hex) of the bare token: it identifies the token and cannot be turned back into it."""
    return hashlib.sha256(strip_prefix(token).encode("utf-8")).hexdigest()


def fingerprint(token):
    """``{gateway, expiry, sha256}`` of a token (raises TokenFormatError, whose message holds no secret)."""
    gateway, expiry = parse(token)
    return {"gateway": gateway, "expiry": expiry.strftime(ISO_MINUTE), "sha256": digest(token)}


def parse_expiry(text):
    """A fingerprint's expiry (ISO 8601, UTC) as an aware datetime to the minute; raises ValueError."""
    return parse_iso(str(text)).replace(second=0, microsecond=0)


def check_fingerprints(items, name):
    """Problems with a list of fingerprints given as option ``name``; each must have an expiry and a digest."""
    problems = []
    for i, item in enumerate(items or []):
        if not isinstance(item, dict) or not item.get("sha256") or not item.get("expiry"):
            problems.append("%s[%d] needs expiry and sha256 (apim.selfhosted.token_fingerprint)" % (name, i))
            continue
        try:
            parse_expiry(item["expiry"])
        except ValueError:
            problems.append("%s[%d].expiry is not an ISO 8601 date-time: %s" % (name, i, item["expiry"]))
    return problems


class KeyOracle(object):
    """Asks Azure for the token of each key and expiry once, and names the key of a fingerprint.

    ``generate(key_type, expiry)`` returns the bare or prefixed token that generateToken makes.
    """

    def __init__(self, generate, now=None):
        self._generate = generate
        self._now = now or datetime.datetime.now(UTC)
        self._digests = {}
        self.asked = 0

    def key_of(self, item):
        """``primary``, ``secondary``, ``none`` (no current key signs it) or ``expired`` (Azure signs no past
        expiry)."""
        expiry = parse_expiry(item["expiry"])
        if expiry <= self._now:
            return EXPIRED
        for key in KEYS:
            if (key, expiry) not in self._digests:
                self.asked += 1
                self._digests[(key, expiry)] = digest(self._generate(key, expiry))
            if self._digests[(key, expiry)] == str(item["sha256"]).lower():
                return key
        return NONE


def gateway_oracle(az, client, params):
    """A KeyOracle over generateToken of the gateway named by a module's ``params`` (AzureModule ``az``)."""
    label = "gateway '%s' of API Management instance '%s'" % (params["gateway"], params["service_name"])

    def generate(key_type, expiry):
        what = "asking for a %s-key token of %s" % (key_type, label)
        rg, svc, gw = params["resource_group"], params["service_name"], params["gateway"]
        body = {"key_type": key_type, "expiry": expiry}
        return az.call(what, client.gateway.generate_token, rg, svc, gw, body).value or ""

    return KeyOracle(generate)


def next_key(keys_in_use):
    """The key for new tokens: the one that signs none of the tokens in use, so that the other can be regenerated
    without cutting a gateway off; primary when both or neither sign tokens in use."""
    used = set(k for k in keys_in_use if k in KEYS)
    if len(used) == 1:
        return other(used.pop())
    return KEYS[0]


def other(key):
    return KEYS[1] if key == KEYS[0] else KEYS[0]
