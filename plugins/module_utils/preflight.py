# -*- coding: utf-8 -*-
# Copyright (c) apim.selfhosted contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The preflight run: every endpoint of the plan through DNS, TCP (direct or through the proxy), TLS and, for the
Configuration API, the clock; the host ports; and the report. The checks themselves live in preflight_dns,
preflight_tcp, preflight_tls, preflight_clock and preflight_ports."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import time
from concurrent.futures import ThreadPoolExecutor

from ansible_collections.apim.selfhosted.plugins.module_utils.preflight_clock import ClockCheck
from ansible_collections.apim.selfhosted.plugins.module_utils.preflight_common import Deadline, result
from ansible_collections.apim.selfhosted.plugins.module_utils.preflight_dns import Resolver
from ansible_collections.apim.selfhosted.plugins.module_utils.preflight_endpoints import plan
from ansible_collections.apim.selfhosted.plugins.module_utils.preflight_ports import port_checks, validate_ports
from ansible_collections.apim.selfhosted.plugins.module_utils.preflight_proxy import ProxySettings
from ansible_collections.apim.selfhosted.plugins.module_utils.preflight_tcp import connect, tcp_check, tunnel_check
from ansible_collections.apim.selfhosted.plugins.module_utils.preflight_tls import TlsCheck, trust_context

ENDPOINT_GROUPS = ["entra", "storage", "application_insights", "event_hubs", "external_cache", "extra"]
ALL_CHECKS = ["dns", "tcp", "tls", "clock", *ENDPOINT_GROUPS, "ports"]


class Preflight(object):
    def __init__(self, params, runner):
        self.p = params
        self.timeout = params["timeout"]
        self.checks = set(params["checks"])
        self.proxies = ProxySettings(params["https_proxy"], params["http_proxy"], params["no_proxy"])
        self.resolver = Resolver(params["extra_hosts"], self.timeout)
        self.tls = TlsCheck(
            trust_context(params["ca_bundle"], params["ca_bundle_variable"]), params["ca_bundle_variable"], self.timeout
        )
        self.clock = ClockCheck(params.get("clock_skew_threshold", 300), self.timeout, runner)

    def proxy_for(self, job):
        return self.proxies.for_endpoint(job["scheme"], job["host"]) if job["proxied"] else None

    def endpoint(self, job):
        """The results of one endpoint of the plan; failed ones say what the gateway needs the endpoint for."""
        out = self._endpoint(job, self.proxy_for(job))
        if job["why"]:
            for item in out:
                if item["purpose"] != job["purpose"]:
                    continue  # the proxy's own results
                if item["status"] == "failed":
                    item["message"] += "; the gateway needs it for %s" % job["why"]
                item["details"]["needed_for"] = job["why"]
        return out

    def _endpoint(self, job, proxy):
        target = "%s:%s" % (job["host"], job["port"])
        want_tls = job["tls"] and "tls" in self.checks
        want_clock = job["clock"] and "clock" in self.checks
        need_connect = "tcp" in self.checks or want_tls or want_clock
        out, addresses = self._dns(job, proxy, need_connect)
        if not need_connect:
            return out
        if addresses is None:
            out.append(result("tcp", target, job["purpose"], "skipped", "not tried: the name did not resolve"))
            sock = None
        else:
            sock, tcp = tcp_check(job["host"], job["port"], job["purpose"], proxy, addresses, self.timeout)
            if "tcp" in self.checks or tcp["status"] == "failed":
                out.append(tcp)
        try:
            if want_tls or want_clock:
                sock = self._tls_and_clock(job, proxy, addresses, sock, want_tls, want_clock, out)
            return out
        finally:
            if sock is not None:
                sock.close()

    def _dns(self, job, proxy, need_connect):
        """(dns results, addresses to connect to or None): with a proxy, the host resolves only the proxy."""
        host, port, purpose = job["host"], job["port"], job["purpose"]
        if "dns" not in self.checks and not need_connect:
            return [], None
        if proxy:
            dns = self.resolver.check(proxy["host"], proxy["port"], "proxy", proxy_of="%s:%s" % (host, port))
            out = [dns]
            if "dns" in self.checks:
                out.append(self.resolver.info(host, port, purpose, "%s:%s" % (proxy["host"], proxy["port"])))
        else:
            dns = self.resolver.check(host, port, purpose)
            out = [dns]
        if "dns" not in self.checks:
            out = [r for r in out if r["status"] == "failed"]
        return out, dns["details"]["addresses"] if dns["status"] == "ok" else None

    def _reopen(self, job, proxy, addresses):
        """A new connection to the endpoint, or None, for the unverified handshake that names a certificate."""
        try:
            deadline = Deadline(self.timeout)
            if proxy is None:
                return connect(addresses, job["port"], deadline)[0]
            return tunnel_check(job["host"], job["port"], "tls", proxy, addresses, deadline, self.timeout)[0]
        except OSError:
            return None

    def _tls_and_clock(self, job, proxy, addresses, sock, want_tls, want_clock, out):
        """Append the tls and clock results; return the socket the caller must close."""
        target = "%s:%s" % (job["host"], job["port"])
        purpose = job["purpose"]
        if sock is None:
            if want_tls:
                out.append(result("tls", target, purpose, "skipped", "not tried: no TCP connection"))
            if want_clock:
                out.append(result("clock", target, purpose, "skipped", "not tried: no TCP connection"))
            return None
        if not job["tls"]:
            return sock
        tls_result, tls_sock = self.tls.run(
            sock, job["host"], job["port"], purpose, lambda: self._reopen(job, proxy, addresses), job["protocol"]
        )
        if want_tls:
            out.append(tls_result)
        if want_clock:
            if tls_sock is None:
                out.append(result("clock", target, purpose, "skipped", "not tried: no TLS connection"))
            else:
                out.append(self.clock.run(tls_sock, job["host"], job["port"], purpose, tls_result["status"] == "ok"))
        return tls_sock or sock


def run(params, runner):
    """Run the checks; runner(args) -> (rc, stdout, stderr) runs a local command. Returns (checks, seconds)."""
    started = time.monotonic()
    pre = Preflight(params, runner)
    jobs = plan(params, pre.checks)
    validate_ports(params["ports"])
    # Endpoints in parallel, so that several dropped ones cost one timeout, not one each.
    with ThreadPoolExecutor(max_workers=len(jobs) + 1) as pool:
        futures = [pool.submit(pre.endpoint, job) for job in jobs]
        port_future = None
        if "ports" in pre.checks and params["ports"]:
            port_future = pool.submit(
                port_checks, params["ports"], params["bind_address"], params["container_name"], params["timeout"]
            )
        checks = []
        for future in futures:
            checks.extend(future.result())
        if port_future is not None:
            checks.extend(port_future.result())
    return checks, time.monotonic() - started


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
