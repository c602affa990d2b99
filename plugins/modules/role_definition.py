#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) apim.selfhosted contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: role_definition
short_description: Create, update or delete an Azure custom role definition
version_added: 0.1.0
author: apim.selfhosted maintainers (@apim-selfhosted)
description:
  - Manages one Azure RBAC custom role, found by its name. Custom role names are unique in a Microsoft Entra
    tenant, so an existing role of that name visible at O(scope) is adopted (its GUID is kept) and updated in place.
  - A new role gets a GUID derived from O(scope) and O(name), so reruns never create a second role.
  - Permissions and assignable scopes are compared as case-insensitive sets; order and case never cause a change.
  - One read when nothing changes (a C(roleName) filtered list at O(scope)); one more request per write.
extends_documentation_fragment:
  - apim.selfhosted.azure
  - apim.selfhosted.attributes
  - apim.selfhosted.attributes.actiongroup_azure
options:
  name:
    description: The role name (C(roleName)), at most 128 characters.
    type: str
    required: true
  description:
    description: The role description, at most 1024 characters. Left as it is when not given.
    type: str
  scope:
    description:
      - Where the role is created and looked up, usually C(/subscriptions/<id>). It must start with C(/).
    type: str
    required: true
  assignable_scopes:
    description:
      - Where the role can be assigned. Each must start with C(/); C(/) itself is not allowed for custom roles.
      - Defaults to O(scope).
    type: list
    elements: str
  actions:
    description: Control-plane actions the role allows.
    type: list
    elements: str
    default: []
  not_actions:
    description: Control-plane actions excluded from O(actions).
    type: list
    elements: str
    default: []
  data_actions:
    description: Data-plane actions the role allows.
    type: list
    elements: str
    default: []
  not_data_actions:
    description: Data-plane actions excluded from O(data_actions).
    type: list
    elements: str
    default: []
  state:
    description:
      - V(present) creates or updates the role; at least one of O(actions) and O(data_actions) must be non-empty.
      - V(absent) deletes it; Azure refuses while it is still assigned.
    type: str
    choices: [present, absent]
    default: present
attributes:
  check_mode:
    support: full
    details: Only the read is sent; the result shows the definition that would be written.
  diff_mode:
    support: full
  idempotent:
    support: full
seealso:
  - module: apim.selfhosted.role_assignment
"""

EXAMPLES = r"""
- name: Create the Configuration Reader role of a self-hosted gateway
  apim.selfhosted.role_definition:
    name: API Management Gateway Configuration Reader Role
    description: Can read self-hosted gateway configuration from Configuration API
    scope: /subscriptions/00000000-0000-0000-0000-000000000000
    data_actions:
      - Microsoft.ApiManagement/service/gateways/getConfiguration/action
  register: reader

- name: Remove a role
  apim.selfhosted.role_definition:
    name: Old role
    scope: /subscriptions/00000000-0000-0000-0000-000000000000
    state: absent
"""

RETURN = r"""
id:
  description: The full id of the role definition (also for a role that check mode would create).
  returned: when O(state=present), or when a role was found
  type: str
  sample: /subscriptions/00000000-0000-0000-0000-000000000000/providers/Microsoft.Authorization/roleDefinitions/1d2c...
role_definition:
  description: The role definition as Azure holds it after the run (before it, for O(state=absent)).
  returned: when O(state=present), or when a role was found
  type: dict
  contains:
    id:
      description: Full id.
      type: str
    name:
      description: The GUID.
      type: str
    role_name:
      description: The role name.
      type: str
    description:
      description: The description.
      type: str
    role_type:
      description: C(CustomRole).
      type: str
    assignable_scopes:
      description: Assignable scopes.
      type: list
      elements: str
    actions:
      description: Actions.
      type: list
      elements: str
    not_actions:
      description: Not-actions.
      type: list
      elements: str
    data_actions:
      description: Data actions.
      type: list
      elements: str
    not_data_actions:
      description: Not-data-actions.
      type: list
      elements: str
adopted:
  description: True when an existing role of this name with a GUID other than the derived one was found and kept.
  returned: always
  type: bool
