"""apim.selfhosted.event_subscription against the strict fake ARM, whose Event Grid validates the webhook the way the
service does, here the collection's own event source running under ansible-rulebook: create (handshake), rerun
(no write), check and diff mode, a changed secret (the handshake fails with Azure's message), the secret in a header,
CloudEvents, a delivery of a published event, removal; secrets never in results, diffs or -vvv output."""

import json
import uuid

import pytest

from apim_testkit.fake_arm import eventgrid as fake_eventgrid
from apim_testkit.rulebook import Rulebook, debug_rulebook, free_port, tls_files

SECRET = "eg-" + uuid.uuid4().hex
RG, SVC, NAME = "rg-apim", "contoso", "gateway-token-events"


@pytest.fixture(scope="module")
def source(tmp_path_factory):
    """The event source under ansible-rulebook, with TLS from a CA the fake Event Grid is told to trust."""
    tmp = tmp_path_factory.mktemp("eventgrid-source")
    ca, _, cert, key = tls_files(str(tmp))
    port = free_port()
    args = {"host": "127.0.0.1", "port": port, "certfile": cert, "keyfile": key, "shared_secret": SECRET}
    (tmp / "rb.yml").write_text(debug_rulebook(args))
    (tmp / "inv.yml").write_text("all:\n  hosts:\n    localhost:\n")
    book = Rulebook(tmp / "rb.yml", tmp / "inv.yml").start()
    book.url = f"https://127.0.0.1:{port}/"
    book.ca_pem = ca.cert_pem.bytes().decode()
    yield book
    book.stop()


@pytest.fixture
def arm(azure, source):
    azure.fake.state.add_service(SVC, RG)
    fake_eventgrid.trust(azure.fake, source.ca_pem)
    return azure


def args(arm, source, **kw):
    return {"subscription_id": arm.sub, "resource_group": RG, "service_name": SVC, "name": NAME,
            "endpoint_url": source.url, "shared_secret": SECRET, **kw}  # fmt: skip


def eg_writes(arm):
    return [r for r in arm.fake.arm_requests() if r["method"] in ("PUT", "PATCH", "DELETE")]


def assert_no_secret(*things):
    for thing in things:
        assert SECRET not in json.dumps(thing, default=str)


def test_create_rerun_check_and_diff(arm, source):
    since = source.mark()
    check = arm.module("event_subscription", args(arm, source), check=True, diff=True)
    assert check["changed"] and check["changes"] == ["state"], check
    assert eg_writes(arm) == []
    assert check["diff"]["before"] == {} and check["diff"]["after"]["shared_secret"] == "(hidden, changes)"

    made = arm.module("event_subscription", args(arm, source), diff=True)
    assert made["changed"], made
    sub = made["event_subscription"]
    assert sub["provisioning_state"] == "Succeeded"
    assert sub["endpoint_base_url"] == source.url and sub["shared_secret_in"] == "query"
    assert sub["event_types"] == [
        "Microsoft.ApiManagement.GatewayTokenNearExpiry",
        "Microsoft.ApiManagement.GatewayTokenExpired",
    ]
    assert sub["id"].endswith(f"/service/{SVC}/providers/Microsoft.EventGrid/eventSubscriptions/{NAME}")
    source.wait_for("answered the subscription validation handshake", since=since)
    # Azure holds the secret in the endpoint URL's query; nothing the module returned has it.
    (stored,) = fake_eventgrid.state(arm.fake).subs.values()
    assert stored["endpoint_url"] == f"{source.url}?code={SECRET}"
    assert_no_secret(check, made)

    arm.fake.clear_requests()
    again = arm.module("event_subscription", args(arm, source), diff=True)
    assert not again["changed"] and again["changes"] == [], again
    assert eg_writes(arm) == []
    assert again["diff"]["before"] == again["diff"]["after"]
    posts = {r["path"].rsplit("/", 1)[-1] for r in arm.fake.arm_requests() if r["method"] == "POST"}
    assert posts == {"getFullUrl", "getDeliveryAttributes"}
    assert_no_secret(again)

    # A changed batch size is an update without a new handshake.
    bigger = arm.module("event_subscription", args(arm, source, max_events_per_batch=10), diff=True)
    assert bigger["changed"] and bigger["changes"] == ["max_events_per_batch"]
    assert (
        bigger["diff"]["before"]["max_events_per_batch"] == 1 and bigger["diff"]["after"]["max_events_per_batch"] == 10
    )


def test_a_secret_the_endpoint_does_not_hold_fails_the_handshake(arm, source):
    arm.module("event_subscription", args(arm, source))
    since = source.mark()
    other = "other-" + uuid.uuid4().hex
    bad = arm.module("event_subscription", args(arm, source, shared_secret=other), diff=True)
    assert bad.get("failed"), bad
    assert "Webhook validation handshake failed" in bad["msg"]
    assert "the event source (apim.selfhosted.eventgrid) must run at endpoint_url" in bad["msg"]
    assert other not in json.dumps(bad) and SECRET not in json.dumps(bad)
    source.wait_for(r"refused POST / from 127\.0\.0\.1: wrong shared secret", since=since)
    # Failed: the next run with the right secret writes again and succeeds.
    fixed = arm.module("event_subscription", args(arm, source))
    assert fixed["changed"] and fixed["event_subscription"]["provisioning_state"] == "Succeeded"
    assert "provisioning_state" in fixed["changes"]


