"""The fleet playbooks against three edge hosts behind a load balancer, in order (each test builds on the last).

Converge (apim.selfhosted.deploy) and idempotence have run. Then: bad input on one host stops the run before any
host changes; check mode changes nothing; rotate_token with tokens from Azure (the fake ARM) under load, -vvv,
without a secret in the output; a token the Configuration API refuses is rolled back; an image upgrade under
load; the simulators hear each other; the status report; migrate_v2 of a hand-made v1 host; remove and
redeploy. The figures (requests, failures, rotation and upgrade time) are printed as FLEET FIGURE lines.
"""

import csv
import datetime as dt
import json
import os
import subprocess
import sys
import time
import urllib.request

from conftest import (
    BACKUP_DIR,
    CONTAINER,
    ENV_FILE,
    HOSTS,
    REPO,
    confapi_state,
    container_ids,
    env_file,
    env_sha,
    ephemeral,
    figure,
    fleet,
    fleet_vars,
    host_exec,
    inspect,
    load,
    load_figure,
    playbook,
    recap,
    running_token,
    secret_parts,
    sign,
    status_code,
    token_expiry,
    update_fleet_vars,
    wait_status,
    write_inventory,
)

V1_ENDPOINT = (
    "https://contoso.management.azure-api.net/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/rg"
    "/providers/Microsoft.ApiManagement/service/contoso?api-version=2021-01-01-preview"
)


def image_tag(host):
    return inspect(host)["Config"]["Image"].rsplit(":", 1)[1]


def test_01_converged_fleet_serves_through_the_load_balancer():
    token = fleet_vars()["gateway_token"]
    for host in HOSTS:
        assert status_code(host) == "200", host
        assert image_tag(host) == "2.12.3"
        assert running_token(host) == token
        assert env_file(host)["neighborhood.host"] == "neighborhood.host"
    with load("smoke", rate=30) as result:
        time.sleep(3)
    assert result["failed"] == 0, result
    assert len(result["instances"]) == 3, result  # every gateway answers behind the LB


def test_02_one_invalid_host_stops_the_run_before_any_host_changes():
    before = container_ids()
    shas = {h: env_sha(h) for h in HOSTS}
    inv = write_inventory(
        "bad-host.yml",
        {
            "apim-fleet-1": {"gateway_log_level": "warn"},
            "apim-fleet-2": {"gateway_log_level": "warn"},
            "apim-fleet-3": {"gateway_log_level": "warn", "gateway_image_tag": "latest"},
        },
    )
    rc, out, _secs = playbook("deploy", inventories=[inv])
    assert rc != 0, out
    assert "apim-fleet-3: invalid gateway variables" in out and "gateway_image_tag" in out, out
    assert "apim-fleet-1: invalid" not in out
    assert all(r["changed"] == 0 for r in recap(out).values()), out
    assert "Roll the gateways out" not in out and "Stage the image" not in out
    assert container_ids() == before
    assert {h: env_sha(h) for h in HOSTS} == shas


def test_03_check_mode_reports_and_changes_nothing():
    before = container_ids()
    shas = {h: env_sha(h) for h in HOSTS}
    inv = write_inventory("log-warn.yml", {h: {"gateway_log_level": "warn"} for h in HOSTS})
    rc, out, _secs = playbook("deploy", inventories=[inv], args=["--check", "--diff"], extra={"apim_serial": 3})
    assert rc == 0, out
    assert all(r["changed"] >= 1 for r in recap(out).values()), out
    assert out.count("env:telemetry.logs.std.level: warn") == 3, out
    rc, out, _secs = playbook("remove", args=["--check"], extra={"apim_serial": 3})
    assert rc == 0, out
    assert out.count("would be removed") == 3, out
    assert container_ids() == before
    assert {h: env_sha(h) for h in HOSTS} == shas
    assert all(status_code(h) == "200" for h in HOSTS)


