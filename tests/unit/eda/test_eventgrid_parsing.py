"""The event source's parsing, through the Azure SDK's models: both schemas, both forms of the gateway id, batches,
malformed deliveries, and the remembered event ids (in memory and across a restart)."""

import json
import os
import pathlib
import runpy
import stat

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[3]
SRC = runpy.run_path(str(ROOT / "extensions" / "eda" / "plugins" / "event_source" / "eventgrid.py"))
TOPIC = (
    "/subscriptions/5c3d2e1f-0a9b-4c8d-9e7f-6a5b4c3d2e1f/resourceGroups/rg-apim/providers/Microsoft.ApiManagement/"
    "service/contoso"
)


def eg_event(gateway_id="lab-gw", kind="NearExpiry", event_id="ev-1", expiry_key=None):
    """An event of the Event Grid schema as the service's example has it."""
    key = expiry_key or ("expiredAtUtc" if kind == "Expired" else "expiresAtUtc")
    return {
        "id": event_id,
        "topic": TOPIC,
        "subject": "/gateways/lab-gw/instance-1",
        "data": {
            "gatewayInfo": {"gatewayId": gateway_id, "instanceId": "instance-1"},
            "tokenInfo": {key: "2025-02-25T08:56:00.0000000Z"},
        },
        "eventType": f"Microsoft.ApiManagement.GatewayToken{kind}",
        "dataVersion": "1",
        "metadataVersion": "1",
        "eventTime": "2021-07-02T00:47:48.8269769Z",
    }


def cloud_event(gateway_id="lab-gw", kind="Expired", event_id="ce-1"):
    """The same event in the CloudEvents v1.0 schema."""
    ev = eg_event(gateway_id, kind, event_id)
    return {
        "source": TOPIC,
        "subject": ev["subject"],
        "type": ev["eventType"],
        "time": "2025-04-02T00:47:47.8536532Z",
        "id": event_id,
        "data": ev["data"],
        "specversion": "1.0",
    }


def token_events(body):
    kind, envelopes = SRC["parse_delivery"](json.dumps(body).encode())
    assert kind == "events"
    return [SRC["token_event"](e) for e in envelopes]


def test_the_sdk_names_the_events_as_the_source_does():
    SRC["check_sdk_names"]()


def test_event_grid_schema_near_expiry():
    (ev,) = token_events([eg_event()])
    assert ev["schema"] == "EventGridSchema"
    assert ev["type"] == "Microsoft.ApiManagement.GatewayTokenNearExpiry"
    assert ev["time"] == "2021-07-02T00:47:48Z"
    assert ev["gateway"] == {
        "name": "lab-gw",
        "service": "contoso",
        "resource_group": "rg-apim",
        "subscription_id": "5c3d2e1f-0a9b-4c8d-9e7f-6a5b4c3d2e1f",
        "resource_id": TOPIC + "/gateways/lab-gw",
        "instance_id": "instance-1",
    }
    assert ev["token"] == {"expires_at": "2025-02-25T08:56:00Z", "expired": False}


def test_cloudevents_schema_expired():
    (ev,) = token_events(cloud_event())
    assert ev["schema"] == "CloudEventSchemaV1_0"
    assert ev["topic"] == TOPIC
    assert ev["token"] == {"expires_at": "2025-02-25T08:56:00Z", "expired": True}


@pytest.mark.parametrize(
    "gateway_id",
    [
        "lab-gw",
        TOPIC + "/gateways/lab-gw",
        # The form the SDKs' documentation gives: no "providers", "gateway" in the singular.
        "/subscriptions/5c3d2e1f-0a9b-4c8d-9e7f-6a5b4c3d2e1f/resourceGroups/rg-apim/Microsoft.ApiManagement/service/"
        "contoso/gateway/lab-gw",
        TOPIC.upper().replace("/GATEWAYS", "/gateways") + "/Gateways/lab-gw",
    ],
)
def test_bare_name_and_resource_id_give_the_same_gateway(gateway_id):
    (ev,) = token_events([eg_event(gateway_id)])
    assert ev["gateway"]["name"] == "lab-gw"
    assert ev["gateway"]["service"].lower() == "contoso"
    assert ev["gateway"]["resource_group"].lower() == "rg-apim"


