"""apim.selfhosted.gateway_container on an edge host with Debian's docker.io and python3-docker (SDK 5.0), the
simulator and the Configuration API fake: converge, recover, refuse, place secrets, remove. A new token, drift and a
never-ready replacement with its rollback run through the role in molecule/default; they are not repeated here.

The tests share one edge host and run in file order; each leaves the gateway converged on the default plan
(``converged``), except the removal tests at the end.
"""

import hashlib
import json
import os
import signal
import subprocess
import time

import pytest

from .conftest import container_args, plan

pytestmark = pytest.mark.docker

NAME = "apim-gateway"
ENV_FILE = f"/etc/apim-gateway/{NAME}.env"
BACKUP = "/var/lib/apim-gateway/apim-gateway"


def ready_url(result):
    return result["container"]["ready_url"]


def env_sha(edge):
    return hashlib.sha256(edge.sh("cat", ENV_FILE).stdout.encode()).hexdigest()


def wait_200(edge, url, timeout=60):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if edge.status(url) == "200":
            return True
        time.sleep(1)
    return False


@pytest.fixture
def converged(edge):
    result, values = plan(edge.fake)
    r, out = edge.module("gateway_container", container_args(result, values))
    assert not r.get("failed"), out
    assert wait_200(edge, ready_url(result))
    info = edge.inspect(NAME)
    return {"plan": result, "values": values, "id": info["Id"], "sha": env_sha(edge)}


def test_first_run_creates_a_hardened_gateway_then_changes_nothing(edge):
    result, values = plan(edge.fake)
    args = container_args(result, values)
    r, out = edge.module("gateway_container", args)
    assert r["changed"] and r["replaced"] and r["ready"] and not r.get("failed"), out
    c = edge.inspect(NAME)
    hc = c["HostConfig"]
    assert c["Config"]["User"] == "1001:1001" and hc["CapDrop"] == ["ALL"] and not hc["CapAdd"]
    assert hc["SecurityOpt"] == ["no-new-privileges:true"] and hc["Privileged"] is False
    assert hc["ReadonlyRootfs"] is False and hc["RestartPolicy"]["Name"] == "unless-stopped"
    assert hc["Memory"] == hc["MemorySwap"] == 2 * 1024**3 and hc["NanoCpus"] == 2 * 10**9 and hc["PidsLimit"] == 4096
    assert hc["PortBindings"]["8080/tcp"] == [{"HostIp": "0.0.0.0", "HostPort": "80"}]
    assert [m["Target"] for m in hc["Mounts"]] == ["/apim/config", "/usr/local/share/ca-certificates/test-ca.crt"]
    assert c["Config"]["Labels"]["io.apim.selfhosted.role"] == "gateway"
    assert edge.sh("stat", "-c", "%U %G %a", ENV_FILE).stdout.split() == ["root", "root", "600"]
    assert edge.sh("stat", "-c", "%U %G %a", "/etc/apim-gateway").stdout.split() == ["root", "root", "700"]
    assert edge.sh("stat", "-c", "%u %g %a", BACKUP).stdout.split() == ["1001", "1001", "770"]
    assert edge.status(ready_url(result)) == "200"

    r, out = edge.module("gateway_container", args)
    assert r["changed"] is False and r["ready"] and r["differences"] == [], out
    r, out = edge.module("gateway_container", args, check_mode=True)
    assert r["changed"] is False, out


def test_stopped_gateway_is_started(edge, converged):
    edge.sh("docker", "stop", "-t", "2", NAME)
    r, out = edge.module("gateway_container", container_args(converged["plan"], converged["values"]))
    assert r["changed"] and not r["replaced"] and r["ready"], out
    assert edge.inspect(NAME)["Id"] == converged["id"]


