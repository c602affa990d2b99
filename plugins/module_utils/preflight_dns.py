# -*- coding: utf-8 -*-
# Copyright (c) apim.selfhosted contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The DNS check: a name as the gateway container resolves it (its --add-host entries first, then the host's
resolver, which also reads /etc/hosts)."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import socket
import time

from ansible_collections.apim.selfhosted.plugins.module_utils.preflight_common import result, with_timeout

RESOLVE_ERRORS = (socket.timeout, socket.gaierror, OSError, UnicodeError)


class Resolver(object):
    def __init__(self, extra_hosts, timeout):
        self.extra_hosts = dict((str(k).lower(), str(v)) for k, v in (extra_hosts or {}).items())
        self.timeout = timeout

    def resolve(self, host, port):
        """(addresses, source) with source extra_hosts, literal or resolver; raises one of RESOLVE_ERRORS."""
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

    def check(self, host, port, purpose, proxy_of=None):
        """The dns result for host; proxy_of names the endpoint when host is the proxy that carries it."""
        target = "%s:%s" % (host, port)
        t0 = time.monotonic()
        try:
            addresses, source = self.resolve(host, port)
        except RESOLVE_ERRORS as exc:
            if isinstance(exc, socket.timeout):
                reason = "the resolver gave %s" % exc
            elif isinstance(exc, socket.gaierror) and len(exc.args) > 1:
                reason = exc.args[1]
            else:
                reason = str(exc)
            message = "cannot resolve %s: %s" % (host, reason)
            return result("dns", target, purpose, "failed", message, dns_fix(host, proxy_of), time.monotonic() - t0)
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

    def info(self, host, port, purpose, via):
        """The endpoint's own lookup when the proxy via resolves it: reported, never failed."""
        target = "%s:%s" % (host, port)
        t0 = time.monotonic()
        try:
            addresses, source = self.resolve(host, port)
        except RESOLVE_ERRORS:
            message = "%s does not resolve on this host; not needed, the proxy %s resolves it" % (host, via)
            return result(
                "dns", target, purpose, "ok", message, "", time.monotonic() - t0, addresses=[], source="proxy"
            )
        message = "%s resolves to %s; not needed, the proxy %s resolves it" % (host, ", ".join(addresses), via)
        return result(
            "dns", target, purpose, "ok", message, "", time.monotonic() - t0, addresses=addresses, source=source
        )


def dns_fix(host, proxy_of):
    if proxy_of:
        return "make the proxy name %s resolvable on this host, or correct the proxy setting" % host
    return (
        "make %s resolvable on this host: add it to the DNS servers in /etc/resolv.conf, add an /etc/hosts "
        "entry, or give the gateway an extra_hosts entry for it" % host
    )
