#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) apim.selfhosted contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: role_assignment
short_description: Assign an Azure role to a principal at a scope, idempotently
version_added: 0.1.0
author: apim.selfhosted maintainers (@apim-selfhosted)
description:
  - Makes sure a principal holds a role at a scope (or does not). An assignment of the same role to the same principal
    at the same scope under any name counts as present - it is never duplicated and never an error, including when
    Azure answers C(RoleAssignmentExists).
  - Scopes and role ids are compared case-insensitively, roles by their trailing GUID.
  - The principal is O(principal_id), or the system-assigned managed identity of an API Management instance
    (O(apim_service)). To enable that identity, use M(apim.selfhosted.service_identity).
  - Requests when nothing changes - one list of the principal's assignments at O(scope), plus one read of the API
    Management instance with O(apim_service), plus one read of the role when O(role_definition) is a name.
extends_documentation_fragment:
  - apim.selfhosted.azure
  - apim.selfhosted.attributes
  - apim.selfhosted.attributes.actiongroup_azure
options:
  scope:
    description: Where the role is assigned, starting with C(/) (subscription, resource group or resource id).
    type: str
    required: true
  role_definition:
    description:
      - The role, as a full role definition id, its GUID, or its name (looked up at O(scope)).
    type: str
    required: true
  principal_id:
    description: The object id (GUID) of the user, group or service principal. Exclusive with O(apim_service).
    type: str
  apim_service:
    description:
      - Use the system-assigned managed identity of this API Management instance as the principal.
        Exclusive with O(principal_id).
      - Fails when the instance has no system-assigned identity; user-assigned identities are not used, as the
        gateway's Configuration API supports only the system one. M(apim.selfhosted.service_identity) enables it.
    type: dict
    suboptions:
      resource_group:
        description: The resource group of the instance.
        type: str
        required: true
      name:
        description: The instance name.
        type: str
        required: true
      subscription_id:
        description: The subscription of the instance; defaults to O(subscription_id), then to the one in O(scope).
        type: str
      enable_system_identity:
        description:
          - Deprecated, removed in 1.0.0 - use M(apim.selfhosted.service_identity), which manages the identity,
            and pass its RV(apim.selfhosted.service_identity#module:principal_id) as O(principal_id).
          - Enable the system-assigned identity on the instance when it has none, keeping its user-assigned
            identities, and wait until its principal id appears (at most O(apim_service.identity_wait_timeout)).
        type: bool
        default: false
      identity_wait_timeout:
        description:
          - Deprecated, removed in 1.0.0, with O(apim_service.enable_system_identity).
          - Seconds to wait for the principal id of a newly enabled identity.
        type: int
        default: 300
  principal_type:
    description:
      - The principal's type, sent with the assignment. With a type, Azure does not look the principal up in the
        directory, so a principal created moments ago can be assigned without C(PrincipalNotFound).
      - One of V(ServicePrincipal), V(User), V(Group), V(ForeignGroup), V(Device).
      - Set to V(null) or an empty string to send none; Azure then checks the directory, and
        O(principal_wait_timeout) covers the replication delay.
    type: str
    default: ServicePrincipal
  name:
    description:
      - The assignment name (a GUID). Defaults to one derived from O(scope), the role and the principal, the same on
        every run. Ignored when an equal assignment already exists under another name.
    type: str
  description:
    description: A description stored on the assignment; updated in place when it differs.
    type: str
  state:
    description: V(present) assigns, V(absent) removes every assignment of the role to the principal at O(scope).
    type: str
    choices: [present, absent]
    default: present
  principal_wait_timeout:
    description:
      - Seconds to keep retrying, with exponential back-off, while Azure answers C(PrincipalNotFound)
        (a principal not yet replicated). 0 fails at once.
    type: int
    default: 60
attributes:
  check_mode:
    support: full
    details: Only reads are sent; an identity that would be enabled is reported, not enabled.
  diff_mode:
    support: full
  idempotent:
    support: full
seealso:
  - module: apim.selfhosted.role_definition
"""

EXAMPLES = r"""
- name: Let the gateway's Entra app read its configuration (apim_id is the instance's resource id)
  apim.selfhosted.role_assignment:
    scope: "{{ apim_id }}"
    role_definition: API Management Gateway Configuration Reader Role
    principal_id: 11111111-2222-3333-4444-555555555555

- name: Let the APIM instance's identity validate access
  apim.selfhosted.role_assignment:
    scope: /subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/rg-apim
    role_definition: "{{ validator.id }}"
    apim_service:
      resource_group: rg-apim
      name: contoso
"""

RETURN = r"""
id:
  description: The full id of the assignment (the one that exists, or would be created in check mode).
  returned: when O(state=present)
  type: str
role_assignment:
  description: The assignment after the run (before it, for O(state=absent)).
  returned: when O(state=present), or when one was removed
  type: dict
  contains:
    id:
      description: Full id.
      type: str
    name:
      description: The GUID name.
      type: str
    scope:
      description: The scope as Azure returns it.
      type: str
    role_definition_id:
      description: The role definition id.
      type: str
    principal_id:
      description: The principal's object id.
      type: str
    principal_type:
      description: The principal type.
      type: str
    description:
      description: The description.
      type: str
