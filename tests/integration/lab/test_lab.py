"""The lab end to end: `lab/lab.sh up` twice, then `lab/lab.sh down` (the README's first command).

The first `up` starts the fakes and edge hosts and runs the playbooks; the API call through the gateway must reach
the backend. The second `up` must change nothing (changed=0 over every playbook). `down` must leave no container,
process or state behind. Uses the lab's own names, so it replaces a lab that is running.
"""

import fcntl
import json
import os
import pathlib
import re
import subprocess
import time

import pytest

pytestmark = pytest.mark.docker

ROOT = pathlib.Path(__file__).resolve().parents[3]
LAB = ROOT / "lab" / "lab.sh"
DONE = re.compile(r"lab up: done in (\d+) s, changed=(\d+)")


def lab(cmd, timeout):
    t0 = time.monotonic()
    proc = subprocess.run(
        ["bash", str(LAB), cmd], capture_output=True, text=True, timeout=timeout, cwd=ROOT,
        env={**os.environ, "LAB_LOCKED": "1"},
    )  # fmt: skip
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, f"lab {cmd} failed (exit {proc.returncode}):\n{out[-6000:]}"
    return out, time.monotonic() - t0


def answers(out):
    """The JSON bodies that the lab printed after its curl commands."""
    found = {}
    lines = out.splitlines()
    for i, line in enumerate(lines):
        if line.startswith("$ ") and "curl" in line and i + 1 < len(lines):
            try:
                found[line[2:]] = json.loads(lines[i + 1])
            except ValueError:
                found[line[2:]] = lines[i + 1]
    return found


@pytest.fixture
def lab_lock():
    """The lock lab.sh takes, held across the whole test: no other lab.sh (a person's, another test run's) can run
    between this test's up, up and down."""
    with open(LAB) as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        yield


def test_lab_up_twice_then_down(docker_engine, edge_image, lab_lock):
    lab("down", timeout=300)  # start from nothing, as on a fresh machine
    try:
        first, t_first = lab("up", timeout=900)
        m = DONE.search(first)
        assert m, first[-3000:]
        calls = answers(first)
        assert len(calls) == 2, first[-3000:]
        for cmd, body in calls.items():
            assert isinstance(body, dict), (cmd, body)
            assert body["backend"] == "lab-backend-1" and body["path"] == "/hello", (cmd, body)
            assert body["method"] == "GET" and "X-Gateway-Instance" in body["headers"], (cmd, body)
        assert any(c.startswith("docker exec lab-edge-1 curl") for c in calls), calls
        assert "cannot be pulled here" in first and "gateway-sim-2.12.3.tar" in first

        second, t_second = lab("up", timeout=600)
        m2 = DONE.search(second)
        assert m2, second[-3000:]
        assert int(m2[2]) == 0, "a second lab up changed something:\n" + "\n".join(
            line for line in second.splitlines() if line.startswith(("changed:", "TASK", "(")) or "changed=" in line
        )
        assert all(isinstance(b, dict) and b["backend"] == "lab-backend-1" for b in answers(second).values())
        assert "started" not in "".join(line for line in second.splitlines() if line.startswith("[lab]"))
        print(f"lab up: first {t_first:.0f} s, second {t_second:.0f} s")
    finally:
        lab("down", timeout=300)

    left = subprocess.run(
        ["python3", str(ROOT / "lab" / "lab.py"), "check"], capture_output=True, text=True, timeout=120, cwd=ROOT
    )
    assert left.returncode == 0, left.stdout + left.stderr
    names = docker_engine("ps", "-a", "--format", "{{.Names}}").stdout.split()
    assert not [n for n in names if n.startswith("lab-")], names
    assert not pathlib.Path(os.environ.get("APIM_TESTBED_HOME", "/var/lib/apim-testbed"), "lab").exists()
    assert not (ROOT / "lab" / "inventory" / "group_vars" / "gateways" / "addresses.yml").exists()
