"""The port check names a container that publishes a port, and accepts the gateway's own container.

Runs the module on this machine (connection local) against its own Docker engine: a container publishes a
port on 127.0.0.1, held either by Docker's userland proxy or by NAT rules only; both are found via docker ps.
"""

import json
import os
import socket
import subprocess

import pytest

from .conftest import LABEL, docker

pytestmark = pytest.mark.docker
HOLDER = "pf-port-holder"
# Not the preflight lab's label: the lab's teardown (possibly in another xdist worker) must not remove it.
LABEL = LABEL + ".ports"


def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def preflight_local(args):
    cmd = ["ansible", "localhost", "-c", "local", "-m", "apim.selfhosted.gateway_preflight", "-a", json.dumps(args)]
    env = {**os.environ, "ANSIBLE_STDOUT_CALLBACK": "ansible.builtin.json", "ANSIBLE_LOAD_CALLBACK_PLUGINS": "1"}
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=120)
    data = json.loads(proc.stdout[proc.stdout.index("{") :])
    return data["plays"][0]["tasks"][0]["hosts"]["localhost"]


@pytest.fixture
def holder(docker_engine):
    port = free_port()
    docker("rm", "-f", HOLDER, check=False)
    docker(
        "run", "-d", "--name", HOLDER, "--label", LABEL, "-p", f"127.0.0.1:{port}:8080",
        "apim-testbed/debian:bookworm", "sleep", "600",
    )  # fmt: skip
    yield port
    docker("rm", "-f", HOLDER, check=False)


def test_port_of_own_container_is_free_and_of_another_is_held(holder):
    args = {"endpoint": "unused.configuration.azure-api.net", "checks": ["ports"], "bind_address": "127.0.0.1"}
    own = preflight_local({**args, "ports": [str(holder)], "container_name": HOLDER})
    assert own["failed_checks"] == [], own.get("msg")
    assert own["checks"][0]["message"] == f"{holder}/tcp is held by this gateway's container {HOLDER}"

    other = preflight_local({**args, "ports": [str(holder)], "container_name": "apim-gateway"})
    assert other["failed_checks"] == [f"port {holder}/tcp"]
    assert other["checks"][0]["details"]["holder"] == [f"container {HOLDER} (docker ps)"]
    assert "publish the gateway on another port" in other["checks"][0]["fix"]
