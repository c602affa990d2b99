"""Runs of the role against the converged host: bad input, both token layouts, rotation, a never-ready upgrade.

Each test leaves the gateway converged (token layout GatewayKey, tag 2.12.3, serving), so the order does not
matter.
"""

import time

import pytest
from conftest import (
    CONTAINER,
    containers,
    converged_token,
    env_file,
    env_file_sha,
    gateway_vars,
    host_exec,
    inspect,
    new_token,
    playbook,
    recap,
    status_code,
    wait_status,
)

ENDPOINT_HOST = "contoso.configuration.azure-api.net"

# (extra vars, the variable the failure must name). The whole matrix of refused inputs runs as unit tests
# (tests/unit/gateway); these prove on a real host that a refusal happens on the controller and touches nothing.
BAD_INPUTS = [
    ({"gateway_token": new_token(days=-1)}, "gateway_token"),
    ({"gateway_endpoint": "https://contoso.management.azure-api.net/subscriptions/1/rg"}, "gateway_endpoint"),
    ({"gateway_user": "0:0"}, "gateway_user"),
    ({"gateway_backup_path": "/var/lib/docker"}, "gateway_backup_path"),
    ({"gateway_state": "absent", "gateway_remove_backup": True, "gateway_backup_path": "/"}, "gateway_backup_path"),
]


@pytest.mark.parametrize(
    ("extra", "variable"), BAD_INPUTS, ids=[f"{i:02d}-{v}" for i, (_x, v) in enumerate(BAD_INPUTS)]
)
def test_bad_input_fails_on_the_controller_and_leaves_the_host_alone(running_gateway, extra, variable):
    rc, out = playbook(extra)
    assert rc != 0, out
    assert variable in out and "no host was changed" in out, out
    # Only the controller-side validation ran: no task reached the host.
    assert "Look for the gateway image" not in out and "Keep the gateway container" not in out
    assert recap(out)["changed"] == 0
    after = inspect()
    assert after["Id"] == running_gateway["id"]
    assert after["State"]["StartedAt"] == running_gateway["started"]
    assert after["State"]["Running"] is True
    assert env_file_sha() == running_gateway["sha"]
    assert status_code() == "200"


def test_token_rotation_recreates_once_and_secrets_stay_out_of_output(converged):
    token = new_token(days=25)
    signature = token.rsplit("&", 1)[1]
    # Check mode at -vvv with --diff: reports the change, changes nothing, prints no secret.
    rc, out = playbook({"gateway_token": token}, args=["--check", "--diff", "-vvv"])
    assert rc == 0, out
    assert signature not in out and signature[:20] not in out
    assert recap(out)["changed"] >= 1
    assert inspect()["Id"] == converged["id"] and env_file_sha() == converged["sha"]

    rc, out = playbook({"gateway_token": token}, args=["--diff", "-vvv"])
    assert rc == 0, out
    assert signature not in out and signature[:20] not in out
    assert out.count("TASK [apim.selfhosted.gateway : Keep the gateway container on its plan]") == 1
    after = inspect()
    assert after["Id"] != converged["id"]
    assert containers() == [CONTAINER]
    assert env_file()["config.service.auth"] == token
    assert f"config.service.auth={token}" in after["Config"]["Env"]
    assert wait_status("200") == "200"

    rc, out = playbook({"gateway_token": token})
    assert rc == 0 and recap(out)["changed"] == 0, out
    assert inspect()["Id"] == after["Id"]

    # Back to the converged token.
    rc, out = playbook()
    assert rc == 0, out
    assert wait_status("200") == "200"


def test_key_layout_with_the_same_token_variable(converged):
    token = converged_token()
    rc, out = playbook({"gateway_token_layout": "key"})
    assert rc == 0, out
    env = env_file()
    assert env["config.service.auth"] == "key"
    assert env["config.service.auth.key"] == token
    assert env["gateway.name"] == token.split(" ", 1)[1].split("&", 1)[0]
    assert inspect()["Id"] != converged["id"]
    assert wait_status("200") == "200"
    rc, out = playbook({"gateway_token_layout": "key"})
    assert rc == 0 and recap(out)["changed"] == 0, out

    rc, out = playbook()
    assert rc == 0, out
    assert env_file()["config.service.auth"] == token
    assert wait_status("200") == "200"


def test_never_ready_new_tag_restores_the_old_gateway(converged):
    # The new tag cannot reach a Configuration API and has no backup to start from: it never becomes ready.
    # It also moves to another HTTP port: the restored container is awaited on its own port.
    extra = {
        "gateway_http_port": 8088,
        "gateway_image_tag": "2.12.4",
        "gateway_image_tarball": gateway_vars()["gateway_image_tarball"].replace("2.12.3", "2.12.4"),
        "gateway_backup_enabled": False,
        "gateway_extra_hosts": {ENDPOINT_HOST: "127.0.0.1", **gateway_vars().get("gateway_extra_hosts", {})},
        "gateway_ready_timeout": 20,
    }
    for host in list(extra["gateway_extra_hosts"]):
        extra["gateway_extra_hosts"][host] = "127.0.0.1"
    rc, out = playbook(extra)
    assert rc != 0, out
    assert "did not answer 200" in out and "Last log lines" in out
    assert "The previous container was restored and is serving again" in out
    after = inspect()
    assert after["Id"] == converged["id"]
    assert after["Config"]["Image"].endswith(":2.12.3")
    assert containers() == [CONTAINER]
    assert env_file_sha() == converged["sha"]
    assert wait_status("200") == "200"
    # The role tries again on the next run (and is no-op once the variables are back).
    rc, out = playbook()
    assert rc == 0 and recap(out)["changed"] == 0, out


