"""The gateway simulator keeps the real gateway's contract, strictly (issues 5 and 10).

Each test runs the simulator image on the host's engine, on apim-testnet, against the Configuration API
fake and backend that fakes.py starts; nothing is mocked.
"""

import datetime as dt
import json
import os
import subprocess
import time
import urllib.error
import urllib.request
import uuid

import pytest

from apim_testkit.gateway_sim import fakes
from apim_testkit.gateway_sim.apimsim import token as gwtoken

IMAGE = os.environ.get("APIM_SIM_IMAGE", "apim-testbed/gateway-sim") + ":2.12.3"
STATUS = "/status-0123456789abcdef"
LABEL = "io.apim.simtest"

pytestmark = pytest.mark.docker


@pytest.fixture(scope="module")
def fake(tmp_path_factory):
    state = tmp_path_factory.mktemp("simfakes")
    out = fakes.up("simtest", str(state), gateways=("gw-a", "gw-b"))
    yield out
    fakes.down("simtest")
    ids = fakes.docker("ps", "-aq", "--filter", f"label={LABEL}").stdout.split()
    if ids:
        fakes.docker("rm", "-f", "-v", *ids, check=False)


def base_env(fake, gateway="gw-a", **extra):
    env = {
        "config.service.endpoint": fake["endpoint"],
        "config.service.auth": fake["gateways"][gateway]["token"],
        "runtime.deployment.mechanism": "Ansible",
    }
    env.update(extra)
    return {k: v for k, v in env.items() if v is not None}


def run_sim(fake, env, *, user="1001:1001", extra=(), hosts=None, name=None):
    name = name or f"sim-{uuid.uuid4().hex[:8]}"
    args = ["run", "-d", "--name", name, "--label", LABEL, "--network", fakes.NETWORK, "--user", user]
    args += ["--cap-drop", "ALL", "--security-opt", "no-new-privileges:true"]
    args += ["-v", f"{fake['ca_file']}:/usr/local/share/ca-certificates/test-ca.crt:ro"]
    for host, ip in (fake["extra_hosts"] if hosts is None else hosts).items():
        args += ["--add-host", f"{host}:{ip}"]
    for key, value in env.items():
        args += ["-e", f"{key}={value}"]
    fakes.docker(*args, *extra, IMAGE)
    return name