"""

from ansible_collections.apim.selfhosted.plugins.module_utils.azure_client import (  # noqa: E402
    AzureModule,
    HttpResponseError,
    error_code,
    role_definition_id,
    stable_guid,
    validate_scope,
)

LISTS = ("actions", "not_actions", "data_actions", "not_data_actions")


def _flat(rd):
    """A role definition (SDK model) as a plain dict with lists never missing."""
    perms = rd.permissions or []
    out = {
        "id": rd.id,
        "name": rd.name,
        "role_name": rd.role_name,
        "description": rd.description,
        "role_type": rd.role_type,
        "assignable_scopes": list(rd.assignable_scopes or []),
    }
    for key in LISTS:
        vals = []
        for p in perms:
            vals.extend(getattr(p, key, None) or [])
        out[key] = vals
    out["_blocks"] = len(perms)
    return out


def _lset(values):
    return set(v.rstrip("/").lower() for v in values or [])


def _differs(current, desired):
    if current["_blocks"] != 1:
        return True
    if desired["description"] is not None and (current["description"] or "") != desired["description"]:
        return True
    if current["role_name"] != desired["role_name"]:
        return True
    return any(_lset(current[k]) != _lset(desired[k]) for k in (*LISTS, "assignable_scopes"))


def _public(d):
    return dict((k, v) for k, v in d.items() if not k.startswith("_"))


ARGUMENT_SPEC = dict(
    name=dict(type="str", required=True),
    description=dict(type="str"),
    scope=dict(type="str", required=True),
    assignable_scopes=dict(type="list", elements="str"),
    actions=dict(type="list", elements="str", default=[]),
    not_actions=dict(type="list", elements="str", default=[]),
    data_actions=dict(type="list", elements="str", default=[]),
    not_data_actions=dict(type="list", elements="str", default=[]),
    state=dict(type="str", choices=["present", "absent"], default="present"),
)


def validate(az):
    """(scope, name, assignable scopes) from valid options; fails naming the option otherwise."""
    p = az.params
    scope = validate_scope(az, p["scope"], "scope")
    name = (p["name"] or "").strip()
    if not name or len(name) > 128:
        az.fail("name must be 1 to 128 characters")
    if p["description"] is not None and len(p["description"]) > 1024:
        az.fail("description must be at most 1024 characters")
    assignable = [validate_scope(az, s, "assignable_scopes") for s in (p["assignable_scopes"] or [scope])]
    if p["state"] == "present":
        if not p["actions"] and not p["data_actions"]:
            az.fail("empty permissions: give at least one of actions or data_actions")
        for key in LISTS:
            if any(not (a or "").strip() for a in p[key]):
                az.fail("%s must not contain empty items" % key)
    return scope, name, assignable


def find(az, client, scope, name):
    """The custom role of that name visible at ``scope``, flattened, or None."""
    escaped = name.replace("'", "''")
    found = az.call(
        "listing role definitions named '%s' at %s" % (name, scope),
        lambda: [
            r
            for r in client.role_definitions.list(scope, filter="roleName eq '%s'" % escaped)
            if (r.role_type or "").lower() == "customrole" and (r.role_name or "").lower() == name.lower()
        ],
    )
    if len(found) > 1:
        az.fail("more than one custom role named '%s' at %s: %s" % (name, scope, ", ".join(r.id for r in found)))
    return _flat(found[0]) if found else None


def remove(az, client, scope, name, current, result):
    if current:
        result["changed"] = True
        result["role_definition"] = _public(current)
        result["id"] = current["id"]
        if not az.check_mode:
            try:
                client.role_definitions.delete(scope, current["name"])
            except HttpResponseError as exc:
                if error_code(exc) == "RoleDefinitionHasAssignments":
                    az.fail(
                        "deleting role '%s': it is still assigned; remove its role assignments first "
                        "(apim.selfhosted.role_assignment state=absent)" % name
                    )
                az.fail_from(exc, "deleting role definition '%s'" % name)
    if az.module._diff:
        result["diff"] = dict(before=_public(current) if current else {}, after={})


def write(az, client, scope, guid, desired):
    body = {
        "role_name": desired["role_name"],
        "description": desired["description"],
        "role_type": "CustomRole",
        "assignable_scopes": desired["assignable_scopes"],
        "permissions": [{k: list(desired[k]) for k in LISTS}],
    }
    try:
        return _flat(client.role_definitions.create_or_update(scope, guid, body))
    except HttpResponseError as exc:
        if error_code(exc) == "RoleDefinitionWithSameNameExists":
            az.fail(
                "creating role '%s' at %s: a custom role of that name already exists in the tenant but is not "
                "visible at this scope (names are unique per tenant). Set scope to one of its assignable "
                "scopes to adopt it, or choose another name." % (desired["role_name"], scope)
            )
        az.fail_from(exc, "writing role definition '%s' at %s" % (desired["role_name"], scope))


def main():
    az = AzureModule(argument_spec=ARGUMENT_SPEC, supports_check_mode=True)
    p = az.params
    scope, name, assignable = validate(az)
    client = az.authorization(scope)
    current = find(az, client, scope, name)
    derived = stable_guid("roleDefinition", scope, name)
    guid = current["name"] if current else derived
    result = dict(changed=False, adopted=bool(current) and current["name"] != derived)

    if p["state"] == "absent":
        remove(az, client, scope, name, current, result)
        az.module.exit_json(**result)

    desired = {
        "id": current["id"] if current else role_definition_id(scope, guid),
        "name": guid,
        "role_name": name,
        "description": p["description"] if p["description"] is not None else (current or {}).get("description"),
        "role_type": "CustomRole",
        "assignable_scopes": assignable,
        "_blocks": 1,
    }
    for key in LISTS:
        desired[key] = list(p[key])
    after = current
    if current is None or _differs(current, dict(desired, description=p["description"])):
        result["changed"] = True
        after = desired if az.check_mode else write(az, client, scope, guid, desired)
    result["id"] = after["id"]
    result["role_definition"] = _public(after)
    if az.module._diff:
        result["diff"] = dict(before=_public(current) if current else {}, after=_public(after))
    az.module.exit_json(**result)


if __name__ == "__main__":
    main()
