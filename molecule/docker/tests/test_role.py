"""The role through ansible-playbook on Molecule's hosts: kept keys and containers, live-restore, published ports
with and without the userland proxy, bad input that changes nothing, check mode, --diff, restarts only on change."""

import hashlib
import json
import subprocess
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
from conftest import (
    BARE,
    DAEMON_JSON,
    PREPARED,
    UNTOUCHED,
    daemon_json,
    docker_info,
    dockerd_pid,
    host_exec,
    http_get,
    module_runs,
    playbook,
    recap,
    sh,
    state,
    wait_engine,
)

# Each fails before any change, with a message that names the variable. The validation's other cases (every key
# type, the platform check, docker_ce inputs, ...) are unit tests of the filter (tests/unit/docker).
BAD_INPUT = {
    "unknown source": ({"docker_install_source": "podman"}, "docker_install_source must be one of: distro, docker_ce"),
    "none without Docker": ({"docker_install_source": "none"}, "docker_install_source is none, but no usable Docker"),
    "options not a mapping": ({"docker_daemon_options": "icc=false"}, "docker_daemon_options must be a mapping"),
    "live-restore yes": ({"docker_daemon_options": {"live-restore": "yes"}}, "docker_daemon_options['live-restore']"),
    "log-opts int": ({"docker_daemon_options": {"log-opts": {"max-file": 3}}}, "docker_daemon_options['log-opts']"),
    "docker_ce version": ({"docker_install_source": "docker_ce", "docker_ce_version": "latest"}, "docker_ce_version"),
    "unknown user": ({"docker_users": ["nosuchuser"]}, "docker_users: user 'nosuchuser' does not exist"),
}
# On the host whose engine runs with containers: refused, file and daemon untouched.
PREPARED_BAD_INPUT = {
    "docker_ce over docker.io": ({"docker_install_source": "docker_ce"}, "docker_install_source is docker_ce, but"),
    "engine too old": ({"docker_min_version": "99.0"}, "older than docker_min_version 99.0"),
}
READ_ONLY_RUNS = {
    "check converged": ("docker_hosts", None, ("--check", "--diff")),
    "none on an engine": (BARE, {"docker_install_source": "none"}, ()),
    "check bare": (UNTOUCHED, None, ("--check", "--diff")),
    # download.docker.com cannot be reached here: check mode must not need it.
    "check bare docker_ce": (UNTOUCHED, {"docker_install_source": "docker_ce"}, ("--check",)),
    **{name: (UNTOUCHED, extra, ()) for name, (extra, _m) in BAD_INPUT.items()},
    **{name: (PREPARED, extra, ()) for name, (extra, _m) in PREPARED_BAD_INPUT.items()},
}


def sha(host, path=DAEMON_JSON):
    out = host_exec(host, "cat", path, check=False)
    return hashlib.sha256(out.stdout.encode()).hexdigest() if out.returncode == 0 else None


def bare_state():
    def ok(*cmd):
        return host_exec(UNTOUCHED, *cmd, check=False).returncode == 0

    paths = ("/etc/docker", "/etc/apt/sources.list.d/docker.sources", "/etc/apt/keyrings/docker.asc")
    state_ = {path: ok("test", "-e", path) for path in paths}
    # python3-apt too: prepare removed it, as a fresh cloud image may lack it (the apt module needs it in check mode).
    packages = ("docker.io", "docker-ce", "python3-requests", "python3-apt")
    state_.update({pkg: ok("dpkg", "-s", pkg) for pkg in packages})
    return state_


def snapshot():
    return {
        "untouched": bare_state(),
        "prepared": (sha(PREPARED), dockerd_pid(PREPARED), state(PREPARED, "sleeper")["StartedAt"]),
        "bare": (sha(BARE), dockerd_pid(BARE)),
        "apt lists": sh(BARE, "stat -c %Y /var/lib/apt/lists").stdout,
    }


