"""The host modules' decisions that need no engine: secrets against the plan, the container comparison and its
diff, the facts read from a gateway's settings and log, the readiness probe (a real HTTP server), the status
report. The engine-facing paths run against real engines in tests/integration/gateway_container."""

import copy
import datetime as dt
import hashlib
import http.server
import json
import threading

import pytest
from gw_tokens import make
from test_gateway_settings import check

from ansible_collections.apim.selfhosted.plugins.filter.status_report import status_report
from ansible_collections.apim.selfhosted.plugins.module_utils import gateway_container_spec as spec
from ansible_collections.apim.selfhosted.plugins.module_utils import gateway_facts as facts
from ansible_collections.apim.selfhosted.plugins.module_utils.gateway_engine import http_status, wait_ready
from ansible_collections.apim.selfhosted.plugins.module_utils.gateway_plan import (
    PlanError,
    backup_path_problem,
    check_secrets,
    render_env,
)

IMAGE = {"Id": "sha256:" + "a" * 64, "Config": {"Env": ["PATH=/usr/bin", "PYTHONPATH=/opt"]}}


def as_engine_reports(plan, pairs):
    """What ``inspect`` says of a container created from this plan (the fields the engine echoes back)."""
    req = spec.create_request(plan["container"], pairs, IMAGE["Id"])
    host, cfg = req["host"], req["config"]
    return {
        "Image": IMAGE["Id"],
        "Config": {
            "Env": IMAGE["Config"]["Env"] + cfg["environment"],
            "User": cfg["user"],
            "Labels": {**cfg["labels"], "org.opencontainers.image.title": "gateway"},
            "Healthcheck": cfg["healthcheck"],
            "StopTimeout": cfg["stop_timeout"],
        },
        "HostConfig": {
            "CapDrop": ["ALL"],
            "CapAdd": None,
            "SecurityOpt": ["no-new-privileges:true"],
            "Privileged": False,
            "ReadonlyRootfs": False,
            "PortBindings": host["port_bindings"],
            "Mounts": [
                {"Type": "bind", "Source": m["source"], "Target": m["target"], "ReadOnly": m["read_only"]}
                for m in host["mounts"]
            ],
            "Memory": host["mem_limit"],
            "MemorySwap": host["memswap_limit"],
            "NanoCpus": host["nano_cpus"],
            "PidsLimit": host["pids_limit"],
            "RestartPolicy": host["restart_policy"],
            "LogConfig": host["log_config"],
            "ExtraHosts": ["%s:%s" % kv for kv in host["extra_hosts"].items()],
            "Dns": host["dns"],
            "NetworkMode": "default",
        },
    }


@pytest.fixture
def planned():
    plan = check(gateway_extra_hosts={"contoso.configuration.azure-api.net": "10.0.0.9"})
    pairs = render_env(plan["env"], plan["_secrets"])
    return plan, pairs


def test_secrets_must_be_the_validated_ones(planned):
    plan, _pairs = planned
    check_secrets(plan["env"], plan["_secrets"], plan["secret_digest"])
    with pytest.raises(PlanError, match="not the ones the controller validated"):
        check_secrets(plan["env"], {"token": make("gw1", dt.timedelta(days=9))}, plan["secret_digest"])
    with pytest.raises(PlanError, match="gateway_token is required"):
        render_env(plan["env"], {})


def test_a_container_made_from_the_plan_has_no_differences(planned):
    plan, pairs = planned
    want = spec.expected(plan["container"], pairs, IMAGE)
    assert spec.differences(want, spec.actual(as_engine_reports(plan, pairs))) == []


