"""The event source under the real ansible-rulebook, over real TLS: the validation handshakes, both schemas, a shared
secret in a header or the query, Entra-issued bearer tokens (RS256, keys from a JWKS endpoint), batches, duplicate
ids dropped, and refused requests that put nothing on the queue.

Each rulebook prints one line per event it gets (``EVENTGRID id=... gateway=...``); a refused request must leave a
log line and no such line (checked by sending a good marker event afterwards and seeing only the marker).
"""

import json
import pathlib
import sys
import time
import uuid
from http.server import BaseHTTPRequestHandler

import jwt
import pytest
import requests
from cryptography.hazmat.primitives.asymmetric import rsa

from apim_testkit.rulebook import Rulebook, debug_rulebook, free_port, serve_tls, tls_files

ROOT = pathlib.Path(__file__).resolve().parents[3]
sys.path.insert(0, str(pathlib.Path(__file__).parent))

from test_eventgrid_parsing import TOPIC, cloud_event, eg_event  # noqa: E402

SECRET = "s3cret-" + uuid.uuid4().hex
TENANT = "7a1b0c2d-3e4f-4a5b-8c6d-7e8f9a0b1c2d"
AUDIENCE = "api://apim-eda-test"
EVENT_GRID_APP = "4962773b-9cdb-44cf-a8bf-237846a00ab7"


@pytest.fixture(scope="module")
def tls(tmp_path_factory):
    folder = tmp_path_factory.mktemp("tls")
    ca, ca_pem, cert, key = tls_files(str(folder))
    return {"ca": ca, "ca_pem": ca_pem, "cert": cert, "key": key, "dir": folder}


def start(tmp, tls, args, name):
    port = free_port()
    source = {"host": "127.0.0.1", "port": port, "certfile": tls["cert"], "keyfile": tls["key"], **args}
    rb = tmp / f"{name}.yml"
    rb.write_text(debug_rulebook(source, name))
    inv = tmp / "inventory.yml"
    inv.write_text("all:\n  hosts:\n    localhost:\n      ansible_connection: local\n")
    book = Rulebook(rb, inv).start()
    book.url = f"https://127.0.0.1:{port}/"
    return book


@pytest.fixture(scope="module")
def secret_source(tmp_path_factory, tls):
    book = start(tmp_path_factory.mktemp("secret"), tls, {"shared_secret": SECRET}, "secret")
    yield book
    book.stop()


def post(book, tls, body, headers=None, params=None, method="POST"):
    data = body if isinstance(body, (bytes, str)) else json.dumps(body)
    return requests.request(
        method, book.url, data=data, headers=headers or {}, params=params, verify=tls["ca_pem"], timeout=20
    )


def delivered(book, since, event_id, timeout=30):
    return book.wait_for(rf"EVENTGRID id={event_id} ", since=since, timeout=timeout)[1]


def nothing_queued_before_marker(book, tls, since, **auth):
    """A good event after the refused request; only it may reach the rules."""
    marker = "marker-" + uuid.uuid4().hex[:8]
    assert post(book, tls, [eg_event(event_id=marker)], **auth).status_code == 200
    delivered(book, since, marker)
    return [line for line in book.matching(r"EVENTGRID id=", since) if marker not in line]


def test_event_grid_validation_handshake(secret_source, tls):
    body = [
        {
            "id": str(uuid.uuid4()),
            "topic": TOPIC,
            "subject": "",
            "data": {"validationCode": "512d38b6-C7B8-40c8", "validationUrl": "https://rp/validate?id=1"},
            "eventType": "Microsoft.EventGrid.SubscriptionValidationEvent",
            "eventTime": "2026-01-01T00:00:00.0000000Z",
            "metadataVersion": "1",
            "dataVersion": "2",
        }
    ]
    r = post(secret_source, tls, body, {"aeg-event-type": "SubscriptionValidation"}, {"code": SECRET})
    assert r.status_code == 200 and r.json() == {"validationResponse": "512d38b6-C7B8-40c8"}
    # Without the secret the handshake is refused like a delivery.
    r = post(secret_source, tls, body, {"aeg-event-type": "SubscriptionValidation"})
    assert r.status_code == 401


