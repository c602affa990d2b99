# -*- coding: utf-8 -*-
# Copyright (c) apim.selfhosted contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""What a gateway host says about its gateway, read on the host (the token never leaves it): the settings of the
running container, the token's expiry, the backup's files, the peers heard, and v0/v1 markers for migration.

Pure functions over what the engine and the file system returned, so each is unit-tested on its own.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import datetime
import os
import re

from ansible_collections.apim.selfhosted.plugins.module_utils.gateway_keys import fingerprint
from ansible_collections.apim.selfhosted.plugins.module_utils.token_format import ISO_MINUTE, TokenFormatError, parse

V1_ENDPOINT = re.compile(r"(?i)\.management\.azure-api\.(net|cn|us)|/subscriptions/")
V1_TAG = re.compile(r"^v?[01](\.|$)")
# An observation of the gateway's log (no document states it): the first time it hears a neighborhood peer it logs
# a line with PeerDiscovered and the peer's instance name.
PEER_LINE = re.compile(r"PeerDiscovered.*?instance\W+([A-Za-z0-9._-]+)")
UTC = datetime.timezone.utc


def image_tag(image):
    """The tag of an image reference: ``repo:tag``, ``repo:tag@sha256:...`` -> tag; ``repo@sha256:...`` -> '' (a
    digest pin without a tag names no version); ``repo`` -> latest."""
    name, _sep, digest = (image or "").partition("@")
    last = name.rsplit("/", 1)[-1]
    if ":" in last:
        return last.split(":", 1)[1]
    return "" if digest or not last else "latest"


def image_digest(image):
    """The digest of an image reference (``sha256:...``), or ''."""
    return (image or "").partition("@")[2]


# Docker's words when a healthcheck command is missing from the image (runc, BusyBox sh, bash).
_NO_COMMAND = ("executable file not found", "no such file or directory", "not found")


def health(state):
    """Docker's health status, or ``unknown`` when the last check could not even run its command: the default
    check uses BusyBox ``wget``, an observation of the image (Alpine based), and an image without it must not be
    reported unhealthy."""
    hc = (state or {}).get("Health") or {}
    status = hc.get("Status") or ""
    log = hc.get("Log") or []
    if status and log:
        last = log[-1] or {}
        output = str(last.get("Output") or "").lower()
        if last.get("ExitCode") in (-1, 126, 127) or (last.get("ExitCode") and any(w in output for w in _NO_COMMAND)):
            return "unknown"
    return status


def auth_facts(settings, now=None):
    """Auth mode, token layout, gateway name and the token's expiry from a gateway's settings (no secret out)."""
    raw = settings.get("config.service.auth", "")
    out = {"auth": "none", "layout": "", "gateway": settings.get("gateway.name", ""), "token_expiry": None,
           "token_days_left": None, "token_readable": None, "token_fingerprint": None}  # fmt: skip
    if not raw:
        return out
    if raw == "azureAdApp":
        out.update(auth="azureAdApp")
        return out
    value = settings.get("config.service.auth.key", "") if raw == "key" else raw
    out.update(auth="token", layout="key" if raw == "key" else "GatewayKey", token_readable=False)
    try:
        gateway_id, expiry = parse(value)
    except TokenFormatError:
        return out
    now = now or datetime.datetime.now(UTC)
    out.update(
        gateway=out["gateway"] or gateway_id,
        token_expiry=expiry.strftime(ISO_MINUTE),
        token_days_left=(expiry - now).days,
        token_readable=True,
        token_fingerprint=fingerprint(value),
    )
    return out


def endpoint_host(settings):
    url = settings.get("config.service.endpoint", "")
    return re.sub(r"^[a-zA-Z]+://", "", url).split("/", 1)[0]


def v1_reasons(name, image, settings):
    """Why a container is a v0/v1 gateway (image tag, v1 Configuration API endpoint)."""
    reasons = []
    tag = image_tag(image)
    if V1_TAG.search(tag):
        reasons.append("container %s runs image tag %s" % (name, tag))
    if V1_ENDPOINT.search(settings.get("config.service.endpoint", "")):
        reasons.append("container %s uses the v1 endpoint %s" % (name, endpoint_host(settings)))
    return reasons


def peers(log_lines):
    """Instance names in PeerDiscovered lines, in the order first heard."""
    seen = []
    for line in log_lines:
        m = PEER_LINE.search(line)
        if m and m.group(1) not in seen:
            seen.append(m.group(1))
    return seen


def backup_files(path, now=None):
    """Count and newest modification time of the files in the backup directory, whatever their names (Microsoft
    documents the mount, not what the gateway writes there). All None when there is no backup directory to read:
    unknown, not zero."""
    if not path or not os.path.isdir(path) or not os.access(path, os.R_OK | os.X_OK):
        return {"backup_files": None, "backup_newest": None, "backup_age_seconds": None}
    newest, count = None, 0
    for root, _dirs, files in os.walk(path):
        for name in files:
            try:
                mtime = os.stat(os.path.join(root, name)).st_mtime
            except OSError:
                continue
            count += 1
            newest = mtime if newest is None else max(newest, mtime)
    if newest is None:
        return {"backup_files": 0, "backup_newest": None, "backup_age_seconds": None}
    now = now or datetime.datetime.now(UTC)
    when = datetime.datetime.fromtimestamp(newest, UTC)
    return {
        "backup_files": count,
        "backup_newest": when.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "backup_age_seconds": max(0, int((now - when).total_seconds())),
    }
