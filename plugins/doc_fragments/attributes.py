# -*- coding: utf-8 -*-
# Copyright (c) apim.selfhosted contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type


class ModuleDocFragment(object):
    # What each attribute means; a module states its own support level under attributes.
    DOCUMENTATION = r"""
options: {}
attributes:
  check_mode:
    description: Can run in check_mode and return changed status prediction without modifying target.
  diff_mode:
    description: Will return details on what has changed (or possibly needs changing in check_mode), when in diff mode.
  idempotent:
    description:
      - When run twice in a row outside check mode, with the same arguments, the second run reports no change.
      - This assumes that nothing else changed the resources in between.
"""

    # With the standard fragment: the Azure modules' group for module_defaults.
    ACTIONGROUP_AZURE = r"""
options: {}
attributes:
  action_group:
    description: Use C(group/apim.selfhosted.azure) in C(module_defaults) to set the Azure options once.
    support: full
    membership:
      - apim.selfhosted.azure
"""

    # With the standard fragment: a module that only reads.
    INFO_MODULE = r"""
options: {}
attributes:
  check_mode:
    support: full
    details:
      - This action does not modify state.
  diff_mode:
    support: N/A
    details:
      - This action does not modify state.
  idempotent:
    support: full
    details:
      - This action does not modify state.
"""