def test_neighborhood_publishes_the_udp_ports_on_the_neighbours_network_only(converged):
    # The neighbourhood name resolves (as in the container, /etc/hosts entries included) to this host's address on
    # the test network: the UDP ports are published there, not on every address.
    address = host_exec("hostname", "-i").stdout.split()[0]
    hosts = {**gateway_vars().get("gateway_extra_hosts", {}), "apim-gw-peers.test": address}
    rc, out = playbook({"gateway_neighborhood_host": "apim-gw-peers.test", "gateway_extra_hosts": hosts})
    assert rc == 0, out
    env = env_file()
    assert env["neighborhood.host"] == "apim-gw-peers.test"
    assert env["neighborhood.heartbeat.port"] == "4291" and env["policy.rate-limit.sync.port"] == "4290"
    ports = inspect()["HostConfig"]["PortBindings"]
    assert ports["4290/udp"] == [{"HostIp": address, "HostPort": "4290"}]
    assert ports["4291/udp"] == [{"HostIp": address, "HostPort": "4291"}]
    bound = host_exec("ss", "-Huln").stdout
    assert f"{address}:4290 " in bound and f"{address}:4291 " in bound, bound
    assert "0.0.0.0:4291 " not in bound, bound
    assert wait_status("200") == "200"

    rc, out = playbook()
    assert rc == 0, out
    assert "4290/udp" not in inspect()["HostConfig"]["PortBindings"]
    assert ":4290 " not in host_exec("ss", "-Huln").stdout


def test_hardening_drift_is_repaired(converged):
    # Someone recreated the gateway by hand (with the collection's label) without the hardening flags: the role
    # notices and fixes it. A container without the label is never touched (tests/integration/gateway_container).
    info = inspect()
    image = info["Config"]["Image"]
    host_exec("docker", "rm", "-f", CONTAINER)
    host_exec(
        "docker", "run", "-d", "--name", CONTAINER, "--label", "io.apim.selfhosted.role=gateway",
        "--env-file", "/etc/apim-gateway/apim-gateway.env",
        "-p", "80:8080", "-p", "443:8081", "--user", "1001:1001", image,
    )  # fmt: skip
    rc, out = playbook(args=["--diff"])
    assert rc == 0, out
    assert "capabilities: (['ALL'], [])" in out and "security_opts:" in out, out
    hc = inspect()["HostConfig"]
    assert hc["CapDrop"] == ["ALL"] and "no-new-privileges:true" in hc["SecurityOpt"]
    assert hc["Memory"] == 2 * 1024**3
    assert wait_status("200") == "200"
    rc, out = playbook()
    assert rc == 0 and recap(out)["changed"] == 0, out


def test_absent_keeps_the_backup_then_converge_again(converged):
    rc, out = playbook({"gateway_state": "absent"})
    assert rc == 0, out
    assert CONTAINER not in containers()
    assert host_exec("test", "-e", "/etc/apim-gateway/apim-gateway.env", check=False).returncode != 0
    assert host_exec("test", "-d", "/var/lib/apim-gateway/apim-gateway", check=False).returncode == 0
    rc, out = playbook()
    assert rc == 0, out
    assert wait_status("200") == "200"


# The Configuration API goes offline for this host: the edge host's firewall drops everything its containers
# send outside (replies to the host's own requests to the published ports stay local).
OFFLINE_RULE = ["DOCKER-USER", "-i", "docker0", "!", "-o", "docker0", "-j", "DROP"]


@pytest.fixture
def config_api_offline():
    def go_offline():
        host_exec("iptables", "-I", *OFFLINE_RULE)

    yield go_offline
    host_exec("iptables", "-D", *OFFLINE_RULE, check=False)


def restart_gateway():
    host_exec("docker", "restart", "-t", "20", CONTAINER)


def never_ready_for(seconds):
    deadline = time.monotonic() + seconds
    seen = set()
    while time.monotonic() < deadline:
        seen.add(status_code())
        time.sleep(2)
    return seen


def test_fail_static_restart_is_ready_from_backup(converged, config_api_offline):
    saved = host_exec("find", "/var/lib/apim-gateway/apim-gateway", "-type", "f", "-size", "+0").stdout.split()
    assert saved, "no saved configuration to start from"
    config_api_offline()
    restart_gateway()
    assert wait_status("200", timeout=90) == "200"


def test_fail_static_without_backup_stays_not_ready(converged, config_api_offline):
    rc, out = playbook({"gateway_backup_enabled": False})
    assert rc == 0, out
    assert not [m for m in inspect()["Mounts"] if m["Destination"] == "/apim/config"]
    assert wait_status("200") == "200"
    config_api_offline()
    restart_gateway()
    seen = never_ready_for(30)
    assert "200" not in seen, seen
    host_exec("iptables", "-D", *OFFLINE_RULE)
    rc, out = playbook()
    assert rc == 0, out
    assert wait_status("200") == "200"


def test_refused_credentials_are_proven_first_when_asked_and_change_nothing(converged):
    # With a backup the gateway would start from it and answer 200 with a refused token: the proof tells.
    bad = new_token(days=20)[:-8] + "CCCCCCC="
    rc, out = playbook({"gateway_token": bad, "gateway_prove_credentials": True, "gateway_proof_timeout": 15})
    assert rc != 0, out
    assert "new credentials of apim-gateway were refused" in out and "refused the credential (401" in out, out
    assert bad.rsplit("&", 1)[1] not in out
    after = inspect()
    assert after["Id"] == converged["id"] and after["State"]["StartedAt"] == converged["started"]
    assert env_file_sha() == converged["sha"]
    assert "apim-gateway-credcheck" not in containers()
    assert status_code() == "200"