def test_cloudevents_abuse_protection_handshake(secret_source, tls):
    r = post(
        secret_source, tls, b"", {"WebHook-Request-Origin": "eventgrid.azure.net", "WebHook-Request-Rate": "120"},
        {"code": SECRET}, method="OPTIONS",
    )  # fmt: skip
    assert r.status_code == 200
    assert r.headers["WebHook-Allowed-Origin"] == "eventgrid.azure.net"
    assert r.headers["WebHook-Allowed-Rate"] == "*"
    r = post(secret_source, tls, b"", {}, {"code": SECRET}, method="OPTIONS")
    assert r.status_code == 400


@pytest.mark.parametrize("where", ["header", "query"])
def test_secret_in_header_or_query_is_accepted(secret_source, tls, where):
    since = secret_source.mark()
    eid = f"{where}-{uuid.uuid4().hex[:8]}"
    auth = {"headers": {"X-Apim-Eda-Secret": SECRET}} if where == "header" else {"params": {"code": SECRET}}
    r = post(secret_source, tls, [eg_event(event_id=eid)], **auth)
    assert r.status_code == 200, r.text
    line = delivered(secret_source, since, eid)
    assert "type=Microsoft.ApiManagement.GatewayTokenNearExpiry schema=EventGridSchema gateway=lab-gw" in line
    assert "service=contoso expires=2025-02-25T08:56:00Z" in line


@pytest.mark.parametrize(
    ("auth", "reason"),
    [
        ({}, "no shared secret"),
        ({"params": {"code": "wrong"}}, "wrong shared secret"),
        ({"headers": {"X-Apim-Eda-Secret": SECRET[:-1]}}, "wrong shared secret"),
    ],
)
def test_unauthenticated_deliveries_are_refused(secret_source, tls, auth, reason):
    since = secret_source.mark()
    eid = "refused-" + uuid.uuid4().hex[:8]
    r = post(secret_source, tls, [eg_event(event_id=eid)], **auth)
    assert r.status_code == 401
    secret_source.wait_for(rf"WARNING .*eventgrid: refused POST / from 127\.0\.0\.1: {reason}", since=since)
    assert nothing_queued_before_marker(secret_source, tls, since, params={"code": SECRET}) == []
    assert SECRET not in secret_source.text(since)


def test_malformed_delivery_is_refused_whole(secret_source, tls):
    since = secret_source.mark()
    good = eg_event(event_id="good-" + uuid.uuid4().hex[:8])
    bad = dict(eg_event(event_id="bad"), data={"gatewayInfo": {"gatewayId": "gw"}})
    r = post(secret_source, tls, [good, bad], params={"code": SECRET})
    assert r.status_code == 400
    secret_source.wait_for(r"refused POST / from 127\.0\.0\.1: malformed delivery: event 2 of 2 \(bad\): ", since=since)
    r = post(secret_source, tls, b"{not json", params={"code": SECRET})
    assert r.status_code == 400
    secret_source.wait_for(r"malformed delivery: the body is not JSON", since=since)
    assert nothing_queued_before_marker(secret_source, tls, since, params={"code": SECRET}) == []


def test_batches_in_both_schemas(secret_source, tls):
    since = secret_source.mark()
    tag = uuid.uuid4().hex[:6]
    eg_batch = [eg_event(gateway_id=f"gw-{i}", event_id=f"b{tag}-{i}") for i in range(3)]
    ce_batch = [cloud_event(gateway_id=TOPIC + f"/gateways/ce-{i}", event_id=f"c{tag}-{i}") for i in range(2)]
    assert post(secret_source, tls, eg_batch, params={"code": SECRET}).status_code == 200
    r = post(
        secret_source, tls, ce_batch, {"Content-Type": "application/cloudevents-batch+json; charset=utf-8"},
        {"code": SECRET},
    )  # fmt: skip
    assert r.status_code == 200
    single = cloud_event(event_id=f"s{tag}")
    r = post(secret_source, tls, single, {"Content-Type": "application/cloudevents+json"}, {"code": SECRET})
    assert r.status_code == 200
    delivered(secret_source, since, f"s{tag}")
    lines = secret_source.matching(rf"EVENTGRID id=[bcs]{tag}", since)
    assert [line.split()[1] for line in lines] == [f"id=b{tag}-0", f"id=b{tag}-1", f"id=b{tag}-2", f"id=c{tag}-0",
                                                   f"id=c{tag}-1", f"id=s{tag}"]  # fmt: skip
    assert "gateway=ce-1 " in lines[4] and "schema=CloudEventSchemaV1_0" in lines[4]
    assert "type=Microsoft.ApiManagement.GatewayTokenExpired" in lines[5]


