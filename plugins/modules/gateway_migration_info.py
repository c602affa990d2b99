#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) apim.selfhosted contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: gateway_migration_info
short_description: Find the API Management instances whose self-hosted gateways still use v0/v1
version_added: 0.2.0
author: apim.selfhosted maintainers (@apim-selfhosted)
description:
  - Runs the Azure Resource Graph query of Microsoft's self-hosted gateway migration guide across one or more
    subscriptions - the Azure Advisor recommendations C(Use self-hosted gateway v2) (a gateway instance still runs a
    v0.x or v1.x image) and C(Use Configuration API v2 for self-hosted gateways) (an instance still uses the v1
    Configuration API) - and returns, per API Management instance, what Advisor found and the gateway resources of
    that instance, so a fleet inventory can be checked against them (M(apim.selfhosted.gateway_resource_info),
    the C(apim.selfhosted.migrate_v2) playbook).
  - Advisor refreshes its recommendations about once a day, so an instance migrated today can still be listed.
  - Read-only. Requests - the Resource Graph query (one request per page of results), then one list of gateways per
    instance found, with O(list_gateways).
extends_documentation_fragment:
  - apim.selfhosted.azure
  - apim.selfhosted.attributes
  - apim.selfhosted.attributes.actiongroup_azure
  - apim.selfhosted.attributes.info_module
options:
  subscriptions:
    description:
      - The subscriptions (GUIDs) to search. Defaults to the one of O(subscription_id) (or
        C(AZURE_SUBSCRIPTION_ID)).
    type: list
    elements: str
  list_gateways:
    description: Also list the gateway resources of each instance found.
    type: bool
    default: true
requirements:
  - azure-mgmt-resourcegraph >= 8.0.0
notes:
  - The caller needs read access to the subscriptions (Reader); Resource Graph leaves out what it may not read
    rather than failing.
seealso:
  - module: apim.selfhosted.gateway_resource_info
  - name: Self-hosted gateway migration guide
    description: The query this module runs.
    link: https://learn.microsoft.com/azure/api-management/self-hosted-gateway-migration-guide
"""

EXAMPLES = r"""
- name: Instances whose gateways still use v0/v1, across two subscriptions
  apim.selfhosted.gateway_migration_info:
    subscriptions:
      - 00000000-0000-0000-0000-000000000000
      - 11111111-1111-1111-1111-111111111111
  register: legacy

- name: Say which
  ansible.builtin.debug:
    msg: "{{ item.name }} ({{ item.resource_group }}): {{ item.findings | map(attribute='concern') | join(', ') }}"
  loop: "{{ legacy.instances }}"
"""

RETURN = r"""
instances:
  description: One entry per API Management instance with at least one finding, sorted by subscription, group, name.
  returned: always
  type: list
  elements: dict
  contains:
    subscription_id:
      description: The subscription of the instance.
      type: str
    resource_group:
      description: Its resource group.
      type: str
    name:
      description: The instance name.
      type: str
    id:
      description: Full resource id of the instance.
      type: str
    findings:
      description: What Advisor recommends for it.
      type: list
      elements: dict
      contains:
        concern:
          description: V(image) (a v0/v1 gateway image) or V(configuration_api) (the v1 Configuration API).
          type: str
        recommendation:
          description: The recommendation's title as Advisor words it.
          type: str
        impact:
          description: Advisor's impact (High, Medium, Low).
          type: str
        last_updated:
          description: When Advisor last updated it.
          type: str
        metadata:
          description: Advisor's extended properties of the recommendation, as Advisor gives them.
          type: dict
    gateways:
      description: The gateway resources of the instance (name and location name), with O(list_gateways).
      type: list
      elements: dict
count:
  description: How many instances were found.
  returned: always
  type: int
