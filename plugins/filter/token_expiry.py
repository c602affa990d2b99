# -*- coding: utf-8 -*-
# Copyright (c) apim.selfhosted contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible.errors import AnsibleFilterError

from ansible_collections.apim.selfhosted.plugins.module_utils.token_format import TokenFormatError, expiry

DOCUMENTATION = r"""
name: token_expiry
short_description: Expiry time of an API Management gateway access token
version_added: 0.1.0
author: apim.selfhosted maintainers
description:
  - Reads the expiry field of a self-hosted gateway access token (C(<gatewayId>&<yyyyMMddHHmm>&<signature>),
    with or without the C(GatewayKey ) prefix) and returns it as a timezone-aware UTC datetime.
  - Fails for a value that does not have the token's shape. The error message never contains the value.
  - The signature is not checked; only the Configuration API can do that.
options:
  _input:
    description: The gateway access token.
    type: str
    required: true
"""

EXAMPLES = r"""
- name: Show when the token expires
  ansible.builtin.debug:
    msg: "expires {{ (gateway_token | apim.selfhosted.token_expiry).isoformat() }}"

- name: Expiry as text for a report
  ansible.builtin.set_fact:
    token_expires_at: "{{ (gateway_token | apim.selfhosted.token_expiry).strftime('%Y-%m-%d %H:%M UTC') }}"
"""

RETURN = r"""
_value:
  description: The token's expiry, a timezone-aware datetime in UTC.
  type: any
"""


def token_expiry(token):
    try:
        return expiry(token)
    except TokenFormatError as exc:
        raise AnsibleFilterError("token_expiry: %s" % exc) from None


class FilterModule(object):
    def filters(self):
        return {"token_expiry": token_expiry}
