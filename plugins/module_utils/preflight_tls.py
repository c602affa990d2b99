# -*- coding: utf-8 -*-
# Copyright (c) apim.selfhosted contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The TLS check: a handshake with host name verification against the system trust store plus an optional CA
bundle; on a verification failure the issuer is named from a second, unverified handshake."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import os
import socket
import ssl
import time

from ansible_collections.apim.selfhosted.plugins.module_utils.cert_info import expiry_facts
from ansible_collections.apim.selfhosted.plugins.module_utils.preflight_common import InputError, fmt_seconds, result

# OpenSSL verify codes (X509_V_ERR_*)
UNTRUSTED = (2, 18, 19, 20, 21)
NOT_YET_VALID_OR_EXPIRED = (9, 10)
HOSTNAME_MISMATCH = 62


def trust_context(bundle, variable):
    """The system trust store plus bundle (a PEM file or a hashed directory); bad bundles name variable."""
    context = ssl.create_default_context()
    if bundle:
        if not os.path.exists(bundle):
            raise InputError("%s: %s does not exist on this host" % (variable, bundle))
        try:
            if os.path.isdir(bundle):
                context.load_verify_locations(capath=bundle)
            else:
                context.load_verify_locations(cafile=bundle)
        except (ssl.SSLError, OSError) as exc:
            raise InputError("%s: %s is not a readable PEM CA bundle (%s)" % (variable, bundle, exc)) from None
    return context


def unverified_handshake(sock, host, timeout):
    """(facts, TLS socket) without verification, only to read the certificate; (facts, None) when it fails."""
    if sock is None:
        return {"verified": False}, None
    try:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
        sock.settimeout(timeout)
        tls = context.wrap_socket(sock, server_hostname=host)
    except (OSError, ssl.SSLError):
        sock.close()
        return {"verified": False}, None
    facts = expiry_facts(tls.getpeercert(binary_form=True))
    facts["verified"] = False
    return facts, tls


def explain_verify(exc, host, facts, ca_variable):
    """(message, fix) for a certificate verification error."""
    issuer = facts.get("issuer")
    code = getattr(exc, "verify_code", None)
    detail = getattr(exc, "verify_message", None) or str(exc)
    if code in UNTRUSTED:
        message = "certificate for %s is issued by %r, a CA this host does not trust (%s)" % (host, issuer, detail)
        fix = (
            "set %s to a PEM bundle that contains the CA %r (e.g. the root of a TLS-inspecting proxy or private "
            "PKI), or add it to the system trust store" % (ca_variable, issuer)
        )
    elif code == HOSTNAME_MISMATCH:
        message = "certificate does not match the name %s (subject %r): %s" % (host, facts.get("subject"), detail)
        fix = "use the host name the certificate was issued for, or check what on the path answers for %s" % host
    elif code in NOT_YET_VALID_OR_EXPIRED:
        message = "certificate for %s %s" % (host, detail)
        fix = "check the host clock (timedatectl) and, if it is right, renew the certificate of %s" % host
    else:
        message = "certificate for %s issued by %r is not trusted: %s" % (host, issuer, detail)
        fix = "check the certificate chain of %s or set %s to the CA bundle that validates it" % (host, ca_variable)
    return message, fix


class TlsCheck(object):
    def __init__(self, context, ca_variable, timeout):
        self.context = context
        self.ca_variable = ca_variable
        self.timeout = timeout

    def run(self, sock, host, port, purpose, reopen, protocol="HTTPS"):
        """(tls result, TLS socket or None) for a handshake on sock.

        reopen() gives a new connected socket (or None) for the unverified handshake that names the issuer; its
        TLS socket is returned when verification failed, so that the caller can still read the Date on it.
        """
        target = "%s:%s" % (host, port)
        t0 = time.monotonic()
        sock.settimeout(self.timeout)
        try:
            tls = self.context.wrap_socket(sock, server_hostname=host)
        except ssl.SSLCertVerificationError as exc:
            facts, raw = unverified_handshake(reopen(), host, self.timeout)
            message, fix = explain_verify(exc, host, facts, self.ca_variable)
            return result("tls", target, purpose, "failed", message, fix, time.monotonic() - t0, **facts), raw
        except socket.timeout:
            message = "no TLS handshake with %s within %s s" % (target, fmt_seconds(self.timeout))
            fix = "check that %s serves %s and that nothing on the path holds the connection" % (target, protocol)
            return result("tls", target, purpose, "failed", message, fix, time.monotonic() - t0), None
        except (ssl.SSLError, OSError) as exc:
            message = "TLS handshake with %s failed: %s" % (target, getattr(exc, "reason", None) or exc)
            fix = "check that %s serves %s and that no device on the path breaks TLS" % (target, protocol)
            return result("tls", target, purpose, "failed", message, fix, time.monotonic() - t0), None
        facts = expiry_facts(tls.getpeercert(binary_form=True))
        days = facts.get("days_to_expiry")
        message = "certificate for %s issued by %r, expires in %s days" % (host, facts.get("issuer"), days)
        return result("tls", target, purpose, "ok", message, "", time.monotonic() - t0, verified=True, **facts), tls
