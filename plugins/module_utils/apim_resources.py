# -*- coding: utf-8 -*-
# Copyright (c) apim.selfhosted contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Shared pieces of the modules that manage entities of an API Management instance over the SDK:
entity ids, reads that keep the ETag, resource ids, and the certificate view with its days left."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import datetime
import re

from ansible_collections.apim.selfhosted.plugins.module_utils.azure_client import HttpResponseError

# API Management entity identifiers (gateways, certificates, hostname configurations): 1-80 characters without
# these characters (the service's rule for gateway ids, which its other entities share).
ENTITY_ID_RE = re.compile(r"^[^*#&+:<>?/%\\]{1,80}$")

# The options every module of an instance's entities takes, besides the Azure ones.
SERVICE_SPEC = dict(
    resource_group=dict(type="str", required=True),
    service_name=dict(type="str", required=True),
)
# ...and those of a gateway resource's (the doc fragment apim.selfhosted.apim_service.gateway).
GATEWAY_SPEC = dict(SERVICE_SPEC, gateway=dict(type="str", required=True))


def check_entity_id(az, value, option):
    if not ENTITY_ID_RE.match(value or ""):
        az.fail("%s must be 1 to 80 characters without * # & + : < > ? / %% \\, got '%s'" % (option, value))
    return value


def read(az, what, fn, *args):
    """(model, ETag) of an entity, or (None, None) when Azure answers 404."""
    try:
        return fn(*args, cls=lambda _response, model, headers: (model, (headers or {}).get("ETag")))
    except HttpResponseError as exc:
        if exc.status_code == 404:
            return None, None
        az.fail_from(exc, "reading %s" % what)


def write(az, what, fn, *args, **kwargs):
    """Run a write; an ETag that no longer matches (412) fails with what to do."""
    try:
        return fn(*args, **kwargs)
    except HttpResponseError as exc:
        if exc.status_code == 412:
            az.fail("%s: it was changed by someone else since it was read (ETag mismatch); run again" % what)
        az.fail_from(exc, what)


def service_id(subscription_id, resource_group, service_name):
    return "/subscriptions/%s/resourceGroups/%s/providers/Microsoft.ApiManagement/service/%s" % (
        subscription_id,
        resource_group,
        service_name,
    )


def certificate_id(subscription_id, resource_group, service_name, value):
    """The full resource id of a certificate of the instance, from its name or its id."""
    if "/" in value:
        return value
    return "%s/certificates/%s" % (service_id(subscription_id, resource_group, service_name), value)


def utcnow():
    return datetime.datetime.now(datetime.timezone.utc)


def days_left(expiry, now=None):
    """Whole days from ``now`` until ``expiry`` (negative once expired); None without an expiry."""
    if expiry is None:
        return None
    if expiry.tzinfo is None:
        expiry = expiry.replace(tzinfo=datetime.timezone.utc)
    return int((expiry - (now or utcnow())).total_seconds() // 86400)


def iso(value):
    if value is None:
        return None
    if value.tzinfo is None:
        value = value.replace(tzinfo=datetime.timezone.utc)
    return value.astimezone(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def certificate_view(contract, now=None):
    """What the modules return about a certificate: never its data or password (Azure does not return them)."""
    kv = contract.key_vault
    last = kv.last_status if kv else None
    return {
        "id": contract.id,
        "name": contract.name,
        "subject": contract.subject,
        "thumbprint": (contract.thumbprint or "").upper(),
        "expiration_date": iso(contract.expiration_date),
        "days_left": days_left(contract.expiration_date, now),
        "key_vault": {
            "secret_identifier": kv.secret_identifier,
            "identity_client_id": kv.identity_client_id,
            "last_status": (last.code if last else None),
        }
        if kv
        else None,
    }
