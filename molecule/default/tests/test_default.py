"""The converged gateway: hardened container, env-file, ports, readiness, backup (issue 5 verify list)."""

import json
import time

CONTAINER = "apim-gateway"
ENV_FILE = "/etc/apim-gateway/apim-gateway.env"
STATUS = "/status-0123456789abcdef"


def inspect(host):
    return json.loads(host.check_output(f"docker inspect {CONTAINER}"))[0]


def test_container_runs_hardened(host):
    c = inspect(host)
    hc = c["HostConfig"]
    assert c["State"]["Running"] is True
    assert c["Config"]["User"] == "1001:1001"
    assert hc["CapDrop"] == ["ALL"]
    assert not hc["CapAdd"]
    assert "no-new-privileges:true" in hc["SecurityOpt"]
    assert hc["Privileged"] is False
    assert hc["ReadonlyRootfs"] is False
    assert hc["RestartPolicy"]["Name"] == "unless-stopped"
    assert hc["Memory"] == 2 * 1024**3
    assert hc["MemorySwap"] == 2 * 1024**3
    assert hc["NanoCpus"] == 2 * 10**9
    assert hc["PidsLimit"] == 4096
    assert hc["LogConfig"] == {"Type": "json-file", "Config": {"max-file": "5", "max-size": "10m"}}
    assert c["Config"]["Labels"]["io.apim.selfhosted.role"] == "gateway"


def test_process_is_not_root(host):
    uid = host.check_output(f"docker exec {CONTAINER} id -u")
    assert uid == "1001"


def test_healthcheck_uses_wget_and_becomes_healthy(host):
    c = inspect(host)
    test = c["Config"]["Healthcheck"]["Test"]
    assert test[:2] == ["CMD", "wget"] and test[-1].endswith(STATUS)
    assert "curl" not in " ".join(test)
    assert host.run(f"docker exec {CONTAINER} sh -c 'command -v curl'").rc != 0, "the image must not need curl"
    deadline = time.monotonic() + 90
    status = None
    while time.monotonic() < deadline:
        status = inspect(host)["State"]["Health"]["Status"]
        if status == "healthy":
            break
        time.sleep(2)
    assert status == "healthy"


def test_env_file(host):
    f = host.file(ENV_FILE)
    assert f.is_file and f.mode == 0o600 and f.user == "root" and f.group == "root"
    assert host.file("/etc/apim-gateway").mode == 0o700
    lines = [ln for ln in f.content_string.splitlines() if ln]
    env = dict(ln.split("=", 1) for ln in lines)
    assert len(env) == len(lines)
    assert env["config.service.endpoint"].startswith("https://")
    assert env["config.service.auth"].startswith("GatewayKey ")
    assert env["runtime.deployment.mechanism"] == "Ansible"
    assert env["telemetry.logs.std"] == "text"
    container_env = inspect(host)["Config"]["Env"]
    for key, value in env.items():
        assert f"{key}={value}" in container_env, key


def test_ports_listen_and_status_answers(host):
    assert host.socket("tcp://0.0.0.0:80").is_listening
    assert host.socket("tcp://0.0.0.0:443").is_listening
    ports = inspect(host)["HostConfig"]["PortBindings"]
    all_ipv4 = "0.0.0.0"  # noqa: S104 - the role's default bind address
    assert ports["8080/tcp"] == [{"HostIp": all_ipv4, "HostPort": "80"}]
    assert ports["8081/tcp"] == [{"HostIp": all_ipv4, "HostPort": "443"}]
    assert "4290/udp" not in ports, "UDP ports are published only with a neighborhood"
    code = host.check_output(f"curl -s -o /dev/null -w '%{{http_code}}' --max-time 5 http://127.0.0.1:80{STATUS}")
    assert code == "200"


def test_backup_directory_is_mounted(host):
    d = host.file("/var/lib/apim-gateway/apim-gateway")
    assert d.is_directory and d.uid == 1001 and d.gid == 1001 and d.mode == 0o770
    assert host.file("/var/lib/apim-gateway").user == "root"
    mounts = inspect(host)["Mounts"]
    assert {"Type": "bind", "Source": "/var/lib/apim-gateway/apim-gateway", "Destination": "/apim/config"}.items() <= {
        k: v for m in mounts for k, v in m.items() if m["Destination"] == "/apim/config"
    }.items()


def test_backup_holds_a_saved_configuration(host):
    deadline = time.monotonic() + 60
    files = []
    while time.monotonic() < deadline:
        files = host.run("find /var/lib/apim-gateway/apim-gateway -type f -size +0").stdout.split()
        if files:
            break
        time.sleep(2)
    assert files, "the gateway saved no configuration under /apim/config"