def edge_ip(host):
    out = subprocess.run(
        ["docker", "inspect", "-f", "{{range .NetworkSettings.Networks}}{{.IPAddress}}{{end}}", host],
        check=True,
        capture_output=True,
        text=True,
    )
    return out.stdout.strip()


@pytest.fixture(scope="module")
def read_only():
    """Every run that must change nothing, four at a time (each is mostly ansible-playbook start-up)."""
    before = snapshot()
    assert not any(before["untouched"].values()), before
    with ThreadPoolExecutor(max_workers=4) as pool:
        futures = {name: pool.submit(playbook, *args) for name, args in READ_ONLY_RUNS.items()}
        runs = {name: future.result() for name, future in futures.items()}
    return {"runs": runs, "before": before, "after": snapshot()}


# ---------------------------------------------------------------------------------------------- changes nothing


def test_the_read_only_runs_changed_nothing(read_only):
    assert read_only["after"] == read_only["before"]


def test_source_none_accepts_the_engine_that_is_there(read_only):
    rc, out = read_only["runs"]["none on an engine"]
    assert rc == 0, out
    assert recap(out, BARE)["changed"] == 0


def test_check_mode_on_a_bare_host_without_python3_apt_reports_what_it_would_install(read_only):
    rc, out = read_only["runs"]["check bare"]
    assert rc == 0, out
    assert '+  "live-restore": true' in out, "the diff shows the daemon.json that would be written"
    assert "Check mode: would install docker.io, python3-requests, python3-docker with apt" in out
    counts = recap(out, UNTOUCHED)
    assert counts["failed"] == 0 and counts["changed"] >= 2


def test_check_mode_with_docker_ce_on_a_bare_host_needs_no_network(read_only):
    rc, out = read_only["runs"]["check bare docker_ce"]
    assert rc == 0, out
    assert "Check mode: would download https://download.docker.com/linux/debian/gpg" in out


@pytest.mark.parametrize("name", list(BAD_INPUT))
def test_bad_input_fails_naming_the_variable_before_any_change(read_only, name):
    rc, out = read_only["runs"][name]
    assert rc != 0, out
    assert BAD_INPUT[name][1] in out, out
    counts = recap(out, UNTOUCHED)
    assert counts["failed"] == 1 and counts["changed"] == 0


@pytest.mark.parametrize("name", list(PREPARED_BAD_INPUT))
def test_bad_input_on_a_running_engine_changes_nothing(read_only, name):
    rc, out = read_only["runs"][name]
    assert rc != 0, out
    assert PREPARED_BAD_INPUT[name][1] in out, out
    assert recap(out, PREPARED)["changed"] == 0


def test_invalid_json_in_daemon_json_is_refused_and_kept(read_only):
    host_exec(UNTOUCHED, "sh", "-c", "mkdir -p /etc/docker && printf '{\"debug\": true,}' > /etc/docker/daemon.json")
    try:
        digest = sha(UNTOUCHED)
        rc, out = playbook(UNTOUCHED)
        assert rc != 0, out
        assert "/etc/docker/daemon.json on this host (docker_daemon_config_path) is not valid JSON" in out
        assert recap(out, UNTOUCHED)["changed"] == 0
        assert sha(UNTOUCHED) == digest
        assert not bare_state()["docker.io"]
    finally:
        host_exec(UNTOUCHED, "rm", "-rf", "/etc/docker")


# ---------------------------------------------------------------------------------------------- the prepared host


def test_hand_made_keys_are_kept_and_managed_keys_set():
    config = daemon_json(PREPARED)
    assert config["max-concurrent-downloads"] == 7
    assert config["default-address-pools"] == [{"base": "10.123.0.0/16", "size": 24}]
    assert config["log-driver"] == "local", "a managed key in the hand-made file is overridden"
    assert config["live-restore"] is True
    assert config["userland-proxy"] is False, "edge-2 has a writable /proc/sys: the proxy is off"
    backups = host_exec(PREPARED, "sh", "-c", "cat /etc/docker/daemon.json.*~").stdout
    assert json.loads(backups)["log-driver"] == "json-file", "the hand-made file is kept as a backup"


