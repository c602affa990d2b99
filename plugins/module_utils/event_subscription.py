# -*- coding: utf-8 -*-
# Copyright (c) apim.selfhosted contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The Event Grid subscription of an API Management instance: the wanted state from the module's options, the state
Azure has, what differs, and a view of either without secrets."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import hmac
import re

try:
    from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit
except ImportError:  # pragma: no cover - Python 2 is not supported by the collection
    parse_qsl = urlencode = urlsplit = urlunsplit = None

NEAR_EXPIRY = "Microsoft.ApiManagement.GatewayTokenNearExpiry"
EXPIRED = "Microsoft.ApiManagement.GatewayTokenExpired"
DEFAULT_EVENT_TYPES = [NEAR_EXPIRY, EXPIRED]
SCHEMAS = ["EventGridSchema", "CloudEventSchemaV1_0"]
NAME_RE = re.compile(r"^[A-Za-z0-9-]{3,64}$")
HEADER_RE = re.compile(r"^[A-Za-z0-9-]{1,64}$")
HIDDEN = "(hidden)"
HIDDEN_CHANGED = "(hidden, changes)"


def service_scope(subscription_id, resource_group, service_name):
    return "/subscriptions/%s/resourceGroups/%s/providers/Microsoft.ApiManagement/service/%s" % (
        subscription_id,
        resource_group,
        service_name,
    )


def _carrier(p):
    """Where the shared secret travels: query or header."""
    return p["shared_secret_in"]


def check_options(p):
    """Every problem with the options, each naming the option; empty when they are usable."""
    errors = []
    if not NAME_RE.match(p["name"] or ""):
        errors.append("name must be 3 to 64 letters, digits or '-' (Event Grid's rule), got '%s'" % p["name"])
    if p["state"] == "absent":
        return errors
    url = p["endpoint_url"] or ""
    parts = urlsplit(url)
    if parts.scheme != "https" or not parts.hostname:
        errors.append("endpoint_url must be an https:// URL (Event Grid delivers over HTTPS only)")
    elif parts.fragment:
        errors.append("endpoint_url must not have a #fragment")
    secret = p["shared_secret"]
    if secret is not None and secret == "":
        errors.append("shared_secret must not be empty (leave it out for no shared secret)")
    if secret:
        name = p["shared_secret_name"]
        if _carrier(p) == "header" and not HEADER_RE.match(name or ""):
            errors.append(
                "shared_secret_name must be a header name (letters, digits, '-') with shared_secret_in=header"
            )
        if _carrier(p) == "header" and (name or "").lower().startswith("aeg-"):
            errors.append("shared_secret_name must not start with aeg- (Event Grid's own headers)")
        if _carrier(p) == "query" and not name:
            errors.append("shared_secret_name must name the query parameter with shared_secret_in=query")
        if any(pair[0] == name for pair in parse_qsl(parts.query, keep_blank_values=True)):
            errors.append("endpoint_url already has the query parameter '%s': give the secret as shared_secret" % name)
    if bool(p["entra_tenant_id"]) != bool(p["entra_application_id_or_uri"]):
        errors.append("entra_tenant_id and entra_application_id_or_uri go together")
    if not p["shared_secret"] and not p["entra_tenant_id"]:
        errors.append(
            "the endpoint needs authentication: set shared_secret, or entra_tenant_id with entra_application_id_or_uri"
        )
    types = p["event_types"]
    if not types:
        errors.append("event_types must name at least one event type")
    bad = [t for t in types or [] if not str(t).startswith("Microsoft.ApiManagement.")]
    if bad:
        errors.append("event_types must be API Management event types (Microsoft.ApiManagement.*), got %s" % bad)
    for opt, low, high in (
        ("max_events_per_batch", 1, 5000),
        ("preferred_batch_size_kb", 1, 1024),
        ("max_delivery_attempts", 1, 30),
        ("event_ttl_minutes", 1, 1440),
    ):
        if not low <= p[opt] <= high:
            errors.append("%s must be %d to %d, got %d" % (opt, low, high, p[opt]))
    return errors