def test_a_container_this_collection_did_not_create_is_never_touched(edge, converged):
    edge.sh("docker", "rm", "-f", NAME)
    image = converged["plan"]["image"]
    edge.sh("docker", "run", "-d", "--name", NAME, "--entrypoint", "python3", image, "-m", "http.server", "8080")
    before = edge.inspect(NAME)
    r, _out = edge.module("gateway_container", container_args(converged["plan"], converged["values"]))
    assert r.get("failed") and f"a container named {NAME} exists that this collection did not create" in r["msg"]
    after = edge.inspect(NAME)
    assert (
        after["Id"] == before["Id"]
        and after["State"]["Running"]
        and after["State"]["StartedAt"] == before["State"]["StartedAt"]
    )
    assert edge.names() == [NAME]
    edge.sh("docker", "rm", "-f", NAME)


def test_ports_held_by_another_container_stop_the_run_before_the_gateway_stops(edge, converged):
    image = converged["plan"]["image"]
    edge.sh(
        "docker", "run", "-d", "--name", "squatter", "-p", "8099:8080",
        "--entrypoint", "python3", image, "-m", "http.server", "8080",
    )  # fmt: skip
    try:
        result, values = plan(edge.fake, gateway_http_port=8099)
        r, out = edge.module("gateway_container", container_args(result, values))
        assert r.get("failed") and "8099/tcp: container squatter" in r["msg"], out
        info = edge.inspect(NAME)
        assert info["Id"] == converged["id"] and info["State"]["Running"]
        assert edge.status(ready_url(converged["plan"])) == "200"
    finally:
        edge.sh("docker", "rm", "-f", "squatter")


def test_leftovers_of_an_interrupted_run_are_put_right(edge, converged):
    # Killed after the old container was stopped and renamed, before the new one was created.
    edge.sh("docker", "stop", "-t", "2", NAME)
    edge.sh("docker", "rename", NAME, f"{NAME}-previous")
    old_copy = f"{ENV_FILE}.1234.2026-11-30@10:00:00~"
    edge.sh("sh", "-c", f"cp {ENV_FILE} {old_copy} && touch /etc/apim-gateway/.{NAME}.env.x.tmp")
    r, out = edge.module("gateway_container", container_args(converged["plan"], converged["values"]))
    assert r["changed"] and not r["replaced"] and r["ready"], out
    assert any("back as apim-gateway" in x for x in r["recovered"]), r["recovered"]
    assert edge.names() == [NAME] and edge.inspect(NAME)["Id"] == converged["id"]
    assert edge.sh("ls", "-a", "/etc/apim-gateway").stdout.split() == [".", "..", f"{NAME}.env"]
    r, out = edge.module("gateway_container", container_args(converged["plan"], converged["values"]))
    assert r["changed"] is False, out


def test_a_kept_container_beside_a_serving_one_is_removed(edge, converged):
    image = converged["plan"]["image"]
    edge.sh("docker", "create", "--name", f"{NAME}-previous", "--label", "io.apim.selfhosted.role=gateway", image)
    r, out = edge.module("gateway_container", container_args(converged["plan"], converged["values"]))
    assert r["changed"] and any("kept by an interrupted run" in x for x in r["recovered"]), out
    assert edge.names() == [NAME] and edge.inspect(NAME)["Id"] == converged["id"]


def _replacement_under_way(edge, result, values, **popen):
    """Start a replacement in the background; return (process, args file) once the old container is kept aside."""
    cmd, env, path = edge.playbook("gateway_container", container_args(result, values))
    proc = subprocess.Popen(cmd, env=env, **popen)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and edge.inspect(f"{NAME}-previous") is None:
        time.sleep(0.2)
    return proc, path


def test_controller_killed_during_a_replacement_then_the_next_run_converges(edge, converged):
    result, values = plan(edge.fake, gateway_image_tag="2.12.4")
    proc, path = _replacement_under_way(
        edge, result, values, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True
    )
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    os.unlink(path)
    r, out = edge.module("gateway_container", container_args(result, values))
    assert not r.get("failed") and r["ready"], out
    assert edge.names() == [NAME]
    assert edge.inspect(NAME)["Config"]["Image"].endswith(":2.12.4")
    assert edge.sh("ls", "-a", "/etc/apim-gateway").stdout.split() == [".", "..", f"{NAME}.env"]
    r, out = edge.module("gateway_container", container_args(result, values))
    assert r["changed"] is False, out