def test_containers_started_before_converge_survived_its_restart():
    started = host_exec(PREPARED, "cat", "/root/molecule-sleeper.started").stdout.strip()
    s = state(PREPARED, "sleeper")
    assert s["Running"] is True
    assert s["StartedAt"] == started, "converge restarted dockerd without live-restore: the container was restarted"
    assert state(PREPARED, "web")["Running"] is True


def test_docker_users_member_of_docker_group():
    assert "docker" in host_exec(PREPARED, "id", "-nG", "gwops").stdout.split()


def test_published_port_without_userland_proxy():
    """userland-proxy false: no docker-proxy; dockerd itself holds the host port (what `ss` and the gateway's port
    checks see), and the port answers on loopback, on the host's address and from the test network."""
    assert daemon_json(PREPARED)["userland-proxy"] is False
    listeners = sh(PREPARED, "ss -Hltnp 'sport = :8089'").stdout
    assert '"dockerd"' in listeners, listeners
    assert sh(PREPARED, "pgrep -c docker-proxy", check=False).stdout.strip() == "0"
    ip = edge_ip(PREPARED)
    assert http_get(PREPARED, "http://127.0.0.1:8089/") == "ok\n"
    assert http_get(PREPARED, f"http://{ip}:8089/") == "ok\n"
    assert http_get(BARE, f"http://{ip}:8089/") == "ok\n", "from another host of apim-testnet"


def test_live_restore_keeps_a_container_across_systemctl_restart():
    before = state(PREPARED, "sleeper")
    pid = dockerd_pid(PREPARED)
    # This test's own restart: converge and prepare restarted dockerd already (3 starts in 60 s are allowed).
    host_exec(PREPARED, "systemctl", "reset-failed", "docker.service", check=False)
    host_exec(PREPARED, "systemctl", "restart", "docker")
    assert wait_engine(PREPARED)
    assert dockerd_pid(PREPARED) != pid
    after = state(PREPARED, "sleeper")
    assert after["Running"] is True
    assert (after["StartedAt"], after["Pid"]) == (before["StartedAt"], before["Pid"])
    deadline = time.monotonic() + 20
    while http_get(PREPARED, "http://127.0.0.1:8089/") != "ok\n" and time.monotonic() < deadline:
        time.sleep(1)
    assert http_get(PREPARED, "http://127.0.0.1:8089/") == "ok\n"
    assert '"dockerd"' in sh(PREPARED, "ss -Hltnp 'sport = :8089'").stdout


# ---------------------------------------------------------------------------------------------- the bare host


def test_bare_host_keeps_the_userland_proxy_and_ports_work(web_on_bare):
    """edge-1 is the default scenario's platform: a read-only /proc/sys, so userland-proxy stays true, with a warning;
    published ports work through docker-proxy."""
    assert daemon_json(BARE)["userland-proxy"] is True
    rc, out = playbook(BARE)
    assert rc == 0, out
    assert "route_localnet" in out and "userland-proxy stays true" in out
    assert recap(out, BARE)["changed"] == 0
    assert '"docker-proxy"' in sh(BARE, "ss -Hltnp 'sport = :8089'").stdout
    assert http_get(BARE, "http://127.0.0.1:8089/") == "ok\n"
    assert http_get(PREPARED, f"http://{edge_ip(BARE)}:8089/") == "ok\n"


