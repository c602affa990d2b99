# -*- coding: utf-8 -*-
# Copyright (c) apim.selfhosted contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The TCP check: a connection to an endpoint within the timeout, directly or as a CONNECT tunnel through the
egress proxy that the gateway would use for it."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import socket
import time

from ansible_collections.apim.selfhosted.plugins.module_utils.preflight_common import Deadline, fmt_seconds, result
from ansible_collections.apim.selfhosted.plugins.module_utils.preflight_proxy import open_tunnel, refusal_fix


def connect(addresses, port, deadline):
    """Connect to the first address that answers, within the deadline; return (socket, address)."""
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


def direct_fix(port, host, addresses):
    return (
        "allow outbound TCP %s from this host to %s (%s), or route it through the site's egress proxy (HTTPS_PROXY)"
        % (port, host, ", ".join(addresses))
    )


def tcp_check(host, port, purpose, proxy, addresses, timeout):
    """(socket or None, tcp result); addresses are the endpoint's, or the proxy's when proxy carries it."""
    if proxy is not None:
        return tunnel_check(host, port, purpose, proxy, addresses, Deadline(timeout), timeout)
    target = "%s:%s" % (host, port)
    t0 = time.monotonic()
    try:
        sock, address = connect(addresses, port, Deadline(timeout))
    except socket.timeout:
        message = "no answer from %s port %s within %s s: the connection is dropped (firewall or egress allow-list)" % (
            host,
            port,
            fmt_seconds(timeout),
        )
        failed = result("tcp", target, purpose, "failed", message, "", time.monotonic() - t0, via="direct")
    except OSError as exc:
        message = "cannot connect to %s port %s: %s" % (host, port, exc.strerror or exc)
        failed = result("tcp", target, purpose, "failed", message, "", time.monotonic() - t0, via="direct")
    else:
        sock.settimeout(None)
        message = "connected to %s port %s directly" % (address, port)
        return sock, result(
            "tcp", target, purpose, "ok", message, "", time.monotonic() - t0, via="direct", address=address
        )
    failed["fix"] = direct_fix(port, host, addresses)
    return None, failed


def tunnel_check(host, port, purpose, proxy, addresses, deadline, timeout):
    """(socket or None, tcp result) of a CONNECT tunnel to host:port through proxy, whose addresses are given."""
    target = "%s:%s" % (host, port)
    via = "%s:%s" % (proxy["host"], proxy["port"])
    option = proxy["option"]
    t0 = time.monotonic()

    def failed(message, fix, **details):
        return None, result("tcp", target, purpose, "failed", message, fix, time.monotonic() - t0, via=via, **details)

    try:
        sock, address = connect(addresses, proxy["port"], deadline)
    except socket.timeout:
        return failed(
            "no answer from the proxy %s within %s s" % (via, fmt_seconds(timeout)),
            "allow outbound TCP %s from this host to the proxy %s, or correct %s" % (proxy["port"], via, option),
        )
    except OSError as exc:
        return failed(
            "cannot connect to the proxy %s: %s" % (via, exc.strerror or exc), "start the proxy or correct %s" % option
        )
    try:
        status, reason = open_tunnel(sock, host, port, proxy, deadline)
    except socket.timeout:
        sock.close()
        return failed(
            "the proxy %s did not open a tunnel to %s within %s s" % (via, target, fmt_seconds(timeout)),
            "allow %s on the proxy, or check that the proxy can reach it" % target,
        )
    except (OSError, ValueError) as exc:
        sock.close()
        return failed(
            "the proxy %s broke the CONNECT request for %s: %s" % (via, target, exc),
            "check that %s points to an HTTP proxy that supports CONNECT" % option,
        )
    if status != 200:
        sock.close()
        return failed(
            "the proxy %s refused the tunnel to %s: %s %s" % (via, target, status, reason),
            refusal_fix(status, target, via, option),
            proxy_status=status,
        )
    sock.settimeout(None)
    message = "tunnel to %s through the proxy %s" % (target, via)
    return sock, result("tcp", target, purpose, "ok", message, "", time.monotonic() - t0, via=via, address=address)
