# -*- coding: utf-8 -*-
# Copyright (c) apim.selfhosted contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The ports check: each host port the gateway will publish is free, or held by the gateway's own container."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import time

from ansible_collections.apim.selfhosted.plugins.module_utils.host_ports import describe, parse_port, port_holders
from ansible_collections.apim.selfhosted.plugins.module_utils.preflight_common import InputError, result


def validate_ports(ports):
    """[(number, proto)] of the ports option; InputError naming the option for a bad item."""
    try:
        return [parse_port(p) for p in ports]
    except ValueError as exc:
        raise InputError(str(exc)) from None


def port_checks(ports, bind_address, container, timeout):
    """One port result per item of ports, in order."""
    t0 = time.monotonic()
    found = port_holders(ports, bind_address, ignore_containers=[container], timeout=timeout)
    by_port = dict(((e["port"], e["proto"]), e) for e in found["ports"])
    engine = {"engine_error": found["engine_error"]}
    out = []
    for port, proto in validate_ports(ports):
        entry = by_port[(port, proto)]
        target = "%s/%s" % (port, proto)
        holders = sorted(set(describe(h) for h in entry["holders"]))
        seconds = time.monotonic() - t0
        if holders:
            message = "%s on %s is held by %s" % (target, bind_address, "; ".join(holders))
            fix = "stop what holds %s, or publish the gateway on another port" % target
            out.append(result("port", target, "port", "failed", message, fix, seconds, holder=holders, **engine))
        elif entry["ignored"]:
            message = "%s is held by this gateway's container %s" % (target, container)
            holder = ["container %s" % container]
            out.append(result("port", target, "port", "ok", message, "", seconds, holder=holder, **engine))
        else:
            out.append(result("port", target, "port", "ok", "%s is free" % target, "", seconds, holder=[], **engine))
    return out
