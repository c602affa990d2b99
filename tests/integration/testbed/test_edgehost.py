"""The test bed's own proof: an edge host boots systemd, runs a Docker engine, and that engine
runs a nested container whose published port answers over HTTP from the edge host."""

import subprocess
import uuid

import pytest

from apim_testkit.edgefleet import exec_in, run_args, wait_for_systemd

pytestmark = pytest.mark.docker


@pytest.fixture(scope="module")
def edge_host(docker_engine, edge_image):
    name = f"apim-tb-{uuid.uuid4().hex[:8]}"
    docker_engine(*run_args(name, edge_image))
    try:
        yield name
    finally:
        docker_engine("rm", "-f", "-v", name, check=False)


def test_systemd_is_running(edge_host):
    state = wait_for_systemd(edge_host)
    failed = exec_in(edge_host, "systemctl", "--failed", "--no-legend", check=False).stdout
    assert state == "running", f"systemd state {state!r}; failed units:\n{failed}"
    assert exec_in(edge_host, "cat", "/proc/1/comm").stdout.strip() == "systemd"


def test_nested_container_port_answers(edge_host):
    assert wait_for_systemd(edge_host) == "running"
    # No Docker until something installs it: the host starts bare, like a fresh VM.
    assert exec_in(edge_host, "sh", "-c", "command -v dockerd", check=False).returncode != 0
    exec_in(edge_host, "apt-get", "install", "-y", "-qq", "--no-install-recommends", "docker.io", timeout=600)
    assert exec_in(edge_host, "systemctl", "is-active", "docker").stdout.strip() == "active"
    driver = exec_in(edge_host, "docker", "info", "-f", "{{.Driver}}").stdout.strip()
    assert driver == "overlay2", "the /var/lib/docker volume should give the inner engine overlay2"

    # Hand the inner engine an image the way tests do: docker save | docker load.
    save = subprocess.run(["docker", "save", "apim-testbed/debian:bookworm"], check=True, capture_output=True)
    exec_in(edge_host, "docker", "load", input=save.stdout)
    marker = uuid.uuid4().hex
    exec_in(
        edge_host,
        "docker", "run", "-d", "--name", "web", "-p", "18080:8000", "apim-testbed/debian:bookworm",
        "sh", "-c", f"mkdir -p /srv && echo {marker} > /srv/index.html && cd /srv && exec python3 -m http.server 8000",
    )  # fmt: skip
    # The port is published before the server listens: docker-proxy then resets (curl exit 56), so retry all errors.
    body = exec_in(
        edge_host,
        "curl", "-sf", "--retry", "60", "--retry-delay", "1", "--retry-all-errors", "http://127.0.0.1:18080/",
    ).stdout  # fmt: skip
    assert body.strip() == marker