def full_url(p):
    """The endpoint URL Event Grid calls: ``endpoint_url`` plus the secret when it goes in the query."""
    url = p["endpoint_url"]
    if not (p["shared_secret"] and _carrier(p) == "query"):
        return url
    parts = urlsplit(url)
    query = [*parse_qsl(parts.query, keep_blank_values=True), (p["shared_secret_name"], p["shared_secret"])]
    return urlunsplit((parts.scheme, parts.netloc, parts.path, urlencode(query), ""))


def _base(url):
    parts = urlsplit(url or "")
    return urlunsplit((parts.scheme, parts.netloc, parts.path, "", ""))


def request_body(p):
    """The event subscription as ARM takes it in a PUT."""
    dest = {
        "endpointUrl": full_url(p),
        "maxEventsPerBatch": p["max_events_per_batch"],
        "preferredBatchSizeInKilobytes": p["preferred_batch_size_kb"],
    }
    if p["entra_tenant_id"]:
        dest["azureActiveDirectoryTenantId"] = p["entra_tenant_id"]
        dest["azureActiveDirectoryApplicationIdOrUri"] = p["entra_application_id_or_uri"]
    if p["shared_secret"] and _carrier(p) == "header":
        dest["deliveryAttributeMappings"] = [
            {
                "name": p["shared_secret_name"],
                "type": "Static",
                "properties": {"value": p["shared_secret"], "isSecret": True},
            }
        ]
    return {
        "properties": {
            "destination": {"endpointType": "WebHook", "properties": dest},
            "filter": {
                "includedEventTypes": list(p["event_types"]),
                "subjectBeginsWith": "",
                "subjectEndsWith": "",
                "isSubjectCaseSensitive": False,
            },
            "labels": list(p["labels"]),
            "eventDeliverySchema": p["event_delivery_schema"],
            "retryPolicy": {
                "maxDeliveryAttempts": p["max_delivery_attempts"],
                "eventTimeToLiveInMinutes": p["event_ttl_minutes"],
            },
        }
    }


def _split_url(url, secret_name):
    """(comparable URL without the secret parameter, the secret parameter's value or None)."""
    parts = urlsplit(url or "")
    query = parse_qsl(parts.query, keep_blank_values=True)
    secret = [v for k, v in query if secret_name and k == secret_name]
    rest = tuple(sorted((k, v) for k, v in query if not (secret_name and k == secret_name)))
    return (parts.scheme.lower(), parts.netloc.lower(), parts.path, rest), (secret[0] if secret else None)


def _query_name(p):
    return p["shared_secret_name"] if p["shared_secret"] and _carrier(p) == "query" else None


def wanted(p):
    """The comparable state the options ask for (holds the secret: never return it)."""
    endpoint, query_secret = _split_url(full_url(p), _query_name(p))
    return {
        "endpoint": endpoint,
        "query_secret": query_secret,
        "header_secret": (p["shared_secret_name"].lower(), p["shared_secret"])
        if p["shared_secret"] and _carrier(p) == "header"
        else None,
        "entra": (p["entra_tenant_id"] or "", p["entra_application_id_or_uri"] or ""),
        "event_types": sorted(t.lower() for t in p["event_types"]),
        "subject_filter": ("", ""),
        "advanced_filters": 0,
        "event_delivery_schema": p["event_delivery_schema"],
        "max_events_per_batch": p["max_events_per_batch"],
        "preferred_batch_size_kb": p["preferred_batch_size_kb"],
        "max_delivery_attempts": p["max_delivery_attempts"],
        "event_ttl_minutes": p["event_ttl_minutes"],
        "labels": sorted(p["labels"]),
    }


