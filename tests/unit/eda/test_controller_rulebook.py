"""The AWX/AAP rulebook under the real ansible-rulebook: a near-expiry event launches the rotation job template with
``apim_gateway`` (and the event as ``ansible_eda``), against a stand-in for the controller's REST API (the calls
ansible-rulebook makes: config, unified job templates, launch, job polling)."""

import json
import pathlib
import sys
import urllib.parse
import uuid
from http.server import BaseHTTPRequestHandler

import pytest
import requests

from apim_testkit.rulebook import Rulebook, free_port, serve_tls, tls_files

ROOT = pathlib.Path(__file__).resolve().parents[3]
sys.path.insert(0, str(pathlib.Path(__file__).parent))

from test_eventgrid_parsing import TOPIC, eg_event  # noqa: E402

TEMPLATE = "Rotate gateway tokens"
CONTROLLER_TOKEN = "awx-" + uuid.uuid4().hex


class Controller:
    """The controller endpoints ansible-rulebook's run_job_template uses; records every launch."""

    def __init__(self, cert):
        self.launches = []
        ctl = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *a):
                pass

            def _answer(self, status, body):
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def do_GET(self):
                if self.headers.get("Authorization") != f"Bearer {CONTROLLER_TOKEN}":
                    return self._answer(401, {"detail": "Authentication credentials were not provided."})
                url = urllib.parse.urlsplit(self.path)
                query = dict(urllib.parse.parse_qsl(url.query))
                if url.path == "/api/v2/config/":
                    return self._answer(200, {"version": "24.6.1"})
                if url.path == "/api/v2/unified_job_templates/":
                    found = [
                        {
                            "id": 7,
                            "type": "job_template",
                            "name": TEMPLATE,
                            "summary_fields": {"organization": {"name": "Default"}},
                            "related": {"launch": "/api/v2/job_templates/7/launch/"},
                            "ask_limit_on_launch": False,
                            "ask_labels_on_launch": False,
                            "ask_inventory_on_launch": False,
                            "ask_variables_on_launch": True,
                        }
                    ]
                    results = found if query.get("name") == TEMPLATE else []
                    return self._answer(200, {"count": len(results), "next": None, "results": results})
                if url.path == "/api/v2/jobs/":
                    ids = query.get("id__in", "").split(",")
                    results = [{"id": int(i), "status": "successful", "artifacts": {}} for i in ids if i]
                    return self._answer(200, {"count": len(results), "next": None, "results": results})
                m = url.path.rstrip("/").rsplit("/", 1)[-1]
                if url.path.startswith("/api/v2/jobs/") and m.isdigit():
                    return self._answer(200, {"id": int(m), "status": "successful", "artifacts": {}})
                return self._answer(404, {"detail": "Not found."})

            def do_POST(self):
                if self.headers.get("Authorization") != f"Bearer {CONTROLLER_TOKEN}":
                    return self._answer(401, {"detail": "Authentication credentials were not provided."})
                body = json.loads(self.rfile.read(int(self.headers.get("Content-Length") or 0)) or b"{}")
                if self.path == "/api/v2/job_templates/7/launch/":
                    job = 100 + len(ctl.launches)
                    ctl.launches.append(body)
                    return self._answer(
                        201, {"id": job, "job": job, "url": f"/api/v2/jobs/{job}/", "status": "pending"}
                    )
                return self._answer(404, {"detail": "Not found."})

        self.httpd, self.url = serve_tls(Handler, cert)


@pytest.fixture
def controller_rulebook(tmp_path):
    ca, ca_pem, cert, key = tls_files(str(tmp_path))
    ctl = Controller(ca.issue_cert("127.0.0.1"))
    port = free_port()
    secret = "s-" + uuid.uuid4().hex
    (tmp_path / "vars.yml").write_text(
        f"eventgrid_host: 127.0.0.1\neventgrid_port: {port}\neventgrid_certfile: {cert}\neventgrid_keyfile: {key}\n"
        f"eventgrid_shared_secret: {secret}\n"
    )
    (tmp_path / "inventory.yml").write_text("all:\n  hosts:\n    localhost:\n")
    book = Rulebook(
        "apim.selfhosted.gateway_token_events_controller", tmp_path / "inventory.yml", tmp_path / "vars.yml"
    )
    book.cmd += ["--controller-url", ctl.url, "--controller-token", CONTROLLER_TOKEN, "--controller-ssl-verify", ca_pem]
    book.start()
    yield book, ctl, f"https://127.0.0.1:{port}/", secret, ca_pem
    book.stop()
    ctl.httpd.shutdown()


def test_near_expiry_launches_the_job_template_for_that_gateway(controller_rulebook):
    book, ctl, url, secret, ca_pem = controller_rulebook
    since = book.mark()
    event = eg_event(gateway_id=TOPIC + "/gateways/lyon-edge", event_id="ctl-" + uuid.uuid4().hex[:8])
    r = requests.post(url, params={"code": secret}, json=[event], verify=ca_pem, timeout=20)
    assert r.status_code == 200
    book.wait_for(
        r"Job template 'Rotate gateway tokens' completed successfully \(job_id: 100\)", since=since, timeout=60
    )
    # The gateway's other instance reports too: the rule runs once per gateway (12 hours).
    twin = eg_event(gateway_id="lyon-edge", event_id="ctl-" + uuid.uuid4().hex[:8])
    assert requests.post(url, params={"code": secret}, json=[twin], verify=ca_pem, timeout=20).status_code == 200
    # An expired token is renewed at once, even right after a near-expiry run.
    expired = eg_event(gateway_id="lyon-edge", kind="Expired", event_id="ctl-" + uuid.uuid4().hex[:8])
    assert requests.post(url, params={"code": secret}, json=[expired], verify=ca_pem, timeout=20).status_code == 200
    book.wait_for(r"Job template 'Rotate gateway tokens' completed successfully \(job_id: 101\)", since=since)
    near, renew = ctl.launches
    assert near["extra_vars"]["apim_gateway"] == "lyon-edge" and renew["extra_vars"]["apim_gateway"] == "lyon-edge"
    assert near["extra_vars"]["ansible_eda"]["event"]["gateway"]["name"] == "lyon-edge"
    assert near["extra_vars"]["ansible_eda"]["rule"] == "Rotate the token of a gateway whose token is near expiry"
    assert renew["extra_vars"]["ansible_eda"]["rule"] == "Renew at once the token of a gateway whose token has expired"
    assert renew["extra_vars"]["ansible_eda"]["event"]["id"] == expired["id"]
    assert CONTROLLER_TOKEN not in book.text(since) and secret not in book.text(since)
