# -*- coding: utf-8 -*-
# Copyright (c) apim.selfhosted contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Prove a gateway's credentials with a throwaway container of the same spec, without the backup.

Without a backup a gateway can only answer 200 on its status path after it downloaded its configuration, that is
when the Configuration API (and Entra, for an app) accepted its credentials. The real container cannot tell: with a
backup it answers 200 from the backup when its credentials are refused (fail static).
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import datetime
import os
import time

from ansible_collections.apim.selfhosted.plugins.module_utils import gateway_container_spec as spec
from ansible_collections.apim.selfhosted.plugins.module_utils.gateway_diagnose import DEFINITE, why_refused
from ansible_collections.apim.selfhosted.plugins.module_utils.gateway_engine import wait_ready
from ansible_collections.apim.selfhosted.plugins.module_utils.gateway_plan import (
    CONTAINER_HTTP_PORT,
    LABEL_AUTH_DIGEST,
    LABEL_PROVEN_AT,
    LABEL_ROLE,
    ROLE_CREDENTIAL_CHECK,
    PlanError,
)


def now_text():
    return datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def prove(engine, container, pairs, image, timeout):
    """Run the throwaway container of this plan and these env-file lines; it is removed in every case.

    Returns ``{"proven", "seconds", "proven_at"}`` and, when not proven, ``reason`` (what refused the credentials,
    as far as the log tells), ``detail`` (why the wait ended) and ``logs``."""
    container, pairs = spec.throwaway(container, pairs)
    leftover = engine.container(container["name"])
    if leftover is not None:
        if ((leftover.get("Config") or {}).get("Labels") or {}).get(LABEL_ROLE) != ROLE_CREDENTIAL_CHECK:
            raise PlanError("a container named %s exists that this collection did not create" % container["name"])
        engine.remove(leftover["Id"])
    ident = engine.create(spec.create_request(container, pairs, image))
    started = time.monotonic()
    try:
        engine.start(ident)
        url = "http://%s:%d%s" % (engine.address(ident), CONTAINER_HTTP_PORT, container["status_path"])
        ok, detail = wait_ready(url, timeout, _stopped_or_refused(engine, ident, container["log_lines"]))
        result = {
            "proven": ok,
            "seconds": round(time.monotonic() - started, 1),
            "proven_at": now_text() if ok else None,
        }
        if not ok:
            logs = engine.logs(ident, container["log_lines"])
            result.update(reason=why_refused(logs), detail=detail, logs=logs)
        return result
    finally:
        engine.remove(ident)


def _stopped_or_refused(engine, ident, lines):
    """For ``wait_ready``: end the wait as soon as the container exits or its log shows a definite refusal (the
    Configuration API's 401, 403 or 404, an Entra AADSTS code); an unreachable endpoint may still come back."""
    exited = engine.exited_reason(ident)

    def reason():
        gone = exited()
        if gone:
            return gone
        said = why_refused(engine.logs(ident, lines or 40))
        return "its log shows the refusal" if said.startswith(DEFINITE) else None

    return reason


def labels_of(info):
    return ((info or {}).get("Config") or {}).get("Labels") or {}


def backup_holds_files(backup):
    """Whether the gateway could start from a backup (then its readiness proves nothing about its credentials)."""
    if not backup.get("enabled"):
        return False
    for _root, _dirs, files in os.walk(backup["path"]):
        if files:
            return True
    return False


def needs_proof(current, digest):
    """A running gateway whose credentials differ from ``digest`` (or are unknown) would get new ones."""
    return current is not None and labels_of(current).get(LABEL_AUTH_DIGEST) != digest


def info_labels(current, digest, proven_at, backup):
    """The labels that record a new container's credentials: their digest, and when they were proven - given by the
    caller (a proof in this run), kept from the running container with the same credentials, or now when the new
    container can only get ready by downloading its configuration (no backup to start from)."""
    labels = {LABEL_AUTH_DIGEST: digest}
    if not proven_at and current is not None and labels_of(current).get(LABEL_AUTH_DIGEST) == digest:
        proven_at = labels_of(current).get(LABEL_PROVEN_AT)
    if not proven_at and not backup_holds_files(backup):
        proven_at = now_text()
    if proven_at:
        labels[LABEL_PROVEN_AT] = proven_at
    return labels
