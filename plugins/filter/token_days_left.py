# -*- coding: utf-8 -*-
# Copyright (c) apim.selfhosted contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import datetime

from ansible.errors import AnsibleFilterError

from ansible_collections.apim.selfhosted.plugins.module_utils.token_format import TokenFormatError, days_left

DOCUMENTATION = r"""
name: token_days_left
short_description: Whole days until an API Management gateway access token expires
version_added: 0.1.0
author: apim.selfhosted maintainers
description:
  - Returns the number of whole days (rounded down) from now until the token's expiry. A token that expires
    later today gives V(0); an expired token gives a negative number.
  - Accepts the token with or without the C(GatewayKey ) prefix; fails for a value without the token's shape
    (the error message never contains the value).
options:
  _input:
    description: The gateway access token.
    type: str
    required: true
  now:
    description: The time to count from, a timezone-aware datetime; defaults to the current UTC time.
    type: raw
"""

EXAMPLES = r"""
- name: Fail when fewer than 7 days are left
  ansible.builtin.assert:
    that: (gateway_token | apim.selfhosted.token_days_left) >= 7
    fail_msg: the gateway token must be rotated
"""

RETURN = r"""
_value:
  description: Whole days left; negative once the token has expired.
  type: int
"""


def token_days_left(token, now=None):
    if now is not None and (not isinstance(now, datetime.datetime) or now.tzinfo is None):
        raise AnsibleFilterError("token_days_left: now must be a timezone-aware datetime")
    try:
        return days_left(token, now=now)
    except TokenFormatError as exc:
        raise AnsibleFilterError("token_days_left: %s" % exc) from None


class FilterModule(object):
    def filters(self):
        return {"token_days_left": token_days_left}
