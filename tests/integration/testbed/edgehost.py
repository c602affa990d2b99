"""Start and stop edge host containers the way every test and scenario does (see docs/development.md)."""

import subprocess
import time

CAPABILITIES = (
    "SYS_ADMIN",
    "NET_ADMIN",
    "MKNOD",
    "SYS_PTRACE",
    "NET_RAW",
    "SYS_CHROOT",
    "SETFCAP",
    "AUDIT_WRITE",
    "DAC_READ_SEARCH",
)


def run_args(name, image, network="apim-testnet"):
    args = ["run", "-d", "--name", name, "--hostname", name, "--network", network]
    for cap in CAPABILITIES:
        args += ["--cap-add", cap]
    args += ["--security-opt", "seccomp=unconfined", "--security-opt", "apparmor=unconfined"]
    args += ["-v", "/sys/fs/cgroup:/sys/fs/cgroup:rw", "-v", "/var/lib/docker"]
    for path in ("/run", "/run/lock", "/tmp"):
        args += ["--tmpfs", path]
    return [*args, image]


def exec_in(name, *cmd, check=True, timeout=300, input=None):
    return subprocess.run(
        ["docker", "exec", "-i", name, *cmd],
        check=check,
        timeout=timeout,
        capture_output=True,
        text=input is None or isinstance(input, str),
        input=input,
    )


def wait_for_systemd(name, timeout=60):
    """Return the final `systemctl is-system-running` state once systemd settles."""
    deadline = time.monotonic() + timeout
    state = ""
    while time.monotonic() < deadline:
        state = exec_in(name, "systemctl", "is-system-running", check=False).stdout.strip()
        if state in ("running", "degraded"):
            return state
        time.sleep(1)
    return state
