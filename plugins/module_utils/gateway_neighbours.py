# -*- coding: utf-8 -*-
# Copyright (c) apim.selfhosted contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Where a gateway's UDP neighborhood ports are published: the host's address on the network of its neighbours.

The plan marks those ports with ``NEIGHBOUR_ADDRESS``; on the host, ``neighbour_ports`` resolves
``neighborhood.host`` as the gateway container resolves it (its ``--add-host`` entries, then its DNS servers, then
the host's resolver) and puts in the source address that the host uses to reach each of those addresses, so the
ports are never published on 0.0.0.0 unless the plan names that address. Nothing is sent: choosing the source
address of a UDP socket is a routing-table lookup.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import ipaddress
import os
import socket
import struct

from ansible_collections.apim.selfhosted.plugins.module_utils.gateway_plan import NEIGHBOUR_ADDRESS, PlanError

_TYPES = ((socket.AF_INET, 1), (socket.AF_INET6, 28))  # A and AAAA


class ResolveError(Exception):
    """The name has no address through this path; the message says why."""


def _question(name, qtype, ident):
    labels = b"".join(bytes([len(p)]) + p for p in (x.encode("idna") for x in name.rstrip(".").split(".")))
    return struct.pack(">HHHHHH", ident, 0x0100, 1, 0, 0, 0) + labels + b"\0" + struct.pack(">HH", qtype, 1)


def _skip_name(data, pos):
    while True:
        length = data[pos]
        if length & 0xC0 == 0xC0:
            return pos + 2
        if length == 0:
            return pos + 1
        pos += 1 + length


def _answers(data, ident, qtype):
    """Addresses of type ``qtype`` in a DNS answer (RFC 1035 wire format)."""
    rid, flags, qd, an = struct.unpack(">HHHH", data[:8])
    if rid != ident or not flags & 0x8000:
        raise ResolveError("an answer that is not ours")
    if flags & 0x000F not in (0, 3):
        raise ResolveError("the server answered with error code %d" % (flags & 0x000F))
    pos = 12
    for _question_no in range(qd):
        pos = _skip_name(data, pos) + 4
    found = []
    for _answer_no in range(an):
        pos = _skip_name(data, pos)
        rtype, _cls, _ttl, size = struct.unpack(">HHIH", data[pos : pos + 10])
        pos += 10
        if rtype == qtype and size in (4, 16):
            found.append(str(ipaddress.ip_address(data[pos : pos + size])))
        pos += size
    return found


def ask_dns(name, server, timeout=3.0, port=53):
    """A and AAAA records of ``name`` from the DNS server ``server``, as the gateway asks them when the plan gives
    it DNS servers."""
    found, problems = [], []
    family = socket.AF_INET6 if ":" in server else socket.AF_INET
    for _family, qtype in _TYPES:
        ident = struct.unpack(">H", os.urandom(2))[0]
        sock = socket.socket(family, socket.SOCK_DGRAM)
        try:
            sock.settimeout(timeout)
            sock.sendto(_question(name, qtype, ident), (server, port))
            data, _peer = sock.recvfrom(4096)
            found += [a for a in _answers(data, ident, qtype) if a not in found]
        except OSError as exc:
            problems.append("DNS server %s: %s" % (server, exc))
        except ResolveError as exc:
            # A server with only A records (dnsmasq without upstream) may refuse the AAAA question: the A answer holds.
            problems.append("DNS server %s: %s" % (server, exc))
        finally:
            sock.close()
    if not found and problems:
        raise ResolveError("; ".join(problems))
    return found


def resolve(name, etc_hosts, dns_servers, timeout=3.0, dns_port=53):
    """``(addresses, how)``: ``name`` as the container resolves it. Raises ResolveError naming every path tried."""
    for host, address in (etc_hosts or {}).items():
        if host.lower().rstrip(".") == name.lower().rstrip("."):
            return [address], "gateway_extra_hosts"
    problems = []
    for server in dns_servers or []:
        try:
            found = ask_dns(name, server, timeout, dns_port)
        except ResolveError as exc:
            problems.append(str(exc))
            continue
        if found:
            return found, "DNS server %s" % server
        problems.append("DNS server %s has no address for it" % server)
    if dns_servers:
        raise ResolveError("; ".join(problems))
    try:
        infos = socket.getaddrinfo(name, None, 0, socket.SOCK_DGRAM)
    except (socket.gaierror, UnicodeError) as exc:
        raise ResolveError("the host's resolver: %s" % (exc.args[-1] if exc.args else exc)) from None
    found = []
    for info in infos:
        if info[4][0] not in found:
            found.append(info[4][0])
    return found, "the host's resolver"


def source_address(address):
    """The address this host sends from to reach ``address`` (its address on that network)."""
    family = socket.AF_INET6 if ":" in address else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_DGRAM)
    try:
        sock.connect((address, 9))
        return sock.getsockname()[0]
    finally:
        sock.close()


def bind_addresses(name, etc_hosts, dns_servers, timeout=3.0, dns_port=53):
    """The host's addresses on the networks of the neighbours that ``name`` resolves to, sorted."""
    try:
        addresses, _how = resolve(name, etc_hosts, dns_servers, timeout, dns_port)
    except ResolveError as exc:
        raise PlanError(
            "gateway_neighborhood_bind_address: the UDP neighborhood ports are published on this host's address on "
            "the network of its neighbours, found from gateway_neighborhood_host %s, which does not resolve on this "
            "host (%s). Nothing was changed: give the name its records (or an entry in gateway_extra_hosts), or set "
            "gateway_neighborhood_bind_address" % (name, exc)
        ) from None
    found = set()
    for address in addresses:
        try:
            found.add(source_address(address))
        except OSError as exc:
            raise PlanError(
                "gateway_neighborhood_bind_address: this host has no route to %s, an address of "
                "gateway_neighborhood_host %s (%s); nothing was changed" % (address, name, exc)
            ) from None
    unspecified = [a for a in found if ipaddress.ip_address(a).is_unspecified]
    if unspecified or not found:
        raise PlanError(
            "gateway_neighborhood_bind_address: no address of this host reaches gateway_neighborhood_host %s; "
            "nothing was changed" % name
        )
    return sorted(found, key=lambda a: (":" in a, a))


def neighbour_ports(container, env, timeout=3.0, dns_port=53):
    """The plan's container with its neighbour-marked ports published on the host's neighbour addresses."""
    marked = [p for p in container.get("ports", []) if p["host_ip"] == NEIGHBOUR_ADDRESS]
    if not marked:
        return container
    name = next((e["value"] for e in env if e["key"] == "neighborhood.host"), "")
    if not name:
        raise PlanError("the plan publishes neighborhood ports but has no neighborhood.host setting")
    addresses = bind_addresses(name, container.get("etc_hosts"), container.get("dns_servers"), timeout, dns_port)
    ports = []
    for p in container["ports"]:
        if p["host_ip"] != NEIGHBOUR_ADDRESS:
            ports.append(p)
            continue
        ports.extend(dict(p, host_ip=address) for address in addresses)
    return dict(container, ports=ports)