def _fake_arm(tmp):
    """The fake ARM with the gateway resource gw-edge, whose keys are those of the Configuration API fake."""
    from apim_testkit.fake_arm import FakeArm

    fake = FakeArm().start()
    ca = fake.write_ca(os.path.join(tmp, "arm-ca.pem"))
    env = fake.env()
    fake.state.add_service("contoso", "rg-fleet")
    auth = {
        "auth_source": "credential",
        "client_id": env["client_id"],
        "secret": env["client_secret"],
        "tenant": env["tenant_id"],
        "subscription_id": env["subscription_id"],
        "resource_manager_endpoint": fake.url,
        "authority_host": fake.url,
        "ca_bundle": str(ca),
    }
    args = {**auth, "resource_group": "rg-fleet", "service_name": "contoso", "name": "gw-edge"}
    args["location_data"] = {"name": "fleet"}
    path = os.path.join(tmp, "gateway-args.json")
    with open(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600), "w") as fh:
        json.dump({"ANSIBLE_MODULE_ARGS": args}, fh)
    collections = os.environ.get("ANSIBLE_COLLECTIONS_PATH", "/var/lib/apim-testbed/collections").split(os.pathsep)[0]
    proc = subprocess.run(
        [sys.executable, "-m", "ansible_collections.apim.selfhosted.plugins.modules.gateway_resource", path],
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONPATH": collections},
        timeout=120,
        cwd=REPO,
    )
    assert json.loads(proc.stdout).get("changed") is True, proc.stdout + proc.stderr
    keys = fleet()["fakes"]["gateways"]["gw-edge"]
    with fake.state.lock:
        gw = next(v for k, v in fake.state.gateways.items() if k.endswith("/gw-edge"))
        gw["keys"] = {"primary": keys["primary"], "secondary": keys["secondary"]}
    fake.clear_requests()
    return fake, auth


def _arm_calls(fake, action):
    """The fake ARM's requests of one gateway action (generateToken, regenerateKey), in order."""
    return [r for r in fake.arm_requests() if r["path"].lower().endswith("/" + action.lower())]


def fake_check_ran(out):
    """The new token was proven by a throwaway gateway on one host before the rollout."""
    return out.count("TASK [Start a throwaway gateway with the new credentials") == 1


def test_04_rotate_token_from_azure_under_load_without_secrets_in_the_output(tmp_path):
    old = running_token(HOSTS[0])
    fake, auth = _fake_arm(str(tmp_path))
    try:
        extra = {
            "rotate_resource_group": "rg-fleet",
            "rotate_service_name": "contoso",
            "rotate_subscription_id": auth["subscription_id"],
            "rotate_verify_seconds": 3,
            "rotate_azure_options": {k: v for k, v in auth.items() if k != "subscription_id"},
        }
        with load("rotate") as result:
            rc, out, secs = playbook("rotate_token", extra=extra, args=["-vvv"])
        generated = _arm_calls(fake, "generateToken")
    finally:
        fake.stop()
    assert rc == 0, out[-6000:]
    load_figure("rotate_token", result, rotation_seconds=secs)
    assert result["failed"] == 0, result
    # The key of the token in use, asked once (the primary key signs it), then one new token per gateway resource,
    # not per host, from the other key: rotation alternates keys.
    assert [r["body"]["keyType"] for r in generated] == ["primary", "secondary"], generated
    assert "signed with the secondary key (the current token: primary key)" in out, out[-6000:]
    new = running_token(HOSTS[0])
    assert new != old
    expiry = token_expiry(new)
    assert dt.timedelta(days=29) < expiry - dt.datetime.now(dt.timezone.utc) <= dt.timedelta(days=30)
    for host in HOSTS:
        assert running_token(host) == new, host
        assert status_code(host) == "200", host
        assert f"{host}: the gateway runs with the new token, expires {expiry:%Y-%m-%d %H:%M} UTC" in out
    assert "ESTABLISH" in out  # -vvv reached ansible-playbook
    for secret in [*secret_parts(new), *secret_parts(old), auth["secret"], fleet()["fakes"]["gateway_key"]]:
        assert secret not in out, "a secret is in the -vvv output"
    # The operator stores the new token (vault, AWX credential) so that the next deploy keeps it.
    assert fake_check_ran(out), [ln for ln in out.splitlines() if "check gateway" in ln or "apim_rotate_check" in ln]
    update_fleet_vars(gateway_token=new)


