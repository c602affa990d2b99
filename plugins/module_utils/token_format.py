# -*- coding: utf-8 -*-
# Copyright (c) apim.selfhosted contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Shape and expiry of Azure API Management gateway access tokens.

A token is ``<gatewayId>&<yyyyMMddHHmm>&<signature>``; ARM's generateToken returns it bare and the gateway
reads it behind a ``GatewayKey `` prefix. The expiry field is UTC. Only the shape is checked here: the
signature can be verified by the Configuration API alone.

The gateway id follows Azure's rule for the gateway resource name (the REST API's ``gatewayId``: 1 to 80
characters, not ``managed``, and none of the characters that the resource path reserves, as the ``gateway``
module documents), here and in the role's validation alike.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import datetime
import re

PREFIX = "GatewayKey "
EXPIRY_FORMAT = "%Y%m%d%H%M"
GATEWAY_ID_BANNED = "*#&+:<>?/%\\"
GATEWAY_ID_MAX = 80
_SHAPE = re.compile(r"^(?P<gw>[^&]+)&(?P<exp>[0-9]{12})&(?P<sig>[A-Za-z0-9+/]+={0,2})$")

UTC = datetime.timezone.utc
# How the collection writes an expiry: ISO 8601 UTC, to the minute as the token carries it.
ISO_MINUTE = "%Y-%m-%dT%H:%M:00Z"


class TokenFormatError(ValueError):
    """The value is not a gateway access token. The message never contains the value."""


def gateway_id_problem(name):
    """Why ``name`` cannot be a gateway resource's name (id), or None."""
    if not isinstance(name, str) or not name:
        return "must not be empty"
    if len(name) > GATEWAY_ID_MAX:
        return "is longer than %d characters" % GATEWAY_ID_MAX
    banned = sorted(set(ch for ch in name if ch in GATEWAY_ID_BANNED))
    if banned:
        return "contains %s (Azure bans %s in gateway names)" % (" ".join(banned), " ".join(GATEWAY_ID_BANNED))
    if any(ord(ch) < 32 or ord(ch) == 127 for ch in name):
        return "contains a control character"
    if name != name.strip():
        return "has leading or trailing whitespace"
    if name.lower() == "managed":
        return "is 'managed', the name Azure reserves for the managed gateway"
    return None


def strip_prefix(token):
    """The bare token (what ARM returns), with surrounding whitespace removed."""
    if not isinstance(token, str):
        raise TokenFormatError("a gateway token must be a string")
    token = token.strip()
    if token.startswith(PREFIX):
        token = token[len(PREFIX) :].strip()
    return token


def with_prefix(token):
    """The token as the gateway reads it: ``GatewayKey <gatewayId>&<expiry>&<signature>``."""
    parse(token)
    return PREFIX + strip_prefix(token)


def parse(token):
    """Return ``(gateway_id, expiry)`` (expiry an aware UTC datetime) or raise TokenFormatError."""
    bare = strip_prefix(token)
    if not bare:
        raise TokenFormatError("the gateway token is empty")
    m = _SHAPE.match(bare)
    if not m:
        raise TokenFormatError(
            "the gateway token does not have the shape [GatewayKey ]<gatewayId>&<yyyyMMddHHmm>&<base64 signature>"
        )
    problem = gateway_id_problem(m.group("gw"))
    if problem:
        # The gateway id is not secret (the env-file and the status report show it), but keep the message short.
        raise TokenFormatError("the gateway token's gateway id %s" % problem)
    try:
        expiry = datetime.datetime.strptime(m.group("exp"), EXPIRY_FORMAT).replace(tzinfo=UTC)
    except ValueError:
        raise TokenFormatError("the gateway token's expiry field is not a valid yyyyMMddHHmm UTC time") from None
    return m.group("gw"), expiry


def expiry(token):
    """The token's expiry as an aware UTC datetime."""
    return parse(token)[1]


def days_left(token, now=None):
    """Whole days until the token expires (floor); negative once it has expired."""
    now = now or datetime.datetime.now(UTC)
    return (expiry(token) - now).days


def parse_iso(text):
    """Parse an ISO 8601 date or date-time; naive values are UTC. Returns an aware datetime or raises ValueError."""
    value = text.strip()
    if value.endswith("Z") or value.endswith("z"):
        value = value[:-1] + "+00:00"
    if len(value) == 10:
        when = datetime.datetime.strptime(value, "%Y-%m-%d")
    else:
        when = datetime.datetime.fromisoformat(value)
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return when.astimezone(UTC)
