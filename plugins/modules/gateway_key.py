#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) apim.selfhosted contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: gateway_key
short_description: Regenerate a key of a gateway resource, which revokes every token signed with it
version_added: 0.2.0
author: apim.selfhosted maintainers (@apim-selfhosted)
description:
  - Calls C(regenerateKey) for O(key_type) of a gateway resource. Every token signed with the old key is refused by
    the Configuration API from then on; gateways running such a token lose their configuration connection.
  - With O(revoke), the key is regenerated only while it still signs one of those tokens (for example the token
    suspected to have leaked), so that a second run changes nothing. Without it, every run regenerates the key.
  - With O(keep), the run stops before any change when the key signs one of those tokens (for example the tokens the
    gateways run now, from P(apim.selfhosted.gateway_info#module)), so that no gateway is cut off.
  - Which key signs a token is told as M(apim.selfhosted.gateway_key_info) tells it.
  - The playbook C(apim.selfhosted.revoke_key) moves the gateways to the other key first, then calls this module.
extends_documentation_fragment:
  - apim.selfhosted.azure
  - apim.selfhosted.apim_service
  - apim.selfhosted.apim_service.gateway
  - apim.selfhosted.attributes
  - apim.selfhosted.attributes.actiongroup_azure
options:
  key_type:
    description: The key to regenerate.
    type: str
    choices: [primary, secondary]
    required: true
  revoke:
    description:
      - Fingerprints (C(expiry), C(sha256)) of tokens to revoke. When given, the key is regenerated only while it
        signs at least one of them.
    type: list
    elements: dict
  keep:
    description:
      - Fingerprints (C(expiry), C(sha256)) of tokens that must stay valid; the module fails, changing nothing, when
        O(key_type) signs one of them.
    type: list
    elements: dict
    default: []
attributes:
  check_mode:
    support: full
    details: Tells whether the key would be regenerated; regenerates nothing.
  diff_mode:
    support: none
    details: Keys are secrets; nothing is shown.
  idempotent:
    support: partial
    details: Idempotent with O(revoke); without it every run regenerates the key.
seealso:
  - module: apim.selfhosted.gateway_key_info
  - module: apim.selfhosted.gateway_token
"""

EXAMPLES = r"""
- name: Revoke the primary key of the Lyon gateway while it still signs the leaked token
  apim.selfhosted.gateway_key:
    resource_group: rg-apim
    service_name: contoso
    gateway: lyon-edge
    key_type: primary
    revoke:
      - "{{ leaked_token | apim.selfhosted.token_fingerprint }}"
    keep: "{{ tokens_in_use }}"
  no_log: false  # fingerprints are digests, not secrets
"""

RETURN = r"""
key_type:
  description: The key this run was about.
  returned: always
  type: str
regenerated:
  description: The key was regenerated (or would be, in check mode).
  returned: always
  type: bool
revoked:
  description:
    - For each fingerprint of O(revoke), in order, the key that signed it before this run (C(primary), C(secondary),
      C(none) or C(expired)).
  returned: always
  type: list
  elements: str
"""

from ansible_collections.apim.selfhosted.plugins.module_utils.apim_resources import GATEWAY_SPEC  # noqa: E402
from ansible_collections.apim.selfhosted.plugins.module_utils.azure_client import AzureModule  # noqa: E402
from ansible_collections.apim.selfhosted.plugins.module_utils.gateway_keys import (  # noqa: E402
    check_fingerprints,
    gateway_oracle,
)


def main():
    az = AzureModule(
        argument_spec=dict(
            GATEWAY_SPEC,
            key_type=dict(type="str", choices=["primary", "secondary"], required=True),
            revoke=dict(type="list", elements="dict"),
            keep=dict(type="list", elements="dict", default=[]),
        ),
        supports_check_mode=True,
    )
    p = az.params
    problems = check_fingerprints(p["revoke"], "revoke") + check_fingerprints(p["keep"], "keep")
    if problems:
        az.fail("; ".join(problems))
    key, label = p["key_type"], "gateway '%s' of API Management instance '%s'" % (p["gateway"], p["service_name"])
    client = az.apim(az.subscription_id())
    keys = gateway_oracle(az, client, p)
    kept = [i for i, item in enumerate(p["keep"]) if keys.key_of(item) == key]
    if kept:
        az.fail(
            "the %s key of %s signs tokens in use (keep%s); regenerating it would cut those gateways off: move them to "
            "the other key first. Nothing was changed." % (key, label, kept)
        )
    revoked = [keys.key_of(item) for item in p["revoke"] or []]
    regenerate = p["revoke"] is None or key in revoked
    if regenerate and not az.check_mode:
        args = (p["resource_group"], p["service_name"], p["gateway"], {"key_type": key})
        az.call("regenerating the %s key of %s" % (key, label), client.gateway.regenerate_key, *args)
    az.module.exit_json(changed=regenerate, key_type=key, regenerated=regenerate, revoked=revoked)


if __name__ == "__main__":
    main()