def _link_keys(fake):
    """Azure's Configuration API knows a regenerated key at once: the fake ARM tells the Configuration API fake."""
    admin = fleet()["fakes"]["admin_url"]

    def put(gateway, keys):
        url, body = f"{admin}/admin/gateways/{gateway}", json.dumps(keys).encode()
        req = urllib.request.Request(url, data=body, method="PUT", headers={"Content-Type": "application/json"})  # noqa: S310
        with urllib.request.urlopen(req, timeout=10):  # noqa: S310 - the fake's admin URL on apim-testnet
            pass

    fake.state.key_listeners.append(put)


def test_04b_revoke_key_under_load_then_a_rerun_changes_nothing(tmp_path):
    leaked = running_token(HOSTS[0])  # test_04 alternated from the primary key to the secondary one
    fake, auth = _fake_arm(str(tmp_path))
    _link_keys(fake)
    extra = {
        "revoke_token": leaked,
        "rotate_resource_group": "rg-fleet",
        "rotate_service_name": "contoso",
        "rotate_subscription_id": auth["subscription_id"],
        "rotate_check_timeout": 30,
        "rotate_azure_options": {k: v for k, v in auth.items() if k != "subscription_id"},
    }
    try:
        ids = container_ids()
        rc0, out0, _secs = playbook("revoke_key", extra=extra, args=["--check"])
        checked = _arm_calls(fake, "regenerateKey") + _arm_calls(fake, "generateToken")
        after_check = container_ids(), running_token(HOSTS[0])
        fake.clear_requests()
        with load("revoke") as result:
            rc, out, secs = playbook("revoke_key", extra=extra, args=["-vvv"])
        regenerated = [r["body"] for r in _arm_calls(fake, "regenerateKey")]
        fake.clear_requests()
        moved = container_ids()
        rc2, out2, secs2 = playbook("revoke_key", extra=extra, args=["-v"])
        regenerated2 = _arm_calls(fake, "regenerateKey")
    finally:
        fake.stop()
    # Check mode: the plan, the hosts that would move, and nothing regenerated, generated or replaced.
    assert rc0 == 0, out0[-6000:]
    assert "Revoking the secondary key of gateway gw-edge" in out0, out0[-6000:]
    assert out0.count("would get a new token for gateway gw-edge") == len(HOSTS), out0[-6000:]
    assert not [r for r in checked if r["path"].lower().endswith("/regeneratekey")], checked
    assert all(r["body"]["keyType"] in ("primary", "secondary") for r in checked)  # key questions only
    assert after_check == (ids, leaked)
    assert f"{HOSTS[0]}: runs a token signed with the secondary key of gateway gw-edge (secondary key would be" in out0
    assert rc == 0, out[-6000:]
    load_figure("revoke_key", result, revocation_seconds=secs)
    assert result["failed"] == 0, result
    assert regenerated == [{"keyType": "secondary"}], regenerated
    new = running_token(HOSTS[0])
    assert new != leaked
    for host in HOSTS:
        assert running_token(host) == new, host
        assert status_code(host) == "200", host
        assert f"{host}: runs a token signed with the primary key of gateway gw-edge (secondary key regenerated" in out
    assert "TASK [Prove that the Configuration API refuses a token of the compromised key]" in out
    assert "the Configuration API refused the credential (401" in out, out[-6000:]
    for secret in [*secret_parts(new), *secret_parts(leaked), auth["secret"], fleet()["fakes"]["gateway_key"]]:
        assert secret not in out, "a secret is in the -vvv output"
    # The rerun: the leaked token is signed by no key any more, no host runs it; nothing changes, the proof holds.
    assert rc2 == 0, out2[-6000:]
    assert all(r["changed"] == 0 for r in recap(out2).values()), recap(out2)
    assert regenerated2 == [] and container_ids() == moved
    assert "is signed by no current key (none)" in out2
    assert "the Configuration API refused the credential (401" in out2
    figure("revoke_rerun", seconds=secs2)
    update_fleet_vars(gateway_token=new)