def test_duplicate_ids_are_dropped(secret_source, tls):
    since = secret_source.mark()
    eid = "dup-" + uuid.uuid4().hex[:8]
    for _ in range(2):  # Event Grid redelivers: at least once
        assert post(secret_source, tls, [eg_event(event_id=eid)], params={"code": SECRET}).status_code == 200
    secret_source.wait_for(rf"dropped duplicate event {eid} ", since=since)
    # Inside one batch too.
    other = "dup2-" + uuid.uuid4().hex[:8]
    batch = [eg_event(event_id=other), eg_event(event_id=other)]
    assert post(secret_source, tls, batch, params={"code": SECRET}).status_code == 200
    secret_source.wait_for(rf"dropped duplicate event {other} ", since=since)
    delivered(secret_source, since, other)
    assert len(secret_source.matching(rf"EVENTGRID id=({eid}|{other}) ", since)) == 2


def test_other_event_types_are_acknowledged_and_ignored(secret_source, tls):
    since = secret_source.mark()
    ev = dict(eg_event(event_id="other-" + uuid.uuid4().hex[:8]), eventType="Microsoft.ApiManagement.APICreated")
    ev["data"] = {"resourceUri": TOPIC + "/apis/echo"}
    assert post(secret_source, tls, [ev], params={"code": SECRET}).status_code == 200
    secret_source.wait_for(rf"ignored event {ev['id']} of type Microsoft.ApiManagement.APICreated", since=since)
    assert nothing_queued_before_marker(secret_source, tls, since, params={"code": SECRET}) == []


def test_other_paths_and_methods(secret_source, tls):
    r = requests.post(secret_source.url + "other", params={"code": SECRET}, verify=tls["ca_pem"], timeout=10)
    assert r.status_code == 404
    r = requests.get(secret_source.url, params={"code": SECRET}, verify=tls["ca_pem"], timeout=10)
    assert r.status_code == 405


def test_source_refuses_to_start_without_authentication(tmp_path, tls):
    book = start_failing(tmp_path, tls, {})
    assert "the endpoint must be authenticated: set shared_secret, or entra_tenant_id with entra_audience" in book


def test_source_refuses_plain_http_on_a_public_address(tmp_path, tls):
    port = free_port()
    rb = tmp_path / "plain.yml"
    rb.write_text(debug_rulebook({"host": "0.0.0.0", "port": port, "plain_http": True, "shared_secret": "x"}))
    inv = tmp_path / "inventory.yml"
    inv.write_text("all:\n  hosts:\n    localhost:\n")
    book = Rulebook(rb, inv).start(ready=None)
    book.proc.wait(timeout=90)
    assert "plain_http needs a loopback host, got 0.0.0.0" in book.text()


def start_failing(tmp, tls, args):
    port = free_port()
    rb = tmp / "bad.yml"
    rb.write_text(debug_rulebook({"host": "127.0.0.1", "port": port, "certfile": tls["cert"], "keyfile": tls["key"],
                                  **args}))  # fmt: skip
    inv = tmp / "inventory.yml"
    inv.write_text("all:\n  hosts:\n    localhost:\n")
    book = Rulebook(rb, inv).start(ready=None)
    book.proc.wait(timeout=90)
    book.stop()
    return book.text()


