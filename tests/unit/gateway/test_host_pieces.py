"""Host-side pieces without an engine: where the UDP neighborhood ports go (a real DNS server on 127.0.0.1, the real
routing table), image references pinned by digest, the certificate file's bytes and its placement."""

import base64
import ipaddress
import os
import socket
import stat
import struct
import threading

import pytest
from test_gateway_settings import CERT_PEM, ENTRA, check

from ansible_collections.apim.selfhosted.plugins.module_utils import gateway_facts as facts
from ansible_collections.apim.selfhosted.plugins.module_utils import gateway_neighbours as nb
from ansible_collections.apim.selfhosted.plugins.module_utils import host_files
from ansible_collections.apim.selfhosted.plugins.module_utils.gateway_plan import (
    PlanError,
    certificate_bytes,
    certificate_digest,
)
from ansible_collections.apim.selfhosted.plugins.modules.gateway_image import split_ref


class DnsServer:
    """A DNS server on 127.0.0.1 that answers A queries from a table (compressed names), NXDOMAIN otherwise."""

    def __init__(self, records, refuse=()):
        self.records = records
        self.refuse = refuse  # question types answered REFUSED, as dnsmasq without upstream answers AAAA
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        self.asked = []
        threading.Thread(target=self.serve, daemon=True).start()

    def serve(self):
        while True:
            try:
                data, peer = self.sock.recvfrom(512)
            except OSError:
                return
            ident = data[:2]
            pos, labels = 12, []
            while data[pos]:
                labels.append(data[pos + 1 : pos + 1 + data[pos]].decode())
                pos += 1 + data[pos]
            qtype = struct.unpack(">H", data[pos + 1 : pos + 3])[0]
            question = data[12 : pos + 5]
            name = ".".join(labels)
            self.asked.append((name, qtype))
            found = self.records.get(name)
            answers = [a for a in found or [] if qtype == 1]
            flags = 0x8180 if found is not None else 0x8183
            if qtype in self.refuse:
                flags, answers = 0x8185, []
            head = ident + struct.pack(">HHHHH", flags, 1, len(answers), 0, 0)
            body = b"".join(
                struct.pack(">HHHIH", 0xC00C, 1, 1, 60, 4) + ipaddress.ip_address(a).packed for a in answers
            )
            self.sock.sendto(head + question + body, peer)

    def close(self):
        self.sock.close()


@pytest.fixture
def dns():
    server = DnsServer({"peers.gw.test": ["127.0.0.1", "127.0.0.2"], "empty.gw.test": []})
    yield server
    server.close()


def test_a_server_that_refuses_aaaa_questions_still_gives_the_a_records():
    server = DnsServer({"neighborhood.host": ["127.0.0.1"]}, refuse=(28,))
    try:
        assert nb.ask_dns("neighborhood.host", "127.0.0.1", port=server.port) == ["127.0.0.1"]
        server.refuse = (1, 28)
        with pytest.raises(nb.ResolveError, match="error code 5"):
            nb.ask_dns("neighborhood.host", "127.0.0.1", port=server.port)
    finally:
        server.close()


def udp_plan(**over):
    plan = check(gateway_neighborhood_host="peers.gw.test", **over)
    assert plan["errors"] == [], plan["errors"]
    return plan


def test_the_dns_servers_answer_as_the_container_would_ask_them(dns):
    assert nb.ask_dns("peers.gw.test", "127.0.0.1", port=dns.port) == ["127.0.0.1", "127.0.0.2"]
    assert ("peers.gw.test", 1) in dns.asked and ("peers.gw.test", 28) in dns.asked
    assert nb.ask_dns("nowhere.gw.test", "127.0.0.1", port=dns.port) == []  # NXDOMAIN: no address


def test_neighbour_ports_go_to_the_hosts_address_towards_the_neighbours(dns):
    plan = udp_plan(gateway_dns_servers=["127.0.0.1"])
    container = nb.neighbour_ports(plan["container"], plan["env"], dns_port=dns.port)
    udp = sorted((p["host_ip"], p["host_port"]) for p in container["ports"] if p["protocol"] == "udp")
    # 127.0.0.1 and 127.0.0.2 are reached from one address: one binding per port, never 0.0.0.0.
    assert udp == [("127.0.0.1", 4290), ("127.0.0.1", 4291)]
    tcp = [p for p in container["ports"] if p["protocol"] == "tcp"]
    assert tcp == [p for p in plan["container"]["ports"] if p["protocol"] == "tcp"]


def test_extra_hosts_come_first_as_in_the_container(dns):
    plan = udp_plan(gateway_extra_hosts={"Peers.GW.test": "127.0.0.1"}, gateway_dns_servers=["127.0.0.1"])
    assert nb.resolve("peers.gw.test", plan["container"]["etc_hosts"], ["127.0.0.1"], dns_port=dns.port) == (
        ["127.0.0.1"],
        "gateway_extra_hosts",
    )
    assert dns.asked == []


@pytest.mark.parametrize("name", ["nowhere.gw.test", "empty.gw.test"])
def test_a_neighbourhood_that_does_not_resolve_stops_the_run_naming_the_variable(dns, name):
    plan = udp_plan(gateway_dns_servers=["127.0.0.1"])
    env = [dict(e, value=name) if e["key"] == "neighborhood.host" else e for e in plan["env"]]
    with pytest.raises(PlanError) as exc:
        nb.neighbour_ports(plan["container"], env, timeout=2, dns_port=dns.port)
    assert "gateway_neighborhood_bind_address" in str(exc.value) and name in str(exc.value)
    assert "Nothing was changed" in str(exc.value)