query:
  description: The Resource Graph query that was run (the migration guide's).
  returned: always
  type: str
"""

from ansible_collections.apim.selfhosted.plugins.module_utils.apim_resources import service_id  # noqa: E402
from ansible_collections.apim.selfhosted.plugins.module_utils.azure_client import (  # noqa: E402
    AzureModule,
    is_guid,
)

# Microsoft's query (self-hosted gateway migration guide, "Use Azure Resource Graph to identify Azure API
# Management instances"), as it stands there.
QUERY = """AdvisorResources
| where type == 'microsoft.advisor/recommendations'
| where properties.impactedField == 'Microsoft.ApiManagement/service' and properties.category == 'OperationalExcellence'
| extend
    recommendationTitle = properties.shortDescription.solution
| where recommendationTitle == 'Use self-hosted gateway v2' or recommendationTitle == 'Use Configuration API v2 for self-hosted gateways'
| extend
    instanceName = properties.impactedValue,
    recommendationImpact = properties.impact,
    recommendationMetadata = properties.extendedProperties,
    lastUpdated = properties.lastUpdated
| project tenantId, subscriptionId, resourceGroup, instanceName, recommendationTitle, recommendationImpact, recommendationMetadata, lastUpdated"""  # noqa: E501
CONCERNS = {
    "use self-hosted gateway v2": "image",
    "use configuration api v2 for self-hosted gateways": "configuration_api",
}


def run_query(az, subscriptions):
    """Every row of the query, following Resource Graph's skip tokens."""
    from azure.mgmt.resourcegraph.models import QueryRequest, QueryRequestOptions

    graph = az.resource_graph()
    rows, token = [], None
    while True:
        request = QueryRequest(
            subscriptions=subscriptions,
            query=QUERY,
            options=QueryRequestOptions(result_format="objectArray", skip_token=token),
        )
        page = az.call("querying Azure Resource Graph", graph.resources, request)
        rows.extend(page.data or [])
        token = page.skip_token
        if not token:
            return rows


def group(rows):
    """Rows (one per recommendation) as instances with their findings."""
    instances = {}
    for r in rows:
        key = (r.get("subscriptionId") or "", r.get("resourceGroup") or "", r.get("instanceName") or "")
        inst = instances.setdefault(
            tuple(k.lower() for k in key),
            {
                "subscription_id": key[0],
                "resource_group": key[1],
                "name": key[2],
                "id": service_id(*key),
                "findings": [],
                "gateways": [],
            },
        )
        title = r.get("recommendationTitle") or ""
        inst["findings"].append(
            {
                "concern": CONCERNS.get(title.lower(), "other"),
                "recommendation": title,
                "impact": r.get("recommendationImpact"),
                "last_updated": r.get("lastUpdated"),
                "metadata": r.get("recommendationMetadata") or {},
            }
        )
    return [instances[k] for k in sorted(instances)]


def main():
    az = AzureModule(
        argument_spec=dict(
            subscriptions=dict(type="list", elements="str"),
            list_gateways=dict(type="bool", default=True),
        ),
        supports_check_mode=True,
    )
    p = az.params
    subscriptions = p["subscriptions"] or [az.subscription_id()]
    bad = [s for s in subscriptions if not is_guid(s)]
    if bad:
        az.fail("subscriptions must be GUIDs, got %s" % ", ".join("'%s'" % s for s in bad))
    instances = group(run_query(az, subscriptions))
    if p["list_gateways"]:
        for inst in instances:
            client = az.apim(inst["subscription_id"])
            gws = az.call(
                "listing the gateways of API Management instance '%s'" % inst["name"],
                lambda: list(client.gateway.list_by_service(inst["resource_group"], inst["name"])),  # noqa: B023
            )
            inst["gateways"] = sorted(
                ({"name": g.name, "location": g.location_data.name if g.location_data else None} for g in gws),
                key=lambda g: g["name"].lower(),
            )
    az.module.exit_json(changed=False, instances=instances, count=len(instances), query=QUERY)


if __name__ == "__main__":
    main()
