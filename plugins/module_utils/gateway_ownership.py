# -*- coding: utf-8 -*-
# Copyright (c) apim.selfhosted contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Which containers are a gateway's, and what an interrupted run left of them.

The collection touches only containers it created (label ``io.apim.selfhosted.role=gateway``), except legacy
gateways that a migration names. A run cut off during a replacement leaves at most the kept container
(``<name>-previous``): the one that serves wins.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible_collections.apim.selfhosted.plugins.module_utils.gateway_engine import wait_ready
from ansible_collections.apim.selfhosted.plugins.module_utils.gateway_plan import (
    LABEL_READY_URL,
    LABEL_ROLE,
    ROLE_GATEWAY,
    PlanError,
)


def ours(info):
    return bool(info) and ((info.get("Config") or {}).get("Labels") or {}).get(LABEL_ROLE) == ROLE_GATEWAY


def look(engine, container, legacy_names):
    """``(current, kept, legacy)``; refuses, before any change, a container of the gateway's names that this
    collection did not create and that is not a named legacy gateway."""
    current = engine.container(container["name"])
    kept = engine.container(container["previous_name"])
    legacy_names = [n for n in legacy_names if n]
    for info, name in ((current, container["name"]), (kept, container["previous_name"])):
        if info is not None and not ours(info) and name not in legacy_names:
            raise PlanError(
                "a container named %s exists that this collection did not create (no label %s=%s); it is left "
                "alone and nothing was changed: remove or rename it, or choose another gateway_container_name"
                % (name, LABEL_ROLE, ROLE_GATEWAY)
            )
    legacy = [i for i in (engine.container(n) for n in legacy_names if n != container["name"]) if i]
    if current is not None and not ours(current):
        legacy.insert(0, current)
        current = None
    return current, kept, legacy


def serves(info, default_url):
    """The container answers 200 on its own status URL (its label), within a few seconds."""
    url = ((info.get("Config") or {}).get("Labels") or {}).get(LABEL_READY_URL) or default_url
    ok, _reason = wait_ready(url, 3, alive=lambda: None, interval=1)
    return ok


def recover(engine, container, current, kept, check_mode):
    """Put right what an interrupted run left; returns ``(current container, what was done)``."""
    if kept is None or not ours(kept):
        return current, None
    name, previous = container["name"], container["previous_name"]
    if current is not None and current["State"].get("Running") and serves(current, container["ready_url"]):
        if not check_mode:
            engine.remove(kept["Id"])
        return current, "removed %s, kept by an interrupted run" % previous
    if check_mode:
        return kept, "would put %s back as %s" % (previous, name)
    if current is not None:
        engine.remove(current["Id"])
    engine.rename(kept["Id"], name)
    engine.start(kept["Id"])
    return engine.container(name), "put %s, kept by an interrupted run, back as %s" % (previous, name)