def exited(name, timeout=20):
    """(exit code, logs) once the container stopped, or (None, logs) if it still runs."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        state = json.loads(fakes.docker("inspect", "-f", "{{json .State}}", name).stdout)
        if not state["Running"]:
            logs = fakes.docker("logs", name)
            return state["ExitCode"], logs.stdout + logs.stderr
        time.sleep(0.3)
    logs = fakes.docker("logs", name)
    return None, logs.stdout + logs.stderr


def get(name, path, port=8080, timeout=5):
    ip = fakes.ip_of(name)
    try:
        with urllib.request.urlopen(f"http://{ip}:{port}{path}", timeout=timeout) as resp:
            return resp.status, resp.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()
    except OSError:
        return None, b""


def wait_status(name, want, timeout=30, path=STATUS):
    deadline = time.monotonic() + timeout
    seen = None
    while time.monotonic() < deadline:
        seen, _ = get(name, path)
        if seen == want:
            return seen
        time.sleep(0.5)
    return seen


def stays_not_ready(name, seconds=12):
    deadline = time.monotonic() + seconds
    seen = set()
    while time.monotonic() < deadline:
        seen.add(get(name, STATUS)[0])
        time.sleep(0.5)
    return seen


def logs(name):
    out = fakes.docker("logs", name)
    return out.stdout + out.stderr


# --- start-up refusals -----------------------------------------------------------------------------

BAD_ENVS = [
    ({"config.service.endpoint": None}, "config.service.endpoint is required"),
    ({"config.service.endpoint": "http://contoso.configuration.azure-api.net"}, "scheme 'http'"),
    ({"config.service.endpoint": "contoso.management.azure-api.net/subscriptions/1/rg/x"}, "v1"),
    ({"config.service.auth": None}, "config.service.auth is required"),
    ({"config.service.auth": "GatewayKey gw-a&2026&x"}, "malformed"),
    ({"config.service.auth": "password"}, "config.service.auth must be"),
    ({"config.service.auth": "key"}, "config.service.auth.key is missing"),
    ({"config.service.auth.key": "GatewayKey gw-a&203001010000&abc="}, "use one"),
    ({"telemetry.logs.std": "xml"}, "telemetry.logs.std"),
    ({"telemetry.logs.std.level": "verbose"}, "telemetry.logs.std.level"),
    ({"net.server.tls.ciphers.allowed-suites": "TLS_AES_256_GCM_SHA384,RC4-MD5"}, "unknown cipher"),
    ({"config.service.integration.timeout": "100"}, "config.service.integration.timeout"),
    ({"neighborhood.host": "peers.test", "neighborhood.heartbeat.port": "4290"}, "must differ"),
    ({"certificates.local.ca.enabled": "yes"}, "not a boolean"),
    ({"config.service.auth": "azureAdApp", "gateway.name": "gw-a"}, "tenantId is required"),
]


@pytest.mark.parametrize(("change", "message"), BAD_ENVS, ids=[m for _c, m in BAD_ENVS])
def test_a_bad_setting_stops_the_container(fake, change, message):
    env = base_env(fake)
    for key, value in change.items():
        if value is None:
            env.pop(key, None)
        else:
            env[key] = value
    code, out = exited(run_sim(fake, env))
    assert code == 1, out
    assert message in out


def test_refuses_root(fake):
    code, out = exited(run_sim(fake, base_env(fake), user="0:0"))
    assert code == 1 and "refusing to run as root" in out


def test_refuses_a_read_only_root_filesystem(fake):
    code, out = exited(run_sim(fake, base_env(fake), extra=["--read-only"]))
    assert code == 1 and "Failed to open temporary file" in out


def test_image_has_busybox_wget_and_no_curl():
    out = fakes.docker("run", "--rm", "--entrypoint", "sh", IMAGE, "-c", "command -v wget; command -v curl; id -u")
    assert out.stdout.split() == ["/usr/local/bin/wget", "1001"]


# --- configuration, auth and the data plane -----------------------------------------------------------


def test_token_layout_gatewaykey_serves_and_proxies(fake):
    name = run_sim(fake, base_env(fake))
    assert wait_status(name, 200) == 200
    assert get(name, "/internal-status-0123456789abcdef")[0] == 200
    status, body = get(name, "/echo/orders?id=7")
    assert status == 200
    echoed = json.loads(body)
    assert echoed["path"] == "/orders?id=7" and echoed["backend"].startswith("simtest-backend")
    assert get(name, "/unknown-api/x")[0] == 404
    assert "LocalBackupLocationNotFound" in logs(name)


def test_token_layout_key_with_gateway_name(fake):
    env = base_env(fake, **{"config.service.auth": "key"})
    env["config.service.auth.key"] = fake["gateways"]["gw-a"]["token"]
    env["gateway.name"] = "gw-a"
    assert wait_status(run_sim(fake, env), 200) == 200


def test_key_layout_with_another_gateway_name_is_refused(fake):
    env = base_env(fake, **{"config.service.auth": "key", "gateway.name": "gw-b"})
    env["config.service.auth.key"] = fake["gateways"]["gw-a"]["token"]
    code, out = exited(run_sim(fake, env))
    assert code == 1 and "does not match" in out


def test_https_port_serves_the_configured_certificate(fake):
    name = run_sim(fake, base_env(fake))
    assert wait_status(name, 200) == 200
    import ssl

    ctx = ssl.create_default_context(cafile=fake["ca_file"])
    ctx.check_hostname = False
    req = urllib.request.Request(f"https://{fakes.ip_of(name)}:8081/echo/tls")
    with urllib.request.urlopen(req, context=ctx, timeout=5) as resp:  # noqa: S310
        assert json.loads(resp.read())["path"] == "/tls"


def _signed(gateway, key, days):
    expiry = dt.datetime.now(dt.timezone.utc) + dt.timedelta(days=days)
    return gwtoken.PREFIX + gwtoken.sign(gateway, expiry, key)


@pytest.mark.parametrize(
    ("label", "token"),
    [
        ("expired", lambda f: _signed("gw-a", f["gateways"]["gw-a"]["primary"], -1)),
        ("wrong-key", lambda f: _signed("gw-a", gwtoken.new_key(), 10)),
        ("other-gateway", lambda f: _signed("gw-a", f["gateways"]["gw-b"]["primary"], 10)),
    ],
)
def test_a_token_the_api_rejects_never_becomes_ready(fake, label, token):
    name = run_sim(fake, base_env(fake, **{"config.service.auth": token(fake)}))
    assert 200 not in stays_not_ready(name, 8)
    assert "ConfigurationApiRequestFailed" in logs(name) and "401" in logs(name)


def test_secondary_key_tokens_are_accepted(fake):
    token = _signed("gw-b", fake["gateways"]["gw-b"]["secondary"], 5)
    assert wait_status(run_sim(fake, base_env(fake, "gw-b", **{"config.service.auth": token})), 200) == 200


def entra_env(fake, secret=None, gateway="gw-a"):
    e = fake["entra"]
    return base_env(
        fake,
        **{
            "config.service.auth": "azureAdApp",
            "gateway.name": gateway,
            "config.service.auth.azureAd.tenantId": e["tenant_id"],
            "config.service.auth.azureAd.clientId": e["client_id"],
            "config.service.auth.azureAd.clientSecret": secret or e["client_secret"],
        },
    )


def test_entra_app_gets_a_bearer_token_and_its_configuration(fake):
    fakes.admin(fake["admin_url"], "DELETE", "/admin/requests")
    name = run_sim(fake, entra_env(fake))
    assert wait_status(name, 200) == 200
    reqs = fakes.admin(fake["admin_url"], path="/admin/requests")
    assert any(r["auth"] == "entra" and r["host"] == "login.microsoftonline.com" and r["status"] == 200 for r in reqs)
    assert any(r["auth"] == "entra" and r["path"].endswith("/configuration") and r["status"] == 200 for r in reqs)


def test_entra_app_with_a_wrong_secret_never_becomes_ready(fake):
    name = run_sim(fake, entra_env(fake, secret="not-the-secret"))
    assert 200 not in stays_not_ready(name, 8)
    assert "AADSTS7000215" in logs(name)


def test_entra_app_without_the_reader_role_is_forbidden(fake):
    fakes.admin(
        fake["admin_url"],
        "PUT",
        f"/admin/apps/{fake['entra']['client_id']}",
        {"tenant": fake["entra"]["tenant_id"], "secret": fake["entra"]["client_secret"], "gateways": ["gw-b"]},
    )
    try:
        name = run_sim(fake, entra_env(fake))
        assert 200 not in stays_not_ready(name, 8)
        assert "403 AuthorizationFailed" in logs(name)
    finally:
        fakes.admin(
            fake["admin_url"],
            "PUT",
            f"/admin/apps/{fake['entra']['client_id']}",
            {
                "tenant": fake["entra"]["tenant_id"],
                "secret": fake["entra"]["client_secret"],
                "gateways": ["gw-a", "gw-b"],
            },
        )


def test_an_untrusted_configuration_api_certificate_is_refused(fake):
    args = ["run", "-d", "--label", LABEL, "--network", fakes.NETWORK, "--user", "1001:1001"]
    for host, ip in fake["extra_hosts"].items():
        args += ["--add-host", f"{host}:{ip}"]
    for key, value in base_env(fake).items():
        args += ["-e", f"{key}={value}"]
    name = fakes.docker(*args, IMAGE).stdout.strip()
    assert 200 not in stays_not_ready(name, 6)
    assert "CERTIFICATE_VERIFY_FAILED" in logs(name)


# --- backup and fail static --------------------------------------------------------------------------


def test_fail_static_from_the_backup_volume(fake, tmp_path):
    volume = f"simtest-backup-{uuid.uuid4().hex[:6]}"
    fakes.docker("volume", "create", "--label", LABEL, volume)
    # The real image's backup directory belongs to gid 1001; a new named volume is root's until chowned.
    fakes.docker("run", "--rm", "--user", "0", "-v", f"{volume}:/b", "--entrypoint", "chown", IMAGE, "1001:1001", "/b")
    try:
        name = run_sim(fake, base_env(fake), extra=["-v", f"{volume}:/apim/config"])
        assert wait_status(name, 200) == 200
        deadline = time.monotonic() + 10
        while "ConfigurationBackupSaved" not in logs(name) and time.monotonic() < deadline:
            time.sleep(0.3)
        assert "ConfigurationBackupSaved" in logs(name)
        fakes.admin(fake["admin_url"], "POST", "/admin/offline")
        fakes.docker("restart", "-t", "5", name)
        assert wait_status(name, 200, timeout=30) == 200
        assert "ConfigurationLoadedFromBackup" in logs(name)
        assert json.loads(get(name, "/echo/offline")[1])["path"] == "/offline"
    finally:
        fakes.admin(fake["admin_url"], "POST", "/admin/online")
        fakes.docker("rm", "-f", "-v", name, check=False)
        fakes.docker("volume", "rm", "-f", volume, check=False)


def test_without_backup_it_cannot_start_offline(fake):
    name = run_sim(fake, base_env(fake))
    assert wait_status(name, 200) == 200
    fakes.admin(fake["admin_url"], "POST", "/admin/offline")
    try:
        fakes.docker("restart", "-t", "5", name)
        assert 200 not in stays_not_ready(name, 10)
        assert "ConfigurationNotFound" in logs(name)
    finally:
        fakes.admin(fake["admin_url"], "POST", "/admin/online")
    # Back online, it loads its configuration on the next poll.
    assert wait_status(name, 200, timeout=20) == 200


def test_a_running_gateway_keeps_serving_when_the_api_goes_away(fake):
    name = run_sim(fake, base_env(fake))
    assert wait_status(name, 200) == 200
    fakes.admin(fake["admin_url"], "POST", "/admin/offline")
    try:
        time.sleep(11)  # past one poll
        assert get(name, STATUS)[0] == 200
        assert get(name, "/echo/still")[0] == 200
    finally:
        fakes.admin(fake["admin_url"], "POST", "/admin/online")


def test_a_backup_dir_it_cannot_write_is_reported(fake, tmp_path):
    path = tmp_path / "backup"
    path.mkdir()
    os.chmod(path, 0o755)  # noqa: S103 - root's and not writable by uid 1001, which is the point
    name = run_sim(fake, base_env(fake), extra=["-v", f"{path}:/apim/config"])
    assert wait_status(name, 200) == 200
    assert "LocalBackupLocationNotWritable" in logs(name)


# --- heartbeats and the neighborhood ------------------------------------------------------------------


def test_heartbeats_and_neighborhood_peers(fake):
    env = base_env(fake, **{"neighborhood.host": "simtest-peers"})
    names = [
        run_sim(fake, env, name=f"simtest-peer-{i}-{uuid.uuid4().hex[:4]}", extra=["--network-alias", "simtest-peers"])
        for i in range(2)
    ]
    for n in names:
        assert wait_status(n, 200) == 200
    hostnames = {fakes.docker("inspect", "-f", "{{.Config.Hostname}}", n).stdout.strip() for n in names}
    deadline = time.monotonic() + 30
    peers = {}
    while time.monotonic() < deadline:
        instances = fakes.admin(fake["admin_url"])["gateways"]["gw-a"]["instances"].values()
        peers = {i["hostname"]: set(i["peers"]) for i in instances if i["hostname"] in hostnames}
        if len(peers) == 2 and all(p == hostnames - {h} for h, p in peers.items()):
            break
        time.sleep(1)
    assert peers == {h: hostnames - {h} for h in hostnames}
    for n in names:
        assert "PeerDiscovered" in logs(n)


def test_sigterm_drains_then_stops(fake):
    name = run_sim(fake, base_env(fake))
    assert wait_status(name, 200) == 200
    t0 = time.monotonic()
    stop = subprocess.Popen(["docker", "stop", "-t", "10", name], stdout=subprocess.DEVNULL)
    seen = set()
    while stop.poll() is None:
        seen.add(get(name, STATUS, timeout=1)[0])
        time.sleep(0.2)
    assert 503 in seen, seen
    assert 1.5 <= time.monotonic() - t0 < 10
    code, _out = exited(name)
    assert code == 0
