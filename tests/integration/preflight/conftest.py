"""A lab for preflight: an edge host, Configuration API fakes reachable by name, and an egress proxy.

All of it lives on the test network ``apim-testnet``; the edge host resolves the fakes through Docker's DNS:

| container       | image                    | names on the network                                          |
|-----------------|--------------------------|---------------------------------------------------------------|
| pf-fake         | apim-testbed/debian      | apim-preflight.configuration.azure-api.net, login.preflight.lab |
| pf-fake-private | apim-testbed/debian      | apim-preflight-private.configuration.azure-api.net (other CA)  |
| pf-fake-skew    | apim-testbed/debian      | apim-preflight-skew.configuration.azure-api.net (Date +600 s)   |
| pf-proxy        | apim-testbed/netfixtures | preflight-proxy.lab (tinyproxy, CONNECT to 443 only)           |
| pf-edge         | apim-testbed/edgehost    | the host under test; trusts the lab CA in its system store     |
"""

import json
import os
import pathlib
import subprocess
import tempfile
import time

import edgefleet
import pytest
import trustme

ROOT = pathlib.Path(__file__).resolve().parents[3]
FIXTURES = ROOT / "tests" / "fixtures" / "preflight"
LABEL = "io.apim.preflight"
NETWORK = edgefleet.NETWORK
EDGE = "pf-edge"
ENDPOINT = "apim-preflight.configuration.azure-api.net"
PRIVATE = "apim-preflight-private.configuration.azure-api.net"
SKEWED = "apim-preflight-skew.configuration.azure-api.net"
AUTHORITY = "login.preflight.lab"
PROXY = "preflight-proxy.lab"
PRIVATE_CA_ON_EDGE = "/etc/apim-preflight/private-ca.pem"


def docker(*args, check=True, timeout=120):
    return subprocess.run(["docker", *args], check=check, timeout=timeout, capture_output=True, text=True)


def start_fake(name, aliases, certs, cert_name, offset=0):
    docker("rm", "-f", name, check=False)
    args = ["run", "-d", "--name", name, "--label", LABEL, "--network", NETWORK]
    for alias in aliases:
        args += ["--network-alias", alias]
    args += ["-v", f"{FIXTURES}:/fixture:ro", "-v", f"{certs}:/certs:ro", "apim-testbed/debian:bookworm"]
    args += ["python3", "/fixture/confapi_fake.py", "--cert", f"/certs/{cert_name}.pem"]
    args += ["--key", f"/certs/{cert_name}.key", "--date-offset", str(offset)]
    docker(*args)


def wait_for_log(name, text, timeout=30):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        logs = docker("logs", name, check=False)
        if text in logs.stdout + logs.stderr:
            return
        time.sleep(0.2)
    raise RuntimeError(f"{name} did not log {text!r}: {docker('logs', name, check=False).stderr[-2000:]}")


class Lab:
    def __init__(self, workdir):
        self.workdir = pathlib.Path(workdir)
        self.inventory = self.workdir / "inventory.json"

    def edge(self, *cmd, check=True, timeout=60):
        return edgefleet.exec_in(EDGE, *cmd, check=check, timeout=timeout)

    def requests(self, container):
        """The fake's request log lines (JSON)."""
        out = docker("logs", container).stdout
        return [json.loads(line) for line in out.splitlines() if line.startswith("{") and '"method"' in line]

    def preflight(self, args, check_mode=False, timeout=120):
        """Run the module on the edge host with ansible; return (host result, seconds, exit code)."""
        cmd = ["ansible", EDGE, "-i", str(self.inventory), "-m", "apim.selfhosted.gateway_preflight"]
        cmd += ["-a", json.dumps(args)]
        if check_mode:
            cmd.append("--check")
        env = {**os.environ, "ANSIBLE_STDOUT_CALLBACK": "ansible.builtin.json", "ANSIBLE_LOAD_CALLBACK_PLUGINS": "1"}
        t0 = time.monotonic()
        proc = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=timeout, cwd=ROOT)
        seconds = time.monotonic() - t0
        data = json.loads(proc.stdout[proc.stdout.index("{") :])
        host = data["plays"][0]["tasks"][0]["hosts"][EDGE]
        return host, seconds, proc.returncode

    def playbook(self, extra_vars, timeout=180):
        cmd = ["ansible-playbook", "-i", str(self.inventory), str(ROOT / "playbooks" / "preflight.yml")]
        cmd += ["-e", json.dumps(extra_vars)]
        t0 = time.monotonic()
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, cwd=ROOT)
        return proc, time.monotonic() - t0


