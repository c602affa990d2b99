#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) apim.selfhosted contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: gateway_preflight
short_description: Check from a host that a self-hosted gateway can reach its Configuration API
version_added: 0.1.0
author: apim.selfhosted maintainers (@apim-selfhosted)
description:
  - Runs on the gateway host, before anything changes there, the checks that a self-hosted gateway v2 needs to pass
    to load its configuration, and says for each failed check what to fix.
  - B(DNS) resolves the Configuration API host (C(/etc/hosts) and O(extra_hosts) count). When a proxy carries the
    connection, the proxy's name is resolved instead and the endpoint's own lookup is only reported, as the gateway
    leaves that lookup to the proxy.
  - B(TCP) connects to port 443 within O(timeout), directly or through the proxy with C(CONNECT), choosing the way
    exactly as the gateway (.NET C(HttpClient)) does from the C(HTTPS_PROXY), C(HTTP_PROXY) and C(NO_PROXY) values of
    its env-file.
  - B(TLS) completes a handshake with host name verification against the system trust store plus O(ca_bundle), and
    reports the certificate's issuer and days to expiry. An issuer that is not trusted fails and names
    O(ca_bundle_variable).
  - B(Clock) compares the host clock with the C(Date) header of the Configuration API's answer (any status code) and
    fails over O(clock_skew_threshold) seconds; it reports the NTP state where C(timedatectl) exists.
  - B(Entra) runs the DNS, TCP and TLS checks for the authority host when O(auth_mode=azureAdApp).
  - B(Extra endpoints) runs the same checks for each item of O(extra_endpoints).
  - B(Ports) checks that the host ports in O(ports) are free, or held by the gateway's own container
    O(container_name). The holder is named from C(docker ps) when Docker is present, else from C(/proc).
  - No secret is sent anywhere. The only request is an anonymous C(GET /) to the Configuration API for its C(Date)
    header. Credentials in a proxy URL go only to that proxy, as the gateway sends them.
  - The module reads only. It never changes the host, so its result is the same in check mode.