def test_05_a_token_the_configuration_api_refuses_changes_no_gateway():
    before = container_ids()
    shas = {h: env_sha(h) for h in HOSTS}
    bad = sign(20)[:-8] + "AAAAAAA="  # the right shape, a wrong signature
    extra = {
        "apim_hosts": "apim-fleet-1,apim-fleet-2",
        "rotate_token_source": "supplied",
        "gateway_token": bad,
        "rotate_check_timeout": 10,
    }
    rc, out, secs = playbook("rotate_token", extra=extra)
    assert rc != 0, out[-4000:]
    refused = "apim-fleet-1: a gateway started with the new credentials (and without the backup) did not load"
    assert refused in out, out[-4000:]
    assert "the Configuration API refused the credential (401" in out, out[-4000:]
    assert "Roll the new tokens out" not in out
    assert container_ids() == before
    assert {h: env_sha(h) for h in HOSTS} == shas
    assert "apim-gateway-credcheck" not in host_exec("apim-fleet-1", "docker", "ps", "-a").stdout
    leftovers = host_exec("apim-fleet-1", "ls", "-a", "/etc/apim-gateway").stdout.split()
    assert leftovers == [".", "..", "apim-gateway.env"], leftovers
    for secret in secret_parts(bad):
        assert secret not in out
    figure("refused_token", seconds=secs)


def test_05b_deploy_proves_a_new_token_once_and_refuses_it_before_any_host_changes():
    before = container_ids()
    shas = {h: env_sha(h) for h in HOSTS}
    bad = sign(20)[:-8] + "BBBBBBB="  # what an inventory or an AWX credential could hold: the right shape, refused
    rc, out, secs = playbook("deploy", extra={"gateway_token": bad, "deploy_docker": False, "apim_serial": 3})
    assert rc != 0, out[-4000:]
    assert out.count("TASK [Start a throwaway gateway with the new credentials") == 1, out[-4000:]
    assert "did not load its configuration" in out and "refused the credential (401" in out, out[-4000:]
    assert "Roll the gateways out" not in out
    assert container_ids() == before
    assert {h: env_sha(h) for h in HOSTS} == shas
    for secret in secret_parts(bad):
        assert secret not in out
    figure("deploy_refused_token", seconds=secs)


def test_06_a_gateway_that_never_gets_ready_is_rolled_back_and_stops_the_rollout():
    good = running_token(HOSTS[0])
    before = container_ids()
    shas = {h: env_sha(h) for h in HOSTS}
    # A token for a gateway that the Configuration API does not know, and whose backup the gateway will not use.
    other = sign(20, gateway_id="gw-other")
    extra = {
        "apim_hosts": "apim-fleet-1,apim-fleet-2",
        "rotate_token_source": "supplied",
        "rotate_token_check": False,
        "gateway_token": other,
        "gateway_ready_timeout": 15,
    }
    with load("never-ready") as result:
        rc, out, secs = playbook("rotate_token", extra=extra)
    assert rc != 0, out[-4000:]
    assert result["failed"] == 0, result
    assert "The previous container was restored and is serving again" in out, out[-4000:]
    assert env_sha("apim-fleet-1") == shas["apim-fleet-1"]  # the previous env-file is back
    assert running_token("apim-fleet-1") == good
    assert status_code("apim-fleet-1") == "200"
    assert container_ids()["apim-fleet-1"] == before["apim-fleet-1"]  # the kept container itself
    assert container_ids()["apim-fleet-2"] == before["apim-fleet-2"]  # the rollout stopped after batch 1
    assert container_ids()["apim-fleet-3"] == before["apim-fleet-3"]
    for secret in secret_parts(other) + secret_parts(good):
        assert secret not in out
    figure("never_ready", requests=result["requests"], failed=result["failed"], seconds=secs)


