# -*- coding: utf-8 -*-
# Copyright (c) apim.selfhosted contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The egress proxy as the gateway (a .NET HttpClient) uses it: which proxy an endpoint takes from the HTTPS_PROXY,
HTTP_PROXY and NO_PROXY values, and a CONNECT tunnel client."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import re
from base64 import b64encode
from urllib.parse import unquote

from ansible_collections.apim.selfhosted.plugins.module_utils.preflight_common import (
    USER_AGENT,
    InputError,
    read_head,
)


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
    port = 80
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
    """NO_PROXY entries from a list whose items may themselves be comma-separated."""
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


class ProxySettings(object):
    """The gateway's proxy variables; for_endpoint() says which proxy, if any, carries an endpoint."""

    def __init__(self, https_proxy, http_proxy, no_proxy):
        self.https = parse_proxy(https_proxy, "https_proxy")
        self.http = parse_proxy(http_proxy, "http_proxy")
        self.no_proxy = parse_no_proxy(no_proxy)

    def for_endpoint(self, scheme, host):
        proxy = self.https if scheme == "https" else self.http
        if proxy is None or bypasses_proxy(host, self.no_proxy):
            return None
        return proxy


def connect_request(host, port, proxy):
    """The CONNECT request for host:port, with Basic credentials when the proxy value has them."""
    request = "CONNECT %s:%s HTTP/1.1\r\nHost: %s:%s\r\nUser-Agent: %s\r\n" % (host, port, host, port, USER_AGENT)
    if proxy["user"] is not None:
        token = b64encode(("%s:%s" % (proxy["user"], proxy["password"] or "")).encode("utf-8")).decode("ascii")
        request += "Proxy-Authorization: Basic %s\r\n" % token
    return (request + "\r\n").encode("ascii")


def open_tunnel(sock, host, port, proxy, deadline):
    """Ask the proxy on sock for a tunnel to host:port; return (status, reason). 200 means the tunnel is open.

    Raises socket.timeout, OSError or ValueError when the proxy does not answer as an HTTP proxy.
    """
    sock.settimeout(deadline.left())
    sock.sendall(connect_request(host, port, proxy))
    status, reason, _headers = read_head(sock, deadline)
    return status, reason


def refusal_fix(status, target, via, option):
    """What to change when the proxy answers a CONNECT with status."""
    if status == 407:
        return "give the proxy credentials in %s ([http://]user:password@host:port)" % option
    if status in (403, 405):
        return "allow CONNECT to %s on the proxy %s (its allow-list)" % (target, via)
    return "check that the proxy %s can resolve and reach %s" % (via, target)
