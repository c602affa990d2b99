# -*- coding: utf-8 -*-
# Copyright (c) apim.selfhosted contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Why a gateway did not load its configuration, from its last log lines.

No Microsoft document states the gateway's log lines for a refused credential; what is recognised here is what a
gateway reports from the services it asked - an HTTP status of the Configuration API, an ``AADSTS`` code of
Microsoft Entra - wherever it appears in a line. When none is found the answer says so, and the caller shows the
log lines themselves.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import re

_AADSTS = re.compile(r"(AADSTS\d{5,})[:\s]*([^\"\n]{0,120})")
_STATUS = re.compile(r"(?<![\d.])(401|403|404)(?![\d.])")
_MEANING = {
    "401": "the Configuration API refused the credential (401: the token is malformed, expired, for another gateway "
    "or signed with a key that was regenerated since, or the Entra token was refused)",
    "403": "the Configuration API refused the Entra app (403: it lacks the Gateway Configuration Reader role on this "
    "gateway)",
    "404": "the Configuration API does not know this gateway (404: check gateway_name and the endpoint)",
}
# The answers that settle it: the credentials were refused (the gateway would retry, to no avail).
DEFINITE = ("Microsoft Entra refused", "the Configuration API refused", "the Configuration API does not know")
_HINTS = ("unreachable", "refused", "timed out", "timeout", "name or service not known", "certificate verify failed")


def why_refused(lines):
    """One sentence: what the Configuration API or Entra answered, as far as the log tells."""
    text = "\n".join(lines or [])
    m = _AADSTS.search(text)
    if m:
        detail = m.group(2).strip().rstrip(".")
        return "Microsoft Entra refused the app (%s%s)" % (m.group(1), ": " + detail if detail else "")
    for line in reversed(lines or []):
        status = _STATUS.search(line)
        if status and ("config" in line.lower() or "api" in line.lower()):
            return _MEANING[status.group(1)]
    lowered = text.lower()
    for hint in _HINTS:
        if hint in lowered:
            return "the gateway could not reach the Configuration API or Entra from this host (%s)" % hint
    return "the gateway's log does not say why"