def test_a_change_restarts_once_a_mode_fix_does_not_and_check_mode_does_nothing():
    pid, digest = dockerd_pid(BARE), sha(BARE)
    extra = {"docker_daemon_options": {"max-concurrent-uploads": 3}}
    rc, out = playbook(BARE, extra, args=("--check", "--diff"))
    assert rc == 0, out
    assert '+  "max-concurrent-uploads": 3' in out
    assert (dockerd_pid(BARE), sha(BARE)) == (pid, digest), "check mode changed the host"

    rc, out = playbook(BARE, extra, args=("--diff",))
    assert rc == 0, out
    assert '+  "max-concurrent-uploads": 3' in out
    assert "TASK [apim.selfhosted.docker : Restart the Docker daemon]" in out
    assert dockerd_pid(BARE) != pid
    assert daemon_json(BARE)["max-concurrent-uploads"] == 3
    assert docker_info(BARE)["LiveRestoreEnabled"] is True

    # Same content, only the mode drifted: the file is fixed, the daemon is not restarted.
    pid = dockerd_pid(BARE)
    host_exec(BARE, "chmod", "0600", DAEMON_JSON)
    rc, out = playbook(BARE, extra)
    assert rc == 0, out
    assert recap(out, BARE)["changed"] == 1
    assert host_exec(BARE, "stat", "-c", "%a", DAEMON_JSON).stdout.strip() == "644"
    assert dockerd_pid(BARE) == pid, "no content change, no restart"

    # Dropped from docker_daemon_options, the key stays (the role keeps keys it does not manage); null removes it.
    rc, out = playbook(BARE, {"docker_daemon_options": {"max-concurrent-uploads": None}})
    assert rc == 0, out
    assert "max-concurrent-uploads" not in daemon_json(BARE)


def restart_by_hand(host, times):
    """``times`` restarts in a row, as an upgrade or an operator would; True if systemd refused one."""
    host_exec(host, "systemctl", "reset-failed", "docker.service", check=False)
    return any(host_exec(host, "systemctl", "restart", "docker", check=False).returncode for _ in range(times))


def test_the_role_restarts_the_engine_after_other_restarts():
    """docker.service allows 3 starts in 60 s: the role's restart after 3 others is not refused."""
    assert not restart_by_hand(PREPARED, 3)
    pid, started = dockerd_pid(PREPARED), state(PREPARED, "sleeper")["StartedAt"]
    extra = {"docker_users": ["gwops"], "docker_daemon_options": {"max-concurrent-uploads": 2}}
    rc, out = playbook(PREPARED, extra)
    assert rc == 0, out
    assert dockerd_pid(PREPARED) != pid and wait_engine(PREPARED)
    assert daemon_json(PREPARED)["max-concurrent-uploads"] == 2
    assert state(PREPARED, "sleeper")["StartedAt"] == started, "live-restore kept the container"
    rc, out = playbook(PREPARED, {"docker_users": ["gwops"], "docker_daemon_options": {"max-concurrent-uploads": None}})
    assert rc == 0, out


def test_an_engine_left_failed_by_its_start_limit_is_started_again():
    assert restart_by_hand(PREPARED, 4), "the 4th restart in 60 s is refused"
    assert host_exec(PREPARED, "systemctl", "is-active", "docker", check=False).stdout.strip() == "failed"
    rc, out = playbook(PREPARED, {"docker_users": ["gwops"]})
    assert rc == 0, out
    assert wait_engine(PREPARED, timeout=5)
    assert state(PREPARED, "sleeper")["Running"] is True


def test_an_engine_that_has_not_read_the_current_file_is_restarted_once():
    """A run that wrote daemon.json but never restarted the engine (it failed in between): the next run restarts."""
    pid = dockerd_pid(BARE)
    host_exec(BARE, "touch", DAEMON_JSON)
    rc, out = playbook(BARE)
    assert rc == 0, out
    assert "has not applied it; it is restarted" in out
    assert dockerd_pid(BARE) != pid
    rc, out = playbook(BARE)
    assert rc == 0, out
    assert recap(out, BARE)["changed"] == 0


def test_a_rerun_is_one_module_run_per_host():
    rc, runs, stats = module_runs("docker_hosts")
    assert rc == 0
    probe = ["apim.selfhosted.docker : Look at the host (read-only)"]
    assert runs == {BARE: probe, PREPARED: probe}
    assert all(s["changed"] == 0 for s in stats.values()), stats