@pytest.fixture(scope="session")
def lab(docker_engine, edge_image):
    for image in ("apim-testbed/debian:bookworm", "apim-testbed/netfixtures:bookworm"):
        if docker("image", "inspect", image, check=False).returncode != 0:
            pytest.fail(f"image {image} is missing: run tests/testbed.sh first")
    workdir = tempfile.mkdtemp(prefix="preflight-lab-")
    certs = pathlib.Path(workdir) / "certs"
    certs.mkdir()
    lab_ca = trustme.CA(organization_name="Preflight Lab Root")
    private_ca = trustme.CA(organization_name="Contoso Private PKI")
    for name, ca, hosts in (
        ("lab", lab_ca, [ENDPOINT, AUTHORITY, SKEWED]),
        ("private", private_ca, [PRIVATE]),
    ):
        leaf = ca.issue_cert(*hosts)
        leaf.cert_chain_pems[0].write_to_path(str(certs / f"{name}.pem"))
        leaf.private_key_pem.write_to_path(str(certs / f"{name}.key"))
        ca.cert_pem.write_to_path(str(certs / f"{name}-ca.pem"))
    for path in certs.iterdir():
        path.chmod(0o644)  # the fakes run as root, but the key files must be readable through the bind mount
    certs.chmod(0o755)
    pathlib.Path(workdir).chmod(0o755)

    edgefleet.remove(label=LABEL)
    try:
        start_fake("pf-fake", [ENDPOINT, AUTHORITY], certs, "lab")
        start_fake("pf-fake-private", [PRIVATE], certs, "private")
        start_fake("pf-fake-skew", [SKEWED], certs, "lab", offset=600)
        docker("rm", "-f", "pf-proxy", check=False)
        docker(
            "run", "-d", "--name", "pf-proxy", "--label", LABEL, "--network", NETWORK, "--network-alias", PROXY,
            "-v", f"{FIXTURES / 'tinyproxy.conf'}:/etc/tinyproxy/lab.conf:ro",
            "apim-testbed/netfixtures:bookworm", "tinyproxy", "-d", "-c", "/etc/tinyproxy/lab.conf",
        )  # fmt: skip
        edgefleet.start([EDGE], labels=[LABEL])
        for name in ("pf-fake", "pf-fake-private", "pf-fake-skew"):
            wait_for_log(name, '"listening"')
        wait_for_log("pf-proxy", "listening", timeout=30)
        # The lab's root is in the edge host's system store, as a real host trusts public roots.
        edgefleet.exec_in(EDGE, "mkdir", "-p", "/usr/local/share/ca-certificates", "/etc/apim-preflight")
        docker("cp", str(certs / "lab-ca.pem"), f"{EDGE}:/usr/local/share/ca-certificates/preflight-lab.crt")
        docker("cp", str(certs / "private-ca.pem"), f"{EDGE}:{PRIVATE_CA_ON_EDGE}")
        edgefleet.exec_in(EDGE, "update-ca-certificates")
        lab = Lab(workdir)
        lab.inventory.write_text(json.dumps(edgefleet.inventory([EDGE])))
        yield lab
    finally:
        if not os.environ.get("PREFLIGHT_KEEP_LAB"):
            edgefleet.remove(label=LABEL)
