"""A gateway's own configuration from the Configuration API fake: the simulator serves HTTPS on 8081 with the
certificate of the hostname configuration that matches the client's SNI name, and only the APIs associated with its
gateway resource (issue 18). Gateways without one keep the shared APIs and certificate.
"""

import json
import socket
import ssl
import subprocess
import time
import urllib.error

import pytest

from apim_testkit.gateway_sim import fakes

from .test_simulator import LABEL, base_env, get, run_sim, wait_status

pytestmark = pytest.mark.docker
HOST = "api.contoso.test"


@pytest.fixture(scope="module")
def fake(tmp_path_factory):
    state = tmp_path_factory.mktemp("cfgfakes")
    out = fakes.up("simcfg", str(state), gateways=("gw-a", "gw-b"))
    out["state_dir"] = str(state)
    yield out
    fakes.down("simcfg")
    ids = fakes.docker("ps", "-aq", "--filter", f"label={LABEL}").stdout.split()
    if ids:
        fakes.docker("rm", "-f", "-v", *ids, check=False)


def _pem_pair(fake, hostname):
    import trustme

    ca = trustme.CA.from_pem(open(fake["ca_file"], "rb").read(), open(fake["ca_key_file"], "rb").read())
    leaf = ca.issue_cert(hostname)
    return leaf.cert_chain_pems[0].bytes().decode(), leaf.private_key_pem.bytes().decode()


def _configure(fake, gateway, body):
    return fakes.admin(fake["admin_url"], "PUT", f"/admin/gateways/{gateway}/configuration", body)


def _served(ip, sni):
    """The DER certificate the gateway presents for ``sni`` (None when it refuses the handshake)."""
    ctx = ssl.create_default_context(cafile=None)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    try:
        with socket.create_connection((ip, 8081), timeout=5) as raw, ctx.wrap_socket(raw, server_hostname=sni) as s:
            return s.getpeercert(binary_form=True)
    except (ssl.SSLError, OSError):
        return None


def _curl(ip, sni, path, ca_file):
    """(HTTP status, body) of curl to https://<sni>:8081<path> at ``ip``, verified against the fakes' CA."""
    proc = subprocess.run(
        ["curl", "-s", "--max-time", "10", "--resolve", f"{sni}:8081:{ip}", "--cacert", ca_file,
         "-w", "\n%{http_code}", f"https://{sni}:8081{path}"],
        capture_output=True, text=True, timeout=30, check=False,
    )  # fmt: skip
    body, _sep, status = proc.stdout.rpartition("\n")
    return (int(status) if status.isdigit() else None), body


def _wait(predicate, timeout=30):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.5)
    return False


def test_sni_certificate_and_only_associated_apis(fake):
    from cryptography import x509

    backend = fake["backend_urls"][0] + "/"
    cert, key = _pem_pair(fake, HOST)
    wildcard_cert, wildcard_key = _pem_pair(fake, "*.contoso.test")
    own = {
        "apis": [{"name": "echo", "path": "echo", "serviceUrl": backend}],
        "hostnameConfigurations": [
            {"hostName": HOST, "certificate": cert, "key": key, "tls10Enabled": False},
            {"hostName": "*.contoso.test", "certificate": wildcard_cert, "key": wildcard_key},
        ],
    }
    first = _configure(fake, "gw-a", own)
    assert first["changed"] is True
    assert _configure(fake, "gw-a", own) == {"changed": False, "revision": first["revision"]}

    a = run_sim(fake, base_env(fake, "gw-a"))
    b = run_sim(fake, base_env(fake, "gw-b"))
    assert wait_status(a, 200) == 200 and wait_status(b, 200) == 200
    ip = fakes.ip_of(a)
    served = x509.load_der_x509_certificate(_served(ip, HOST))
    assert served.serial_number == x509.load_pem_x509_certificate(cert.encode()).serial_number
    wild = x509.load_der_x509_certificate(_served(ip, "www.contoso.test"))
    assert wild.serial_number == x509.load_pem_x509_certificate(wildcard_cert.encode()).serial_number
    assert _served(ip, "other.example") is None  # no configuration for that name, and no default
    status, body = _curl(ip, HOST, "/echo/tls", fake["ca_file"])
    assert status == 200 and json.loads(body)["path"] == "/tls"
    assert _curl(ip, HOST, "/orders/x", fake["ca_file"])[0] == 404  # not associated with gw-a
    # gw-b keeps the shared APIs and the shared certificate for any name.
    assert get(b, "/echo/x")[0] == 200 and _served(fakes.ip_of(b), "other.example") is not None

    # Removing the association stops serving the API after the next poll; dropping the own configuration
    # brings the shared one back.
    _configure(fake, "gw-a", dict(own, apis=[]))
    assert _wait(lambda: get(a, "/echo/x")[0] == 404, timeout=25)
    fakes.admin(fake["admin_url"], "DELETE", "/admin/gateways/gw-a/configuration")
    assert _wait(lambda: get(a, "/echo/x")[0] == 200, timeout=25)


def test_unknown_admin_path_is_404(fake):
    with pytest.raises(urllib.error.HTTPError) as err:
        fakes.admin(fake["admin_url"], "PUT", "/admin/gateways/gw-a/other", {})
    assert err.value.code == 404