principal_id:
  description: The principal that was used (resolved from O(apim_service) when given). Empty in check mode when the
    identity would first be enabled.
  returned: always
  type: str
identity_enabled:
  description:
    - True when the module enabled (or, in check mode, would enable) the instance's system identity (the
      deprecated O(apim_service.enable_system_identity)).
  returned: always
  type: bool
removed:
  description: The ids of the assignments removed.
  returned: when O(state=absent)
  type: list
  elements: str
"""

import re  # noqa: E402
import time  # noqa: E402

from ansible_collections.apim.selfhosted.plugins.module_utils.apim_identity import (  # noqa: E402
    ServiceIdentity,
    identity_view,
)
from ansible_collections.apim.selfhosted.plugins.module_utils.azure_client import (  # noqa: E402
    AzureModule,
    HttpResponseError,
    error_code,
    is_guid,
    role_definition_id,
    same_id,
    stable_guid,
    trailing_guid,
    validate_scope,
)

PRINCIPAL_TYPES = ("ServicePrincipal", "User", "Group", "ForeignGroup", "Device")
ROLE_ID_RE = r"^(/subscriptions/[^/]+)?/providers/Microsoft\.Authorization/roleDefinitions/[0-9a-fA-F-]{36}$"


def _flat(a):
    return {
        "id": a.id,
        "name": a.name,
        "scope": a.scope,
        "role_definition_id": a.role_definition_id,
        "principal_id": a.principal_id,
        "principal_type": a.principal_type,
        "description": a.description,
    }


def resolve_role(az, client, scope, value):
    if re.match(ROLE_ID_RE, value, re.IGNORECASE):
        return value
    if is_guid(value):
        return role_definition_id(scope, value.lower())
    escaped = value.replace("'", "''")
    found = az.call(
        "looking up role '%s' at %s" % (value, scope),
        lambda: [
            r
            for r in client.role_definitions.list(scope, filter="roleName eq '%s'" % escaped)
            if (r.role_name or "").lower() == value.lower()
        ],
    )
    if not found:
        az.fail("role_definition '%s' was not found at %s; create it first or give its id" % (value, scope))
    if len(found) > 1:
        az.fail("role_definition '%s' matches more than one role at %s; give its id" % (value, scope))
    return found[0].id


def resolve_apim_principal(az, spec, scope, result):
    """The principal id of the instance's system-assigned identity (enabled first when asked; deprecated)."""
    sub = az.subscription_id(scope=scope, explicit=spec.get("subscription_id"))
    service = ServiceIdentity(az, sub, spec["resource_group"], spec["name"])
    identity = service.read()
    if not identity_view(identity)["system_assigned"]:
        if not spec["enable_system_identity"]:
            az.fail(service.missing_message(identity, "apim_service.enable_system_identity"))
        result["identity_enabled"] = True
        result["changed"] = True
        if az.check_mode:
            return None
        identity = service.set_system(identity, True)
    identity = service.wait_principal(identity, spec["identity_wait_timeout"], "apim_service.identity_wait_timeout")
    return identity.principal_id


def find_existing(az, client, scope, role_id, principal_id):
    what = "listing role assignments of principal %s at %s" % (principal_id, scope)
    items = az.call(
        what, lambda: list(client.role_assignments.list_for_scope(scope, filter="principalId eq '%s'" % principal_id))
    )
    rguid = trailing_guid(role_id)
    return [
        a
        for a in items
        if same_id(a.scope, scope)
        and (a.principal_id or "").lower() == principal_id.lower()
        and trailing_guid(a.role_definition_id) == rguid
    ]


def create(az, client, scope, name, params, role_id, principal_id, existing_name=None):
    body = {"role_definition_id": role_id, "principal_id": principal_id}
    if params["principal_type"]:
        body["principal_type"] = params["principal_type"]
    if params["description"] is not None:
        body["description"] = params["description"]
    deadline = time.time() + params["principal_wait_timeout"]
    delay = 1.0
    while True:
        try:
            return client.role_assignments.create(scope, name, body)
        except HttpResponseError as exc:
            code = error_code(exc)
            if code == "RoleAssignmentExists":
                return None
            if code == "PrincipalNotFound":
                remaining = deadline - time.time()
                if remaining > 0:
                    time.sleep(min(delay, remaining))
                    delay = min(delay * 2, 15)
                    continue
                az.fail(
                    "assigning role at %s: principal %s was not found in the directory after %ss "
                    "(principal_wait_timeout). Check principal_id; for a principal created moments ago set "
                    "principal_type or raise principal_wait_timeout."
                    % (scope, principal_id, params["principal_wait_timeout"])
                )
            if code == "RoleAssignmentUpdateNotPermitted":
                az.fail(
                    "assigning role at %s: an assignment named %s already exists for another principal, role or "
                    "scope; choose another name or leave name unset" % (scope, name)
                )
            az.fail_from(exc, "assigning role %s to %s at %s" % (trailing_guid(role_id), principal_id, scope))