@pytest.mark.parametrize(
    ("field", "edit"),
    [
        ("image", lambda i: i.update(Image="sha256:" + "b" * 64)),
        ("user", lambda i: i["Config"].update(User="0:0")),
        ("capabilities", lambda i: i["HostConfig"].update(CapAdd=["NET_ADMIN"])),
        ("security_opts", lambda i: i["HostConfig"].update(SecurityOpt=[])),
        ("privileged", lambda i: i["HostConfig"].update(Privileged=True)),
        ("read_only", lambda i: i["HostConfig"].update(ReadonlyRootfs=True)),
        ("ports", lambda i: i["HostConfig"]["PortBindings"].pop("8081/tcp")),
        ("mounts", lambda i: i["HostConfig"].update(Binds=["/srv:/srv"])),
        ("memory", lambda i: i["HostConfig"].update(MemorySwap=-1)),
        ("cpus", lambda i: i["HostConfig"].update(NanoCpus=0)),
        ("pids_limit", lambda i: i["HostConfig"].update(PidsLimit=None)),
        ("healthcheck", lambda i: i["Config"].update(Healthcheck=None)),
        ("restart_policy", lambda i: i["HostConfig"].update(RestartPolicy={"Name": "no"})),
        ("log", lambda i: i["HostConfig"].update(LogConfig={"Type": "json-file", "Config": {}})),
        ("labels", lambda i: i["Config"]["Labels"].pop("io.apim.selfhosted.ready-url")),
        ("etc_hosts", lambda i: i["HostConfig"].update(ExtraHosts=[])),
        ("network_mode", lambda i: i["HostConfig"].update(NetworkMode="host")),
        ("env:telemetry.logs.std.level", lambda i: i["Config"]["Env"].append("telemetry.logs.std.level=debug")),
        ("env:HTTP_PROXY", lambda i: i["Config"]["Env"].append("HTTP_PROXY=http://p:3128")),
    ],
)
def test_each_managed_field_is_compared(planned, field, edit):
    plan, pairs = planned
    info = as_engine_reports(plan, pairs)
    edit(info)
    want = spec.expected(plan["container"], pairs, IMAGE)
    assert spec.differences(want, spec.actual(info)) == [field]


def test_diff_never_shows_a_secret_value(planned):
    plan, pairs = planned
    old_token = make("gw1", dt.timedelta(days=2))
    info = as_engine_reports(
        plan, [(k, "GatewayKey " + old_token if k == "config.service.auth" else v) for k, v in pairs]
    )
    info["Config"]["Env"].append("telemetry.logs.std.level=debug")
    info["Config"]["Env"].append("SOMETHING_BY_HAND=hand-made-secret")
    want = spec.expected(plan["container"], pairs, IMAGE)
    fields = spec.differences(want, spec.actual(info))
    d = spec.diff(want, spec.actual(info), fields, spec.shown_keys(plan["env"]))
    text = json.dumps(d)
    assert "env:config.service.auth: (hidden)" in d["before"] and "env:config.service.auth: (hidden)" in d["after"]
    assert "env:telemetry.logs.std.level: debug" in d["before"] and "telemetry.logs.std.level: info" in d["after"]
    for secret in (old_token, plan["_secrets"]["token"], "hand-made-secret"):
        assert secret.rsplit("&", 1)[-1] not in text


def test_throwaway_container_keeps_the_hardening_and_drops_what_belongs_to_the_real_one():
    plan = check(gateway_neighborhood_host="peers.internal")
    pairs = render_env(plan["env"], plan["_secrets"])
    container, kept = spec.throwaway(plan["container"], pairs)
    req = spec.create_request(container, kept, "img")
    assert req["config"]["name"] == "apim-gateway-credcheck"
    assert req["host"]["port_bindings"] == {} and req["host"]["restart_policy"] == {"Name": "no"}
    assert [m["target"] for m in req["host"]["mounts"]] == []
    assert req["host"]["cap_drop"] == ["ALL"] and req["host"]["security_opt"] == ["no-new-privileges:true"]
    assert req["config"]["user"] == "1001:1001" and req["host"]["pids_limit"] == 4096
    assert not any(e.startswith(("neighborhood.", "policy.rate-limit")) for e in req["config"]["environment"])
    assert req["config"]["labels"] == {"io.apim.selfhosted.role": "credential-check"}


@pytest.mark.parametrize(
    ("path", "homes", "root", "problem"),
    [
        ("/var/lib/apim-gateway/gw", (), None, None),
        ("/srv/docker-data/apim", (), "/srv/docker-data", "lies in /srv/docker-data"),
        ("/srv/users", ("/srv/users/alice",), None, "(or holds) the home directory /srv/users/alice"),
        ("/srv/users/alice", ("/srv/users/alice",), None, "is (or holds) the home directory"),
    ],
)
def test_backup_path_against_the_hosts_homes_and_engine_root(path, homes, root, problem):
    found = backup_path_problem(path, homes, root)
    assert (found is None) if problem is None else (problem in found)