def test_engine_restarted_during_a_replacement_then_the_next_run_converges(edge, converged):
    result, values = plan(edge.fake, gateway_image_tag="2.12.4")
    popen = {"stdout": subprocess.PIPE, "stderr": subprocess.STDOUT, "text": True}
    proc, path = _replacement_under_way(edge, result, values, **popen)
    edge.sh("systemctl", "reset-failed", "docker", check=False)
    edge.sh("systemctl", "restart", "docker")
    proc.communicate(timeout=600)
    os.unlink(path)
    r, out = edge.module("gateway_container", container_args(result, values))
    assert not r.get("failed") and r["ready"], out
    assert edge.names() == [NAME]
    assert edge.inspect(NAME)["Config"]["Image"].endswith(":2.12.4")
    r, out = edge.module("gateway_container", container_args(result, values))
    assert r["changed"] is False, out


def test_edge_host_restart_brings_the_gateway_back_and_changes_nothing(edge, converged):
    from apim_testkit import edgefleet

    edgefleet.docker("restart", "-t", "10", edge.name)
    assert edgefleet.wait_for_systemd(edge.name) in ("running", "degraded")
    r, out = edge.module("gateway_container", container_args(converged["plan"], converged["values"]))
    assert r["changed"] is False and r["ready"], out
    assert edge.inspect(NAME)["Id"] == converged["id"]


PUBLIC = "198.51.100.7"  # a second address of the edge host, standing for its public one (TEST-NET-2)


