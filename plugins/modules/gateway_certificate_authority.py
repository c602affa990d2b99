#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) apim.selfhosted contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: gateway_certificate_authority
short_description: Make a self-hosted gateway trust a CA certificate of its API Management instance
version_added: 0.2.0
author: apim.selfhosted maintainers (@apim-selfhosted)
description:
  - Manages a certificate authority of a gateway resource (C(service/gateways/certificateAuthorities)) - a
    certificate of the instance (M(apim.selfhosted.service_certificate)) that the self-hosted gateway uses to
    validate client certificates, as a trusted root (O(trusted=true)) or as an intermediate (O(trusted=false)).
  - Requests - one read when nothing changes; a C(PUT) or C(DELETE) with C(If-Match) set to the ETag read when it
    changes.
extends_documentation_fragment:
  - apim.selfhosted.azure
  - apim.selfhosted.apim_service
  - apim.selfhosted.apim_service.gateway
  - apim.selfhosted.attributes
  - apim.selfhosted.attributes.actiongroup_azure
options:
  certificate:
    description: The certificate id of the CA certificate in the instance.
    type: str
    required: true
  trusted:
    description: V(true) for a trusted root CA, V(false) for an intermediate CA.
    type: bool
    default: true
  state:
    description: V(present) makes the gateway use the certificate as a CA, V(absent) stops it.
    type: str
    choices: [present, absent]
    default: present
attributes:
  check_mode:
    support: full
    details: Only reads are sent.
  diff_mode:
    support: full
  idempotent:
    support: full
seealso:
  - module: apim.selfhosted.service_certificate
  - module: apim.selfhosted.gateway_hostname
"""

EXAMPLES = r"""
- name: The Lyon gateways trust the partners' root CA for client certificates
  apim.selfhosted.gateway_certificate_authority:
    resource_group: rg-apim
    service_name: contoso
    gateway: lyon-edge
    certificate: partners-root-ca
    trusted: true
"""

RETURN = r"""
certificate_authority:
  description: The certificate authority after the run (before it, for O(state=absent)); empty when there is none.
  returned: always
  type: dict
  contains:
    id:
      description: Full resource id.
      type: str
    certificate:
      description: The certificate id.
      type: str
    trusted:
      description: Whether it is a trusted root.
      type: bool
"""

from ansible_collections.apim.selfhosted.plugins.module_utils.apim_resources import (  # noqa: E402
    GATEWAY_SPEC,
    check_entity_id,
    read,
    write,
)
from ansible_collections.apim.selfhosted.plugins.module_utils.azure_client import AzureModule  # noqa: E402


def view(ca):
    return {"id": ca.id, "certificate": ca.name, "trusted": bool(ca.is_trusted)}


def main():
    az = AzureModule(
        argument_spec=dict(
            GATEWAY_SPEC,
            certificate=dict(type="str", required=True),
            trusted=dict(type="bool", default=True),
            state=dict(type="str", choices=["present", "absent"], default="present"),
        ),
        supports_check_mode=True,
    )
    p = az.params
    gateway = check_entity_id(az, p["gateway"], "gateway")
    cert = check_entity_id(az, p["certificate"], "certificate")
    client = az.apim(az.subscription_id())
    rg, svc = p["resource_group"], p["service_name"]
    ops = client.gateway_certificate_authority
    label = "certificate authority '%s' of gateway '%s'" % (cert, gateway)
    model, etag = read(az, label, ops.get, rg, svc, gateway, cert)
    current = view(model) if model else {}
    result = dict(changed=False, certificate_authority=current)
    if p["state"] == "absent":
        if current:
            result["changed"] = True
            if not az.check_mode:
                write(az, "deleting %s" % label, ops.delete, rg, svc, gateway, cert, etag)
        after = {}
    else:
        after = current
        if not current or current["trusted"] != p["trusted"]:
            result["changed"] = True
            after = dict(current or {"id": None, "certificate": cert}, trusted=p["trusted"])
            if not az.check_mode:
                body = {"is_trusted": p["trusted"]}
                ca = write(az, "writing %s" % label, ops.create_or_update, rg, svc, gateway, cert, body, if_match=etag)
                after = view(ca)
        result["certificate_authority"] = after
    if az.module._diff:
        result["diff"] = dict(before=current, after=after)
    az.module.exit_json(**result)


if __name__ == "__main__":
    main()
