"""The decisions of apim.selfhosted.event_subscription: option checks, the request body, what differs, the view."""

import json

import pytest

from ansible_collections.apim.selfhosted.plugins.module_utils import event_subscription as es

SECRET = "s3cr3t-value"


def opts(**kw):
    p = {
        "name": "gateway-token-events",
        "state": "present",
        "endpoint_url": "https://eda.example.com:5443/hook?tenant=lyon",
        "shared_secret": SECRET,
        "shared_secret_in": "query",
        "shared_secret_name": "code",
        "entra_tenant_id": None,
        "entra_application_id_or_uri": None,
        "event_types": list(es.DEFAULT_EVENT_TYPES),
        "event_delivery_schema": "EventGridSchema",
        "max_events_per_batch": 1,
        "preferred_batch_size_kb": 64,
        "max_delivery_attempts": 30,
        "event_ttl_minutes": 1440,
        "labels": [],
    }
    p.update(kw)
    return p


class Mapping:
    def __init__(self, name, value, is_secret=True, type="Static"):
        self.name, self.value, self.is_secret, self.type = name, value, is_secret, type


def existing(p, **over):
    """An existing subscription as the SDK returns it (attribute names), matching the options ``p``."""
    body = es.request_body(p)["properties"]
    dest = body["destination"]["properties"]
    sub = {
        "provisioning_state": "Succeeded",
        "destination": {
            "max_events_per_batch": dest["maxEventsPerBatch"],
            "preferred_batch_size_in_kilobytes": dest["preferredBatchSizeInKilobytes"],
            "azure_active_directory_tenant_id": dest.get("azureActiveDirectoryTenantId"),
            "azure_active_directory_application_id_or_uri": dest.get("azureActiveDirectoryApplicationIdOrUri"),
        },
        "filter": {
            "included_event_types": list(reversed(body["filter"]["includedEventTypes"])),
            "subject_begins_with": "",
            "subject_ends_with": "",
            "advanced_filters": [],
        },
        "labels": [],
        "event_delivery_schema": body["eventDeliverySchema"],
        "retry_policy": {"max_delivery_attempts": 30, "event_time_to_live_in_minutes": 1440},
    }
    sub.update(over)
    return sub


def test_the_secret_goes_in_the_query_and_keeps_the_url_own_parameters():
    assert es.full_url(opts()) == f"https://eda.example.com:5443/hook?tenant=lyon&code={SECRET}"
    body = es.request_body(opts())
    assert "deliveryAttributeMappings" not in body["properties"]["destination"]["properties"]


def test_the_secret_in_a_header_is_a_secret_delivery_attribute():
    p = opts(shared_secret_in="header", shared_secret_name="X-Apim-Eda-Secret")
    dest = es.request_body(p)["properties"]["destination"]["properties"]
    assert dest["endpointUrl"] == p["endpoint_url"]
    assert dest["deliveryAttributeMappings"] == [
        {"name": "X-Apim-Eda-Secret", "type": "Static", "properties": {"value": SECRET, "isSecret": True}}
    ]


def test_same_state_has_no_difference_whatever_the_order():
    p = opts()
    have = es.current(existing(p), f"https://EDA.example.com:5443/hook?code={SECRET}&tenant=lyon", [], p)
    assert es.differences(have, es.wanted(p)) == []


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        ({"shared_secret": "another"}, ["query_secret"]),
        ({"endpoint_url": "https://eda.example.com:5443/other"}, ["endpoint"]),
        ({"event_types": [es.EXPIRED]}, ["event_types"]),
        ({"max_events_per_batch": 5}, ["max_events_per_batch"]),
        ({"labels": ["edge"]}, ["labels"]),
        ({"entra_tenant_id": "t", "entra_application_id_or_uri": "api://x"}, ["entra"]),
    ],
)
def test_differences_name_what_changed(change, expected):
    old = opts()
    have = es.current(existing(old), es.full_url(old), [], old)
    assert es.differences(have, es.wanted(opts(**change))) == expected


def test_header_secret_read_back_from_delivery_attributes():
    p = opts(shared_secret_in="header", shared_secret_name="X-Apim-Eda-Secret")
    attrs = [Mapping("x-apim-eda-secret", SECRET)]
    assert es.differences(es.current(existing(p), p["endpoint_url"], attrs, p), es.wanted(p)) == []
    attrs = [Mapping("X-Apim-Eda-Secret", "old")]
    assert es.differences(es.current(existing(p), p["endpoint_url"], attrs, p), es.wanted(p)) == ["header_secret"]


def test_filters_set_outside_the_module_are_a_difference():
    p = opts()
    sub = existing(p)
    sub["filter"]["subject_begins_with"] = "/gateways/lyon"
    assert es.differences(es.current(sub, es.full_url(p), [], p), es.wanted(p)) == ["subject_filter"]


def test_views_never_hold_the_secret():
    p = opts()
    have = es.current(existing(p), es.full_url(p), [], p)
    before, after = es.public_view(have), es.public_view(es.wanted(p), p, ["query_secret"])
    assert before["shared_secret"] == "(hidden)" and before["shared_secret_in"] == "query"
    assert after["shared_secret"] == "(hidden, changes)"
    assert after["endpoint_base_url"] == before["endpoint_base_url"] == "https://eda.example.com:5443/hook"
    assert SECRET not in json.dumps([before, after])


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"endpoint_url": "http://eda.example.com/"}, "endpoint_url must be an https:// URL"),
        ({"endpoint_url": "https://eda.example.com/#x"}, "must not have a #fragment"),
        ({"shared_secret": ""}, "shared_secret must not be empty"),
        ({"shared_secret": None}, "the endpoint needs authentication"),
        ({"shared_secret_in": "header", "shared_secret_name": "X Bad"}, "must be a header name"),
        ({"endpoint_url": "https://eda.example.com/?code=1"}, "already has the query parameter 'code'"),
        ({"entra_application_id_or_uri": "api://x"}, "go together"),
        ({"event_types": []}, "at least one event type"),
        ({"preferred_batch_size_kb": 2048}, "preferred_batch_size_kb must be 1 to 1024, got 2048"),
        ({"event_ttl_minutes": 0}, "event_ttl_minutes must be 1 to 1440, got 0"),
        ({"name": "bad_name"}, "name must be 3 to 64 letters, digits or '-'"),
    ],
)
def test_option_checks_name_the_option(change, message):
    errors = es.check_options(opts(**change))
    assert any(message in e for e in errors), errors


def test_absent_needs_only_a_name():
    assert es.check_options(opts(state="absent", endpoint_url=None, shared_secret=None)) == []