def heard(edge, instance, timeout):
    """Whether the gateway logged that it heard a neighbour named ``instance`` within ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        if f"heard instance {instance} " in edge.sh("docker", "logs", NAME, check=False).stdout:
            return True
        if time.monotonic() > deadline:
            return False
        time.sleep(1)


def send_heartbeat(edge, address, instance):
    body = json.dumps({"type": "heartbeat", "instance": instance, "gatewayId": edge.fake["gateway_id"]})
    code = "import socket,sys; socket.socket(2, 2).sendto(sys.argv[1].encode(), (sys.argv[2], 4291))"
    edge.sh("python3", "-c", code, body, address)


def test_udp_neighbourhood_ports_listen_on_the_neighbours_network_only(edge, converged):
    from apim_testkit import edgefleet

    own = edgefleet.ip_of(edge.name)
    edge.sh("ip", "addr", "add", f"{PUBLIC}/32", "dev", "lo")
    try:
        hosts = {**edge.fake["extra_hosts"], "peers.gctest": own}
        result, values = plan(edge.fake, gateway_neighborhood_host="peers.gctest", gateway_extra_hosts=hosts)
        r, out = edge.module("gateway_container", container_args(result, values))
        assert r["replaced"] and r["ready"] and not r.get("failed"), out
        bindings = edge.inspect(NAME)["HostConfig"]["PortBindings"]
        assert bindings["4290/udp"] == [{"HostIp": own, "HostPort": "4290"}], bindings
        assert bindings["4291/udp"] == [{"HostIp": own, "HostPort": "4291"}], bindings
        assert bindings["8080/tcp"] == [{"HostIp": "0.0.0.0", "HostPort": "80"}]
        listening = [ln.split()[3] for ln in edge.sh("ss", "-Hulnp").stdout.splitlines() if ":429" in ln]
        assert sorted(listening) == [f"{own}:4290", f"{own}:4291"], listening
        # A neighbour's heartbeat to the host's address on their network arrives; one to the public address not.
        send_heartbeat(edge, PUBLIC, "probe-public")
        send_heartbeat(edge, own, "probe-neighbour")
        assert heard(edge, "probe-neighbour", 30)
        assert not heard(edge, "probe-public", 3)
        r, out = edge.module("gateway_container", container_args(result, values))
        assert r["changed"] is False and r["differences"] == [], out
        # A name the host cannot resolve stops the run before anything changes.
        result, values = plan(edge.fake, gateway_neighborhood_host="nowhere.gctest")
        before = edge.inspect(NAME)["Id"]
        r, out = edge.module("gateway_container", container_args(result, values))
        assert r.get("failed") and "gateway_neighborhood_bind_address" in r["msg"] and "nowhere.gctest" in r["msg"]
        assert edge.inspect(NAME)["Id"] == before and not r["env_file_changed"], out
    finally:
        edge.sh("ip", "addr", "del", f"{PUBLIC}/32", "dev", "lo", check=False)


def test_entra_certificate_is_placed_for_the_gateway_uid_only_and_mounted_read_only(edge, converged):
    import trustme

    ca = trustme.CA()
    pems = [ca.issue_cert("gw-app").private_key_and_cert_chain_pem.bytes().decode() for _ in range(2)]
    cert_file = f"/etc/apim-gateway/{NAME}.azure-ad-cert"
    entra = {
        "gateway_token": None,
        "gateway_auth_mode": "azureAdApp",
        # The simulator does not sign in with certificates: it serves from the backup of the same gateway.
        "gateway_name": edge.fake["gateway_id"],
        "gateway_azure_ad_tenant_id": "72f988bf-86f1-41af-91ab-2d7cd011db47",
        "gateway_azure_ad_client_id": "0b9e0d1e-4d0c-4a87-b1b2-5b0f3e1a6c11",
        "gateway_azure_ad_certificate_path": "/apim/certificates/app.pem",
    }
    result, values = plan(edge.fake, **entra, gateway_azure_ad_certificate=pems[0])
    r, out = edge.module("gateway_container", container_args(result, values), diff=True, verbosity=3)
    assert not r.get("failed") and r["replaced"] and r["ready"] and r["certificate_changed"], out
    assert "PRIVATE KEY-----" not in out and pems[0].split("-----")[2].strip()[:40] not in out
    assert edge.sh("stat", "-c", "%u %g %a", cert_file).stdout.split() == ["1001", "0", "400"]
    assert edge.sh("cat", cert_file).stdout == pems[0].strip() + "\n"
    mount = next(m for m in edge.inspect(NAME)["Mounts"] if m["Destination"] == "/apim/certificates/app.pem")
    assert mount["Source"] == cert_file and mount["RW"] is False
    read = ["docker", "exec", "-u", "1001:1001", NAME, "cat", "/apim/certificates/app.pem"]
    assert edge.sh(*read).stdout.startswith("-----BEGIN")
    other = edge.sh("docker", "exec", "-u", "1002:1002", NAME, "cat", "/apim/certificates/app.pem", check=False)
    assert other.returncode != 0 and "Permission denied" in other.stdout + other.stderr
    r, out = edge.module("gateway_container", container_args(result, values))
    assert r["changed"] is False, out
    # A new certificate: the file is rewritten and the gateway restarted to read it.
    result, values = plan(edge.fake, **entra, gateway_azure_ad_certificate=pems[1])
    r, out = edge.module("gateway_container", container_args(result, values))
    assert r["replaced"] and r["differences"] == ["certificate"], out
    assert edge.sh("cat", cert_file).stdout == pems[1].strip() + "\n"
    # Back to the token: the certificate file goes.
    result, values = plan(edge.fake)
    r, out = edge.module("gateway_container", container_args(result, values))
    assert r["replaced"] and not r.get("failed"), out
    assert edge.sh("test", "-e", cert_file, check=False).returncode != 0
    assert edge.sh("ls", "-a", "/etc/apim-gateway").stdout.split() == [".", "..", f"{NAME}.env"]


def test_image_pinned_by_digest_is_pulled_found_and_compared(edge, converged):
    from apim_testkit import edgefleet

    sim = converged["plan"]["image"].rsplit(":", 1)[0]
    repo = "localhost:5000/gateway-sim"
    # Debian's registry, without authentication, on the edge host's loopback only.
    edge.sh("sh", "-c", "command -v docker-registry || apt-get install -y -qq --no-install-recommends docker-registry")
    config = "version: 0.1\nstorage: {filesystem: {rootdirectory: /var/lib/docker-registry}}\n"
    config += "http: {addr: 127.0.0.1:5000}\n"
    edgefleet.exec_in(edge.name, "sh", "-c", "cat > /etc/docker/registry/config.yml", input=config)
    edge.sh("systemctl", "restart", "docker-registry")
    assert wait_200(edge, "http://localhost:5000/v2/", timeout=30)
    edge.sh("docker", "tag", f"{sim}:2.12.4", f"{repo}:2.12.4")
    pushed = edge.sh("docker", "push", f"{repo}:2.12.4", timeout=600, check=False)
    assert pushed.returncode == 0, pushed.stdout + pushed.stderr
    digest = (
        edge.sh("docker", "inspect", "-f", "{{index .RepoDigests 0}}", f"{repo}:2.12.4").stdout.strip().split("@")[1]
    )
    for name in (f"{repo}:2.12.4", f"{repo}@{digest}"):
        edge.sh("docker", "rmi", name, check=False)
    assert edge.inspect(f"{repo}@{digest}") is None
    ref = f"{repo}:2.12.4@{digest}"
    r, out = edge.module("gateway_image", {"name": ref})
    assert r["changed"] and r["present"], out
    r, out = edge.module("gateway_image", {"name": ref})
    assert r["changed"] is False and r["present"], out
    result, values = plan(
        edge.fake, gateway_image_repository=repo, gateway_image_tag="2.12.4", gateway_image_digest=digest
    )
    assert result["image"] == ref and result["version"] == "2.12.4"
    r, out = edge.module("gateway_container", container_args(result, values))
    assert r["replaced"] and r["ready"] and "image" in r["differences"], out
    assert edge.inspect(NAME)["Config"]["Image"] == ref
    r, out = edge.module("gateway_container", container_args(result, values))
    assert r["changed"] is False, out
    args = {"name": NAME, "env_file": ENV_FILE, "ready_url": ready_url(result)}
    r, out = edge.module("gateway_info", args)
    assert (r["gateway"]["image_tag"], r["gateway"]["image_digest"]) == ("2.12.4", digest), out


@pytest.mark.parametrize(
    ("path", "enabled"),
    [("/", True), ("/etc", False), ("/var/lib/docker", True), ("/var/lib/docker/volumes/x", False), ("/home", True),
     ("/root", False)],
)  # fmt: skip
def test_absent_refuses_a_backup_path_that_could_hurt_the_host(edge, converged, path, enabled):
    result, values = plan(edge.fake, gateway_state="absent", gateway_remove_backup=True)
    args = container_args(result, values)
    args["backup"] = dict(args["backup"], path=path, enabled=enabled, remove=True)
    r, out = edge.module("gateway_container", args)
    assert r.get("failed") and "gateway_backup_path" in r["msg"], out
    assert edge.inspect(NAME)["Id"] == converged["id"] and env_sha(edge) == converged["sha"]


def test_absent_refuses_a_link_to_a_system_directory(edge, converged):
    edge.sh("ln", "-sfn", "/etc", "/var/lib/apim-gateway/link")
    try:
        result, values = plan(edge.fake, gateway_state="absent", gateway_remove_backup=True)
        args = container_args(result, values)
        args["backup"] = dict(args["backup"], path="/var/lib/apim-gateway/link", remove=True)
        r, out = edge.module("gateway_container", args)
        assert r.get("failed") and "resolves to /etc" in r["msg"], out
        assert edge.inspect(NAME)["Id"] == converged["id"]
    finally:
        edge.sh("rm", "-f", "/var/lib/apim-gateway/link")


def test_absent_removes_the_gateway_and_keeps_the_backup_unless_asked(edge, converged):
    result, values = plan(edge.fake, gateway_state="absent")
    args = container_args(result, values)
    r, out = edge.module("gateway_container", args, check_mode=True)
    assert r["changed"] and edge.inspect(NAME) is not None, out
    r, out = edge.module("gateway_container", args)
    assert r["changed"] and not r.get("failed"), out
    assert edge.names() == []
    assert edge.sh("test", "-e", ENV_FILE, check=False).returncode != 0
    assert edge.sh("test", "-d", BACKUP, check=False).returncode == 0
    r, out = edge.module("gateway_container", args)
    assert r["changed"] is False, out
    result, values = plan(edge.fake, gateway_state="absent", gateway_remove_backup=True)
    r, out = edge.module("gateway_container", container_args(result, values))
    assert r["changed"], out
    assert edge.sh("test", "-e", BACKUP, check=False).returncode != 0
    assert edge.names() == []
