"""The port check names a container that publishes a port, and accepts the gateway's own container.

Runs the module on this machine (connection local), and host_ports.port_holders in this process, against the
shared Docker engine: a container publishes ports on 127.0.0.1, held either by Docker's userland proxy or by NAT
rules only; the engine names it either way. Without the engine the same port shows from /proc alone.
"""

import json
import os
import socket
import subprocess

import pytest

from ansible_collections.apim.selfhosted.plugins.module_utils.host_ports import describe, port_holders

from .conftest import LABEL, docker

pytestmark = pytest.mark.docker
HOLDER = "pf-port-holder"
# Not the preflight lab's label: the lab's teardown (possibly in another xdist worker) must not remove it.
LABEL = LABEL + ".ports"


def free_port(kind=socket.SOCK_STREAM):
    with socket.socket(socket.AF_INET, kind) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def preflight_local(args):
    cmd = ["ansible", "localhost", "-c", "local", "-m", "apim.selfhosted.gateway_preflight", "-a", json.dumps(args)]
    env = {**os.environ, "ANSIBLE_STDOUT_CALLBACK": "ansible.builtin.json", "ANSIBLE_LOAD_CALLBACK_PLUGINS": "1"}
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=120)
    data = json.loads(proc.stdout[proc.stdout.index("{") :])
    return data["plays"][0]["tasks"][0]["hosts"]["localhost"]


@pytest.fixture(scope="module")
def published(docker_engine):
    """A running container that publishes a TCP and a UDP port on 127.0.0.1."""
    tcp, udp = free_port(), free_port(socket.SOCK_DGRAM)
    docker("rm", "-f", HOLDER, check=False)
    run = docker(
        "run", "-d", "--name", HOLDER, "--label", LABEL,
        "-p", f"127.0.0.1:{tcp}:8080", "-p", f"127.0.0.1:{udp}:4291/udp",
        "apim-testbed/debian:bookworm", "sleep", "600",
    )  # fmt: skip
    yield {"id": run.stdout.strip(), "tcp": tcp, "udp": udp}
    docker("rm", "-f", HOLDER, check=False)


@pytest.fixture
def holder(published):
    return published["tcp"]


def test_port_of_own_container_is_free_and_of_another_is_held(holder):
    args = {"endpoint": "unused.configuration.azure-api.net", "checks": ["ports"], "bind_address": "127.0.0.1"}
    own = preflight_local({**args, "ports": [str(holder)], "container_name": HOLDER})
    assert own["failed_checks"] == [], own.get("msg")
    assert own["checks"][0]["message"] == f"{holder}/tcp is held by this gateway's container {HOLDER}"

    other = preflight_local({**args, "ports": [str(holder)], "container_name": "apim-gateway"})
    assert other["failed_checks"] == [f"port {holder}/tcp"]
    assert other["checks"][0]["details"]["holder"] == [f"container {HOLDER} (Docker engine)"]
    assert "publish the gateway on another port" in other["checks"][0]["fix"]


def test_the_engine_names_the_container_that_publishes_a_port(published, monkeypatch):
    monkeypatch.delenv("DOCKER_HOST", raising=False)
    found = port_holders([published["tcp"], f"{published['udp']}/udp"], "127.0.0.1")
    assert found["engine_error"] is None
    for entry in found["ports"]:
        # Docker's docker-proxy process holds the socket too; the engine's answer replaces it.
        assert entry["holders"] == [
            {
                "kind": "container",
                "name": HOLDER,
                "id": published["id"],
                "address": "127.0.0.1",
                "pid": None,
                "command": None,
                "inode": None,
            }
        ], entry
        assert entry["ignored"] == []
    assert describe(found["ports"][0]["holders"][0]) == f"container {HOLDER} (Docker engine)"
    # Another address of the host is free; every address collides.
    assert port_holders([published["tcp"]], "127.0.0.2")["ports"][0]["holders"] == []
    assert port_holders([published["tcp"]], "0.0.0.0")["ports"][0]["holders"][0]["name"] == HOLDER


@pytest.mark.parametrize("which", ["name", "/name", "id", "short id"])
def test_the_callers_own_container_is_ignored(published, which):
    ignore = {"name": HOLDER, "/name": "/" + HOLDER, "id": published["id"], "short id": published["id"][:12]}[which]
    entry = port_holders([published["tcp"]], "127.0.0.1", ignore_containers=[ignore])["ports"][0]
    assert entry["holders"] == [] and [h["name"] for h in entry["ignored"]] == [HOLDER]
    # A prefix too short to be an id is no match.
    entry = port_holders([published["tcp"]], "127.0.0.1", ignore_containers=[published["id"][:6]])["ports"][0]
    assert [h["name"] for h in entry["holders"]] == [HOLDER]


def test_without_the_engine_proc_alone_answers(published, monkeypatch):
    monkeypatch.setenv("DOCKER_HOST", "unix:///nonexistent/docker.sock")
    found = port_holders([published["tcp"]], "127.0.0.1", ignore_containers=[HOLDER])
    assert found["engine_error"].startswith("the Docker engine does not answer")
    holders = found["ports"][0]["holders"]
    # With Docker's userland proxy the port shows as its process; with NAT rules only nothing on this host holds it.
    assert all(h["kind"] == "process" and h["name"] == "docker-proxy" for h in holders), holders
