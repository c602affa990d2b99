"""gateway_key_info and gateway_key against the fake ARM with the real azure-mgmt-apimanagement SDK: the key of a
token is told from digests alone, a revocation regenerates the key once, and a key that signs tokens in use is kept."""

import datetime as dt
import hashlib
import json


def _where(azure, **kw):
    return dict(resource_group="rg-apim", service_name="contoso", gateway="lyon", subscription_id=azure.sub, **kw)


def _fingerprint(token):
    """What the filter and gateway_info return, computed here independently of the collection's code."""
    bare = token.removeprefix("GatewayKey ")
    gateway, expiry, _sig = bare.split("&")
    when = dt.datetime.strptime(expiry, "%Y%m%d%H%M")
    digest = hashlib.sha256(bare.encode()).hexdigest()
    return {"gateway": gateway, "expiry": when.strftime("%Y-%m-%dT%H:%M:00Z"), "sha256": digest}


def _token(azure, key, days):
    r = azure.module("gateway_token", _where(azure, key_type=key, expires_in_days=days))
    assert r["rc"] == 0, r
    return r["token"]


def _setup(azure):
    azure.fake.state.add_service("contoso", "rg-apim")
    r = azure.module(
        "gateway_resource",
        dict(
            resource_group="rg-apim",
            service_name="contoso",
            name="lyon",
            location_data={"name": "Lyon"},
            subscription_id=azure.sub,
        ),
    )
    assert r["rc"] == 0, r


def test_key_info_names_the_key_of_each_token_without_keys_in_the_output(azure):
    _setup(azure)
    primary, secondary = _token(azure, "primary", 30), _token(azure, "secondary", 7)
    tokens = [_fingerprint(primary), _fingerprint(secondary), _fingerprint(primary)]
    azure.fake.clear_requests()
    r = azure.module("gateway_key_info", _where(azure, tokens=tokens), check=True)
    assert r["rc"] == 0 and r["changed"] is False, r
    assert [t["key"] for t in r["tokens"]] == ["primary", "secondary", "primary"]
    assert r["keys_in_use"] == ["primary", "secondary"] and r["next_key"] == "primary"
    # At most one generateToken per key and distinct expiry (the primary key matches the first expiry, so its
    # secondary token is never asked for); no listKeys, no write.
    paths = [q["path"].rsplit("/", 1)[-1].lower() for q in azure.fake.arm_requests()]
    assert paths == ["generatetoken"] * 3, paths
    keys = next(iter(azure.fake.state.gateways.values()))["keys"]
    assert not any(k in json.dumps(r) for k in keys.values())
    # Only the secondary key in use: new tokens alternate to the primary one, and the other way round.
    r = azure.module("gateway_key_info", _where(azure, tokens=[_fingerprint(secondary)]))
    assert r["keys_in_use"] == ["secondary"] and r["next_key"] == "primary"
    r = azure.module("gateway_key_info", _where(azure, tokens=[_fingerprint(primary)]))
    assert r["next_key"] == "secondary"


def test_key_info_tells_revoked_expired_and_malformed_apart(azure):
    _setup(azure)
    token = _token(azure, "primary", 3)
    fp = _fingerprint(token)
    forged = dict(fp, sha256=hashlib.sha256(b"other").hexdigest())
    past = dict(fp, expiry="2020-01-01T00:00:00Z")
    r = azure.module("gateway_key_info", _where(azure, tokens=[forged, past]))
    assert [t["key"] for t in r["tokens"]] == ["none", "expired"] and r["keys_in_use"] == [], r
    r = azure.module("gateway_key_info", _where(azure, tokens=[{"expiry": "soon", "sha256": "ab"}, {"sha256": "ab"}]))
    assert r["rc"] == 1 and "tokens[0].expiry is not an ISO 8601" in r["msg"] and "tokens[1] needs expiry" in r["msg"]


def test_revoke_regenerates_the_key_of_a_leaked_token_once_and_keeps_tokens_in_use(azure):
    _setup(azure)
    leaked, in_use = _token(azure, "primary", 30), _token(azure, "secondary", 30)
    args = _where(azure, key_type="primary", revoke=[_fingerprint(leaked)], keep=[_fingerprint(in_use)])
    before = dict(next(iter(azure.fake.state.gateways.values()))["keys"])
    azure.fake.clear_requests()
    r = azure.module("gateway_key", args, check=True)
    assert r["changed"] is True and r["revoked"] == ["primary"], r
    assert not [q for q in azure.fake.arm_requests() if q["path"].lower().endswith("/regeneratekey")]
    assert next(iter(azure.fake.state.gateways.values()))["keys"] == before
    r = azure.module("gateway_key", args)
    assert r["rc"] == 0 and r["changed"] is True and r["regenerated"] is True, r
    after = next(iter(azure.fake.state.gateways.values()))["keys"]
    assert after["primary"] != before["primary"] and after["secondary"] == before["secondary"]
    r = azure.module("gateway_key_info", _where(azure, tokens=[_fingerprint(leaked), _fingerprint(in_use)]))
    assert [t["key"] for t in r["tokens"]] == ["none", "secondary"]
    azure.fake.clear_requests()
    r = azure.module("gateway_key", args)
    assert r["changed"] is False and r["revoked"] == ["none"], r
    assert not [q for q in azure.fake.arm_requests() if q["path"].lower().endswith("/regeneratekey")]


def test_a_key_that_signs_tokens_in_use_is_not_regenerated(azure):
    _setup(azure)
    in_use = _token(azure, "secondary", 30)
    before = dict(next(iter(azure.fake.state.gateways.values()))["keys"])
    r = azure.module("gateway_key", _where(azure, key_type="secondary", keep=[_fingerprint(in_use)]))
    assert r["rc"] == 1 and "the secondary key of gateway 'lyon'" in r["msg"] and "keep[0]" in r["msg"], r
    assert next(iter(azure.fake.state.gateways.values()))["keys"] == before
    # Without revoke, every run regenerates (the module says so in its documentation).
    for _ in range(2):
        r = azure.module("gateway_key", _where(azure, key_type="primary", keep=[_fingerprint(in_use)]))
        assert r["changed"] is True, r