def test_a_given_bind_address_is_left_alone():
    plan = udp_plan(gateway_neighborhood_bind_address="10.1.2.3")
    assert nb.neighbour_ports(plan["container"], plan["env"]) is plan["container"]
    assert nb.source_address("127.0.0.1") == "127.0.0.1"


A, B = "sha256:" + "a" * 64, "sha256:" + "b" * 64


@pytest.mark.parametrize(
    ("ref", "tag", "digest", "pull"),
    [
        ("mcr.microsoft.com/apim/gateway:2.12.3", "2.12.3", "", ("mcr.microsoft.com/apim/gateway", "2.12.3")),
        ("reg:5000/apim/gw:2.12.3@" + A, "2.12.3", A, ("reg:5000/apim/gw", A)),
        ("reg:5000/apim/gw@" + B, "", B, ("reg:5000/apim/gw", B)),
        ("reg:5000/apim/gw", "latest", "", ("reg:5000/apim/gw", "latest")),
    ],
)
def test_image_references_with_a_digest(ref, tag, digest, pull):
    assert facts.image_tag(ref) == tag
    assert facts.image_digest(ref) == digest
    assert split_ref(ref) == pull
    # A digest-only reference names no version: it is not mistaken for a v0/v1 gateway.
    assert facts.v1_reasons("gw", ref, {}) == []


def test_certificate_bytes_pem_and_pfx():
    assert certificate_bytes(CERT_PEM) == CERT_PEM.encode()
    der = b"\x30\x82\x04\x00" + os.urandom(300)
    assert certificate_bytes(base64.encodebytes(der).decode()) == der  # line-wrapped base64 too
    for bad in ("", "hello", base64.b64encode(b"\x31" * 100).decode(), CERT_PEM.replace("PRIVATE KEY", "X")):
        with pytest.raises(PlanError) as exc:
            certificate_bytes(bad)
        assert "gateway_azure_ad_certificate" in str(exc.value) and (not bad or bad not in str(exc.value))


def test_certificate_file_is_written_for_the_gateway_uid_only_and_put_back(tmp_path):
    path = str(tmp_path / "apim-gateway.azure-ad-cert")
    data = certificate_bytes(CERT_PEM)
    differs, old = host_files.secret_file_state(path, data, 1001, 0o400)
    assert differs and old is None
    host_files.put_secret_file(path, data, 1001, 0o400)
    st = os.stat(path)
    assert (st.st_uid, st.st_gid, stat.S_IMODE(st.st_mode)) == (1001, 0, 0o400)
    assert host_files.secret_file_state(path, data, 1001, 0o400) == (False, data)
    os.chmod(path, 0o644)
    assert host_files.secret_file_state(path, data, 1001, 0o400)[0] is True
    # No certificate any more: the file goes; a rollback puts the old bytes back.
    assert host_files.secret_file_state(path, None, 1001, 0o400) == (True, data)
    host_files.put_secret_file(path, None, 1001, 0o400)
    assert not os.path.exists(path)
    host_files.put_secret_file(path, data, 1001, 0o400)
    assert open(path, "rb").read() == data
    open(str(tmp_path / ".apim-gateway.azure-ad-cert.x1.tmp"), "w").close()
    env_file = str(tmp_path / "apim-gateway.env")
    assert host_files.leftovers(env_file, [path]) == [str(tmp_path / ".apim-gateway.azure-ad-cert.x1.tmp")]


def test_plan_digest_matches_the_bytes_the_host_writes():
    plan = check(**{**ENTRA, "gateway_azure_ad_client_secret": None, "gateway_azure_ad_certificate": CERT_PEM,
                    "gateway_azure_ad_certificate_path": "/apim/certificates/app.pem"})  # fmt: skip
    assert plan["certificate_file"]["digest"] == certificate_digest(CERT_PEM)
    assert host_files.digest(certificate_bytes(CERT_PEM)) == plan["certificate_file"]["digest"]


def test_backup_files_are_unknown_without_a_directory_and_counted_at_every_level(tmp_path):
    assert facts.backup_files("")["backup_files"] is None
    assert facts.backup_files(str(tmp_path / "missing")) == {
        "backup_files": None,
        "backup_newest": None,
        "backup_age_seconds": None,
    }
    assert facts.backup_files(str(tmp_path))["backup_files"] == 0
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "any-name.json").write_text("{}")
    (tmp_path / "snapshot.lock.json").write_text("{}")
    found = facts.backup_files(str(tmp_path))
    assert found["backup_files"] == 2 and found["backup_newest"] and found["backup_age_seconds"] >= 0


@pytest.mark.parametrize(
    ("log", "status", "want"),
    [
        ([{"ExitCode": 0, "Output": ""}], "healthy", "healthy"),
        ([{"ExitCode": 1, "Output": "wget: server returned error: HTTP/1.1 503"}], "unhealthy", "unhealthy"),
        ([{"ExitCode": -1, "Output": 'exec: "wget": executable file not found in $PATH'}], "unhealthy", "unknown"),
        ([{"ExitCode": 127, "Output": "/bin/sh: wget: not found"}], "unhealthy", "unknown"),
        ([], "starting", "starting"),
    ],
)
def test_health_is_unknown_when_the_image_lacks_the_check_command(log, status, want):
    assert facts.health({"Health": {"Status": status, "Log": log}}) == want
    assert facts.health({}) == ""
