"""One edge host (systemd, its own Debian docker.io and python3-docker), the gateway simulator images and the
Configuration API fake, for the host modules' tests; the modules run through ad-hoc Ansible as in a play."""

import json
import os
import subprocess
import sys
import tempfile

import pytest

from apim_testkit import edgefleet
from apim_testkit.gateway_sim import fakes

sys.path[:0] = [p for p in os.environ.get("ANSIBLE_COLLECTIONS_PATH", "").split(os.pathsep) if p]
from ansible_collections.apim.selfhosted.plugins.filter.gateway_settings import gateway_settings  # noqa: E402

LABEL = "io.apim.gctest"
HOST = "gct-edge-1"
SIM = os.environ.get("APIM_SIM_IMAGE", "apim-testbed/gateway-sim")
IMAGES = os.environ.get("APIM_IMAGE_CACHE", "/var/lib/apim-testbed/images")
CA_ON_HOST = "/etc/apim-gateway-ca/test-ca.crt"


class Edge:
    """The edge host: run commands in it, run a module on it, read its engine."""

    def __init__(self, name, fake, workdir):
        self.name = name
        self.fake = fake
        self.workdir = workdir
        self.inventory = os.path.join(workdir, "inventory.json")
        with open(self.inventory, "w") as fh:
            json.dump(edgefleet.inventory([name]), fh)

    def sh(self, *cmd, check=True, timeout=300):
        return edgefleet.exec_in(self.name, *cmd, check=check, timeout=timeout)

    def playbook(self, name, args, check_mode=False, diff=False, verbosity=0):
        """The command that runs apim.selfhosted.<name> on the host in a one-task play, and its play file."""
        play = [{"hosts": self.name, "gather_facts": False, "tasks": [{f"apim.selfhosted.{name}": args}]}]
        fd, path = tempfile.mkstemp(dir=self.workdir, suffix=".yml")
        with os.fdopen(fd, "w") as fh:
            json.dump(play, fh)
        cmd = ["ansible-playbook", "-i", self.inventory, path]
        cmd += ["--check"] * check_mode + ["--diff"] * diff + (["-" + "v" * verbosity] if verbosity else [])
        env = {**os.environ, "ANSIBLE_STDOUT_CALLBACK": "json", "ANSIBLE_PIPELINING": "1", "ANSIBLE_NOCOLOR": "1"}
        return cmd, env, path

    def module(self, name, args, **kw):
        """Run apim.selfhosted.<name> on the host; returns (result dict, whole output)."""
        cmd, env, path = self.playbook(name, args, **kw)
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=900, env=env)
        os.unlink(path)
        out = proc.stdout + proc.stderr
        try:
            data = json.loads(proc.stdout[proc.stdout.index("{") :])
            result = data["plays"][0]["tasks"][0]["hosts"][self.name]
        except (ValueError, KeyError, IndexError):
            raise AssertionError(out) from None
        return result, out

    def inspect(self, name):
        out = self.sh("docker", "inspect", name, check=False)
        return json.loads(out.stdout)[0] if out.returncode == 0 else None

    def names(self):
        return sorted(self.sh("docker", "ps", "-a", "--format", "{{.Names}}").stdout.split())

    def status(self, url):
        out = self.sh("curl", "-s", "-o", "/dev/null", "-w", "%{http_code}", "--max-time", "3", url, check=False)
        return out.stdout.strip()


@pytest.fixture(scope="session")
def edge(docker_engine, edge_image, tmp_path_factory):
    state = tmp_path_factory.mktemp("gctest")
    fake = fakes.up("gctest", str(state))
    edgefleet.start([HOST], labels=[LABEL])
    try:
        e = Edge(HOST, fake, str(state))
        e.sh("apt-get", "install", "-y", "-qq", "--no-install-recommends", "docker.io", "python3-docker", timeout=600)
        e.sh("systemctl", "start", "docker")
        for tag in ("2.12.3", "2.12.4"):
            edgefleet.load_image(HOST, os.path.join(IMAGES, f"gateway-sim-{tag}.tar"))
        e.sh("mkdir", "-p", os.path.dirname(CA_ON_HOST))
        with open(fake["ca_file"], "rb") as fh:
            edgefleet.exec_in(HOST, "sh", "-c", f"cat > {CA_ON_HOST}", input=fh.read())
        yield e
    finally:
        edgefleet.remove([HOST])
        fakes.down("gctest")


def variables(fake, **over):
    values = {
        "gateway_endpoint": fake["endpoint"],
        "gateway_token": fake["token"],
        "gateway_image_repository": SIM,
        "gateway_image_tag": "2.12.3",
        "gateway_extra_hosts": fake["extra_hosts"],
        "gateway_ca_bundle_mounts": [{"source": CA_ON_HOST, "target": "/usr/local/share/ca-certificates/test-ca.crt"}],
        "gateway_backup_path": "/var/lib/apim-gateway/apim-gateway",
        "gateway_ready_timeout": 60,
        "gateway_stop_timeout": 5,
        "gateway_healthcheck_interval": "5s",
        "gateway_healthcheck_start_period": "5s",
    }
    values.update(over)
    return values


def plan(fake, **over):
    """The controller's validated plan for these variables (the filter the role uses)."""
    values = variables(fake, **over)
    result = gateway_settings(values)
    assert result["errors"] == [], result["errors"]
    return result, values


def container_args(result, values, **extra):
    """The gateway_container module's arguments, as the role passes them."""
    args = {
        "state": result["state"],
        "container": result["container"],
        "backup": result["backup"],
        "secrets": {
            "token": values.get("gateway_token"),
            "client_secret": values.get("gateway_azure_ad_client_secret"),
        },
    }
    args.update(image=result["image"], env=result["env"], secret_digest=result["secret_digest"])
    args["secrets"] = {k: v for k, v in args["secrets"].items() if v}
    args["certificate_file"] = result["certificate_file"]
    if values.get("gateway_azure_ad_certificate"):
        args["certificate"] = values["gateway_azure_ad_certificate"]
    args.update(extra)
    return args
