"""Services that the lab or the test bed start must not inherit the caller's descriptors (a lock held through one would
outlive the run: every later `lab/lab.sh up|down` would wait forever).

- On a machine without a running engine (an edge-host container started without systemd, Docker's packages from its
  apt cache, nothing running), `flock <lock> tests/testbed.sh engine` starts the real Docker engine; the lock is free
  as soon as the command returns, and dockerd holds no descriptor of the caller.
- `lab/lab.sh` takes its own lock so that nothing it starts can keep it: a stand-in for the lab's steps starts a
  careless background process (one that keeps every inherited descriptor), and the lock is free when lab.sh returns.
"""

import os
import pathlib
import shutil
import signal
import subprocess
import time
import uuid

import pytest

from apim_testkit.edgefleet import exec_in, run_args

ROOT = pathlib.Path(__file__).resolve().parents[3]
LOCK = "/var/lock/apim-lab.lock"


def _lock_is_free(path):
    return subprocess.run(["flock", "-n", str(path), "true"], check=False).returncode == 0


@pytest.fixture
def bare_machine(docker_engine, edge_image):
    """An edge host without systemd and without Docker running: a fresh machine like this one."""
    name = f"apim-fd-{uuid.uuid4().hex[:8]}"
    docker_engine(*run_args(name, edge_image), "sleep", "infinity")
    try:
        yield name
    finally:
        docker_engine("rm", "-f", "-v", name, check=False)


@pytest.mark.docker
def test_engine_started_under_a_lock_does_not_keep_it(bare_machine):
    host = bare_machine
    assert exec_in(host, "cat", "/proc/1/comm").stdout.strip() == "sleep", "PID 1 must not be systemd here"
    # Install the engine without starting it (no init would start it on such a machine either).
    exec_in(host, "sh", "-c", "printf '#!/bin/sh\\nexit 101\\n' >/usr/sbin/policy-rc.d; chmod +x /usr/sbin/policy-rc.d")
    exec_in(host, "apt-get", "install", "-y", "-qq", "--no-install-recommends", "docker.io", timeout=600)
    assert exec_in(host, "docker", "info", check=False).returncode != 0, "no engine may run before the test bed"
    subprocess.run(["docker", "cp", str(ROOT / "tests" / "testbed.sh"), f"{host}:/root/testbed.sh"], check=True)

    t0 = time.monotonic()
    run = exec_in(host, "flock", LOCK, "bash", "/root/testbed.sh", "engine", check=False, timeout=180)
    assert run.returncode == 0, f"testbed.sh engine failed:\n{run.stdout}{run.stderr}"
    assert "starting the engine" in run.stderr
    assert time.monotonic() - t0 < 120

    assert exec_in(host, "docker", "info", "-f", "{{.ServerVersion}}").stdout.strip()
    pid = exec_in(host, "pgrep", "-x", "dockerd").stdout.split()[0]
    fds = exec_in(host, "sh", "-c", f"ls -l /proc/{pid}/fd/").stdout
    assert os.path.basename(LOCK) not in fds, f"dockerd holds the caller's lock (/var/lock is /run/lock):\n{fds}"
    sid = exec_in(host, "ps", "-o", "sid=", "-p", pid).stdout.strip()
    assert sid == pid, "dockerd runs in a session of its own"
    # The lab's next run gets the lock at once, while the engine keeps running.
    assert exec_in(host, "flock", "-n", LOCK, "true", check=False).returncode == 0, "the lock is still held"
    assert exec_in(host, "docker", "info", check=False).returncode == 0


def test_lab_sh_lock_ends_with_the_run(tmp_path):
    """lab.sh runs its steps without the lock's descriptor: what they leave running cannot hold it."""
    lab = tmp_path / "lab"
    lab.mkdir()
    shutil.copy(ROOT / "lab" / "lab.sh", lab / "lab.sh")
    pidfile = tmp_path / "daemon.pid"
    # The stand-in for lab.py: `down` leaves a process behind that keeps whatever descriptors it was given.
    (lab / "lab.py").write_text(
        "import os, sys\n"
        "if sys.argv[1] == 'down':\n"
        f"    os.system('sleep 120 </dev/null >/dev/null 2>&1 & echo $! > {pidfile}')\n"
    )
    env = {k: v for k, v in os.environ.items() if k != "LAB_LOCKED"}
    env["APIM_TESTBED_HOME"] = str(tmp_path / "no-testbed")
    proc = subprocess.run(["bash", str(lab / "lab.sh"), "down"], env=env, capture_output=True, text=True, timeout=60)
    try:
        assert proc.returncode == 0, proc.stdout + proc.stderr
        daemon = int(pidfile.read_text())
        fds = [os.readlink(f"/proc/{daemon}/fd/{fd}") for fd in os.listdir(f"/proc/{daemon}/fd")]
        assert str(lab / "lab.sh") not in fds, f"the left-over process holds the lab's lock: {fds}"
        assert _lock_is_free(lab / "lab.sh"), "lab.sh returned but its lock is still held"
    finally:
        if pidfile.exists():
            try:
                os.kill(int(pidfile.read_text()), signal.SIGTERM)
            except ProcessLookupError:
                pass
