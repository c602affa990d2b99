"""The converged engines, read with testinfra: service, daemon.json, docker info, socket, packages."""

import json

testinfra_hosts = ["ansible://docker_hosts"]

MANAGED = {
    "live-restore": True,
    "icc": False,
    "no-new-privileges": True,
    "log-driver": "local",
    "log-level": "info",
    "log-opts": {"max-size": "10m", "max-file": "3"},
}


def test_service_enabled_and_running(host):
    docker = host.service("docker")
    assert docker.is_enabled
    assert docker.is_running


def test_docker_info_reports_live_restore_and_log_driver(host):
    info = json.loads(host.check_output("docker info --format '{{json .}}'"))
    assert info["LiveRestoreEnabled"] is True
    assert info["LoggingDriver"] == "local"
    assert tuple(int(p) for p in info["ServerVersion"].split("+")[0].split(".")[:2]) >= (20, 10)


def test_daemon_json_is_root_0644_with_the_managed_keys(host):
    f = host.file("/etc/docker/daemon.json")
    assert f.is_file
    assert (f.user, f.group, f.mode) == ("root", "root", 0o644)
    config = json.loads(f.content_string)
    for key, value in MANAGED.items():
        assert config[key] == value, key
    assert isinstance(config["userland-proxy"], bool)


def test_socket_is_root_docker_0660(host):
    sock = host.file("/run/docker.sock")
    assert sock.is_socket
    assert (sock.user, sock.group, sock.mode) == ("root", "docker", 0o660)


def test_what_the_host_modules_need_and_nothing_more(host):
    assert host.package("docker.io").is_installed
    for name in ("python3-requests", "python3-docker"):
        assert host.package(name).is_installed, name
    # The gateway role's host modules talk to the engine with the Docker SDK for Python.
    assert host.run("python3 -c 'import docker, requests'").rc == 0
    # docker.io's Recommends stay out (git, needrestart, xz-utils ...).
    for name in ("git", "needrestart", "xz-utils", "docker-compose"):
        assert not host.package(name).is_installed, name
