"""host_ports on real sockets of this machine: who holds a port, from /proc when the engine cannot be asked.

The engine's side (a real container publishing a port) is in tests/integration/preflight/test_host_ports.py.
"""

import json
import os
import socket
import subprocess
import sys

import pytest

from ansible_collections.apim.selfhosted.plugins.module_utils import host_ports
from ansible_collections.apim.selfhosted.plugins.module_utils.host_ports import (
    describe,
    hex_address,
    overlaps,
    parse_port,
    port_holders,
    process_command,
)

NO_ENGINE = "unix:///nonexistent/docker.sock"


@pytest.fixture
def no_engine(monkeypatch):
    monkeypatch.setenv("DOCKER_HOST", NO_ENGINE)


@pytest.fixture
def tcp_listener():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen(1)
        yield sock.getsockname()[1]


@pytest.mark.parametrize(
    ("value", "expected"),
    [("80", (80, "tcp")), ("4291/UDP", (4291, "udp")), (443, (443, "tcp")), ((4290, "udp"), (4290, "udp"))],
)
def test_ports(value, expected):
    assert parse_port(value) == expected


@pytest.mark.parametrize("value", ["0", "65536", "80/sctp", "http", (80, "sctp")])
def test_bad_ports_are_refused_by_name(value):
    with pytest.raises(ValueError, match=r"^ports: "):
        parse_port(value)


@pytest.mark.parametrize(
    ("bound", "wanted", "blocks"),
    [
        ("0.0.0.0", "10.0.0.5", True),
        ("10.0.0.5", "0.0.0.0", True),
        ("10.0.0.5", "10.0.0.6", False),
        ("::ffff:10.0.0.5", "10.0.0.5", True),
        ("::", "127.0.0.1", True),
    ],
)
def test_port_address_overlap(bound, wanted, blocks):
    assert overlaps(bound, wanted) is blocks


def test_proc_net_addresses():
    assert hex_address("0100007F", 4) == "127.0.0.1"
    assert hex_address("00000000000000000000000001000000", 6) == "::1"


def test_a_tcp_listener_is_named_with_pid_and_command(no_engine, tcp_listener):
    found = port_holders([tcp_listener, f"{tcp_listener}/udp"], "127.0.0.1")
    assert found["engine_error"].startswith("the Docker engine does not answer")
    tcp, udp = found["ports"]
    assert (tcp["port"], tcp["proto"], udp["proto"]) == (tcp_listener, "tcp", "udp")
    assert tcp["holders"] == [
        {
            "kind": "process",
            "name": os.path.basename(process_command(os.getpid()).split()[0]),
            "id": None,
            "address": "127.0.0.1",
            "pid": os.getpid(),
            "command": process_command(os.getpid()),
            "inode": tcp["holders"][0]["inode"],
        }
    ]
    assert describe(tcp["holders"][0]) == f"pid {os.getpid()} ({process_command(os.getpid())})"
    assert udp["holders"] == [] and tcp["ignored"] == []
    # Another address of the host does not collide; every address does.
    assert port_holders([tcp_listener], "127.0.0.2")["ports"][0]["holders"] == []
    assert len(port_holders([tcp_listener], "0.0.0.0")["ports"][0]["holders"]) == 1


def test_any_bound_udp_socket_holds_its_port(no_engine):
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
        sock.connect(("127.0.0.1", 9))  # connected or not, the port is taken
        entry = port_holders([f"{port}/udp", f"{port}/udp"], "0.0.0.0")["ports"]
    assert len(entry) == 1 and [h["pid"] for h in entry[0]["holders"]] == [os.getpid()]
    assert port_holders([f"{port}/udp"], "0.0.0.0")["ports"][0]["holders"] == []


def test_no_ports_ask_nothing():
    assert port_holders([]) == {"engine_error": None, "ports": []}


def test_without_the_docker_sdk_proc_alone_answers(tcp_listener):
    # A host without python3-docker: the import fails, the module still loads and /proc names the holder.
    code = (
        "import sys, json; sys.modules['docker'] = None\n"
        "from ansible_collections.apim.selfhosted.plugins.module_utils import host_ports as h\n"
        f"print(json.dumps([h.HAS_DOCKER_SDK, h.port_holders([{tcp_listener}], '127.0.0.1')]))"
    )
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(p for p in sys.path if p)}
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, env=env)
    assert proc.returncode == 0, proc.stderr
    has_sdk, found = json.loads(proc.stdout)
    assert has_sdk is False
    assert found["engine_error"] == "the Docker SDK for Python (python3-docker) is not installed"
    assert [h["pid"] for h in found["ports"][0]["holders"]] == [os.getpid()]


def test_unseen_processes_are_described_with_their_socket():
    holder = {"kind": "process", "name": None, "id": None, "address": "0.0.0.0", "pid": None, "command": None}
    holder["inode"] = "4242"
    assert describe(holder) == "a process this user cannot see (socket inode 4242; run with become to name it)"
    assert host_ports.process_name("/usr/bin/docker-proxy -proto tcp") == "docker-proxy"
