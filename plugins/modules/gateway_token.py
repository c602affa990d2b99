#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) apim.selfhosted contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: gateway_token
short_description: Generate an access token for a self-hosted gateway
version_added: 0.1.0
author: apim.selfhosted maintainers (@apim-selfhosted)
description:
  - Calls C(generateToken) on a gateway resource and returns the token ready for C(config.service.auth), that is with
    the C(GatewayKey ) prefix, together with the gateway id and the expiry.
  - The token is signed with the gateway's primary or secondary key (O(key_type)) and is valid at most 30 days.
  - B(Set C(no_log) to true on the task.) The module returns the token in its result, which Ansible prints with C(-v)
    unless the task has C(no_log); also use C(no_log) on every task that templates it.
  - Always reports C(changed) when a token is generated (a new secret exists afterwards).
extends_documentation_fragment:
  - apim.selfhosted.azure
  - apim.selfhosted.apim_service
  - apim.selfhosted.apim_service.gateway
  - apim.selfhosted.attributes
  - apim.selfhosted.attributes.actiongroup_azure
options:
  key_type:
    description:
      - The gateway key that signs the token. Rotate by alternating keys - sign with one, regenerate the other.
    type: str
    choices: [primary, secondary]
    default: primary
  expiry:
    description:
      - When the token expires, as an ISO 8601 date or date-time (UTC when no zone is given), at most 30 days ahead.
        Exclusive with O(expires_in_days).
    type: str
  expires_in_days:
    description: Days from now until the token expires, 1 to 30. Used when O(expiry) is not given.
    type: int
    default: 30
  regenerate_key:
    description:
      - B(Danger.) Regenerate this gateway key (V(primary) or V(secondary)) before generating the token.
      - Regenerating a key B(immediately invalidates every token signed with it), so every gateway container still
        running with such a token loses its Configuration API connection at its next reconnect. Regenerate only the
        key that did NOT sign the tokens in use, then roll the new token out to every container.
      - Must differ from O(key_type) unless O(allow_same_key_regeneration=true), since that would invalidate the
        tokens in use and sign the new one with the same fresh key at once.
    type: str
    choices: [primary, secondary]
  allow_same_key_regeneration:
    description: Allow O(regenerate_key) to equal O(key_type).
    type: bool
    default: false
attributes:
  check_mode:
    support: full
    details: No request that creates or changes anything is sent and no token is returned; the gateway is read.
  diff_mode:
    support: none
    details: A token is a secret; nothing is shown.
  idempotent:
    support: none
    details: Every run generates a new token (a new secret).
seealso:
  - module: apim.selfhosted.gateway_resource
"""

EXAMPLES = r"""
- name: A 14-day token for the Lyon gateways, signed with the secondary key
  apim.selfhosted.gateway_token:
    resource_group: rg-apim
    service_name: contoso
    gateway: lyon-edge
    key_type: secondary
    expires_in_days: 14
  register: lyon_token
  no_log: true

- name: Hand it to the gateway role
  ansible.builtin.set_fact:
    gateway_token: "{{ lyon_token.token }}"
  no_log: true
"""

RETURN = r"""
token:
  description: The token with the C(GatewayKey ) prefix, for C(config.service.auth). Empty in check mode.
  returned: always
  type: str
gateway_id:
  description: The gateway id the token is for.
  returned: always
  type: str
expiry:
  description: The token's expiry, ISO 8601 UTC, to the minute as the token carries it.
  returned: always
  type: str
  sample: "2025-07-01T12:00:00Z"
key_type:
  description: The key that signed the token.
  returned: always
  type: str
regenerated_key:
  description: The key that was regenerated (or would be, in check mode), or empty.
  returned: always
  type: str
"""

import datetime  # noqa: E402

from ansible_collections.apim.selfhosted.plugins.module_utils.apim_resources import GATEWAY_SPEC  # noqa: E402
from ansible_collections.apim.selfhosted.plugins.module_utils.azure_client import AzureModule  # noqa: E402
from ansible_collections.apim.selfhosted.plugins.module_utils.token_format import ISO_MINUTE, parse_iso  # noqa: E402

MAX_DAYS = 30
parse_expiry = parse_iso


def _utcnow():
    return datetime.datetime.now(datetime.timezone.utc)


def main():
    az = AzureModule(
        argument_spec=dict(
            GATEWAY_SPEC,
            key_type=dict(type="str", choices=["primary", "secondary"], default="primary"),
            expiry=dict(type="str"),
            expires_in_days=dict(type="int", default=MAX_DAYS),
            regenerate_key=dict(type="str", choices=["primary", "secondary"]),
            allow_same_key_regeneration=dict(type="bool", default=False),
        ),
        supports_check_mode=True,
    )
    p = az.params
    now = _utcnow()
    if p["expiry"]:
        try:
            expiry = parse_expiry(p["expiry"])
        except ValueError:
            az.fail("expiry must be an ISO 8601 date or date-time, got '%s'" % p["expiry"])
    else:
        if not 1 <= p["expires_in_days"] <= MAX_DAYS:
            az.fail("expires_in_days must be between 1 and %d, got %d" % (MAX_DAYS, p["expires_in_days"]))
        expiry = now + datetime.timedelta(days=p["expires_in_days"])
    # The token carries minutes only; truncate so the returned expiry is the token's.
    expiry = expiry.replace(second=0, microsecond=0)
    if expiry <= now:
        az.fail("expiry %s is in the past" % expiry.strftime("%Y-%m-%dT%H:%M:%SZ"))
    if expiry - now > datetime.timedelta(days=MAX_DAYS):
        az.fail("expiry must be at most %d days ahead (Azure's limit), got %s" % (MAX_DAYS, p["expiry"]))
    if p["regenerate_key"] and p["regenerate_key"] == p["key_type"] and not p["allow_same_key_regeneration"]:
        az.fail(
            "regenerate_key=%s equals key_type: that invalidates every token in use and signs the new one with the "
            "same key; regenerate the other key, or set allow_same_key_regeneration: true" % p["regenerate_key"]
        )

    client = az.apim(az.subscription_id())
    rg, svc, gw = p["resource_group"], p["service_name"], p["gateway"]
    label = "gateway '%s' of API Management instance '%s'" % (gw, svc)
    result = dict(
        changed=True,
        token="",
        gateway_id=gw,
        expiry=expiry.strftime(ISO_MINUTE),
        key_type=p["key_type"],
        regenerated_key=p["regenerate_key"] or "",
    )
    if az.check_mode:
        az.call("reading %s" % label, client.gateway.get, rg, svc, gw)
        az.module.exit_json(**result)
    if p["regenerate_key"]:
        az.call(
            "regenerating the %s key of %s" % (p["regenerate_key"], label),
            client.gateway.regenerate_key,
            rg,
            svc,
            gw,
            {"key_type": p["regenerate_key"]},
        )
    contract = az.call(
        "generating a token for %s" % label,
        client.gateway.generate_token,
        rg,
        svc,
        gw,
        {"key_type": p["key_type"], "expiry": expiry},
    )
    value = contract.value or ""
    if not value:
        az.fail("generating a token for %s: Azure returned no token" % label)
    result["token"] = "GatewayKey " + value
    result["gateway_id"] = value.split("&", 1)[0]
    az.module.exit_json(**result)


if __name__ == "__main__":
    main()
