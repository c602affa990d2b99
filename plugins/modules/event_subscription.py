#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) apim.selfhosted contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: event_subscription
short_description: The Event Grid subscription of an API Management instance that delivers gateway token events
version_added: 0.1.0
author: apim.selfhosted maintainers (@apim-selfhosted)
description:
  - Creates, updates or removes an Azure Event Grid event subscription on an API Management instance (the topic is
    the instance itself) with a webhook destination, by default for the events
    C(Microsoft.ApiManagement.GatewayTokenNearExpiry) and C(Microsoft.ApiManagement.GatewayTokenExpired), which the
    event source C(apim.selfhosted.eventgrid) and the rulebooks of this collection act on.
  - Idempotent - the subscription is read first (its full endpoint URL with C(getFullUrl) and its delivery headers
    with C(getDeliveryAttributes), since a plain read hides both) and written only when it differs from the options,
    or when its last provisioning failed.
  - On a create, or a change of the destination, Event Grid first runs its validation handshake against the
    endpoint; the module waits for it and fails with Azure's message when the endpoint did not answer it (is the
    event source running, reachable from Azure, with the same secret and a publicly trusted certificate?).
  - Secrets never appear in the result, the diff or the logs - the shared secret is an option of its own (C(no_log)),
    which the module puts in the endpoint URL's query or in a secret delivery header; the result and the diff show
    the endpoint URL without its query.
  - The caller needs C(Microsoft.EventGrid/eventSubscriptions/*) (read, write, delete, C(getFullUrl/action),
    C(getDeliveryAttributes/action)) on the instance, for example the built-in role EventGrid EventSubscription
    Contributor, and the C(Microsoft.EventGrid) resource provider must be registered in the subscription.
extends_documentation_fragment:
  - apim.selfhosted.azure
options:
  resource_group:
    description: The resource group of the API Management instance.
    type: str
    required: true
  service_name:
    description: The API Management instance name (the event source, called topic in Event Grid).
    type: str
    required: true
  name:
    description: The event subscription name, 3 to 64 letters, digits or C(-).
    type: str
    required: true
  state:
    description: Whether the event subscription exists.
    type: str
    choices: [present, absent]
    default: present
  endpoint_url:
    description:
      - The https URL Event Grid delivers to (the C(apim.selfhosted.eventgrid) source, or a proxy in front of it).
        Required with O(state=present).
      - Give the shared secret as O(shared_secret), never in this URL; the module adds it to the query (or a header)
        itself. The result shows the URL without its query.
    type: str
  shared_secret:
    description:
      - The shared secret that the event source requires on every request (its C(shared_secret)). Never logged.
    type: str
  shared_secret_in:
    description:
      - Where Event Grid carries O(shared_secret) - V(query), a parameter of the endpoint URL (the way Microsoft
        documents webhook secrets, also present on the validation handshake), or V(header), a secret static delivery
        header.
    type: str
    choices: [query, header]
    default: query
  shared_secret_name:
    description:
      - The query parameter or header name of O(shared_secret); the event source's C(secret_query) (default C(code))
        or C(secret_header) (C(X-Apim-Eda-Secret)). Defaults to C(code) with O(shared_secret_in=query) and
        C(X-Apim-Eda-Secret) with O(shared_secret_in=header).
    type: str
  entra_tenant_id:
    description:
      - Microsoft Entra protected delivery - the tenant of the application that Event Grid gets a token for (the event
        source's C(entra_tenant_id)). Goes with O(entra_application_id_or_uri).
    type: str
  entra_application_id_or_uri:
    description:
      - The application id or application id URI that Event Grid gets a token for (the event source's
        C(entra_audience)). Event Grid's service principal needs the app role C(AzureEventGridSecureWebhookSubscriber)
        on it.
    type: str
  event_types:
    description: The API Management event types delivered.
    type: list
    elements: str
    default: [Microsoft.ApiManagement.GatewayTokenNearExpiry, Microsoft.ApiManagement.GatewayTokenExpired]
  event_delivery_schema:
    description:
      - The schema of the delivered events. The event source takes both; with V(CloudEventSchemaV1_0) Event Grid
        validates the endpoint with the CloudEvents OPTIONS handshake instead of a validation event.
    type: str
    choices: [EventGridSchema, CloudEventSchemaV1_0]
    default: EventGridSchema
  max_events_per_batch:
    description: The most events in one delivery, 1 to 5000.
    type: int
    default: 1
  preferred_batch_size_kb:
    description: The preferred size of one delivery in kilobytes, 1 to 1024.
    type: int
    default: 64
  max_delivery_attempts:
    description: How often Event Grid tries to deliver an event, 1 to 30.
    type: int
    default: 30
  event_ttl_minutes:
    description: How long Event Grid keeps trying to deliver an event, in minutes, 1 to 1440.
    type: int
    default: 1440
  labels:
    description: Labels of the event subscription.
    type: list
    elements: str
    default: []
attributes:
  check_mode:
    description: Can run in check_mode and return changed status prediction without modifying target.
    support: full
    details: The subscription, its full URL and its delivery attributes are read; nothing is written.
  diff_mode:
    description: Will return details on what has changed (or possibly needs changing in check_mode), when in diff mode.
    support: full
    details: Secrets show as C((hidden)), or C((hidden, changes)) when they change; URLs show without their query.
  action_group:
    description: Use C(group/apim.selfhosted.azure) in C(module_defaults) to set the Azure options once.
    support: full
    membership:
      - apim.selfhosted.azure
seealso:
  - module: apim.selfhosted.gateway_token
"""

EXAMPLES = r"""
- name: Deliver the gateway token events of contoso to the Event-Driven Ansible source
  apim.selfhosted.event_subscription:
    resource_group: rg-apim
    service_name: contoso
    name: gateway-token-events
    endpoint_url: https://eda.example.com:5443/
    shared_secret: "{{ vault_eventgrid_secret }}"

- name: The same with Microsoft Entra protected delivery and CloudEvents
  apim.selfhosted.event_subscription:
    resource_group: rg-apim
    service_name: contoso
    name: gateway-token-events
    endpoint_url: https://eda.example.com:5443/
    entra_tenant_id: 7a1b0c2d-3e4f-4a5b-8c6d-7e8f9a0b1c2d
    entra_application_id_or_uri: api://eda-eventgrid
    event_delivery_schema: CloudEventSchemaV1_0

- name: Remove it
  apim.selfhosted.event_subscription:
    resource_group: rg-apim
    service_name: contoso
    name: gateway-token-events
    state: absent
"""

RETURN = r"""
event_subscription:
  description:
    - The event subscription after the run (what it would be in check mode), without secrets; empty when absent.
  returned: always
  type: dict
  contains:
    id:
      description: The resource id of the event subscription.
      type: str
    name:
      description: The event subscription name.
      type: str
    topic:
      description: The resource id of the API Management instance.
      type: str
    provisioning_state:
      description: Event Grid's provisioning state (C(Succeeded) after a passed validation handshake).
      type: str
    endpoint_base_url:
      description: The endpoint URL without its query.
      type: str
    shared_secret:
      description: C((hidden)) when a shared secret is set, else empty.
      type: str
    shared_secret_in:
      description: C(query), C(header) or empty.
      type: str
    entra_tenant_id:
      description: The tenant of Entra protected delivery, or empty.
      type: str
    entra_application_id_or_uri:
      description: The application of Entra protected delivery, or empty.
      type: str
    event_types:
      description: The delivered event types.
      type: list
      elements: str
    event_delivery_schema:
      description: The schema of the delivered events.
      type: str
    max_events_per_batch:
      description: The most events in one delivery.
      type: int
    preferred_batch_size_kb:
      description: The preferred size of one delivery.
      type: int
    max_delivery_attempts:
      description: Delivery attempts per event.
      type: int
    event_ttl_minutes:
      description: Minutes Event Grid keeps trying.
      type: int
    labels:
      description: The labels.
      type: list
      elements: str
changes:
  description: What differed from the options (C(endpoint), C(query_secret), C(header_secret), C(event_types), ...).
  returned: always
  type: list
  elements: str
"""

import traceback  # noqa: E402

from ansible.module_utils.basic import missing_required_lib  # noqa: E402

from ansible_collections.apim.selfhosted.plugins.module_utils import event_subscription as es  # noqa: E402
from ansible_collections.apim.selfhosted.plugins.module_utils.azure_client import (  # noqa: E402
    AzureModule,
    HttpResponseError,
    one_line,
)

DEFAULT_NAMES = {"query": "code", "header": "X-Apim-Eda-Secret"}
POLL_SECONDS = 1


def _client(az, subscription_id):
    try:
        from azure.mgmt.eventgrid import EventGridManagementClient
    except ImportError:
        az.fail(missing_required_lib("azure-mgmt-eventgrid"), exception=traceback.format_exc())
    return EventGridManagementClient(az.credential, subscription_id, **az._client_kwargs())


def _read(az, client, scope, name, label):
    try:
        return client.event_subscriptions.get(scope, name)
    except HttpResponseError as exc:
        if getattr(exc, "status_code", None) == 404:
            return None
        az.fail_from(exc, "reading %s" % label)


def _identity(sub, scope, name):
    return {
        "id": getattr(sub, "id", None) or "%s/providers/Microsoft.EventGrid/eventSubscriptions/%s" % (scope, name),
        "name": name,
        "topic": getattr(sub, "topic", None) or scope,
        "provisioning_state": getattr(sub, "provisioning_state", None) or "",
    }


def main():
    az = AzureModule(
        argument_spec=dict(
            resource_group=dict(type="str", required=True),
            service_name=dict(type="str", required=True),
            name=dict(type="str", required=True),
            state=dict(type="str", choices=["present", "absent"], default="present"),
            endpoint_url=dict(type="str"),
            shared_secret=dict(type="str", no_log=True),
            shared_secret_in=dict(type="str", choices=["query", "header"], default="query"),
            shared_secret_name=dict(type="str"),
            entra_tenant_id=dict(type="str"),
            entra_application_id_or_uri=dict(type="str"),
            event_types=dict(type="list", elements="str", default=list(es.DEFAULT_EVENT_TYPES)),
            event_delivery_schema=dict(type="str", choices=es.SCHEMAS, default="EventGridSchema"),
            max_events_per_batch=dict(type="int", default=1),
            preferred_batch_size_kb=dict(type="int", default=64),
            max_delivery_attempts=dict(type="int", default=30),
            event_ttl_minutes=dict(type="int", default=1440),
            labels=dict(type="list", elements="str", default=[]),
        ),
        supports_check_mode=True,
        required_if=[("state", "present", ["endpoint_url"])],
    )
    p = dict(az.params)
    p["shared_secret_name"] = p["shared_secret_name"] or DEFAULT_NAMES[p["shared_secret_in"]]
    errors = es.check_options(p)
    if errors:
        az.fail("; ".join(errors))

    sub_id = az.subscription_id()
    scope = es.service_scope(sub_id, p["resource_group"], p["service_name"])
    label = "event subscription '%s' of API Management instance '%s'" % (p["name"], p["service_name"])
    client = _client(az, sub_id)
    ops = client.event_subscriptions
    existing = _read(az, client, scope, p["name"], label)

    if p["state"] == "absent":
        result = dict(changed=existing is not None, event_subscription={}, changes=["state"] if existing else [])
        if existing is not None and az.module._diff:
            result["diff"] = {"before": {"name": p["name"], "state": "present"}, "after": {"state": "absent"}}
        if existing is not None and not az.check_mode:
            az.call(
                "removing %s" % label,
                lambda: ops.begin_delete(scope, p["name"], polling_interval=POLL_SECONDS).result(),
            )
        az.module.exit_json(**result)

    want = es.wanted(p)
    have = None
    if existing is not None:
        url = az.call("reading the endpoint URL of %s" % label, ops.get_full_url, scope, p["name"]).endpoint_url
        attrs = az.call("reading the delivery headers of %s" % label, ops.get_delivery_attributes, scope, p["name"])
        have = es.current(existing, url, getattr(attrs, "value", None) or [], p)
        changes = es.differences(have, want)
        if (getattr(existing, "provisioning_state", "") or "") != "Succeeded":
            changes.append("provisioning_state")
    else:
        changes = ["state"]

    result = dict(changed=bool(changes), changes=changes)
    after = dict(_identity(existing, scope, p["name"]), **es.public_view(want, p, changes))
    if az.module._diff:
        before = dict(_identity(existing, scope, p["name"]), **es.public_view(have)) if have else {}
        result["diff"] = {"before": before, "after": after}
    if changes and not az.check_mode:
        try:
            poller = ops.begin_create_or_update(scope, p["name"], es.request_body(p), polling_interval=POLL_SECONDS)
            done = poller.result()
        except HttpResponseError as exc:
            hint = ""
            text = one_line(exc).lower()
            if "validation" in text or "handshake" in text:
                hint = (
                    " Event Grid validates the endpoint before it delivers: the event source"
                    " (apim.selfhosted.eventgrid) must run at endpoint_url, be reachable from Azure over HTTPS with a"
                    " publicly trusted certificate, and hold the same shared secret (or Entra settings)."
                )
            az.fail(az.describe(exc, "writing %s" % label) + hint)
        after = dict(_identity(done, scope, p["name"]), **es.public_view(want, p, changes))
    elif not changes:
        after["provisioning_state"] = getattr(existing, "provisioning_state", "") or ""
    result["event_subscription"] = after
    az.module.exit_json(**result)


if __name__ == "__main__":
    main()
