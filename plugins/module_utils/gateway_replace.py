# -*- coding: utf-8 -*-
# Copyright (c) apim.selfhosted contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Replace a gateway container, or put the previous one back: the sequence and its rollback, in one place.

``Replacement(...).go()`` stops the running container and keeps it under the plan's ``previous_name``, stops the
legacy gateways being replaced, creates and starts the new container and waits for 200 on its status URL. On
success the kept and legacy containers go; on any failure the new container's log tail is read, it is removed,
the kept container gets its name back and starts, the legacy ones run again, and the previous container is awaited
on its own status URL. The outcome says which of these happened, in one message.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible_collections.apim.selfhosted.plugins.module_utils import gateway_container_spec as spec
from ansible_collections.apim.selfhosted.plugins.module_utils.gateway_engine import EngineError, wait_ready
from ansible_collections.apim.selfhosted.plugins.module_utils.gateway_plan import LABEL_READY_URL
from ansible_collections.apim.selfhosted.plugins.module_utils.host_ports import describe, port_holders

LEGACY_SUFFIX = "-legacy"


def port_conflicts(container, ignore):
    """Host ports of the plan that another container or a process holds: ``["80/tcp: container web-1", ...]``.
    ``ignore``: the ids of this gateway's own containers (the running, kept and legacy ones)."""
    found = []
    by_address = {}
    for p in container.get("ports", []):
        by_address.setdefault(p["host_ip"], []).append((int(p["host_port"]), p.get("protocol", "tcp")))
    for address, ports in sorted(by_address.items()):
        answer = port_holders(ports, bind_address=address, ignore_containers=ignore)
        for item in answer["ports"]:
            for holder in item["holders"]:
                found.append("%d/%s: %s" % (item["port"], item["proto"], describe(holder)))
    return sorted(set(found))


class Replacement:
    def __init__(self, engine, container, image, pairs, current, legacy, remove_legacy, labels=None):
        self.engine = engine
        self.c = container
        self.image = image
        self.pairs = pairs
        self.current = current
        self.legacy = [
            {"id": i["Id"], "name": i["Name"].lstrip("/"), "running": bool(i["State"].get("Running"))} for i in legacy
        ]
        self.remove_legacy = remove_legacy
        self.labels = labels or {}
        self.kept_id = None
        self.new_id = None
        self.renamed = []
        self.stopped = []

    def go(self):
        try:
            self._clear_the_way()
            self.new_id = self.engine.create(spec.create_request(self.c, self.pairs, self.image, self.labels))
            self.engine.start(self.new_id)
            alive = self.engine.exited_reason(self.new_id)
            ok, reason = wait_ready(self.c["ready_url"], self.c["ready_timeout"], alive)
        except EngineError as exc:
            ok, reason = False, str(exc)
        if ok:
            return self._finish()
        return self._roll_back(reason)

    def _clear_the_way(self):
        if self.current is not None:
            if self.current["State"].get("Running"):
                self.engine.stop(self.current["Id"], self.c["stop_timeout"])
            self.engine.rename(self.current["Id"], self.c["previous_name"])
            self.kept_id = self.current["Id"]
        for item in self.legacy:
            if item["running"]:
                self.engine.stop(item["id"], self.c["stop_timeout"])
                self.stopped.append(item)
            if item["name"] == self.c["name"]:
                self.engine.rename(item["id"], self.c["name"] + LEGACY_SUFFIX)
                self.renamed.append(item)

    def _finish(self):
        problems = []
        if self.kept_id:
            problems += self._try(self.engine.remove, self.kept_id)
        for item in self.legacy:
            if self.remove_legacy:
                problems += self._try(self.engine.remove, item["id"])
        message = "" if not problems else "The new gateway serves; left over: %s" % "; ".join(problems)
        return {"replaced": True, "rolled_back": False, "ready": True, "failed": False, "container": True,
                "message": message, "logs": []}  # fmt: skip

    def _try(self, fn, *args):
        try:
            fn(*args)
            return []
        except EngineError as exc:
            return [str(exc)]

    def _roll_back(self, reason):
        logs = self.engine.logs(self.new_id, self.c["log_lines"]) if self.new_id else []
        problems = []
        if self.new_id:
            problems += self._try(self.engine.remove, self.new_id)
        restored, serving = self._restore(problems)
        head = "The gateway container %s (%s) did not answer 200 on %s within %d s (%s)." % (
            self.c["name"], self.image, self.c["ready_url"], self.c["ready_timeout"], reason)  # fmt: skip
        if serving:
            tail = "The previous container was restored and is serving again."
        elif restored:
            tail = "The previous container was restored but does not answer 200 on its status URL yet."
        else:
            tail = "There was no previous container; the new one was removed."
        if problems:
            tail += " Problems while restoring: %s." % "; ".join(problems)
        return {"replaced": False, "rolled_back": restored, "ready": serving, "failed": True, "container": restored,
                "message": "%s %s Last log lines: %s" % (head, tail, logs), "logs": logs}  # fmt: skip

    def _restore(self, problems):
        """Put the kept and legacy containers back; returns (something was restored, the previous one serves)."""
        restored = False
        if self.kept_id:
            problems += self._try(self.engine.rename, self.kept_id, self.c["name"])
            problems += self._try(self.engine.start, self.kept_id)
            restored = True
        for item in self.renamed:
            problems += self._try(self.engine.rename, item["id"], item["name"])
        for item in self.stopped:
            problems += self._try(self.engine.start, item["id"])
            restored = True
        if not self.kept_id:
            return restored, False
        labels = (self.current.get("Config") or {}).get("Labels") or {}
        url = labels.get(LABEL_READY_URL) or self.c["ready_url"]
        ok, _reason = wait_ready(url, self.c["ready_timeout"], self.engine.exited_reason(self.kept_id))
        return restored, ok
