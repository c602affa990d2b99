#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) apim.selfhosted contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: gateway_key_info
short_description: Tell which key of a gateway resource signs the tokens in use, and which key new tokens should use
version_added: 0.2.0
author: apim.selfhosted maintainers (@apim-selfhosted)
description:
  - Takes token fingerprints (expiry and SHA-256 digest, from the C(token_fingerprint) that
    M(apim.selfhosted.gateway_info) returns for each host, or the P(apim.selfhosted.token_fingerprint#filter) filter on
    the controller) and names the gateway key that signs each, without a token or a key travelling - Azure is never
    asked for its keys.
  - For each distinct expiry it asks C(generateToken) for the token of each key and compares digests. This relies on
    the signature depending on the gateway, the expiry minute and the key only (an HMAC, as every token of one key and
    expiry is the same); it was observed with the fake ARM of the tests, not stated by Microsoft.
  - Returns RV(next_key), the key for new tokens in a rotation that alternates keys - the key that signs none of the
    tokens in use, so that the other can be regenerated without cutting any gateway off.
  - Needs C(Microsoft.ApiManagement/service/gateways/generateToken/action), as C(apim.selfhosted.gateway_token) does.
    The tokens made for the comparison are dropped at once.
extends_documentation_fragment:
  - apim.selfhosted.azure
  - apim.selfhosted.apim_service
  - apim.selfhosted.apim_service.gateway
  - apim.selfhosted.attributes
  - apim.selfhosted.attributes.actiongroup_azure
  - apim.selfhosted.attributes.info_module
options:
  tokens:
    description:
      - Fingerprints of the tokens to name the key of, each a dictionary with C(expiry) (ISO 8601 UTC) and C(sha256);
        a C(gateway) key is accepted and ignored.
    type: list
    elements: dict
    default: []
seealso:
  - module: apim.selfhosted.gateway_key
  - module: apim.selfhosted.gateway_info
  - module: apim.selfhosted.gateway_token
"""

EXAMPLES = r"""
- name: Read what the gateways run
  apim.selfhosted.gateway_info:
  register: info
  become: true

- name: Which key signs the tokens in use
  apim.selfhosted.gateway_key_info:
    resource_group: rg-apim
    service_name: contoso
    gateway: lyon-edge
    tokens: >-
      {{ ansible_play_hosts | map('extract', hostvars, ['info', 'gateway', 'token_fingerprint']) | select | list }}
  delegate_to: localhost
  run_once: true
  register: keys
"""

RETURN = r"""
tokens:
  description: The fingerprints given, in their order, each with C(key) added.
  returned: always
  type: list
  elements: dict
  contains:
    key:
      description:
        - C(primary) or C(secondary); C(none) when no current key signs the token (its key was regenerated since, or
          it belongs to another gateway); C(expired) when its expiry has passed (Azure makes no token for it).
      type: str
keys_in_use:
  description: The keys (C(primary), C(secondary)) that sign at least one of the tokens.
  returned: always
  type: list
  elements: str
next_key:
  description: The key that signs none of the tokens in use; C(primary) when both or neither do.
  returned: always
  type: str
"""

from ansible_collections.apim.selfhosted.plugins.module_utils.apim_resources import GATEWAY_SPEC  # noqa: E402
from ansible_collections.apim.selfhosted.plugins.module_utils.azure_client import AzureModule  # noqa: E402
from ansible_collections.apim.selfhosted.plugins.module_utils.gateway_keys import (  # noqa: E402
    KEYS,
    check_fingerprints,
    gateway_oracle,
    next_key,
)


def main():
    az = AzureModule(
        argument_spec=dict(
            GATEWAY_SPEC,
            # Fingerprints: digests, not tokens.
            tokens=dict(type="list", elements="dict", default=[], no_log=False),
        ),
        supports_check_mode=True,
    )
    p = az.params
    problems = check_fingerprints(p["tokens"], "tokens")
    if problems:
        az.fail("; ".join(problems))
    keys = gateway_oracle(az, az.apim(az.subscription_id()), p) if p["tokens"] else None
    tokens = [dict(item, key=keys.key_of(item)) for item in p["tokens"]]
    in_use = [k for k in KEYS if any(t["key"] == k for t in tokens)]
    az.module.exit_json(changed=False, tokens=tokens, keys_in_use=in_use, next_key=next_key(in_use))


if __name__ == "__main__":
    main()
