# -*- coding: utf-8 -*-
# Copyright (c) apim.selfhosted contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The system-assigned managed identity of an API Management instance: read, enable, disable."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import time


def identity_types(identity):
    """The identity's types as a lower-case set (``None`` is the empty set)."""
    raw = (identity.type if identity else None) or "None"
    return {t.strip().lower() for t in raw.split(",") if t.strip() and t.strip().lower() != "none"}


def identity_view(identity):
    """What the modules return about an identity (no secrets exist in it)."""
    types = identity_types(identity)
    users = sorted((identity.user_assigned_identities or {}) if identity else {})
    return {
        "type": (identity.type if identity else None) or "None",
        "system_assigned": "systemassigned" in types,
        "principal_id": (identity.principal_id if identity and "systemassigned" in types else None) or "",
        "tenant_id": (identity.tenant_id if identity else None) or "",
        "user_assigned": users,
    }


def patch_body(identity, system):
    """The PATCH body that sets the system-assigned identity on or off and keeps every user-assigned one."""
    users = dict((k, {}) for k in ((identity.user_assigned_identities or {}) if identity else {}))
    types = (["SystemAssigned"] if system else []) + (["UserAssigned"] if users else [])
    body = {"identity": {"type": ", ".join(types) or "None"}}
    if users:
        body["identity"]["user_assigned_identities"] = users
    return body


class ServiceIdentity:
    """One instance's identity through the module's client: ``ensure`` enables or disables, ``principal`` waits."""

    def __init__(self, az, subscription_id, resource_group, name):
        self.az, self.rg, self.name = az, resource_group, name
        self.client = az.apim(subscription_id)
        self.label = "API Management instance '%s' (resource group %s)" % (name, resource_group)

    def read(self):
        svc = self.az.call("reading %s" % self.label, self.client.api_management_service.get, self.rg, self.name)
        return svc.identity

    def set_system(self, identity, system):
        verb = "enabling" if system else "disabling"
        what = "%s the system-assigned identity of %s" % (verb, self.label)
        poller = self.az.call(
            what,
            self.client.api_management_service.begin_update,
            self.rg,
            self.name,
            patch_body(identity, system),
            polling_interval=2,
        )
        return self.az.call(what, poller.result).identity

    def wait_principal(self, identity, timeout, option):
        """The identity once Azure has given it a principal id (at most ``timeout`` seconds)."""
        deadline = time.time() + timeout
        while not (identity and identity.principal_id):
            if time.time() > deadline:
                msg = "%s: the system-assigned identity has no principal id after %ss (%s)"
                self.az.fail(msg % (self.label, timeout, option))
            time.sleep(2)
            identity = self.read()
        return identity

    def missing_message(self, identity, option):
        return (
            "%s has no system-assigned managed identity (identity type: %s); the gateway's Configuration API uses "
            "only that one. Enable it, or set %s: true" % (self.label, identity_view(identity)["type"], option)
        )
