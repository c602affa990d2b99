"""The token_expiry and token_days_left filters with well-formed, malformed and expired tokens."""

import datetime as dt

import pytest
from ansible.errors import AnsibleFilterError
from gw_tokens import UTC, make

from ansible_collections.apim.selfhosted.plugins.filter.token_days_left import FilterModule as DaysLeft
from ansible_collections.apim.selfhosted.plugins.filter.token_expiry import FilterModule as Expiry
from ansible_collections.apim.selfhosted.plugins.module_utils import token_format

token_expiry = Expiry().filters()["token_expiry"]
token_days_left = DaysLeft().filters()["token_days_left"]
NOW = dt.datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
SIG = "a2V5c2lnbmF0dXJlK3BhZGRpbmc/Zm9vYmFy/w=="


@pytest.mark.parametrize("prefix", [True, False])
def test_expiry_is_aware_utc(prefix):
    token = make("contoso-gw", dt.timedelta(days=10, hours=3), now=NOW, prefix=prefix)
    expiry = token_expiry(token)
    assert expiry.tzinfo is not None and expiry.utcoffset() == dt.timedelta(0)
    assert expiry == (NOW + dt.timedelta(days=10, hours=3)).replace(second=0, microsecond=0)


def test_expiry_reads_the_documented_field():
    assert token_expiry(f"gw1&202404210044&{SIG}") == dt.datetime(2024, 4, 21, 0, 44, tzinfo=UTC)


@pytest.mark.parametrize(
    ("delta", "days"),
    [
        (dt.timedelta(days=29, hours=23), 29),
        (dt.timedelta(days=7), 7),
        (dt.timedelta(hours=5), 0),
        (dt.timedelta(hours=-5), -1),
        (dt.timedelta(days=-3, hours=-1), -4),
    ],
)
def test_days_left(delta, days):
    token = make("gw1", delta, now=NOW)
    assert token_days_left(token, now=NOW) == days


def test_days_left_defaults_to_now():
    assert token_days_left(make("gw1", dt.timedelta(days=12, hours=1))) == 12
    assert token_days_left(make("gw1", dt.timedelta(days=-2, hours=-1))) < 0


MALFORMED = [
    "",
    "GatewayKey ",
    "GatewayKey",
    "gw1",
    "gw1&202604210044",
    f"gw1&2026042100&{SIG}",  # expiry too short
    f"gw1&20260421004400&{SIG}",  # too long
    f"gw1&202613010000&{SIG}",  # month 13
    f"gw1&202602300000&{SIG}",  # 30 February
    f"gw1&2026O4210044&{SIG}",  # letter O
    "gw1&202604210044&not base64!",
    f"&202604210044&{SIG}",
    # Azure's rule for gateway names: none of * # & + : < > ? / % \, at most 80 characters, not "managed".
    f"gw:1&202604210044&{SIG}",
    f"gw/1&202604210044&{SIG}",
    f"gw%1&202604210044&{SIG}",
    f"{'g' * 81}&202604210044&{SIG}",
    f"Managed&202604210044&{SIG}",
    f"gw1&202604210044&{SIG}&extra",
]


@pytest.mark.parametrize("bad", MALFORMED)
def test_malformed_tokens_fail_without_echoing_them(bad):
    for fn in (token_expiry, token_days_left):
        with pytest.raises(AnsibleFilterError) as exc:
            fn(bad)
        if len(bad) > 12:
            assert bad not in str(exc.value)
            assert SIG not in str(exc.value)


@pytest.mark.parametrize("bad", [None, 42, ["gw1"]])
def test_non_string_tokens_fail(bad):
    with pytest.raises(AnsibleFilterError):
        token_expiry(bad)


def test_days_left_rejects_naive_now():
    with pytest.raises(AnsibleFilterError):
        token_days_left(make(), now=dt.datetime(2026, 1, 1))


def test_with_prefix_adds_it_once():
    bare = make("gw1", prefix=False)
    assert token_format.with_prefix(bare) == "GatewayKey " + bare
    assert token_format.with_prefix("GatewayKey " + bare) == "GatewayKey " + bare
    assert token_format.parse(bare)[0] == "gw1"


@pytest.mark.parametrize("name", ["gw1", "edge.lyon_01", "Edge-GW", "lyon edge", "g" * 80, "gw(1)=[2]"])
def test_gateway_ids_that_azure_allows_parse(name):
    assert token_format.parse(make(name))[0] == name
    assert token_format.gateway_id_problem(name) is None


def test_fingerprint_is_the_same_with_and_without_prefix_and_never_holds_the_signature():
    from ansible_collections.apim.selfhosted.plugins.filter.token_fingerprint import FilterModule as Fingerprint

    token_fingerprint = Fingerprint().filters()["token_fingerprint"]
    bare = f"gw1&202404210044&{SIG}"
    fp = token_fingerprint("GatewayKey " + bare)
    assert fp == token_fingerprint(bare)
    assert fp["gateway"] == "gw1" and fp["expiry"] == "2024-04-21T00:44:00Z" and len(fp["sha256"]) == 64
    assert SIG not in str(fp) and fp["sha256"] != token_fingerprint(f"gw1&202404210044&x{SIG[1:]}")["sha256"]
    with pytest.raises(AnsibleFilterError) as err:
        token_fingerprint("secret-value-not-a-token")
    assert "secret-value" not in str(err.value)


@pytest.mark.parametrize(
    ("in_use", "expected"),
    [([], "primary"), (["primary"], "secondary"), (["secondary"], "primary"), (["primary", "secondary"], "primary"),
     (["none", "expired", "secondary"], "primary"), (["none", "primary"], "secondary")],
)  # fmt: skip
def test_next_key_alternates_only_when_one_key_is_in_use(in_use, expected):
    from ansible_collections.apim.selfhosted.plugins.module_utils.gateway_keys import next_key

    assert next_key(in_use) == expected


def test_key_oracle_asks_each_key_and_expiry_once_and_tells_expired_tokens():
    import hashlib
    import hmac

    from ansible_collections.apim.selfhosted.plugins.module_utils.gateway_keys import KeyOracle, digest

    keys = {"primary": b"k1", "secondary": b"k2"}

    def generate(key, expiry):  # an HMAC signer, as Azure's generateToken
        text = expiry.strftime("%Y%m%d%H%M")
        return "gw1&%s&%s" % (text, hmac.new(keys[key], ("gw1\n" + text).encode(), hashlib.sha512).hexdigest())

    oracle = KeyOracle(generate, now=NOW)
    later = NOW + dt.timedelta(days=3)
    second = {"expiry": later.strftime("%Y-%m-%dT%H:%M:00Z"), "sha256": digest(generate("secondary", later))}
    assert oracle.key_of(second) == "secondary" and oracle.asked == 2
    assert oracle.key_of(dict(second)) == "secondary" and oracle.asked == 2
    assert oracle.key_of(dict(second, sha256="0" * 64)) == "none"
    assert oracle.key_of(dict(second, expiry="2026-03-01T11:00:00Z")) == "expired" and oracle.asked == 2