def test_07_image_upgrade_under_load():
    token = running_token(HOSTS[0])
    tarballs = fleet()["tarballs"]
    update_fleet_vars(gateway_image_tag="2.12.4", gateway_image_tarball=f"{tarballs}/gateway-sim-2.12.4.tar")
    with load("upgrade") as result:
        rc, out, secs = playbook("deploy", extra={"deploy_docker": False})
    assert rc == 0, out[-6000:]
    load_figure("upgrade", result, upgrade_seconds=secs)
    assert result["failed"] == 0, result
    for host in HOSTS:
        assert image_tag(host) == "2.12.4", host
        assert running_token(host) == token
        assert status_code(host) == "200"
    assert set(result["instances"]) >= {inspect(h)["Config"]["Hostname"] for h in HOSTS}


def test_08_each_gateway_hears_the_other_two():
    current = {h: inspect(h)["Config"]["Hostname"] for h in HOSTS}
    deadline = time.monotonic() + 45
    while True:
        instances = {}
        for gw in confapi_state()["gateways"].values():
            for inst in gw["instances"].values():
                instances[inst["hostname"]] = inst
        peers = {h: sorted(instances.get(name, {}).get("peers") or []) for h, name in current.items()}
        want = {h: sorted(n for o, n in current.items() if o != h) for h in HOSTS}
        if peers == want or time.monotonic() > deadline:
            break
        time.sleep(3)
    assert peers == want, (peers, want)
    assert all(instances[current[h]]["version"] == "2.12.4" for h in HOSTS)


