#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) apim.selfhosted contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: gateway_api
short_description: Choose the APIs a self-hosted gateway serves
version_added: 0.2.0
author: apim.selfhosted maintainers (@apim-selfhosted)
description:
  - Associates APIs of an API Management instance with a gateway resource (C(service/gateways/apis)), or removes
    the association. A self-hosted gateway serves only the APIs associated with its gateway resource; the others
    answer 404 on it.
  - APIs are given by API id or by display name (case-insensitive); a name that matches no API, or more than one,
    fails before any change, listing the APIs that exist.
  - With O(exclusive=true) the APIs listed are the only ones the gateway serves - every other association is
    removed.
  - Requests - one list of the instance's APIs and one of the gateway's when nothing changes; one C(PUT) per API
    added and one C(DELETE) per API removed.
extends_documentation_fragment:
  - apim.selfhosted.azure
  - apim.selfhosted.apim_service
  - apim.selfhosted.apim_service.gateway
  - apim.selfhosted.attributes
  - apim.selfhosted.attributes.actiongroup_azure
options:
  apis:
    description: The APIs, by API id or display name. Empty with O(exclusive=true) removes every association.
    type: list
    elements: str
    required: true
  exclusive:
    description: With O(state=present), also remove the association of every API not in O(apis).
    type: bool
    default: false
  state:
    description: V(present) associates the APIs with the gateway, V(absent) removes their association.
    type: str
    choices: [present, absent]
    default: present
attributes:
  check_mode:
    support: full
    details: Only the two lists are read.
  diff_mode:
    support: full
    details: The API ids associated before and after.
  idempotent:
    support: full
seealso:
  - module: apim.selfhosted.gateway_resource
  - module: apim.selfhosted.gateway_resource_info
"""

EXAMPLES = r"""
- name: The Lyon gateways serve the orders API and the echo API, nothing else
  apim.selfhosted.gateway_api:
    resource_group: rg-apim
    service_name: contoso
    gateway: lyon-edge
    apis: [orders-api, Echo API]
    exclusive: true

- name: Stop serving the echo API there
  apim.selfhosted.gateway_api:
    resource_group: rg-apim
    service_name: contoso
    gateway: lyon-edge
    apis: [echo-api]
    state: absent
"""

RETURN = r"""
apis:
  description: The API ids associated with the gateway after the run (what it would be, in check mode), sorted.
  returned: always
  type: list
  elements: str
  sample: [echo-api, orders-api]
added:
  description: The API ids whose association was (or would be) added.
  returned: always
  type: list
  elements: str
removed:
  description: The API ids whose association was (or would be) removed.
  returned: always
  type: list
  elements: str
"""

from ansible_collections.apim.selfhosted.plugins.module_utils.apim_resources import (  # noqa: E402
    GATEWAY_SPEC,
    check_entity_id,
)
from ansible_collections.apim.selfhosted.plugins.module_utils.azure_client import AzureModule  # noqa: E402


def resolve(az, known, wanted, label):
    """API ids for the given ids or display names; fails before any change on an unknown or ambiguous one."""
    by_id = dict((a.name.lower(), a.name) for a in known)
    ids = []
    for value in wanted:
        if value.lower() in by_id:
            ids.append(by_id[value.lower()])
            continue
        named = [a.name for a in known if (a.display_name or "").lower() == value.lower()]
        if len(named) != 1:
            listing = ", ".join("%s (%s)" % (a.name, a.display_name) for a in known) or "none"
            what = "matches %d APIs by display name" % len(named) if named else "is no API id or display name"
            az.fail("apis: '%s' %s in %s; its APIs: %s" % (value, what, label, listing))
        ids.append(named[0])
    return sorted(set(ids), key=str.lower)


def main():
    az = AzureModule(
        argument_spec=dict(
            GATEWAY_SPEC,
            apis=dict(type="list", elements="str", required=True),
            exclusive=dict(type="bool", default=False),
            state=dict(type="str", choices=["present", "absent"], default="present"),
        ),
        supports_check_mode=True,
    )
    p = az.params
    gateway = check_entity_id(az, p["gateway"], "gateway")
    if any(not (a or "").strip() for a in p["apis"]):
        az.fail("apis must not contain empty items")
    if p["exclusive"] and p["state"] == "absent":
        az.fail("exclusive applies to state=present only")
    client = az.apim(az.subscription_id())
    rg, svc = p["resource_group"], p["service_name"]
    instance = "API Management instance '%s'" % svc
    label = "gateway '%s' of %s" % (gateway, instance)
    known = az.call("listing the APIs of %s" % instance, lambda: list(client.api.list_by_service(rg, svc)))
    wanted = resolve(az, known, [a.strip() for a in p["apis"]], instance)
    linked = az.call(
        "listing the APIs of %s" % label,
        lambda: sorted(a.name for a in client.gateway_api.list_by_service(rg, svc, gateway)),
    )
    have = dict((a.lower(), a) for a in linked)
    want = dict((a.lower(), a) for a in wanted)
    if p["state"] == "present":
        added = [want[k] for k in want if k not in have]
        removed = [have[k] for k in have if k not in want] if p["exclusive"] else []
    else:
        added, removed = [], [have[k] for k in want if k in have]
    if not az.check_mode:
        for api_id in added:
            az.call(
                "associating API '%s' with %s" % (api_id, label),
                client.gateway_api.create_or_update,
                rg,
                svc,
                gateway,
                api_id,
                {"provisioning_state": "created"},
            )
        for api_id in removed:
            az.call("removing API '%s' from %s" % (api_id, label), client.gateway_api.delete, rg, svc, gateway, api_id)
    after = sorted(set(linked) - set(removed) | set(added), key=str.lower)
    result = dict(changed=bool(added or removed), apis=after, added=added, removed=removed)
    if az.module._diff:
        result["diff"] = dict(before={"apis": linked}, after={"apis": after})
    az.module.exit_json(**result)


if __name__ == "__main__":
    main()