options:
  endpoint:
    description:
      - The v2 Configuration API endpoint, C(<apim-name>.configuration.azure-api.net), as a bare host or as
        C(https://<host>), with an optional port.
    type: str
    required: true
  auth_mode:
    description: How the gateway authenticates. With V(azureAdApp) the Entra authority host is checked too.
    type: str
    choices: [token, azureAdApp]
    default: token
  authority:
    description: Entra authority URL, checked when O(auth_mode=azureAdApp).
    type: str
    default: https://login.microsoftonline.com
  extra_endpoints:
    description:
      - More endpoints the gateway must reach (telemetry collectors, private registries), each as C(host),
        C(host:port), C(https://host[:port]) or C(http://host:port).
      - C(https) endpoints (the default, port 443) get the DNS, TCP and TLS checks; C(http) endpoints DNS and TCP.
    type: list
    elements: str
    default: []
  https_proxy:
    description:
      - The C(HTTPS_PROXY) value the gateway gets, C([http://][user:password@]host[:port]); the port defaults to
        80 as in .NET. Used for every C(https) endpoint unless O(no_proxy) matches it.
      - A password in the value is masked in every output of the module; the proxy's host and port are shown.
    type: str
    default: ""
  http_proxy:
    description:
      - The C(HTTP_PROXY) value the gateway gets. Like the gateway, used only for C(http) endpoints; an C(https)
        endpoint with only O(http_proxy) set is reached directly.
    type: str
    default: ""
  no_proxy:
    description:
      - The C(NO_PROXY) entries. Matched as the gateway matches them, case-insensitively against the host name
        only - an entry with a leading dot (C(.contoso.com)) matches that domain and every name under it, any other
        entry matches only the same host name. C(*), C(*.domain), CIDR ranges and ports are not understood by the
        gateway and match nothing.
      - Items may themselves be comma-separated lists.
    type: list
    elements: str
    default: []
  extra_hosts:
    description:
      - Host name to IP address entries the gateway container gets with C(--add-host). A name listed here is not
        looked up in DNS, as inside the container.
    type: dict
    default: {}
  ca_bundle:
    description:
      - Path on the host of a PEM file or a directory of hashed PEM files with more trusted CA certificates, e.g. a
        private PKI or a TLS-inspecting proxy's CA. Added to the system trust store for the TLS checks.
    type: path
  ca_bundle_variable:
    description:
      - The name of the setting that holds O(ca_bundle), used in messages, so that a role can name its own variable.
    type: str
    default: ca_bundle
  timeout:
    description: Seconds each check may take (DNS lookup, TCP connect, proxy tunnel, TLS handshake, Date request).
    type: float
    default: 5
  clock_skew_threshold:
    description: Largest accepted difference, in seconds, between the host clock and the Configuration API's clock.
    type: int
    default: 300
  ports:
    description:
      - Host ports the gateway will publish, as a number (TCP) or C(<number>/tcp) or C(<number>/udp).
    type: list
    elements: str
    default: []
  bind_address:
    description: Host IP address the ports are published on; V(0.0.0.0) means every address.
    type: str
    default: 0.0.0.0
  container_name:
    description: The gateway's container; a port held by it counts as free.
    type: str
    default: apim-gateway
  checks:
    description: The checks to run; the others are reported as skipped.
    type: list
    elements: str
    choices: [dns, tcp, tls, clock, entra, extra, ports]
    default: [dns, tcp, tls, clock, entra, extra, ports]
attributes:
  check_mode:
    description: Can run in check_mode and return changed status prediction without modifying target.
    support: full
    details: The module only reads; it runs the same checks in check mode.
  diff_mode:
    description: Will return details on what has changed (or possibly needs changing in check_mode), when in diff mode.
    support: none
    details: Nothing changes, so there is nothing to show.
notes:
  - The host's own resolver is used; DNS servers given to the container with C(--dns) are not queried.
  - Needs root (C(become)) to name the process that holds a port; without it the holder may be reported as unknown.
"""

EXAMPLES = r"""
- name: Check the host before the gateway is deployed
  apim.selfhosted.gateway_preflight:
    endpoint: contoso.configuration.azure-api.net
    https_proxy: http://proxy.contoso.local:3128
    no_proxy: [.contoso.local]
    ca_bundle: /etc/pki/contoso-root.pem
    ca_bundle_variable: gateway_preflight_ca_bundle
    ports: ["80", "443"]
    container_name: apim-gateway

- name: Only the clock, before a token rotation
  apim.selfhosted.gateway_preflight:
    endpoint: https://contoso.configuration.azure-api.net
    checks: [clock]

- name: Entra app authentication and a telemetry collector
  apim.selfhosted.gateway_preflight:
    endpoint: contoso.configuration.azure-api.net
    auth_mode: azureAdApp
    extra_endpoints:
      - https://otel.contoso.local:4318
"""

RETURN = r"""
checks:
  description: One result per check, in the order they ran.
  returned: always
  type: list
  elements: dict
  contains:
    check:
      description: V(dns), V(tcp), V(tls), V(clock) or V(port).
      type: str
      sample: tls
    target:
      description: The endpoint (C(host:port)) or the port (C(443/tcp)) checked.
      type: str
      sample: contoso.configuration.azure-api.net:443
    purpose:
      description: Why the target is checked - V(configuration), V(entra), V(extra), V(proxy) or V(port).
      type: str
      sample: configuration
    status:
      description: V(ok), V(failed) or V(skipped).
      type: str
      sample: ok
    message:
      description: What was found.
      type: str
      sample: "certificate issued by 'Microsoft Azure RSA TLS Issuing CA 04', expires in 120 days"
    fix:
      description: What to change when the check failed, else empty.
      type: str
      sample: ""
    seconds:
      description: How long the check took.
      type: float
      sample: 0.012
    details:
      description:
        - Facts the check measured, e.g. C(addresses) and C(source) (dns), C(via) (tcp), C(issuer), C(subject),
          C(not_after) and C(days_to_expiry) (tls), C(skew_seconds), C(server_date), C(status_code) and
          C(ntp_synchronized) (clock), C(holder) (port).
      type: dict
      sample: {"via": "direct", "address": "20.50.2.3"}
failed_checks:
  description: C(<check> <target>) of every failed check.
  returned: always
  type: list
  elements: str
  sample: ["dns contoso.configuration.azure-api.net:443"]
report:
  description: The checks as lines of a table, for printing.
  returned: always
  type: list
  elements: str
seconds:
  description: Wall time of all checks.
  returned: always
  type: float
  sample: 0.35
"""

# Ansible requires the documentation blocks above the imports.
import datetime  # noqa: E402
import email.utils  # noqa: E402
import os  # noqa: E402
import re  # noqa: E402
import shutil  # noqa: E402
import socket  # noqa: E402
import ssl  # noqa: E402
import threading  # noqa: E402
import time  # noqa: E402
from base64 import b64encode  # noqa: E402
from concurrent.futures import ThreadPoolExecutor  # noqa: E402
from urllib.parse import unquote, urlsplit  # noqa: E402

from ansible.module_utils.basic import AnsibleModule  # noqa: E402

ALL_CHECKS = ["dns", "tcp", "tls", "clock", "entra", "extra", "ports"]
USER_AGENT = "apim-selfhosted-preflight"


class InputError(Exception):
    """A parameter that cannot be used, with the message naming it."""


# ---------------------------------------------------------------- input parsing


def parse_endpoint(value, option, default_scheme="https"):
    """Return (scheme, host, port) for C(host), C(host:port) or C(scheme://host[:port][/])."""
    text = (value or "").strip()
    if not text:
        raise InputError("%s is empty" % option)
    if "://" not in text:
        text = "%s://%s" % (default_scheme, text)
    try:
        parts = urlsplit(text)
        port = parts.port
    except ValueError as exc:
        raise InputError("%s: %r is not a host name or URL (%s)" % (option, value, exc)) from None
    scheme = parts.scheme.lower()
    if scheme not in ("https", "http"):
        raise InputError("%s: %r must use https:// (or http://), not %s://" % (option, value, scheme))
    if parts.path not in ("", "/") or parts.query or parts.fragment or parts.username:
        raise InputError("%s: %r must be a host with an optional port, without a path" % (option, value))
    host = parts.hostname
    if not host:
        raise InputError("%s: %r has no host name" % (option, value))
    return scheme, host, port or (443 if scheme == "https" else 80)


def parse_proxy(value, option):
    """Parse a proxy value as .NET does: optional http://, optional user:password@, port 80 when missing."""
    text = (value or "").strip()
    if not text:
        return None
    if "://" in text:
        scheme, rest = text.split("://", 1)
        if scheme.lower() != "http":
            raise InputError(
                "%s: only http:// proxies are checked (the gateway opens a CONNECT tunnel to them), not %s://"
                % (option, scheme)
            )
        text = rest
    text = text.rstrip("/")
    user = password = None
    if "@" in text:
        userinfo, text = text.rsplit("@", 1)
        user, _sep, password = unquote(userinfo).partition(":")
    host, port = text, 80
    match = re.match(r"^(\[[^\]]+\]|[^:]+)(?::(\d+))?$", text)
    if not match:
        raise InputError("%s: the proxy must be [http://][user:password@]host[:port]" % option)
    host = match.group(1).strip("[]")
    if match.group(2):
        port = int(match.group(2))
        if not 0 < port < 65536:
            raise InputError("%s: port %s is out of range" % (option, port))
    return {"host": host, "port": port, "user": user, "password": password, "option": option}


def parse_no_proxy(items):
    entries = []
    for item in items or []:
        for part in str(item).split(","):
            part = part.strip()
            if part:
                entries.append(part)
    return entries


def bypasses_proxy(host, entries):
    """NO_PROXY as .NET HttpEnvironmentProxy applies it: '.domain' is a suffix, anything else an exact name."""
    host = host.lower()
    for entry in entries:
        entry = entry.lower()
        if entry.startswith("."):
            if host == entry[1:] or host.endswith(entry):
                return True
        elif entry == host:
            return True
    return False


def parse_port(value):
    text = str(value).strip().lower()
    match = re.match(r"^(\d+)(?:/(tcp|udp))?$", text)
    if not match or not 0 < int(match.group(1)) < 65536:
        raise InputError("ports: %r must be a port number, optionally followed by /tcp or /udp" % value)
    return int(match.group(1)), match.group(2) or "tcp"


# ---------------------------------------------------------------- small helpers


class Deadline(object):
    def __init__(self, seconds):
        self.end = time.monotonic() + seconds

    def left(self):
        return max(0.05, self.end - time.monotonic())


def with_timeout(func, seconds):
    """Run func in a thread; raise socket.timeout when it does not return in time (getaddrinfo has no timeout)."""
    box = {}

    def run():
        try:
            box["value"] = func()
        except Exception as exc:  # handed to the caller's thread
            box["error"] = exc

    worker = threading.Thread(target=run)
    worker.daemon = True
    worker.start()
    worker.join(seconds)
    if worker.is_alive():
        raise socket.timeout("no answer within %s s" % fmt_seconds(seconds))
    if "error" in box:
        raise box["error"]
    return box["value"]


def direct_fix(port, host, addresses):
    return (
        "allow outbound TCP %s from this host to %s (%s), or route it through the site's egress proxy (HTTPS_PROXY)"
        % (
            port,
            host,
            ", ".join(addresses),
        )
    )


def fmt_seconds(value):
    return ("%.1f" % value).rstrip("0").rstrip(".")


def result(check, target, purpose, status, message, fix="", seconds=0.0, **details):
    return {
        "check": check,
        "target": target,
        "purpose": purpose,
        "status": status,
        "message": message,
        "fix": fix,
        "seconds": round(seconds, 3),
        "details": details,
    }


# ---------------------------------------------------------------- DER certificate fields

OID_NAMES = {"2.5.4.3": "CN", "2.5.4.10": "O", "2.5.4.11": "OU", "2.5.4.6": "C"}


def der_read(data, pos):
    """Return (tag, content_start, content_end) of the DER element at pos."""
    tag = data[pos]
    length = data[pos + 1]
    pos += 2
    if length & 0x80:
        count = length & 0x7F
        length = int.from_bytes(data[pos : pos + count], "big")
        pos += count
    return tag, pos, pos + length


def der_children(data, start, end):
    pos = start
    while pos < end:
        tag, cstart, cend = der_read(data, pos)
        yield tag, cstart, cend
        pos = cend


def der_oid(raw):
    first = raw[0]
    parts = [first // 40, first % 40]
    value = 0
    for byte in raw[1:]:
        value = (value << 7) | (byte & 0x7F)
        if not byte & 0x80:
            parts.append(value)
            value = 0
    return ".".join(str(p) for p in parts)


def der_name(data, start, end):
    fields = []
    for _tag, set_start, set_end in der_children(data, start, end):
        for _tag2, seq_start, seq_end in der_children(data, set_start, set_end):
            items = list(der_children(data, seq_start, seq_end))
            if len(items) != 2:
                continue
            oid = der_oid(data[items[0][1] : items[0][2]])
            if oid in OID_NAMES:
                fields.append((OID_NAMES[oid], data[items[1][1] : items[1][2]].decode("utf-8", "replace")))
    return fields


def der_time(tag, raw):
    text = raw.decode("ascii")
    fmt = "%y%m%d%H%M%SZ" if tag == 0x17 else "%Y%m%d%H%M%SZ"
    return datetime.datetime.strptime(text, fmt).replace(tzinfo=datetime.timezone.utc)


def cert_facts(der):
    """Issuer, subject and notAfter of a DER certificate, without third-party libraries."""
    _tag, start, _end = der_read(der, 0)
    _tag, tbs_start, tbs_end = der_read(der, start)
    items = list(der_children(der, tbs_start, tbs_end))
    if items and items[0][0] == 0xA0:
        items = items[1:]
    issuer = der_name(der, items[2][1], items[2][2])
    validity = list(der_children(der, items[3][1], items[3][2]))
    subject = der_name(der, items[4][1], items[4][2])
    not_after = der_time(validity[1][0], der[validity[1][1] : validity[1][2]])
    return {"issuer": name_text(issuer), "subject": name_text(subject), "not_after": not_after}


def name_text(fields):
    values = dict(fields)
    for key in ("CN", "O", "OU"):
        if key in values:
            return values[key]
    return ", ".join("%s=%s" % kv for kv in fields) or "(empty name)"


# ---------------------------------------------------------------- network checks


class Preflight(object):
    def __init__(self, params, runner):
        self.p = params
        self.runner = runner
        self.timeout = params["timeout"]
        self.https_proxy = parse_proxy(params["https_proxy"], "https_proxy")
        self.http_proxy = parse_proxy(params["http_proxy"], "http_proxy")
        self.no_proxy = parse_no_proxy(params["no_proxy"])
        self.extra_hosts = dict((str(k).lower(), str(v)) for k, v in (params["extra_hosts"] or {}).items())
        self.checks = set(params["checks"])
        self.ca_variable = params["ca_bundle_variable"]
        self.context = self.trust_context()

    def trust_context(self):
        context = ssl.create_default_context()
        bundle = self.p["ca_bundle"]
        if bundle:
            if not os.path.exists(bundle):
                raise InputError("%s: %s does not exist on this host" % (self.ca_variable, bundle))
            try:
                if os.path.isdir(bundle):
                    context.load_verify_locations(capath=bundle)
                else:
                    context.load_verify_locations(cafile=bundle)
            except (ssl.SSLError, OSError) as exc:
                raise InputError(
                    "%s: %s is not a readable PEM CA bundle (%s)" % (self.ca_variable, bundle, exc)
                ) from None
        return context

    def proxy_for(self, scheme, host):
        proxy = self.https_proxy if scheme == "https" else self.http_proxy
        if proxy is None or bypasses_proxy(host, self.no_proxy):
            return None
        return proxy

    def resolve(self, host, port):
        """Addresses for host as the container sees them: --add-host entries first, then the resolver."""
        if host.lower() in self.extra_hosts:
            return [self.extra_hosts[host.lower()]], "extra_hosts"
        try:
            socket.inet_pton(socket.AF_INET6 if ":" in host else socket.AF_INET, host)
            return [host], "literal"
        except (OSError, ValueError):
            pass
        infos = with_timeout(lambda: socket.getaddrinfo(host, port, 0, socket.SOCK_STREAM), self.timeout)
        addresses = []
        for info in infos:
            if info[4][0] not in addresses:
                addresses.append(info[4][0])
        return addresses, "resolver"

    # One endpoint: DNS, TCP (direct or tunnel), TLS, and for the Configuration API the clock.
    def endpoint(self, scheme, host, port, purpose, clock=False):
        target = "%s:%s" % (host, port)
        proxy = self.proxy_for(scheme, host)
        out = []
        want_tls = scheme == "https" and "tls" in self.checks
        want_clock = clock and "clock" in self.checks
        need_connect = "tcp" in self.checks or want_tls or want_clock

        # DNS: with a proxy the proxy resolves the endpoint, the host resolves only the proxy.
        addresses = None
        if "dns" in self.checks or need_connect:
            if proxy:
                dns = self.dns_check(proxy["host"], proxy["port"], "proxy", proxy_of=target)
                out.append(dns)
                if dns["status"] == "ok":
                    addresses = dns["details"]["addresses"]
                if "dns" in self.checks:
                    out.append(self.dns_info(host, port, purpose, proxy))
            else:
                dns = self.dns_check(host, port, purpose)
                out.append(dns)
                if dns["status"] == "ok":
                    addresses = dns["details"]["addresses"]
            if "dns" not in self.checks:
                out = [r for r in out if r["status"] == "failed"]

        sock = None
        if need_connect:
            if addresses is None:
                out.append(result("tcp", target, purpose, "skipped", "not tried: the name did not resolve"))
            else:
                sock, tcp = self.tcp_check(host, port, purpose, proxy, addresses)
                if "tcp" in self.checks or tcp["status"] == "failed":
                    out.append(tcp)
        try:
            if want_tls or want_clock:
                if sock is None:
                    if want_tls:
                        out.append(result("tls", target, purpose, "skipped", "not tried: no TCP connection"))
                    if want_clock:
                        out.append(result("clock", target, purpose, "skipped", "not tried: no TCP connection"))
                    return out
                tls_result, tls_sock = self.tls_check(sock, host, port, purpose, proxy, addresses)
                sock = tls_sock or sock
                if want_tls:
                    out.append(tls_result)
                if want_clock:
                    if tls_sock is None:
                        out.append(result("clock", target, purpose, "skipped", "not tried: no TLS connection"))
                    else:
                        out.append(self.clock_check(tls_sock, host, port, purpose, tls_result["status"] == "ok"))
            return out
        finally:
            if sock is not None:
                sock.close()

    def dns_check(self, host, port, purpose, proxy_of=None):
        target = "%s:%s" % (host, port)
        t0 = time.monotonic()
        try:
            addresses, source = self.resolve(host, port)
        except socket.timeout as exc:
            return result(
                "dns",
                target,
                purpose,
                "failed",
                "cannot resolve %s: the resolver gave %s" % (host, exc),
                self.dns_fix(host, proxy_of),
                time.monotonic() - t0,
            )
        except (socket.gaierror, OSError, UnicodeError) as exc:
            reason = exc.args[1] if isinstance(exc, socket.gaierror) and len(exc.args) > 1 else str(exc)
            return result(
                "dns",
                target,
                purpose,
                "failed",
                "cannot resolve %s: %s" % (host, reason),
                self.dns_fix(host, proxy_of),
                time.monotonic() - t0,
            )
        message = "%s resolves to %s" % (host, ", ".join(addresses))
        if source == "literal":
            message = "%s is an IP address, no lookup needed" % host
        elif source == "extra_hosts":
            message += " (extra_hosts)"
        if proxy_of:
            message += " (proxy for %s)" % proxy_of
        return result(
            "dns", target, purpose, "ok", message, "", time.monotonic() - t0, addresses=addresses, source=source
        )

    @staticmethod
    def dns_fix(host, proxy_of):
        if proxy_of:
            return "make the proxy name %s resolvable on this host, or correct the proxy setting" % host
        return (
            "make %s resolvable on this host: add it to the DNS servers in /etc/resolv.conf, add an /etc/hosts "
            "entry, or give the gateway an extra_hosts entry for it" % host
        )

    def dns_info(self, host, port, purpose, proxy):
        """The endpoint's own lookup when a proxy resolves it: reported, never failed."""
        target = "%s:%s" % (host, port)
        t0 = time.monotonic()
        via = "%s:%s" % (proxy["host"], proxy["port"])
        try:
            addresses, source = self.resolve(host, port)
            message = "%s resolves to %s; not needed, the proxy %s resolves it" % (host, ", ".join(addresses), via)
            return result(
                "dns", target, purpose, "ok", message, "", time.monotonic() - t0, addresses=addresses, source=source
            )
        except (socket.timeout, socket.gaierror, OSError, UnicodeError):
            message = "%s does not resolve on this host; not needed, the proxy %s resolves it" % (host, via)
            return result(
                "dns", target, purpose, "ok", message, "", time.monotonic() - t0, addresses=[], source="proxy"
            )

    def connect(self, addresses, port, deadline):
        """Connect to the first address that answers, within the deadline."""
        last = None
        for address in addresses:
            try:
                return socket.create_connection((address, port), timeout=deadline.left()), address
            except socket.timeout as exc:
                last = exc
                break
            except OSError as exc:
                last = exc
        raise last or OSError("no address to connect to")

    def tcp_check(self, host, port, purpose, proxy, addresses):
        target = "%s:%s" % (host, port)
        deadline = Deadline(self.timeout)
        t0 = time.monotonic()
        if proxy is None:
            try:
                sock, address = self.connect(addresses, port, deadline)
            except socket.timeout:
                return None, result(
                    "tcp",
                    target,
                    purpose,
                    "failed",
                    "no answer from %s port %s within %s s: the connection is dropped (firewall or egress allow-list)"
                    % (host, port, fmt_seconds(self.timeout)),
                    direct_fix(port, host, addresses),
                    time.monotonic() - t0,
                    via="direct",
                )
            except OSError as exc:
                return None, result(
                    "tcp",
                    target,
                    purpose,
                    "failed",
                    "cannot connect to %s port %s: %s" % (host, port, exc.strerror or exc),
                    direct_fix(port, host, addresses),
                    time.monotonic() - t0,
                    via="direct",
                )
            sock.settimeout(None)
            return sock, result(
                "tcp",
                target,
                purpose,
                "ok",
                "connected to %s port %s directly" % (address, port),
                "",
                time.monotonic() - t0,
                via="direct",
                address=address,
            )
        return self.tunnel(host, port, purpose, proxy, addresses, deadline, t0)

    def tunnel(self, host, port, purpose, proxy, addresses, deadline, t0):
        target = "%s:%s" % (host, port)
        via = "%s:%s" % (proxy["host"], proxy["port"])
        option = proxy["option"]
        try:
            sock, address = self.connect(addresses, proxy["port"], deadline)
        except socket.timeout:
            return None, result(
                "tcp",
                target,
                purpose,
                "failed",
                "no answer from the proxy %s within %s s" % (via, fmt_seconds(self.timeout)),
                "allow outbound TCP %s from this host to the proxy %s, or correct %s" % (proxy["port"], via, option),
                time.monotonic() - t0,
                via=via,
            )
        except OSError as exc:
            return None, result(
                "tcp",
                target,
                purpose,
                "failed",
                "cannot connect to the proxy %s: %s" % (via, exc.strerror or exc),
                "start the proxy or correct %s" % option,
                time.monotonic() - t0,
                via=via,
            )
        request = "CONNECT %s:%s HTTP/1.1\r\nHost: %s:%s\r\nUser-Agent: %s\r\n" % (host, port, host, port, USER_AGENT)
        if proxy["user"] is not None:
            token = b64encode(("%s:%s" % (proxy["user"], proxy["password"] or "")).encode("utf-8")).decode("ascii")
            request += "Proxy-Authorization: Basic %s\r\n" % token
        request += "\r\n"
        try:
            sock.settimeout(deadline.left())
            sock.sendall(request.encode("ascii"))
            status, reason, _headers = read_head(sock, deadline)
        except socket.timeout:
            sock.close()
            return None, result(
                "tcp",
                target,
                purpose,
                "failed",
                "the proxy %s did not open a tunnel to %s within %s s" % (via, target, fmt_seconds(self.timeout)),
                "allow %s on the proxy, or check that the proxy can reach it" % target,
                time.monotonic() - t0,
                via=via,
            )
        except (OSError, ValueError) as exc:
            sock.close()
            return None, result(
                "tcp",
                target,
                purpose,
                "failed",
                "the proxy %s broke the CONNECT request for %s: %s" % (via, target, exc),
                "check that %s points to an HTTP proxy that supports CONNECT" % option,
                time.monotonic() - t0,
                via=via,
            )
        if status != 200:
            sock.close()
            if status == 407:
                fix = "give the proxy credentials in %s ([http://]user:password@host:port)" % option
            elif status in (403, 405):
                fix = "allow CONNECT to %s on the proxy %s (its allow-list)" % (target, via)
            else:
                fix = "check that the proxy %s can resolve and reach %s" % (via, target)
            return None, result(
                "tcp",
                target,
                purpose,
                "failed",
                "the proxy %s refused the tunnel to %s: %s %s" % (via, target, status, reason),
                fix,
                time.monotonic() - t0,
                via=via,
                proxy_status=status,
            )
        sock.settimeout(None)
        return sock, result(
            "tcp",
            target,
            purpose,
            "ok",
            "tunnel to %s through the proxy %s" % (target, via),
            "",
            time.monotonic() - t0,
            via=via,
            address=address,
        )

    def tls_check(self, sock, host, port, purpose, proxy, addresses):
        """Handshake on sock; on a verification failure name the issuer from an unverified handshake."""
        target = "%s:%s" % (host, port)
        t0 = time.monotonic()
        sock.settimeout(self.timeout)
        try:
            tls = self.context.wrap_socket(sock, server_hostname=host)
        except ssl.SSLCertVerificationError as exc:
            facts, raw = self.unverified(host, port, proxy, addresses)
            message, fix = self.explain_verify(exc, host, facts)
            return result("tls", target, purpose, "failed", message, fix, time.monotonic() - t0, **facts), raw
        except socket.timeout:
            return result(
                "tls",
                target,
                purpose,
                "failed",
                "no TLS handshake with %s within %s s" % (target, fmt_seconds(self.timeout)),
                "check that %s serves HTTPS and that nothing on the path holds the connection" % target,
                time.monotonic() - t0,
            ), None
        except (ssl.SSLError, OSError) as exc:
            return result(
                "tls",
                target,
                purpose,
                "failed",
                "TLS handshake with %s failed: %s" % (target, getattr(exc, "reason", None) or exc),
                "check that %s serves HTTPS and that no device on the path breaks TLS" % target,
                time.monotonic() - t0,
            ), None
        facts = self.facts_of(tls)
        days = facts.get("days_to_expiry")
        message = "certificate for %s issued by %r, expires in %s days" % (host, facts.get("issuer"), days)
        return result("tls", target, purpose, "ok", message, "", time.monotonic() - t0, verified=True, **facts), tls

    @staticmethod
    def facts_of(tls):
        try:
            facts = cert_facts(tls.getpeercert(binary_form=True))
        except (ValueError, IndexError, TypeError):
            return {"issuer": None, "subject": None}
        not_after = facts.pop("not_after")
        now = datetime.datetime.now(datetime.timezone.utc)
        facts["not_after"] = not_after.strftime("%Y-%m-%dT%H:%M:%SZ")
        facts["days_to_expiry"] = int((not_after - now).total_seconds() // 86400)
        return facts

    def unverified(self, host, port, proxy, addresses):
        """Open a second, unverified connection to read the certificate (and Date); nothing secret is sent on it."""
        try:
            deadline = Deadline(self.timeout)
            if proxy is None:
                sock, _address = self.connect(addresses, port, deadline)
            else:
                sock, _tcp = self.tunnel(host, port, "tls", proxy, addresses, deadline, time.monotonic())
                if sock is None:
                    return {"verified": False}, None
            context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
            context.check_hostname = False
            context.verify_mode = ssl.CERT_NONE
            sock.settimeout(deadline.left())
            tls = context.wrap_socket(sock, server_hostname=host)
            facts = self.facts_of(tls)
            facts["verified"] = False
            return facts, tls
        except (OSError, ssl.SSLError):
            return {"verified": False}, None

    def explain_verify(self, exc, host, facts):
        issuer = facts.get("issuer")
        code = getattr(exc, "verify_code", None)
        detail = getattr(exc, "verify_message", None) or str(exc)
        if code in (18, 19, 20, 21, 2):
            message = "certificate for %s is issued by %r, a CA this host does not trust (%s)" % (host, issuer, detail)
            fix = (
                "set %s to a PEM bundle that contains the CA %r (e.g. the root of a TLS-inspecting proxy or private "
                "PKI), or add it to the system trust store" % (self.ca_variable, issuer)
            )
        elif code == 62:
            message = "certificate does not match the name %s (subject %r): %s" % (host, facts.get("subject"), detail)
            fix = "use the host name the certificate was issued for, or check what on the path answers for %s" % host
        elif code in (9, 10):
            message = "certificate for %s %s" % (host, detail)
            fix = "check the host clock (timedatectl) and, if it is right, renew the certificate of %s" % host
        else:
            message = "certificate for %s issued by %r is not trusted: %s" % (host, issuer, detail)
            fix = "check the certificate chain of %s or set %s to the CA bundle that validates it" % (
                host,
                self.ca_variable,
            )
        return message, fix

    def clock_check(self, tls, host, port, purpose, verified):
        target = "%s:%s" % (host, port)
        t0 = time.monotonic()
        request = "GET / HTTP/1.1\r\nHost: %s\r\nUser-Agent: %s\r\nAccept: */*\r\nConnection: close\r\n\r\n" % (
            host if port == 443 else target,
            USER_AGENT,
        )
        ntp = ntp_state(self.runner)
        try:
            deadline = Deadline(self.timeout)
            tls.settimeout(deadline.left())
            sent = time.time()
            tls.sendall(request.encode("ascii"))
            status, _reason, headers = read_head(tls, deadline)
            received = time.time()
        except (OSError, ValueError) as exc:
            return result(
                "clock",
                target,
                purpose,
                "failed",
                "no HTTP answer from %s to read its Date: %s" % (target, exc),
                "check that %s is the Configuration API host" % target,
                time.monotonic() - t0,
                ntp_synchronized=ntp,
            )
        date = headers.get("date")
        parsed = None
        if date:
            try:
                parsed = email.utils.parsedate_to_datetime(date)
            except (TypeError, ValueError, IndexError):
                parsed = None
        if parsed is None or parsed.tzinfo is None:
            return result(
                "clock",
                target,
                purpose,
                "failed",
                "the answer of %s (status %s) has no valid Date header: %r" % (target, status, date),
                "check that %s is the Configuration API host and not a device that answers for it" % target,
                time.monotonic() - t0,
                status_code=status,
                ntp_synchronized=ntp,
            )
        # Date has one-second resolution; compare with the middle of the round trip.
        local = (sent + received) / 2.0
        skew = round(local - parsed.timestamp(), 1)
        threshold = self.p["clock_skew_threshold"]
        where = "ahead of" if skew > 0 else "behind"
        details = dict(
            skew_seconds=skew,
            server_date=date,
            status_code=status,
            ntp_synchronized=ntp,
            verified=verified,
            threshold=threshold,
        )
        source = "" if verified else " (read over an unverified connection)"
        ntp_text = {True: "NTP synchronized", False: "NTP not synchronized", None: "NTP state unknown"}[ntp]
        if abs(skew) > threshold:
            fix = "set the host clock right and keep it synchronized (timedatectl set-ntp true, chrony or ntpsec)"
            if ntp is True:
                fix = "check the host's NTP servers: the clock is synchronized, but to a wrong time source"
            return result(
                "clock",
                target,
                purpose,
                "failed",
                "host clock is %s s %s the Configuration API's Date%s, more than %s s; %s"
                % (fmt_seconds(abs(skew)), where, source, threshold, ntp_text),
                fix,
                time.monotonic() - t0,
                **details,
            )
        return result(
            "clock",
            target,
            purpose,
            "ok",
            "host clock is %s s %s the Configuration API's Date%s; %s"
            % (fmt_seconds(abs(skew)), where, source, ntp_text),
            "",
            time.monotonic() - t0,
            **details,
        )


def read_head(sock, deadline, limit=65536):
    """Read an HTTP response head; return (status, reason, lower-cased headers)."""
    data = b""
    while b"\r\n\r\n" not in data:
        sock.settimeout(deadline.left())
        chunk = sock.recv(4096)
        if not chunk:
            break
        data += chunk
        if len(data) > limit:
            raise ValueError("response head larger than %s bytes" % limit)
    head = data.split(b"\r\n\r\n", 1)[0].decode("iso-8859-1")
    lines = head.split("\r\n")
    match = re.match(r"^HTTP/\d(?:\.\d)? (\d{3})(?: (.*))?$", lines[0])
    if not match:
        raise ValueError("not an HTTP answer: %r" % lines[0][:80])
    headers = {}
    for line in lines[1:]:
        name, _sep, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    return int(match.group(1)), match.group(2) or "", headers


def run_command(runner, args, timeout):
    """(rc, stdout) of a command through runner, or (None, "") when it fails to start or to end in time."""
    try:
        rc, out, _err = with_timeout(lambda: runner(args), timeout)
    except (OSError, socket.timeout):
        return None, ""
    return rc, out


def ntp_state(runner, timeout=2):
    """NTPSynchronized from timedatectl, or None where it is missing or does not answer."""
    path = shutil.which("timedatectl")
    if not path:
        return None
    rc, out = run_command(runner, [path, "show", "--property=NTPSynchronized", "--value"], timeout)
    if rc != 0:
        return None
    return {"yes": True, "no": False}.get(out.strip().lower())


# ---------------------------------------------------------------- local ports

TCP_LISTEN = "0A"


def proc_sockets(proto):
    """Yield (address, port, inode) of listening TCP or bound UDP sockets in this network namespace."""
    for family, path in ((4, "/proc/net/%s" % proto), (6, "/proc/net/%s6" % proto)):
        try:
            with open(path) as handle:
                lines = handle.read().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            fields = line.split()
            # TCP: only a listener holds the port; UDP: any socket bound to it, connected or not.
            if len(fields) < 10 or (proto == "tcp" and fields[3] != TCP_LISTEN):
                continue
            address_hex, port_hex = fields[1].split(":")
            yield hex_address(address_hex, family), int(port_hex, 16), fields[9]


def hex_address(value, family):
    raw = bytes.fromhex(value)
    if family == 4:
        return socket.inet_ntop(socket.AF_INET, raw[::-1])
    words = b"".join(raw[i : i + 4][::-1] for i in range(0, 16, 4))
    return socket.inet_ntop(socket.AF_INET6, words)


def overlaps(bound, wanted):
    """Whether a socket bound to `bound` blocks a bind to `wanted` on the same port."""
    wildcard = ("0.0.0.0", "::")  # noqa: S104 - compares addresses, binds nothing
    if bound in wildcard or wanted in wildcard:
        return True
    if bound.startswith("::ffff:"):
        bound = bound[7:]
    return bound == wanted


def socket_owner(inode):
    """(pid, command) of the process that holds socket inode, or (None, None) when not visible."""
    needle = "socket:[%s]" % inode
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        fd_dir = "/proc/%s/fd" % pid
        try:
            fds = os.listdir(fd_dir)
        except OSError:
            continue
        for fd in fds:
            try:
                if os.readlink("%s/%s" % (fd_dir, fd)) == needle:
                    return int(pid), process_command(pid)
            except OSError:
                continue
    return None, None


def process_command(pid):
    try:
        with open("/proc/%s/cmdline" % pid, "rb") as handle:
            parts = [p.decode("utf-8", "replace") for p in handle.read().split(b"\0") if p]
        if parts:
            return " ".join(parts)[:200]
        with open("/proc/%s/comm" % pid) as handle:
            return handle.read().strip()
    except OSError:
        return None


PUBLISHED = re.compile(r"^(?:(?P<ip>.*):)?(?P<host>\d+)(?:-(?P<host_end>\d+))?->\d+(?:-\d+)?/(?P<proto>\w+)$")


def docker_published(runner, timeout):
    """Map (port, proto) to [(container, host_ip)] from `docker ps`; None when Docker is absent or down."""
    docker = shutil.which("docker")
    if not docker:
        return None
    rc, out = run_command(runner, [docker, "ps", "--format", "{{.Names}}\t{{.Ports}}"], timeout)
    if rc != 0:
        return None
    return parse_docker_ports(out)


def parse_docker_ports(text):
    published = {}
    for line in text.splitlines():
        name, _sep, ports = line.partition("\t")
        for item in ports.split(","):
            match = PUBLISHED.match(item.strip())
            if not match:
                continue
            first = int(match.group("host"))
            last = int(match.group("host_end") or first)
            ip = (match.group("ip") or "0.0.0.0").strip("[]") or "::"  # noqa: S104 - parses docker ps
            for port in range(first, last + 1):
                entry = published.setdefault((port, match.group("proto")), [])
                if (name.strip(), ip) not in entry:
                    entry.append((name.strip(), ip))
    return published


def port_checks(ports, bind_address, container, timeout, runner):
    wanted = [parse_port(p) for p in ports]
    published = docker_published(runner, timeout) if wanted else None
    sockets = {"tcp": list(proc_sockets("tcp")), "udp": list(proc_sockets("udp"))}
    out = []
    for port, proto in wanted:
        t0 = time.monotonic()
        target = "%s/%s" % (port, proto)
        holders = []
        own = False
        for name, ip in (published or {}).get((port, proto), []):
            if overlaps(ip, bind_address):
                if name == container:
                    own = True
                else:
                    holders.append("container %s (docker ps)" % name)
        for address, bound_port, inode in sockets[proto]:
            if bound_port != port or not overlaps(address, bind_address):
                continue
            pid, command = socket_owner(inode)
            if command and command.split()[0].endswith("docker-proxy") and published is not None:
                continue  # Docker's port proxy: the container is named from docker ps above
            if pid is None:
                holders.append("a process this user cannot see (socket inode %s; run with become to name it)" % inode)
            else:
                holders.append("pid %s (%s)" % (pid, command))
        holders = sorted(set(holders))
        if holders:
            out.append(
                result(
                    "port",
                    target,
                    "port",
                    "failed",
                    "%s on %s is held by %s" % (target, bind_address, "; ".join(holders)),
                    "stop what holds %s, or publish the gateway on another port" % target,
                    time.monotonic() - t0,
                    holder=holders,
                )
            )
        elif own:
            out.append(
                result(
                    "port",
                    target,
                    "port",
                    "ok",
                    "%s is held by this gateway's container %s" % (target, container),
                    "",
                    time.monotonic() - t0,
                    holder=["container %s" % container],
                )
            )
        else:
            out.append(
                result("port", target, "port", "ok", "%s is free" % target, "", time.monotonic() - t0, holder=[])
            )
    return out


# ---------------------------------------------------------------- report


def table(checks):
    rows = [("CHECK", "STATUS", "TARGET", "SECONDS", "RESULT")]
    for item in checks:
        text = item["message"]
        if item["fix"]:
            text += " -> fix: " + item["fix"]
        rows.append((item["check"], item["status"], item["target"], "%.3f" % item["seconds"], text))
    widths = [max(len(row[i]) for row in rows) for i in range(4)]
    return ["  ".join(row[i].ljust(widths[i]) for i in range(4)) + "  " + row[4] for row in rows]


def failure_message(failed):
    lines = ["Preflight found %d problem(s) on this host:" % len(failed)]
    for item in failed:
        lines.append("- %s %s: %s. Fix: %s." % (item["check"], item["target"], item["message"], item["fix"]))
    return "\n".join(lines)


def run(params, runner):
    """Run the checks; runner(args) -> (rc, stdout, stderr) runs a local command."""
    started = time.monotonic()
    pre = Preflight(params, runner)
    scheme, host, port = parse_endpoint(params["endpoint"], "endpoint")
    if scheme != "https":
        raise InputError("endpoint: %r must be https:// (the Configuration API serves only HTTPS)" % params["endpoint"])
    jobs = [("https", host, port, "configuration", True)]
    if params["auth_mode"] == "azureAdApp" and "entra" in pre.checks:
        a_scheme, a_host, a_port = parse_endpoint(params["authority"], "authority")
        if a_scheme != "https":
            raise InputError("authority: %r must be https://" % params["authority"])
        jobs.append((a_scheme, a_host, a_port, "entra", False))
    if "extra" in pre.checks:
        for index, item in enumerate(params["extra_endpoints"]):
            e_scheme, e_host, e_port = parse_endpoint(item, "extra_endpoints[%d]" % index)
            jobs.append((e_scheme, e_host, e_port, "extra", False))
    for item in params["ports"]:
        parse_port(item)

    # Endpoints in parallel, so that several dropped ones cost one timeout, not one each.
    with ThreadPoolExecutor(max_workers=len(jobs) + 1) as pool:
        futures = [pool.submit(pre.endpoint, *job) for job in jobs]
        port_future = None
        if "ports" in pre.checks and params["ports"]:
            port_future = pool.submit(
                port_checks,
                params["ports"],
                params["bind_address"],
                params["container_name"],
                params["timeout"],
                runner,
            )
        checks = []
        for future in futures:
            checks.extend(future.result())
        if port_future is not None:
            checks.extend(port_future.result())
    return checks, time.monotonic() - started


def mask_proxy_credentials(module):
    """Keep a password in a proxy URL out of every output, while the proxy's host and port stay readable."""
    for option in ("https_proxy", "http_proxy"):
        value = module.params[option] or ""
        rest = value.split("://", 1)[-1]
        if "@" in rest:
            userinfo = rest.rsplit("@", 1)[0]
            password = unquote(userinfo).partition(":")[2]
            module.no_log_values.add(userinfo)
            if password:
                module.no_log_values.add(password)


def main():
    module = AnsibleModule(
        argument_spec=dict(
            endpoint=dict(type="str", required=True),
            auth_mode=dict(type="str", choices=["token", "azureAdApp"], default="token"),
            authority=dict(type="str", default="https://login.microsoftonline.com"),
            extra_endpoints=dict(type="list", elements="str", default=[]),
            https_proxy=dict(type="str", default=""),
            http_proxy=dict(type="str", default=""),
            no_proxy=dict(type="list", elements="str", default=[]),
            extra_hosts=dict(type="dict", default={}),
            ca_bundle=dict(type="path"),
            ca_bundle_variable=dict(type="str", default="ca_bundle"),
            timeout=dict(type="float", default=5),
            clock_skew_threshold=dict(type="int", default=300),
            ports=dict(type="list", elements="str", default=[]),
            bind_address=dict(type="str", default="0.0.0.0"),  # noqa: S104 - the role's default
            container_name=dict(type="str", default="apim-gateway"),
            checks=dict(type="list", elements="str", choices=ALL_CHECKS, default=list(ALL_CHECKS)),
        ),
        supports_check_mode=True,
    )
    params = module.params
    mask_proxy_credentials(module)
    if params["timeout"] <= 0:
        module.fail_json(msg="timeout must be more than 0 seconds, got %s" % params["timeout"])
    if params["clock_skew_threshold"] < 0:
        module.fail_json(msg="clock_skew_threshold must not be negative")
    try:
        checks, seconds = run(params, lambda args: module.run_command(args, check_rc=False))
    except InputError as exc:
        module.fail_json(msg=str(exc), checks=[], failed_checks=[], report=[], seconds=0.0)
    failed = [c for c in checks if c["status"] == "failed"]
    outcome = dict(
        changed=False,
        checks=checks,
        failed_checks=["%s %s" % (c["check"], c["target"]) for c in failed],
        report=table(checks),
        seconds=round(seconds, 3),
    )
    if failed:
        module.fail_json(msg=failure_message(failed), **outcome)
    module.exit_json(**outcome)


if __name__ == "__main__":
    main()
