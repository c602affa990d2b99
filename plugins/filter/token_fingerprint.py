# -*- coding: utf-8 -*-
# Copyright (c) apim.selfhosted contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible.errors import AnsibleFilterError

from ansible_collections.apim.selfhosted.plugins.module_utils.gateway_keys import fingerprint
from ansible_collections.apim.selfhosted.plugins.module_utils.token_format import TokenFormatError

DOCUMENTATION = r"""
name: token_fingerprint
short_description: Fingerprint of an API Management gateway access token - its gateway, expiry and SHA-256 digest
version_added: 0.2.0
author: apim.selfhosted maintainers
description:
  - Returns C(gateway), C(expiry) (ISO 8601 UTC) and C(sha256) (of the token without the C(GatewayKey ) prefix) of a
    gateway access token. The fingerprint holds no secret and cannot be turned back into the token; the modules
    M(apim.selfhosted.gateway_key_info) and M(apim.selfhosted.gateway_key) take it to tell which gateway key signs
    the token.
  - M(apim.selfhosted.gateway_info) returns the same fingerprint for the token a host runs, computed on the host.
  - Fails for a value that does not have the token's shape. The error message never contains the value.
options:
  _input:
    description: The gateway access token.
    type: str
    required: true
  strict:
    description: Fail for a value that is not a token (V(true)), or return V(null) (V(false)).
    type: bool
    default: true
"""

EXAMPLES = r"""
- name: Which key signs the token of the inventory
  apim.selfhosted.gateway_key_info:
    resource_group: rg-apim
    service_name: contoso
    gateway: lyon-edge
    tokens:
      - "{{ gateway_token | apim.selfhosted.token_fingerprint }}"
"""

RETURN = r"""
_value:
  description: The fingerprint.
  type: dict
  contains:
    gateway:
      description: The gateway id in the token.
      type: str
    expiry:
      description: The token's expiry, ISO 8601 UTC, to the minute.
      type: str
    sha256:
      description: SHA-256 (hex) of the token without the C(GatewayKey ) prefix.
      type: str
"""


def token_fingerprint(token, strict=True):
    try:
        return fingerprint(token)
    except TokenFormatError as exc:
        if not strict:
            return None
        raise AnsibleFilterError("token_fingerprint: %s" % exc) from None


class FilterModule(object):
    def filters(self):
        return {"token_fingerprint": token_fingerprint}
