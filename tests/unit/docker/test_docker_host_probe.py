"""apim.selfhosted.docker_host_probe on this machine, read as Ansible's setup, dpkg, apt and the engine itself read it:
once with the Docker SDK for Python (this venv's interpreter) and once without it (the system's python3)."""

import grp
import json
import os
import re
import shutil
import subprocess
import sys

import pytest
import yaml

from ansible_collections.apim.selfhosted.plugins.modules import docker_host_probe as module

SYSTEM_PYTHON = "/usr/bin/python3"
CONTENT = '{"debug": false}\n'


def run(*argv):
    return subprocess.run(argv, capture_output=True, text=True, timeout=60)


def has_sdk(python):
    return run(python, "-c", "import docker").returncode == 0


@pytest.fixture(scope="module")
def results(tmp_path_factory):
    """One ansible-playbook run: the probe on two local hosts (with and without the SDK), and setup's own facts."""
    tmp = tmp_path_factory.mktemp("probe")
    config = tmp / "docker" / "daemon.json"
    config.parent.mkdir()
    config.write_text(CONTENT)
    config.chmod(0o600)
    hosts = {"sdk": sys.executable, "nosdk": SYSTEM_PYTHON}
    inventory = {
        "all": {
            "hosts": {h: {"ansible_connection": "local", "ansible_python_interpreter": p} for h, p in hosts.items()}
        }
    }
    probe_args = {
        "daemon_config_path": str(config),
        "repo_key_path": str(tmp / "keyrings" / "docker.asc"),
        "packages": ["bash", "dpkg", "no-such-package-apim"],
        "candidates": ["bash", "hello"],
        "users": ["root", "no-such-user-apim"],
    }
    play = [
        {
            "hosts": "all",
            "gather_facts": False,
            "tasks": [
                {"apim.selfhosted.docker_host_probe": probe_args, "register": "real"},
                {
                    "ansible.builtin.setup": {"gather_subset": ["min", "apparmor"]},
                    "when": "inventory_hostname == 'sdk'",
                },
            ],
        }
    ]
    (tmp / "inventory.yml").write_text(yaml.safe_dump(inventory))
    (tmp / "play.yml").write_text(yaml.safe_dump(play))
    env = {**os.environ, "ANSIBLE_LOAD_CALLBACK_PLUGINS": "1", "ANSIBLE_STDOUT_CALLBACK": "ansible.builtin.json"}
    proc = subprocess.run(
        ["ansible-playbook", "-i", str(tmp / "inventory.yml"), str(tmp / "play.yml")],
        capture_output=True, text=True, timeout=180, env=env,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr
    tasks = json.loads(proc.stdout)["plays"][0]["tasks"]
    out = {host: {"probe": tasks[0]["hosts"][host]} for host in hosts}
    out["facts"] = tasks[1]["hosts"]["sdk"]["ansible_facts"]
    out["config"] = config
    return out


@pytest.mark.parametrize("host", ["sdk", "nosdk"])
def test_the_platform_is_what_ansible_setup_reads(results, host):
    platform, facts = results[host]["probe"]["platform"], results["facts"]
    for key in ("distribution", "distribution_release", "distribution_major_version", "architecture", "pkg_mgr"):
        assert platform[key] == facts["ansible_" + key], key
    assert platform["apparmor"] == facts["ansible_apparmor"]["status"]
    # The role only asks whether it is systemd; the other names follow Ansible's own guesswork.
    assert (platform["service_mgr"] == "systemd") == (facts["ansible_service_mgr"] == "systemd")


@pytest.mark.parametrize(("host", "client"), [("sdk", "docker-sdk"), ("nosdk", "socket")])
def test_the_engine_answers_as_docker_info_does(results, host, client):
    if host == "sdk" and not has_sdk(sys.executable):
        pytest.fail("this venv lacks the Docker SDK for Python (docker), which tests/requirements-test.txt installs")
    if host == "nosdk" and has_sdk(SYSTEM_PYTHON):
        pytest.skip("the system's python3 has the Docker SDK: no interpreter without it here")
    info = run("docker", "info", "--format", "{{json .}}")
    if info.returncode != 0:
        pytest.skip("no Docker engine on this machine")
    info = json.loads(info.stdout)
    engine = results[host]["probe"]["engine"]
    assert engine["client"] == client
    assert engine["running"] is True, engine
    assert engine["version"] == info["ServerVersion"]
    assert engine["live_restore"] is info["LiveRestoreEnabled"]
    assert engine["logging_driver"] == info["LoggingDriver"]


@pytest.mark.parametrize("use_sdk", [True, False])
def test_an_engine_that_is_not_there_is_reported_not_failed(tmp_path, use_sdk):
    engine = module.read_engine("unix://%s/absent.sock" % tmp_path, 2, use_sdk=use_sdk)
    assert engine["running"] is False and engine["version"] is None
    assert engine["client"] == ("docker-sdk" if use_sdk else "socket")
    assert "absent.sock" in engine["error"]


def test_daemon_json_its_mode_and_mtime(results):
    daemon = results["sdk"]["probe"]["daemon_json"]
    assert daemon["exists"] is True and daemon["content"] == CONTENT
    assert daemon["stat"] == {"type": "file", "mode": "0600", "owner": "root", "group": "root"}
    assert daemon["mtime"] == os.stat(results["config"]).st_mtime


def test_packages_and_candidates_are_what_dpkg_and_apt_say(results):
    probe = results["sdk"]["probe"]
    version = run("dpkg-query", "-W", "-f=${Version}", "bash").stdout
    assert probe["packages"]["bash"] == version
    assert "dpkg" in probe["packages"] and "no-such-package-apim" not in probe["packages"]
    # bash is installed: no candidate asked; hello is not installed (apt knows it when the lists are there).
    assert "bash" not in probe["candidates"]
    policy = run("apt-cache", "policy", "hello").stdout
    match = re.search(r"Candidate: (\S+)", policy)
    expected = {"hello": match.group(1)} if match and match.group(1) != "(none)" else {}
    assert probe["candidates"] == expected


def test_accounts_keyring_and_proc_sys(results):
    probe = results["sdk"]["probe"]
    assert probe["users"] == ["root"]
    try:
        members = grp.getgrnam("docker").gr_mem
    except KeyError:
        members = None
    assert probe["docker_group"] == members
    assert probe["apt"]["repo_key"] is False and probe["apt"]["keyring_dir"] is False
    path = "/proc/sys/net/ipv4/conf/all/route_localnet"
    assert probe["route_localnet_writable"] == (os.access(path, os.W_OK) if os.path.exists(path) else None)


def test_python_apt_is_read_in_the_module_interpreter(results):
    for host, python in (("sdk", sys.executable), ("nosdk", SYSTEM_PYTHON)):
        expected = run(python, "-c", "import apt_pkg").returncode == 0
        assert results[host]["probe"]["apt"]["python_apt"] is expected, host


def test_unit_without_systemd_is_unknown_with_systemd_its_state(results):
    unit = results["sdk"]["probe"]["unit"]
    if not os.path.isdir("/run/systemd/system"):
        assert unit == {"enabled": None, "active": None}
    else:
        active = run("systemctl", "is-active", "docker").stdout.strip()
        assert unit["active"] == active


def test_os_release_quoting(tmp_path):
    path = tmp_path / "os-release"
    path.write_text('# comment\nID=debian\nVERSION_ID="12"\nPRETTY_NAME="Debian GNU/Linux 12 (bookworm)"\nEMPTY=\n')
    release = module.read_os_release((str(tmp_path / "missing"), str(path)))
    assert release == {"ID": "debian", "VERSION_ID": "12", "PRETTY_NAME": "Debian GNU/Linux 12 (bookworm)", "EMPTY": ""}
    assert module.read_os_release((str(tmp_path / "missing"),)) == {}


def test_without_dpkg_and_apt_the_packages_are_unknown():
    which = {"systemctl": None}.get
    result = module.probe(
        {
            "service_name": "docker",
            "daemon_config_path": "/nonexistent/daemon.json",
            "repo_key_path": "/nonexistent/docker.asc",
            "packages": ["bash"],
            "candidates": ["docker.io"],
            "users": [],
            "docker_host": "unix:///nonexistent.sock",
            "timeout": 1,
        },
        run=lambda argv: (None, ""),
        which=which,
    )
    assert result["packages"] is None and result["candidates"] == {}
    assert result["unit"] == {"enabled": None, "active": None}
    assert result["daemon_json"]["exists"] is False and result["daemon_json"]["stat"] is None
    assert result["platform"]["pkg_mgr"] is None
    assert shutil.which("dpkg-query"), "the other tests read this machine's dpkg"