def test_resource_id_of_another_instance_wins_over_the_topic():
    other = "/subscriptions/s2/resourceGroups/rg2/providers/Microsoft.ApiManagement/service/fabrikam/gateways/edge"
    (ev,) = token_events([eg_event(other)])
    assert (ev["gateway"]["name"], ev["gateway"]["service"], ev["gateway"]["resource_group"]) == (
        "edge",
        "fabrikam",
        "rg2",
    )


@pytest.mark.parametrize("key", ["expiresAtUtc", "expiredAtUtc"])
def test_near_expiry_takes_either_expiry_key(key):
    # The service's example says expiresAtUtc; the SDKs read expiredAtUtc for both events.
    (ev,) = token_events([eg_event(expiry_key=key)])
    assert ev["token"]["expires_at"] == "2025-02-25T08:56:00Z"


def test_a_batch_keeps_its_order():
    body = [eg_event(event_id=f"ev-{i}", gateway_id=f"gw-{i}") for i in range(5)]
    assert [e["gateway"]["name"] for e in token_events(body)] == [f"gw-{i}" for i in range(5)]


def test_subscription_validation_is_recognised():
    body = [
        {
            "id": "2d1781af-3a4c-4d7c-bd0c-e34b19da4e66",
            "topic": TOPIC,
            "subject": "",
            "data": {"validationCode": "512d38b6-c7b8-40c8-89fe-f46f9e9622b6", "validationUrl": "https://rp/validate"},
            "eventType": "Microsoft.EventGrid.SubscriptionValidationEvent",
            "eventTime": "2018-01-25T22:12:19.4556811Z",
            "metadataVersion": "1",
            "dataVersion": "1",
        }
    ]
    assert SRC["parse_delivery"](json.dumps(body), "SubscriptionValidation") == (
        "validation",
        "512d38b6-c7b8-40c8-89fe-f46f9e9622b6",
    )


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b"not json", "the body is not JSON"),
        (b"[]", "holds no event"),
        (json.dumps([eg_event(), {"id": "x"}]).encode(), "event 2 of 2: not an Event Grid event: missing eventType"),
        (json.dumps({"specversion": "1.0", "id": "c"}).encode(), "not a CloudEvent"),
        (json.dumps([dict(eg_event(), eventTime="yesterday")]).encode(), "not an Event Grid event"),
        (json.dumps([{**cloud_event(), "specversion": "0.3"}]).encode(), "specversion"),
    ],
)
def test_malformed_deliveries_are_refused_whole(body, message):
    with pytest.raises(ValueError, match=message):
        SRC["parse_delivery"](body)


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"tokenInfo": {"expiresAtUtc": "2025-02-25T08:56:00Z"}}, "gatewayInfo is missing"),
        ({"gatewayInfo": {"gatewayId": ""}, "tokenInfo": {}}, "gatewayId is missing"),
        ({"gatewayInfo": {"gatewayId": "/subscriptions/s/resourceGroups/r"}, "tokenInfo": {}}, "names no gateway"),
        ({"gatewayInfo": {"gatewayId": "gw"}}, "tokenInfo is missing"),
        ({"gatewayInfo": {"gatewayId": "gw"}, "tokenInfo": {"expiresAtUtc": "soon"}}, "not an ISO 8601 time"),
    ],
)
def test_token_events_need_their_data(data, message):
    (env,) = SRC["parse_delivery"](json.dumps([dict(eg_event(), data=data)]))[1]
    with pytest.raises(ValueError, match=message):
        SRC["token_event"](env)


def test_remembered_ids_forget_the_oldest():
    seen = SRC["Seen"](size=3)
    for i in range(5):
        seen.add(f"id-{i}")
    assert [f"id-{i}" in seen for i in range(5)] == [False, False, True, True, True]


def test_remembered_ids_survive_a_restart(tmp_path):
    path = tmp_path / "ids.json"
    seen = SRC["Seen"](size=100, path=str(path))
    seen.add("a")
    seen.add("b")
    seen.save()
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    again = SRC["Seen"](size=100, path=str(path))
    assert "a" in again and "b" in again and "c" not in again
    path.write_text("{broken")
    assert "a" not in SRC["Seen"](size=100, path=str(path))  # logged, starts empty