def test_auth_facts_from_settings_without_the_token():
    token = make("edge-gw", dt.timedelta(days=12, hours=1))
    out = facts.auth_facts({"config.service.auth": token})
    assert out["auth"] == "token" and out["layout"] == "GatewayKey" and out["gateway"] == "edge-gw"
    assert out["token_days_left"] == 12 and out["token_readable"] is True
    assert token.rsplit("&", 1)[1] not in json.dumps(out)
    bare = token.removeprefix("GatewayKey ")
    assert out["token_fingerprint"] == {
        "gateway": "edge-gw",
        "expiry": out["token_expiry"],
        "sha256": hashlib.sha256(bare.encode()).hexdigest(),
    }
    key = facts.auth_facts({"config.service.auth": "key", "config.service.auth.key": token, "gateway.name": "gw9"})
    assert (key["layout"], key["gateway"]) == ("key", "gw9")
    assert facts.auth_facts({"config.service.auth": "GatewayKey garbage"})["token_readable"] is False
    assert facts.auth_facts({"config.service.auth": "azureAdApp", "gateway.name": "g"})["auth"] == "azureAdApp"


def test_peers_and_v1_markers():
    lines = [
        "info: PeerDiscovered instance=gw-a-123 address=10.0.0.2",
        '{"event":"PeerDiscovered","instance":"gw-b-456"}',
        "info: PeerDiscovered instance=gw-a-123 again",
        "info: something else instance=zzz",
    ]
    assert facts.peers(lines) == ["gw-a-123", "gw-b-456"]
    reasons = facts.v1_reasons(
        "gw-v1",
        "mcr.microsoft.com/azure-api-management/gateway:1.2.3",
        {"config.service.endpoint": "https://contoso.management.azure-api.net/subscriptions/x/rg"},
    )
    assert reasons == [
        "container gw-v1 runs image tag 1.2.3",
        "container gw-v1 uses the v1 endpoint contoso.management.azure-api.net",
    ]
    assert (
        facts.v1_reasons("gw", "repo:2.12.3", {"config.service.endpoint": "https://c.configuration.azure-api.net"})
        == []
    )


class _Status(http.server.BaseHTTPRequestHandler):
    answers = []

    def do_GET(self):
        code = self.answers.pop(0) if self.answers else 200
        self.send_response(code)
        self.end_headers()

    def log_message(self, *args):
        pass


@pytest.fixture
def status_server():
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Status)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


def test_readiness_waits_for_200_and_stops_early_when_the_container_exits(status_server):
    url = "http://127.0.0.1:%d/status-0123456789abcdef" % status_server.server_address[1]
    _Status.answers[:] = [503, 503]
    assert wait_ready(url, 10, interval=0.05) == (True, None)
    _Status.answers[:] = [503] * 100
    ok, reason = wait_ready(url, 30, alive=lambda: "the container exited with code 1", interval=0.05)
    assert not ok and reason == "the container exited with code 1"
    _Status.answers[:] = []
    assert http_status("http://127.0.0.1:1/") is None


def test_status_report_counts_peers_and_findings():
    rows = [
        {"gateway": "gw", "state": "running", "instance": "a", "heard": ["b", "old"], "ready": True, "auth": "token",
         "token_days_left": 20, "token_expiry": "2027-01-01T00:00:00Z", "backup_age_seconds": 5},
        {"gateway": "gw", "state": "running", "instance": "b", "heard": ["a"], "ready": False, "auth": "token",
         "token_days_left": 3, "token_expiry": "2026-12-07T00:00:00Z", "backup_age_seconds": 9},
        None,
    ]  # fmt: skip
    report = status_report(copy.deepcopy(rows), hosts=["h1", "h2", "h3"], min_days=7)
    by = {r["host"]: r for r in report["rows"]}
    assert by["h1"]["peers"] == ["b"] and by["h1"]["peers_expected"] == 1
    assert by["h3"]["state"] == "unreachable"
    assert report["expiring"] == ["h2"] and report["not_ready"] == ["h2", "h3"]
    assert "1/1: b" in report["table"][1]
    assert "backup_age_seconds" not in report["json"]
    rows[0]["backup_age_seconds"] = 99
    assert status_report(copy.deepcopy(rows), hosts=["h1", "h2", "h3"])["json"] == report["json"]
    assert report["csv"].splitlines()[0].startswith("host,gateway,container,state")