def test_secret_in_a_header_and_cloudevents(arm, source):
    arm.module("event_subscription", args(arm, source))
    since = source.mark()
    moved = arm.module("event_subscription", args(arm, source, shared_secret_in="header"), diff=True)
    assert moved["changed"] and set(moved["changes"]) == {"endpoint", "header_secret"}, moved
    assert moved["event_subscription"]["shared_secret_in"] == "header"
    (stored,) = fake_eventgrid.state(arm.fake).subs.values()
    assert stored["endpoint_url"] == source.url
    view = arm.fake.arm_requests()
    assert_no_secret(moved, [r for r in view if r["method"] == "GET"])
    source.wait_for("answered the subscription validation handshake", since=since)
    assert not arm.module("event_subscription", args(arm, source, shared_secret_in="header"))["changed"]

    ce = arm.module("event_subscription", args(arm, source, event_delivery_schema="CloudEventSchemaV1_0"))
    assert ce["changed"] and ce["event_subscription"]["event_delivery_schema"] == "CloudEventSchemaV1_0"
    source.wait_for("answered the CloudEvents abuse-protection handshake of eventgrid.azure.net", since=since)


def test_published_events_reach_the_rules(arm, source):
    arm.module(
        "event_subscription", args(arm, source, event_delivery_schema="CloudEventSchemaV1_0", max_events_per_batch=5)
    )
    topic = arm.fake.state.service_id(arm.fake.state.services[arm.fake.state.service_key(arm.sub, RG, SVC)])
    since = source.mark()
    near = fake_eventgrid.token_event(topic, "lab-gw", "instance-1")
    expired = fake_eventgrid.token_event(topic, topic + "/gateways/edge-2", "instance-7", expired=True)
    ignored = dict(fake_eventgrid.token_event(topic, "x", "y"), eventType="Microsoft.ApiManagement.APICreated")
    (result,) = fake_eventgrid.publish(arm.fake, [near, expired, ignored])
    assert result["delivered"] and result["attempts"] == [200]
    lines = [source.wait_for(rf"EVENTGRID id={e['id']} ", since=since)[1] for e in (near, expired)]
    assert "gateway=lab-gw service=contoso" in lines[0] and "schema=CloudEventSchemaV1_0" in lines[0]
    assert "type=Microsoft.ApiManagement.GatewayTokenExpired" in lines[1] and "gateway=edge-2" in lines[1]


def test_remove(arm, source):
    arm.module("event_subscription", args(arm, source))
    check = arm.module("event_subscription", {**args(arm, source), "state": "absent"}, check=True)
    assert check["changed"] and fake_eventgrid.state(arm.fake).subs
    gone = arm.module(
        "event_subscription",
        {"subscription_id": arm.sub, "resource_group": RG, "service_name": SVC, "name": NAME, "state": "absent"},
    )
    assert gone["changed"] and not fake_eventgrid.state(arm.fake).subs
    again = arm.module(
        "event_subscription",
        {"subscription_id": arm.sub, "resource_group": RG, "service_name": SVC, "name": NAME, "state": "absent"},
    )
    assert not again["changed"]


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        ({"endpoint_url": "http://127.0.0.1:1/"}, "endpoint_url must be an https:// URL"),
        ({"shared_secret": None}, "the endpoint needs authentication"),
        ({"name": "a"}, "name must be 3 to 64 letters"),
        ({"max_delivery_attempts": 31}, "max_delivery_attempts must be 1 to 30, got 31"),
        ({"event_types": ["Microsoft.Storage.BlobCreated"]}, "event_types must be API Management event types"),
        ({"entra_tenant_id": "t"}, "entra_tenant_id and entra_application_id_or_uri go together"),
        ({"endpoint_url": "https://h/?code=x"}, "endpoint_url already has the query parameter 'code'"),
        ({"shared_secret_in": "header", "shared_secret_name": "aeg-secret"}, "must not start with aeg-"),
    ],
)
def test_bad_options_fail_before_any_request(arm, source, extra, message):
    out = arm.module("event_subscription", args(arm, source, **extra))
    assert out.get("failed") and message in out["msg"], out
    assert arm.fake.arm_requests() == []


def test_unknown_instance_is_named(arm, source):
    out = arm.module("event_subscription", args(arm, source, service_name="nope"))
    assert out.get("failed") and "ResourceNotFound" in out["msg"] and "nope" in out["msg"], out


def test_no_secret_in_verbose_playbook_output(arm, source):
    play = f"""
- hosts: localhost
  gather_facts: false
  tasks:
    - apim.selfhosted.event_subscription:
        resource_group: {RG}
        service_name: {SVC}
        name: {NAME}
        endpoint_url: {source.url}
        shared_secret: "{{{{ eg_secret }}}}"
        shared_secret_in: header
      module_defaults: {{}}
      register: out
      vars:
        ansible_python_interpreter: "{{{{ ansible_playbook_python }}}}"
"""
    play = play.replace("      module_defaults: {}\n", "")
    auth = "".join(f"        {k}: {json.dumps(v)}\n" for k, v in {**arm.auth, "subscription_id": arm.sub}.items())
    play = play.replace(
        "    - apim.selfhosted.event_subscription:\n", "    - apim.selfhosted.event_subscription:\n" + auth
    )
    proc = arm.playbook(play, extra_vars={"eg_secret": SECRET}, diff=True, verbosity=3)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert "changed=1" in proc.stdout
    assert SECRET not in proc.stdout + proc.stderr
    assert arm.secret not in proc.stdout + proc.stderr
