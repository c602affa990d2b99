#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) apim.selfhosted contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: gateway_resource
short_description: Create, update or delete a self-hosted gateway resource in Azure API Management
version_added: 0.1.0
author: apim.selfhosted maintainers (@apim-selfhosted)
description:
  - Manages the gateway resource (C(Microsoft.ApiManagement/service/gateways)) that self-hosted gateway containers
    connect as. One read when nothing changes; a C(PUT) to create or update, a C(DELETE) with the C(If-Match)
    header set to C(*) to remove.
  - Named C(apim.selfhosted.gateway) before 0.2.0; that name still works (a redirect) until 1.0.0. The role
    C(apim.selfhosted.gateway) manages the gateway container on a host, this module the resource in Azure.
extends_documentation_fragment:
  - apim.selfhosted.azure
  - apim.selfhosted.apim_service
  - apim.selfhosted.attributes
  - apim.selfhosted.attributes.actiongroup_azure
options:
  name:
    description: The gateway id, at most 80 characters, without any of C(*#&+:<>?/%) or a backslash.
    type: str
    required: true
  location_data:
    description: Where the gateway runs. O(location_data.name) is required to create a gateway.
    type: dict
    suboptions:
      name:
        description: A name for the location, such as a site or data centre.
        type: str
        required: true
      city:
        description: City.
        type: str
      district:
        description: District, state or province.
        type: str
      country_or_region:
        description: Country or region.
        type: str
  description:
    description: The gateway description. Left as it is when not given.
    type: str
  state:
    description: V(present) creates or updates the gateway; V(absent) deletes it (and so disconnects its containers).
    type: str
    choices: [present, absent]
    default: present
attributes:
  check_mode:
    support: full
  diff_mode:
    support: full
  idempotent:
    support: full
seealso:
  - module: apim.selfhosted.gateway_token
"""

EXAMPLES = r"""
- name: Gateway resource for the Lyon site
  apim.selfhosted.gateway_resource:
    resource_group: rg-apim
    service_name: contoso
    name: lyon-edge
    location_data:
      name: Lyon plant
      city: Lyon
      country_or_region: France
    description: Edge gateways of the Lyon plant
"""

RETURN = r"""
gateway:
  description: The gateway after the run (before it, for O(state=absent)); empty when there is none.
  returned: always
  type: dict
  contains:
    id:
      description: Full resource id.
      type: str
    name:
      description: Gateway id.
      type: str
    description:
      description: Description.
      type: str
    location_data:
      description: Location (name, city, district, country_or_region).
      type: dict
"""

import re  # noqa: E402

from ansible_collections.apim.selfhosted.plugins.module_utils.apim_resources import SERVICE_SPEC  # noqa: E402
from ansible_collections.apim.selfhosted.plugins.module_utils.azure_client import (  # noqa: E402
    AzureModule,
    HttpResponseError,
)

GATEWAY_ID_RE = re.compile(r"^[^*#&+:<>?/%\\]{1,80}$")
LOC_KEYS = ("name", "city", "district", "country_or_region")


def _flat(gw):
    loc = gw.location_data
    return {
        "id": gw.id,
        "name": gw.name,
        "description": gw.description,
        "location_data": dict((k, getattr(loc, k, None)) for k in LOC_KEYS) if loc else {},
    }


def main():
    az = AzureModule(
        argument_spec=dict(
            SERVICE_SPEC,
            name=dict(type="str", required=True),
            location_data=dict(
                type="dict",
                options=dict(
                    name=dict(type="str", required=True),
                    city=dict(type="str"),
                    district=dict(type="str"),
                    country_or_region=dict(type="str"),
                ),
            ),
            description=dict(type="str"),
            state=dict(type="str", choices=["present", "absent"], default="present"),
        ),
        supports_check_mode=True,
    )
    p = az.params
    if not GATEWAY_ID_RE.match(p["name"] or ""):
        az.fail("name must be 1 to 80 characters without * # & + : < > ? / %% \\, got '%s'" % p["name"])
    if p["location_data"] is not None and not (p["location_data"]["name"] or "").strip():
        az.fail("location_data.name must not be empty")
    if p["description"] is not None and len(p["description"]) > 1000:
        az.fail("description must be at most 1000 characters")
    sub = az.subscription_id()
    client = az.apim(sub)
    rg, svc, name = p["resource_group"], p["service_name"], p["name"]
    label = "gateway '%s' of API Management instance '%s'" % (name, svc)
    try:
        current = _flat(client.gateway.get(rg, svc, name))
    except HttpResponseError as exc:
        if exc.status_code != 404:
            az.fail_from(exc, "reading %s" % label)
        current = None
    result = dict(changed=False, gateway=current or {})

    if p["state"] == "absent":
        if current:
            result["changed"] = True
            if not az.check_mode:
                az.call("deleting %s" % label, client.gateway.delete, rg, svc, name, if_match="*")
        if az.module._diff:
            result["diff"] = dict(before=current or {}, after={})
        az.module.exit_json(**result)

    if current is None and p["location_data"] is None:
        az.fail("location_data (with name) is required to create %s" % label)
    desired_loc = dict((k, p["location_data"][k]) for k in LOC_KEYS) if p["location_data"] else current["location_data"]
    desired = {
        "id": current["id"] if current else None,
        "name": name,
        "description": p["description"] if p["description"] is not None else (current or {}).get("description"),
        "location_data": desired_loc,
    }
    after = current
    if current is None or current["location_data"] != desired_loc or current["description"] != desired["description"]:
        result["changed"] = True
        after = desired
        if not az.check_mode:
            body = {"location_data": dict((k, v) for k, v in desired_loc.items() if v is not None)}
            if desired["description"] is not None:
                body["description"] = desired["description"]
            gw = az.call("writing %s" % label, client.gateway.create_or_update, rg, svc, name, body)
            after = _flat(gw)
    result["gateway"] = after
    if az.module._diff:
        result["diff"] = dict(before=current or {}, after=after)
    az.module.exit_json(**result)


if __name__ == "__main__":
    main()
