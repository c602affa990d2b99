# -*- coding: utf-8 -*-
# Copyright (c) apim.selfhosted contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Role variables as the validation filters receive them from ``query('ansible.builtin.vars', ...)``."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from collections.abc import Mapping


def plain(value):
    """Plain dicts, lists and strings: the argument-spec validator deep-copies its input, and a copy of Ansible's
    lazy containers is slow and warns (PluginLoader deprecation in ansible-core 2.19+)."""
    if isinstance(value, Mapping):
        return {plain(k): plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [plain(v) for v in value]
    if isinstance(value, str):
        return "".join((value,))  # an exact str, also from a str subclass (tagged values)
    return value