@pytest.mark.parametrize(
    ("lines", "says"),
    [
        (["[Error] ConfigurationApiRequestFailed: 401 InvalidGatewayToken: token expired"], "401"),
        (['{"level":"error","event":"ConfigurationApiRequestFailed","msg":"403 AuthorizationFailed: app x"}'], "403"),
        (["error ConfigurationApiRequestFailed 404 GatewayNotFound: gateway 'gw9' not found"], "does not know"),
        (
            [
                "warn ConfigurationApiUnreachable login: Entra token request failed (401): "
                "AADSTS7000215: Invalid client secret provided."
            ],
            "AADSTS7000215: Invalid client secret provided",
        ),
        (["warn ConfigurationApiUnreachable contoso: [Errno 111] Connection refused"], "could not reach"),
        (["info GatewayStarting", "info listening on 8080"], "does not say why"),
    ],
)
def test_why_a_credential_was_refused(lines, says):
    from ansible_collections.apim.selfhosted.plugins.module_utils.gateway_diagnose import why_refused

    assert says in why_refused(lines)


def test_credentials_digest_and_the_labels_that_record_a_proof(planned, tmp_path):
    from ansible_collections.apim.selfhosted.plugins.module_utils import gateway_proof as proof
    from ansible_collections.apim.selfhosted.plugins.module_utils.gateway_plan import auth_digest

    plan, pairs = planned
    digest = auth_digest(pairs)
    assert plan["auth_digest"] == digest and plan["_secrets"]["token"].rsplit("&", 1)[1] not in digest
    other = check(gateway_token=make("gw1", dt.timedelta(days=9)))
    assert other["auth_digest"] != digest
    same = check(gateway_token=plan["_secrets"]["token"], gateway_log_level="warn")
    assert same["auth_digest"] == digest  # the log level is not a credential setting
    running = {"Config": {"Labels": {"io.apim.selfhosted.auth-digest": digest,
                                     "io.apim.selfhosted.credentials-proven-at": "2026-11-30T10:00:00Z"}}}  # fmt: skip
    assert not proof.needs_proof(running, digest) and proof.needs_proof(running, other["auth_digest"])
    assert not proof.needs_proof(None, digest)
    backup = {"enabled": True, "path": str(tmp_path)}
    kept = proof.info_labels(running, digest, None, backup)
    assert kept["io.apim.selfhosted.credentials-proven-at"] == "2026-11-30T10:00:00Z"
    (tmp_path / "snapshot.json").write_text("{}")
    assert "io.apim.selfhosted.credentials-proven-at" not in proof.info_labels(
        running, other["auth_digest"], None, backup
    )
    given = proof.info_labels(running, other["auth_digest"], "2026-12-01T08:00:00Z", backup)
    assert given["io.apim.selfhosted.credentials-proven-at"] == "2026-12-01T08:00:00Z"
    fresh = proof.info_labels(None, digest, None, {"enabled": False, "path": ""})
    assert fresh["io.apim.selfhosted.credentials-proven-at"].endswith("Z")
    # The records are not part of the comparison: a proof never makes a container differ from its plan.
    want = spec.expected(plan["container"], pairs, IMAGE)
    info = as_engine_reports(plan, pairs)
    info["Config"]["Labels"].update(given)
    assert spec.differences(want, spec.actual(info)) == []


def test_a_definite_refusal_ends_the_proof_early():
    from ansible_collections.apim.selfhosted.plugins.module_utils import gateway_proof as proof

    class Engine:
        log = []

        def exited_reason(self, ident):
            return lambda: None

        def logs(self, ident, lines):
            return self.log

    engine = Engine()
    stop = proof._stopped_or_refused(engine, "x", 40)
    engine.log = ["warn ConfigurationApiUnreachable contoso: [Errno 111] Connection refused"]
    assert stop() is None  # the endpoint may come back: keep waiting
    engine.log.append("error ConfigurationApiRequestFailed 401 InvalidGatewayToken: signature mismatch")
    assert stop() == "its log shows the refusal"
