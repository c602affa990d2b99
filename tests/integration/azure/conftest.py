"""The fake ARM (in-process, TLS on 127.0.0.1) and ways to run the Azure modules and playbooks against it."""

import json
import os
import subprocess
import sys

import pytest

from apim_testkit.fake_arm import FakeArm

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
COLLECTIONS = os.environ.get("ANSIBLE_COLLECTIONS_PATH", "/var/lib/apim-testbed/collections").split(os.pathsep)[0]


@pytest.fixture(scope="session")
def _arm_server(tmp_path_factory):
    fake = FakeArm().start()
    fake.ca_file = fake.write_ca(tmp_path_factory.mktemp("arm") / "ca.pem")
    yield fake
    fake.stop()


@pytest.fixture
def fake_arm(_arm_server):
    """A clean fake ARM for each test (one server for the session, state reset between tests)."""
    _arm_server.state.reset()
    return _arm_server


class Azure:
    """Runs modules (entry point) and playbooks against ``fake`` with the default caller's credential."""

    def __init__(self, fake, tmp_path):
        self.fake = fake
        self.tmp = tmp_path
        e = fake.env()
        self.sub = e["subscription_id"]
        self.sub_scope = f"/subscriptions/{self.sub}"
        self.auth = {
            "auth_source": "credential",
            "client_id": e["client_id"],
            "secret": e["client_secret"],
            "tenant": e["tenant_id"],
            "resource_manager_endpoint": fake.url,
            "authority_host": fake.url,
            "ca_bundle": fake.ca_file,
            "request_retry_backoff": 0.05,
        }
        self.secret = e["client_secret"]

    def rg_scope(self, rg):
        return f"{self.sub_scope}/resourceGroups/{rg}"

    def apim_scope(self, rg, name):
        return f"{self.rg_scope(rg)}/providers/Microsoft.ApiManagement/service/{name}"

    def module(self, name, args, check=False, diff=False, auth=True, env=None, timeout=180):
        """Run ``apim.selfhosted.<name>`` through its entry point; return its JSON result (with rc)."""
        margs = dict(self.auth if auth else {}, **args)
        margs["_ansible_check_mode"] = check
        margs["_ansible_diff"] = diff
        path = self.tmp / f"args-{name}.json"
        path.write_text(json.dumps({"ANSIBLE_MODULE_ARGS": margs}))
        run_env = {**os.environ, "PYTHONPATH": COLLECTIONS, **(env or {})}
        proc = subprocess.run(
            [sys.executable, "-m", f"ansible_collections.apim.selfhosted.plugins.modules.{name}", str(path)],
            capture_output=True,
            text=True,
            env=run_env,
            timeout=timeout,
        )
        try:
            out = json.loads(proc.stdout)
        except ValueError:
            raise AssertionError(
                f"module {name} printed no JSON (rc {proc.returncode}):\n{proc.stdout}\n{proc.stderr}"
            ) from None
        out["rc"] = proc.returncode
        return out

    def playbook(self, text, extra_vars=None, check=False, diff=False, verbosity=0, env=None, timeout=300):
        """Run a playbook (YAML text) on localhost; return the CompletedProcess."""
        pb = self.tmp / "play.yml"
        pb.write_text(text)
        cmd = ["ansible-playbook", "-i", "localhost,", "-c", "local", str(pb)]
        if extra_vars:
            ev = self.tmp / "vars.json"
            ev.write_text(json.dumps(extra_vars))
            cmd += ["-e", f"@{ev}"]
        if check:
            cmd.append("--check")
        if diff:
            cmd.append("--diff")
        if verbosity:
            cmd.append("-" + "v" * verbosity)
        run_env = {
            **os.environ,
            "ANSIBLE_PYTHON_INTERPRETER": sys.executable,
            "ANSIBLE_STDOUT_CALLBACK": "ansible.builtin.default",
            "ANSIBLE_NOCOLOR": "1",
            "ANSIBLE_RETRY_FILES_ENABLED": "0",
            **(env or {}),
        }
        return subprocess.run(cmd, capture_output=True, text=True, env=run_env, cwd=ROOT, timeout=timeout)

    def writes(self):
        return [r for r in self.fake.arm_requests() if r["method"] in ("PUT", "PATCH", "DELETE", "POST")]


@pytest.fixture
def azure(fake_arm, tmp_path):
    return Azure(fake_arm, tmp_path)


def make_pfx(path, hostname, password, days=90, ca=None):
    """A PFX (certificate for ``hostname`` from a trustme CA, its key) at ``path``; returns (path, thumbprint, ca)."""
    import datetime as dt

    import trustme
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.serialization import pkcs12

    ca = ca or trustme.CA()
    leaf = ca.issue_cert(hostname, not_after=dt.datetime.now(dt.timezone.utc) + dt.timedelta(days=days))
    cert = x509.load_pem_x509_certificate(leaf.cert_chain_pems[0].bytes())
    key = serialization.load_pem_private_key(leaf.private_key_pem.bytes(), None)
    enc = serialization.BestAvailableEncryption(password.encode()) if password else serialization.NoEncryption()
    path.write_bytes(pkcs12.serialize_key_and_certificates(b"edge", key, cert, None, enc))
    return str(path), cert.fingerprint(hashes.SHA1()).hex().upper(), ca  # noqa: S303 - the thumbprint Azure shows