def test_09_status_report(tmp_path):
    report = tmp_path / "report"
    extra = {"status_report_dir": str(report), "status_token_min_days": 40, "status_fail_on_expiry": False}
    rc, out, _secs = playbook("status", extra=extra)
    assert rc == 0, out[-4000:]
    assert "WARNING: tokens with fewer than 40 days left" in out
    data = json.loads((report / "apim-gateway-status.json").read_text())
    rows = {r["host"]: r for r in data["hosts"]}
    current = {h: inspect(h)["Config"]["Hostname"] for h in HOSTS}
    for host in HOSTS:
        row = rows[host]
        token = running_token(host)
        assert row["token_expiry"] == token_expiry(token).strftime("%Y-%m-%dT%H:%M:00Z"), row
        assert row["token_days_left"] == (token_expiry(token) - dt.datetime.now(dt.timezone.utc)).days
        assert row["gateway"] == "gw-edge" and row["image_tag"] == "2.12.4" and row["ready"] is True, row
        assert row["state"] == "running" and row["instance"] == current[host]
        assert row["credentials_proven_at"], row  # proven by rotate_token's throwaway gateway
        assert row["peers"] == sorted(n for o, n in current.items() if o != host), row
        newest = dt.datetime.strptime(row["backup_newest"], "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=dt.timezone.utc)
        assert row["backup_files"] >= 1 and 0 <= (dt.datetime.now(dt.timezone.utc) - newest).total_seconds() < 3600
        assert token not in out and secret_parts(token)[1] not in (report / "apim-gateway-status.json").read_text()
    assert sorted(data["expiring"]) == list(HOSTS)
    with open(report / "apim-gateway-status.csv") as fh:
        table = list(csv.DictReader(fh))
    assert [r["host"] for r in table] == list(HOSTS)
    assert table[0]["token_expiry"] == rows[HOSTS[0]]["token_expiry"] and table[0]["ready"] == "true"
    table_lines = [ln for ln in out.splitlines() if ln.strip().startswith('"apim-fleet-')]
    assert len(table_lines) == 3 and all("2/2" in ln for ln in table_lines), table_lines
    # Nothing changed: the same report, and the files are not rewritten.
    rc, out, _secs = playbook("status", extra=extra)
    assert rc == 0 and recap(out)[HOSTS[0]]["changed"] == 0, out[-3000:]
    rc, out, _secs = playbook("status", extra={**extra, "status_fail_on_expiry": True, "status_report_dir": ""})
    assert rc != 0 and "Tokens with fewer than 40 days left" in out, out[-3000:]


def test_10_migrate_v2_reports_then_moves_a_v1_host():
    host = "apim-fleet-2"
    others = {h: i for h, i in container_ids().items() if h != host}
    sim = fleet()["sim_image"]
    # A host as the portal left it in 2022: a container of a 1.x image with the v1 endpoint, started by hand.
    host_exec(host, "docker", "rm", "-f", CONTAINER)
    host_exec(host, "docker", "tag", f"{sim}:2.12.4", f"{sim}:1.2.3")
    v1_env = f"config.service.endpoint={V1_ENDPOINT}\nconfig.service.auth={running_token(host)}\n"
    host_exec(host, "sh", "-c", "umask 077 && cat > /root/env.conf", input=v1_env)
    host_exec(
        host, "docker", "run", "-d", "--name", "gw-edge-v1", "--env-file", "/root/env.conf", "-p", "80:8080",
        f"{sim}:1.2.3",
    )  # fmt: skip
    time.sleep(2)
    assert inspect(host, "gw-edge-v1")["State"]["Running"] is False  # the image refuses a v1 endpoint, as v2 does
    inv = write_inventory(
        "v1-host.yml",
        {
            host: {
                "gateway_image_tag": "1.2.3",
                "gateway_endpoint": V1_ENDPOINT,
                "migrate_v2_legacy_containers": ["gw-edge-v1"],
            }
        },
    )
    rc, out, _secs = playbook("migrate_v2", inventories=[inv], args=["--check"], extra={"apim_serial": 3})
    assert rc == 0, out[-4000:]
    line = next(ln for ln in out.splitlines() if f"{host}: needs migration to v2" in ln)
    for reason in (
        "container gw-edge-v1 runs image tag 1.2.3",
        "container gw-edge-v1 uses the v1 endpoint contoso.management.azure-api.net",
        "inventory gateway_image_tag is 1.2.3",
        "inventory gateway_endpoint is a v1 endpoint",
    ):
        assert reason in line, line
    assert "apim-fleet-1: v2 already" in out and "apim-fleet-3: v2 already" in out
    assert inspect(host) is None and inspect(host, "gw-edge-v1") is not None  # check mode changed nothing

    extra = {"migrate_v2_endpoint": fleet_vars()["gateway_endpoint"], "migrate_v2_image_tag": "2.12.4"}
    rc, out, secs = playbook("migrate_v2", inventories=[inv], extra=extra)
    assert rc == 0, out[-6000:]
    assert wait_status(host) == "200"
    assert image_tag(host) == "2.12.4"
    assert env_file(host)["config.service.endpoint"] == "https://" + fleet_vars()["gateway_endpoint"]
    assert inspect(host, "gw-edge-v1") is None
    assert {h: i for h, i in container_ids().items() if h != host} == others  # v2 hosts untouched
    figure("migrate_v2", seconds=secs)


def test_11_remove_keeps_the_backup_and_deploy_brings_the_host_back():
    host = "apim-fleet-3"
    rc, out, _secs = playbook("remove", extra={"apim_hosts": host})
    assert rc != 0 and "remove_confirm is not true" in out, out[-3000:]
    assert inspect(host) is not None
    rc, out, _secs = playbook("remove", extra={"apim_hosts": host, "remove_confirm": True})
    assert rc == 0, out[-4000:]
    assert inspect(host) is None
    assert host_exec(host, "test", "-e", ENV_FILE, check=False).returncode == 1
    assert host_exec(host, "test", "-f", f"{BACKUP_DIR}/snapshot.json", check=False).returncode == 0
    rc, out, _secs = playbook("remove", extra={"apim_hosts": host, "remove_confirm": True})
    assert rc == 0 and recap(out)[host]["changed"] == 0, out[-3000:]
    rc, out, _secs = playbook("deploy", extra={"apim_hosts": host, "deploy_docker": False})
    assert rc == 0, out[-4000:]


def test_12_every_host_ready_at_the_end_with_the_new_token_and_tag():
    token = fleet_vars()["gateway_token"]
    for host in HOSTS:
        assert wait_status(host) == "200", host
        assert image_tag(host) == "2.12.4", host
        assert running_token(host) == token, host
    assert env_sha(HOSTS[0]) == env_sha(HOSTS[1]) == env_sha(HOSTS[2])
    print("\nephemeral directory:", ephemeral())
