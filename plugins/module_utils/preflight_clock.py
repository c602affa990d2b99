# -*- coding: utf-8 -*-
# Copyright (c) apim.selfhosted contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The clock check: the host clock against the Date header of the Configuration API's answer to an anonymous
GET / (any status counts; without a token it is 401), with the NTP state from timedatectl where it exists."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import email.utils
import shutil
import socket
import time

from ansible_collections.apim.selfhosted.plugins.module_utils.preflight_common import (
    USER_AGENT,
    Deadline,
    fmt_seconds,
    read_head,
    result,
    with_timeout,
)

NTP_TEXT = {True: "NTP synchronized", False: "NTP not synchronized", None: "NTP state unknown"}


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


def ask_date(tls, host, port, timeout):
    """(status, Date header or None, local time at the middle of the round trip) of an anonymous GET /."""
    request = "GET / HTTP/1.1\r\nHost: %s\r\nUser-Agent: %s\r\nAccept: */*\r\nConnection: close\r\n\r\n" % (
        host if port == 443 else "%s:%s" % (host, port),
        USER_AGENT,
    )
    deadline = Deadline(timeout)
    tls.settimeout(deadline.left())
    sent = time.time()
    tls.sendall(request.encode("ascii"))
    status, _reason, headers = read_head(tls, deadline)
    received = time.time()
    # Date has one-second resolution; compare with the middle of the round trip.
    return status, headers.get("date"), (sent + received) / 2.0


def parse_date(value):
    """An aware datetime from an HTTP Date, or None."""
    if not value:
        return None
    try:
        parsed = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    return parsed if parsed.tzinfo is not None else None


class ClockCheck(object):
    def __init__(self, threshold, timeout, runner):
        self.threshold = threshold
        self.timeout = timeout
        self.runner = runner

    def run(self, tls, host, port, purpose, verified):
        """The clock result from the Date of host's answer on the open TLS socket."""
        target = "%s:%s" % (host, port)
        t0 = time.monotonic()
        ntp = ntp_state(self.runner)
        try:
            status, date, local = ask_date(tls, host, port, self.timeout)
        except (OSError, ValueError) as exc:
            message = "no HTTP answer from %s to read its Date: %s" % (target, exc)
            fix = "check that %s is the Configuration API host" % target
            return result("clock", target, purpose, "failed", message, fix, time.monotonic() - t0, ntp_synchronized=ntp)
        parsed = parse_date(date)
        if parsed is None:
            message = "the answer of %s (status %s) has no valid Date header: %r" % (target, status, date)
            fix = "check that %s is the Configuration API host and not a device that answers for it" % target
            return result(
                "clock", target, purpose, "failed", message, fix, time.monotonic() - t0,
                status_code=status, ntp_synchronized=ntp,
            )  # fmt: skip
        skew = round(local - parsed.timestamp(), 1)
        details = dict(
            skew_seconds=skew,
            server_date=date,
            status_code=status,
            ntp_synchronized=ntp,
            verified=verified,
            threshold=self.threshold,
        )
        where = "ahead of" if skew > 0 else "behind"
        source = "" if verified else " (read over an unverified connection)"
        measured = "host clock is %s s %s the Configuration API's Date%s" % (fmt_seconds(abs(skew)), where, source)
        if abs(skew) > self.threshold:
            fix = "set the host clock right and keep it synchronized (timedatectl set-ntp true, chrony or ntpsec)"
            if ntp is True:
                fix = "check the host's NTP servers: the clock is synchronized, but to a wrong time source"
            message = "%s, more than %s s; %s" % (measured, self.threshold, NTP_TEXT[ntp])
            return result("clock", target, purpose, "failed", message, fix, time.monotonic() - t0, **details)
        message = "%s; %s" % (measured, NTP_TEXT[ntp])
        return result("clock", target, purpose, "ok", message, "", time.monotonic() - t0, **details)
