# -*- coding: utf-8 -*-
# Copyright (c) apim.selfhosted contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""What every preflight check shares: the result record, input errors, deadlines and an HTTP response head."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import re
import socket
import threading
import time
from urllib.parse import urlsplit

USER_AGENT = "apim-selfhosted-preflight"


class InputError(Exception):
    """A parameter that cannot be used, with the message naming it."""


def result(check, target, purpose, status, message, fix="", seconds=0.0, **details):
    """One check's outcome as the module returns it."""
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


def fmt_seconds(value):
    return ("%.1f" % value).rstrip("0").rstrip(".")


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


def parse_endpoint(value, option, default_scheme="https", schemes=None):
    """Return (scheme, host, port) for C(host), C(host:port) or C(scheme://host[:port][/]).

    schemes maps each accepted scheme to its default port (https 443 and http 80 unless given).
    """
    schemes = schemes or {"https": 443, "http": 80}
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
    if scheme not in schemes:
        names = ["%s://" % s for s in schemes]
        accepted = names[0] + (" (or %s)" % ", ".join(names[1:]) if len(names) > 1 else "")
        raise InputError("%s: %r must use %s, not %s://" % (option, value, accepted, scheme))
    if parts.path not in ("", "/") or parts.query or parts.fragment or parts.username:
        raise InputError("%s: %r must be a host with an optional port, without a path" % (option, value))
    host = parts.hostname
    if not host:
        raise InputError("%s: %r has no host name" % (option, value))
    return scheme, host, port or schemes[scheme]


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