def _get(obj, *path, **kw):
    for name in path:
        obj = obj.get(name) if isinstance(obj, dict) else getattr(obj, name, None)
        if obj is None:
            return kw.get("default")
    return obj


def current(sub, endpoint_url, attributes, p):
    """The comparable state of an existing subscription (SDK model), with its full URL (getFullUrl) and its delivery
    attributes (getDeliveryAttributes, secret values included), split the way the options ``p`` put a secret."""
    dest = _get(sub, "destination")
    flt = _get(sub, "filter")
    header_secret = None
    for m in attributes or []:
        if _get(m, "type") == "Static" and _get(m, "is_secret"):
            header_secret = (str(_get(m, "name", default="")).lower(), _get(m, "value", default=""))
            break
    endpoint, query_secret = _split_url(endpoint_url, _query_name(p))
    types = list(_get(flt, "included_event_types", default=[]))
    return {
        "endpoint": endpoint,
        "query_secret": query_secret,
        "header_secret": header_secret,
        "entra": (
            _get(dest, "azure_active_directory_tenant_id", default=""),
            _get(dest, "azure_active_directory_application_id_or_uri", default=""),
        ),
        "event_types": sorted(t.lower() for t in types),
        "subject_filter": (_get(flt, "subject_begins_with", default=""), _get(flt, "subject_ends_with", default="")),
        "advanced_filters": len(_get(flt, "advanced_filters", default=[])),
        "event_delivery_schema": _get(sub, "event_delivery_schema", default="EventGridSchema"),
        "max_events_per_batch": _get(dest, "max_events_per_batch", default=1),
        "preferred_batch_size_kb": _get(dest, "preferred_batch_size_in_kilobytes", default=64),
        "max_delivery_attempts": _get(sub, "retry_policy", "max_delivery_attempts", default=30),
        "event_ttl_minutes": _get(sub, "retry_policy", "event_time_to_live_in_minutes", default=1440),
        "labels": sorted(_get(sub, "labels", default=[])),
        "_endpoint_url": endpoint_url or "",
        "_event_types": types,
    }


def differences(have, want):
    """The names of what differs (secrets compared in constant time)."""
    out = []
    for key in want:
        a, b = have.get(key), want[key]
        if key in ("query_secret", "header_secret") and a and b:
            a_name, a_value = a if key == "header_secret" else ("", a)
            b_name, b_value = b if key == "header_secret" else ("", b)
            same = a_name == b_name and hmac.compare_digest(str(a_value).encode(), str(b_value).encode())
        else:
            same = a == b
        if not same:
            out.append(key)
    return out


def public_view(state, p=None, changes=()):
    """What the module shows of a state (the wanted one with ``p``, else an existing one): no secret, no query."""
    if p is not None:
        url = p["endpoint_url"]
        secret_in = p["shared_secret_in"] if p["shared_secret"] else ""
        types = list(p["event_types"])
    else:
        url = state.get("_endpoint_url", "")
        secret_in = "header" if state.get("header_secret") else ("query" if state.get("query_secret") else "")
        types = list(state.get("_event_types", state["event_types"]))
    secret = ""
    if secret_in:
        secret = (
            HIDDEN_CHANGED if p is not None and ({"state", "query_secret", "header_secret"} & set(changes)) else HIDDEN
        )
    return {
        "endpoint_base_url": _base(url),
        "shared_secret": secret,
        "shared_secret_in": secret_in,
        "entra_tenant_id": state["entra"][0] or "",
        "entra_application_id_or_uri": state["entra"][1] or "",
        "event_types": types,
        "event_delivery_schema": state["event_delivery_schema"],
        "max_events_per_batch": state["max_events_per_batch"],
        "preferred_batch_size_kb": state["preferred_batch_size_kb"],
        "max_delivery_attempts": state["max_delivery_attempts"],
        "event_ttl_minutes": state["event_ttl_minutes"],
        "labels": list(state["labels"]),
    }
