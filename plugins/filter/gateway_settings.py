# -*- coding: utf-8 -*-
# Copyright (c) apim.selfhosted contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json
import os

from ansible.errors import AnsibleFilterError
from ansible.module_utils.common.yaml import yaml_load

from ansible_collections.apim.selfhosted.plugins.module_utils.gateway_settings import validate
from ansible_collections.apim.selfhosted.plugins.module_utils.role_vars import plain

DOCUMENTATION = r"""
name: gateway_settings
short_description: Validate a self-hosted gateway's settings and return the plan that the host modules carry out
version_added: 0.1.0
author: apim.selfhosted maintainers
description:
  - The one validation path of the C(apim.selfhosted.gateway) role, for the role and the fleet playbooks. Runs on
    the controller, so a bad value fails before any host is touched.
  - Checks the variables against the role's C(meta/argument_specs.yml) (types, choices, defaults), then the rules
    that span several variables (endpoint forms, token shape and expiry, Entra fields, immutable tags, feature/version
    checks, hardening refusals, ports, paths, extra settings).
  - Messages name the variable and never contain a secret value. The result holds no secret either - an env-file
    line with a secret value is a template (C(GatewayKey {token}), C({client_secret})) that the
    M(apim.selfhosted.gateway_container) module fills in from its C(no_log) option C(secrets) - so it may be kept
    as a fact (the role keeps it as C(gateway_plan)).
options:
  _input:
    description: Mapping of the role's variables (C(gateway_*)) to their values.
    type: dict
    required: true
"""

EXAMPLES = r"""
- name: Validate the gateway variables of this host
  ansible.builtin.set_fact:
    gateway_checked: "{{ dict(names | zip(query('ansible.builtin.vars', *names))) | apim.selfhosted.gateway_settings }}"
  vars:
    names: "{{ query('ansible.builtin.varnames', '^gateway_[a-z]') }}"
  no_log: true

- name: Stop on errors
  ansible.builtin.fail:
    msg: "{{ gateway_checked.errors }}"
  when: gateway_checked.errors | length > 0
"""

RETURN = r"""
_value:
  description: The validation result, the plan of M(apim.selfhosted.gateway_container). Holds no secret.
  type: dict
  contains:
    errors:
      description: Problems, each naming its variable. Empty when the settings are valid.
      type: list
      elements: str
    warnings:
      description: Things to tell the operator (token expiring soon, version checks skipped, ...).
      type: list
      elements: str
    state:
      description: C(present) or C(absent).
      type: str
    env:
      description:
        - The env-file lines in a stable order, each C(key), C(value) and C(secret). A secret line's value is a
          template naming the secret (C({token}), C({client_secret})).
      type: list
      elements: dict
    secret_digest:
      description: SHA-256 over the secrets the env-file uses, as validated; the host module refuses other secrets.
      type: str
    container:
      description:
        - The container (name, previous_name, env_file, user, ports, mounts, restart_policy, memory in bytes, cpus,
          pids_limit, stop_timeout, log_driver, log_options, healthcheck, etc_hosts, dns_servers, labels,
          status_path, ready_url, ready_timeout, log_lines).
      type: dict
    backup:
      description: The configuration backup (enabled, path, owner, group, remove); the path is checked whatever
        C(enabled) says.
      type: dict
    certificate_file:
      description:
        - The Entra app's certificate file on the host (C(path), C(owner), C(mode), C(digest)) - the SHA-256 of the
          file's bytes, never the certificate. An empty C(digest) means no certificate (a file left at C(path) is
          removed).
      type: dict
    auth:
      description: C(mode), C(layout) and C(endpoint) (the one stable form of the Configuration API endpoint).
      type: dict
    token:
      description: C(gateway_id), C(expiry) (ISO 8601, UTC) and C(days_left) of the token, or null.
      type: dict
    image:
      description: The image reference C(repository:tag).
      type: str
    image_source:
      description: C(source), C(tarball) (controller path), C(remote_tarball) (host path), C(registry_url),
        C(registry_username), C(registry_login).
      type: dict
    version:
      description: The image version from an immutable tag, or null.
      type: str
    version_checks:
      description: Whether the feature/version checks ran (false with a rolling tag).
      type: bool
"""
_ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..")
_SPEC_PATH = os.path.join(_ROOT, "roles", "gateway", "meta", "argument_specs.yml")
_SPEC = {}
_VERSION = []


def role_spec():
    """The options of the gateway role's main entry point."""
    if not _SPEC:
        with open(_SPEC_PATH, "rb") as fh:
            _SPEC.update(yaml_load(fh)["argument_specs"]["main"]["options"])
    return _SPEC


def collection_version():
    """This collection's version: MANIFEST.json of an installed collection, else galaxy.yml of a source tree."""
    if not _VERSION:
        version = None
        try:
            with open(os.path.join(_ROOT, "MANIFEST.json"), "rb") as fh:
                version = json.load(fh)["collection_info"]["version"]
        except (IOError, OSError, ValueError, KeyError, TypeError):
            try:
                with open(os.path.join(_ROOT, "galaxy.yml"), "rb") as fh:
                    version = yaml_load(fh)["version"]
            except Exception:  # no galaxy.yml, or not YAML: the version is then reported as unknown
                version = None
        _VERSION.append(str(version) if version else None)
    return _VERSION[0]


def gateway_settings(values):
    if not isinstance(values, dict):
        raise AnsibleFilterError("gateway_settings: the input must be a mapping of gateway_* variables")
    return validate(plain(values), spec=role_spec(), collection_version=collection_version())


class FilterModule(object):
    def filters(self):
        return {"gateway_settings": gateway_settings}
