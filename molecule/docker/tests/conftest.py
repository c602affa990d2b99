"""Drive ansible-playbook against Molecule's edge hosts, and read their state with docker exec."""

import json
import os
import re
import subprocess
import tempfile
import time

import pytest

SCENARIO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BARE = "apim-docker-edge-1"  # bare before converge, the default scenario's platform exactly
PREPARED = "apim-docker-edge-2"  # docker.io by hand, hand-made daemon.json, containers, writable /proc/sys
UNTOUCHED = "apim-docker-edge-3"  # never converged
DAEMON_JSON = "/etc/docker/daemon.json"


def ephemeral():
    return os.environ["MOLECULE_EPHEMERAL_DIRECTORY"]


def host_exec(host, *cmd, check=True, timeout=120, stdin=None):
    return subprocess.run(
        ["docker", "exec", "-i", host, *cmd], check=check, capture_output=True, text=True, timeout=timeout, input=stdin
    )


def sh(host, script, check=True):
    return host_exec(host, "sh", "-c", script, check=check)


# Actions that run on the controller only: every other task that ran is one module run on the host.
CONTROLLER_ACTIONS = {
    "ansible.builtin.set_fact",
    "ansible.builtin.debug",
    "ansible.builtin.fail",
    "ansible.builtin.assert",
    "ansible.builtin.include_tasks",
    "ansible.builtin.meta",
    "ansible.builtin.validate_argument_spec",
}


def _command(targets, extra):
    cmd = [
        "ansible-playbook",
        "-i",
        os.path.join(ephemeral(), "inventory"),
        os.path.join(SCENARIO, "converge.yml"),
        "-e",
        "molecule_docker_targets=" + targets,
    ]
    if extra:
        fd, path = tempfile.mkstemp(prefix="docker_extra_vars.", suffix=".json", dir=ephemeral())
        with os.fdopen(fd, "w") as fh:
            json.dump(extra, fh)
        cmd += ["-e", "@" + path]
    return cmd


def playbook(targets, extra=None, args=(), timeout=600):
    """Run converge.yml on ``targets`` with extra vars; return (rc, combined output without colours)."""
    env = {**os.environ, "ANSIBLE_NOCOLOR": "1", "ANSIBLE_FORCE_COLOR": "0"}
    cmd = [*_command(targets, extra), *args]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, env=env)
    return proc.returncode, re.sub(r"\x1b\[[0-9;]*m", "", proc.stdout + proc.stderr)


def module_runs(targets, extra=None, args=(), timeout=600):
    """Run converge.yml with the json callback; return (rc, {host: names of the tasks that ran a module there},
    {host: recap counts})."""
    # Without the scenario's profile_tasks, which prints to stdout too (an empty value is an error).
    env = {k: v for k, v in os.environ.items() if k != "ANSIBLE_CALLBACKS_ENABLED"}
    env.update(ANSIBLE_LOAD_CALLBACK_PLUGINS="1", ANSIBLE_STDOUT_CALLBACK="ansible.builtin.json")
    cmd = [*_command(targets, extra), *args]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, env=env)
    data = json.loads(proc.stdout)
    runs = {}
    for play in data["plays"]:
        for task in play["tasks"]:
            for host, result in task["hosts"].items():
                if not result.get("skipped") and result.get("action") not in CONTROLLER_ACTIONS:
                    runs.setdefault(host, []).append(task["task"]["name"])
    return proc.returncode, runs, data["stats"]


def recap(output, host):
    line = next(ln for ln in output.splitlines() if ln.startswith(host + " ") and "ok=" in ln)
    return {k: int(v) for k, v in (part.split("=") for part in line.split(":", 1)[1].split())}


def daemon_json(host):
    return json.loads(host_exec(host, "cat", DAEMON_JSON).stdout)


def docker_info(host):
    return json.loads(host_exec(host, "docker", "info", "--format", "{{json .}}").stdout)


def dockerd_pid(host):
    return host_exec(host, "systemctl", "show", "-p", "MainPID", "--value", "docker").stdout.strip()


def state(host, container):
    out = host_exec(host, "docker", "inspect", container, check=False)
    return json.loads(out.stdout)[0]["State"] if out.returncode == 0 else None


def http_get(host, url):
    return host_exec(host, "curl", "-s", "--max-time", "5", url, check=False).stdout


def wait_engine(host, timeout=60):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if host_exec(host, "docker", "info", check=False).returncode == 0:
            return True
        time.sleep(1)
    return False


def build_sleeper(host):
    with open(os.path.join(SCENARIO, "sleeper-image.sh")) as fh:
        host_exec(host, "sh", "-s", stdin=fh.read())


@pytest.fixture
def web_on_bare():
    """A container with a published port on the host that converge installed Docker on."""
    build_sleeper(BARE)
    host_exec(BARE, "docker", "rm", "-f", "web", check=False)
    host_exec(
        BARE, "docker", "run", "-d", "--name", "web", "-p", "8089:8080", "local/sleeper", "/usr/bin/perl", "/srv/web.pl"
    )
    yield "web"
    host_exec(BARE, "docker", "rm", "-f", "web", check=False)
