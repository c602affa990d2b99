# -*- coding: utf-8 -*-
# Copyright (c) apim.selfhosted contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Shape and expiry of Azure API Management gateway access tokens.

A token is ``<gatewayId>&<yyyyMMddHHmm>&<signature>``; ARM's generateToken returns it bare and the gateway
reads it behind a ``GatewayKey `` prefix. The expiry field is UTC. Only the shape is checked here: the
signature can be verified by the Configuration API alone.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import datetime
import re

PREFIX = "GatewayKey "
EXPIRY_FORMAT = "%Y%m%d%H%M"
_SHAPE = re.compile(r"^(?P<gw>[A-Za-z0-9][A-Za-z0-9._-]{0,79})&(?P<exp>[0-9]{12})&(?P<sig>[A-Za-z0-9+/]+={0,2})$")

UTC = datetime.timezone.utc


class TokenFormatError(ValueError):
    """The value is not a gateway access token. The message never contains the value."""


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