# ---- Microsoft Entra ----------------------------------------------------------------------------------------------
class Entra:
    """A tenant's OpenID configuration and signing keys over TLS, and tokens signed with them."""

    def __init__(self, tls):
        self.key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        self.kid = "kid-" + uuid.uuid4().hex[:6]
        jwk = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(self.key.public_key()))
        jwks = {"keys": [dict(jwk, kid=self.kid, use="sig")]}
        cert = tls["ca"].issue_cert("127.0.0.1")
        entra = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *a):
                pass

            def do_GET(self):
                if self.path == f"/{TENANT}/v2.0/.well-known/openid-configuration":
                    body = {"issuer": f"{entra.url}/{{tenantid}}/v2.0", "jwks_uri": f"{entra.url}/{TENANT}/keys"}
                elif self.path == f"/{TENANT}/keys":
                    body = jwks
                else:
                    self.send_response(404)
                    self.end_headers()
                    return
                data = json.dumps(body).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        self.httpd, self.url = serve_tls(Handler, cert)

    def token(self, key=None, kid=None, **claims):
        now = int(time.time())
        body = {
            "aud": AUDIENCE,
            "iss": f"https://sts.windows.net/{TENANT}/",
            "iat": now,
            "nbf": now,
            "exp": now + 3600,
            "appid": EVENT_GRID_APP,
            "roles": ["AzureEventGridSecureWebhookSubscriber"],
            "tid": TENANT,
            **claims,
        }
        body = {k: v for k, v in body.items() if v is not None}
        return jwt.encode(body, key or self.key, algorithm="RS256", headers={"kid": kid or self.kid})


@pytest.fixture(scope="module")
def entra(tls):
    e = Entra(tls)
    yield e
    e.httpd.shutdown()


@pytest.fixture(scope="module")
def entra_source(tmp_path_factory, tls, entra):
    args = {
        "entra_tenant_id": TENANT,
        "entra_audience": [AUDIENCE, "0d6c5b4a-3f2e-4d1c-8b0a-9f8e7d6c5b4a"],
        "entra_authority": entra.url,
        "entra_ca_bundle": tls["ca_pem"],
    }
    book = start(tmp_path_factory.mktemp("entra"), tls, args, "entra")
    yield book
    book.stop()


@pytest.mark.parametrize(
    "claims",
    [
        {},
        {"iss": f"{{url}}/{TENANT}/v2.0", "azp": EVENT_GRID_APP, "appid": None},  # a v2.0 token
        {"aud": "0d6c5b4a-3f2e-4d1c-8b0a-9f8e7d6c5b4a"},  # the application id instead of its URI
    ],
)
def test_entra_token_accepted(entra_source, tls, entra, claims):
    token = entra.token(**{k: (v.replace("{url}", entra.url) if isinstance(v, str) else v) for k, v in claims.items()})
    since = entra_source.mark()
    eid = "entra-" + uuid.uuid4().hex[:8]
    r = post(entra_source, tls, [eg_event(event_id=eid)], {"Authorization": f"Bearer {token}"})
    assert r.status_code == 200, r.text
    delivered(entra_source, since, eid)


@pytest.mark.parametrize(
    ("make", "reason"),
    [
        (lambda e: None, "no Entra bearer token"),
        (lambda e: "not.a.jwt", "the bearer token is not a JWT"),
        (lambda e: e.token(aud="api://someone-else"), "for another audience"),
        (lambda e: e.token(exp=int(time.time()) - 600), "has expired"),
        (lambda e: e.token(iss="https://sts.windows.net/other-tenant/"), "comes from another issuer"),
        (lambda e: e.token(appid="11111111-2222-3333-4444-555555555555"), "issued to application 1111"),
        (lambda e: e.token(roles=["Reader"]), "lacks the app role AzureEventGridSecureWebhookSubscriber"),
        (lambda e: e.token(key=rsa.generate_private_key(public_exponent=65537, key_size=2048)), "not valid"),
        (lambda e: e.token(kid="unknown-kid"), "signed with a key tenant"),
    ],
)
def test_entra_token_refused(entra_source, tls, entra, make, reason):
    since = entra_source.mark()
    token = make(entra)
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    eid = "bad-entra-" + uuid.uuid4().hex[:8]
    r = post(entra_source, tls, [eg_event(event_id=eid)], headers)
    assert r.status_code == 401
    entra_source.wait_for(r"refused POST / from 127\.0\.0\.1: .*" + reason, since=since)
    good = {"headers": {"Authorization": f"Bearer {entra.token()}"}}
    assert nothing_queued_before_marker(entra_source, tls, since, **good) == []
