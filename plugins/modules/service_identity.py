#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) apim.selfhosted contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: service_identity
short_description: Enable or disable the system-assigned managed identity of an API Management instance
version_added: 0.2.0
author: apim.selfhosted maintainers (@apim-selfhosted)
description:
  - Makes sure an API Management instance has a system-assigned managed identity (or has none), keeping its
    user-assigned identities as they are, and returns the identity's principal id.
  - The Configuration API of Entra-authenticated self-hosted gateways checks access with this identity (a
    user-assigned one is not supported), and certificates read from Key Vault use it unless they name a
    user-assigned identity.
  - One read when nothing changes; a C(PATCH) of the instance's C(identity) (a long-running operation that the
    module follows to its end) when it changes, then reads until Azure has given the new identity a principal id.
extends_documentation_fragment:
  - apim.selfhosted.azure
  - apim.selfhosted.apim_service
  - apim.selfhosted.attributes
  - apim.selfhosted.attributes.actiongroup_azure
options:
  state:
    description:
      - V(present) enables the system-assigned identity when the instance has none.
      - V(absent) disables it. B(Danger.) Role assignments of the old identity stay but no longer apply, and a new
        identity later gets another principal id.
    type: str
    choices: [present, absent]
    default: present
  enable_if_missing:
    description:
      - With O(state=present) and V(false), only check - fail, naming this option, when the instance has no
        system-assigned identity, and never change the instance.
    type: bool
    default: true
  wait_timeout:
    description: Seconds to wait for the principal id of a newly enabled identity.
    type: int
    default: 300
attributes:
  check_mode:
    support: full
    details: Only the instance is read; an identity that would be enabled has no principal id yet.
  diff_mode:
    support: full
  idempotent:
    support: full
seealso:
  - module: apim.selfhosted.role_assignment
"""

EXAMPLES = r"""
- name: The instance's system-assigned identity
  apim.selfhosted.service_identity:
    resource_group: rg-apim
    service_name: contoso
  register: apim_identity

- name: Let it validate gateway access (the role of Microsoft's Entra document)
  apim.selfhosted.role_assignment:
    scope: /subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/rg-apim
    role_definition: API Management Configuration API Access Validator Service Role
    principal_id: "{{ apim_identity.principal_id }}"
"""

RETURN = r"""
principal_id:
  description: The object id of the system-assigned identity; empty when there is none, or in check mode when it
    would first be enabled.
  returned: always
  type: str
identity:
  description: The instance's identity after the run.
  returned: always
  type: dict
  contains:
    type:
      description: The identity type as Azure reports it (V(None), V(SystemAssigned), V(UserAssigned) or both).
      type: str
    system_assigned:
      description: Whether the instance has a system-assigned identity.
      type: bool
    principal_id:
      description: The system-assigned identity's object id, or empty.
      type: str
    tenant_id:
      description: The Microsoft Entra tenant of the identity, or empty.
      type: str
    user_assigned:
      description: The resource ids of the user-assigned identities (kept as they are).
      type: list
      elements: str
"""

from ansible_collections.apim.selfhosted.plugins.module_utils.apim_identity import (  # noqa: E402
    ServiceIdentity,
    identity_view,
    patch_body,
)
from ansible_collections.apim.selfhosted.plugins.module_utils.apim_resources import SERVICE_SPEC  # noqa: E402
from ansible_collections.apim.selfhosted.plugins.module_utils.azure_client import AzureModule  # noqa: E402


def main():
    az = AzureModule(
        argument_spec=dict(
            SERVICE_SPEC,
            state=dict(type="str", choices=["present", "absent"], default="present"),
            enable_if_missing=dict(type="bool", default=True),
            wait_timeout=dict(type="int", default=300),
        ),
        supports_check_mode=True,
    )
    p = az.params
    if p["wait_timeout"] < 0:
        az.fail("wait_timeout must not be negative")
    service = ServiceIdentity(az, az.subscription_id(), p["resource_group"], p["service_name"])
    identity = service.read()
    before = identity_view(identity)
    want = p["state"] == "present"
    result = dict(changed=before["system_assigned"] != want)
    if result["changed"] and want and not p["enable_if_missing"]:
        az.fail(service.missing_message(identity, "enable_if_missing"))
    after = before
    if result["changed"]:
        after = dict(before, system_assigned=want, principal_id="", type=patch_body(identity, want)["identity"]["type"])
        if not az.check_mode:
            identity = service.set_system(identity, want)
            if want:
                identity = service.wait_principal(identity, p["wait_timeout"], "wait_timeout")
            after = identity_view(identity)
    result.update(principal_id=after["principal_id"], identity=after)
    if az.module._diff:
        result["diff"] = dict(before=before, after=after)
    az.module.exit_json(**result)


if __name__ == "__main__":
    main()