ARGUMENT_SPEC = dict(
    scope=dict(type="str", required=True),
    role_definition=dict(type="str", required=True),
    principal_id=dict(type="str"),
    apim_service=dict(
        type="dict",
        options=dict(
            resource_group=dict(type="str", required=True),
            name=dict(type="str", required=True),
            subscription_id=dict(type="str"),
            enable_system_identity=dict(
                type="bool",
                default=False,
                removed_in_version="1.0.0",
                removed_from_collection="apim.selfhosted",
            ),
            identity_wait_timeout=dict(
                type="int",
                default=300,
                removed_in_version="1.0.0",
                removed_from_collection="apim.selfhosted",
            ),
        ),
    ),
    principal_type=dict(type="str", default="ServicePrincipal"),
    name=dict(type="str"),
    description=dict(type="str"),
    state=dict(type="str", choices=["present", "absent"], default="present"),
    principal_wait_timeout=dict(type="int", default=60),
)


def validate(az):
    """The scope, once every option is valid; fails naming the option otherwise (before any request)."""
    p = az.params
    scope = validate_scope(az, p["scope"], "scope")
    if p["principal_id"] is not None and not is_guid(p["principal_id"]):
        az.fail("principal_id must be an object id (GUID), got '%s'" % p["principal_id"])
    if p["name"] is not None and not is_guid(p["name"]):
        az.fail("name must be a GUID, got '%s'" % p["name"])
    if not (p["role_definition"] or "").strip():
        az.fail("role_definition must not be empty")
    if p["principal_type"] and p["principal_type"] not in PRINCIPAL_TYPES:
        az.fail(
            "principal_type must be one of %s, or null to send none; got '%s'"
            % (", ".join(PRINCIPAL_TYPES), p["principal_type"])
        )
    if p["principal_wait_timeout"] < 0:
        az.fail("principal_wait_timeout must not be negative")
    if p["apim_service"] and p["apim_service"]["subscription_id"] and not is_guid(p["apim_service"]["subscription_id"]):
        az.fail("apim_service.subscription_id must be a GUID")
    return scope


def remove(az, client, existing, before, result):
    result["removed"] = [a.id for a in existing]
    if existing:
        result["changed"] = True
        result["role_assignment"] = before
        if not az.check_mode:
            for a in existing:
                az.call("removing role assignment %s" % a.id, client.role_assignments.delete, a.scope, a.name)
    if az.module._diff:
        result["diff"] = dict(before=before, after={})


def main():
    az = AzureModule(
        argument_spec=ARGUMENT_SPEC,
        mutually_exclusive=[("principal_id", "apim_service")],
        required_one_of=[("principal_id", "apim_service")],
        supports_check_mode=True,
    )
    p = az.params
    scope = validate(az)

    result = dict(changed=False, identity_enabled=False, principal_id="")
    client = az.authorization(scope)
    role_id = resolve_role(az, client, scope, p["role_definition"].strip())
    if p["apim_service"]:
        principal_id = resolve_apim_principal(az, p["apim_service"], scope, result)
    else:
        principal_id = p["principal_id"].lower()
    result["principal_id"] = principal_id or ""

    existing = find_existing(az, client, scope, role_id, principal_id) if principal_id else []
    before = _flat(existing[0]) if existing else {}

    if p["state"] == "absent":
        remove(az, client, existing, before, result)
        az.module.exit_json(**result)

    name = (p["name"] or "").lower() or None
    if existing:
        cur = existing[0]
        after = before
        if p["description"] is not None and (cur.description or "") != p["description"]:
            result["changed"] = True
            after = dict(before, description=p["description"])
            if not az.check_mode:
                a = create(az, client, cur.scope, cur.name, p, cur.role_definition_id, principal_id)
                after = _flat(a) if a else after
    else:
        name = name or stable_guid("roleAssignment", scope, trailing_guid(role_id), principal_id or "pending")
        result["changed"] = True
        after = {
            "id": "%s/providers/Microsoft.Authorization/roleAssignments/%s" % (scope, name),
            "name": name,
            "scope": scope,
            "role_definition_id": role_id,
            "principal_id": principal_id or "",
            "principal_type": p["principal_type"],
            "description": p["description"],
        }
        if not az.check_mode:
            a = create(az, client, scope, name, p, role_id, principal_id)
            if a is None:
                # Azure says it exists (a write raced us, or a stale list): report that one as it is.
                again = find_existing(az, client, scope, role_id, principal_id)
                result["changed"] = False
                after = _flat(again[0]) if again else after
            else:
                after = _flat(a)
    result["id"] = after["id"]
    result["role_assignment"] = after
    if az.module._diff:
        result["diff"] = dict(before=before, after=after)
    az.module.exit_json(**result)


if __name__ == "__main__":
    main()
