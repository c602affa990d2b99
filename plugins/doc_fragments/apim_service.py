# -*- coding: utf-8 -*-
# Copyright (c) apim.selfhosted contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type


class ModuleDocFragment(object):
    # The API Management instance a module works in.
    DOCUMENTATION = r"""
options:
  resource_group:
    description: The resource group of the API Management instance.
    type: str
    required: true
  service_name:
    description: The API Management instance name.
    type: str
    required: true
"""

    # With the standard fragment: a module that works on one gateway resource of the instance.
    GATEWAY = r"""
options:
  gateway:
    description: The gateway id (the gateway resource, M(apim.selfhosted.gateway_resource)).
    type: str
    required: true
"""
