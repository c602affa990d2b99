#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) apim.selfhosted contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: gateway_resource_info
short_description: What a self-hosted gateway resource serves - its APIs, hostnames and certificates' expiry
version_added: 0.2.0
author: apim.selfhosted maintainers (@apim-selfhosted)
description:
  - Reads, per gateway resource of an API Management instance (one, or all of them), the APIs associated with it,
    its hostname configurations with the certificate each presents, and its certificate authorities; for every
    certificate the expiry and the days left, and the ones that expire within O(expiry_warning_days) in
    RV(expiring), ready for a status report to warn about.
  - Read-only. Requests - one list of the instance's certificates, one read (or list) of the gateways, then three
    lists per gateway (APIs, hostname configurations, certificate authorities).
extends_documentation_fragment:
  - apim.selfhosted.azure
  - apim.selfhosted.apim_service
  - apim.selfhosted.attributes
  - apim.selfhosted.attributes.actiongroup_azure
  - apim.selfhosted.attributes.info_module
options:
  gateway:
    description: One gateway id; every gateway of the instance when not given.
    type: str
  expiry_warning_days:
    description: Certificates with fewer days left than this (expired ones included) are listed in RV(expiring).
    type: int
    default: 30
seealso:
  - module: apim.selfhosted.gateway_api
  - module: apim.selfhosted.gateway_hostname
  - module: apim.selfhosted.service_certificate
"""

EXAMPLES = r"""
- name: What the Lyon gateway resource serves
  apim.selfhosted.gateway_resource_info:
    resource_group: rg-apim
    service_name: contoso
    gateway: lyon-edge
  register: lyon

- name: Warn before a certificate expires
  ansible.builtin.debug:
    msg: >-
      {{ item.gateway }}: the certificate {{ item.certificate }} of {{ item.hostname }} expires on
      {{ item.expiration_date }} ({{ item.days_left }} days left)
  loop: "{{ lyon.expiring }}"
"""

RETURN = r"""
gateways:
  description: One entry per gateway resource, sorted by name. Empty when O(gateway) does not exist.
  returned: always
  type: list
  elements: dict
  contains:
    name:
      description: The gateway id.
      type: str
      sample: lyon-edge
    id:
      description: Full resource id of the gateway.
      type: str
    description:
      description: The gateway's description.
      type: str
    location_data:
      description: Where the gateway runs (name, city, district, country_or_region).
      type: dict
    apis:
      description: The APIs the gateway serves (associated with it), sorted by id; every other API answers 404 there.
      type: list
      elements: dict
      contains:
        id:
          description: The API id.
          type: str
        display_name:
          description: The API's display name.
          type: str
        path:
          description: The API's URL suffix; the gateway serves it under C(/<path>).
          type: str
    hostname_configurations:
      description: The hostnames the gateway answers HTTPS for, sorted by hostname.
      type: list
      elements: dict
      contains:
        name:
          description: The configuration id.
          type: str
        hostname:
          description: The hostname (C(*) for the default certificate).
          type: str
        certificate_id:
          description: Full resource id of the certificate presented.
          type: str
        certificate:
          description:
            - The certificate presented (as RV(apim.selfhosted.service_certificate#module:certificate) - name,
              subject, thumbprint, expiration_date, days_left, key_vault), or null when the instance no longer holds
              it.
          type: dict
        negotiate_client_certificate:
          description: Whether clients are asked for a certificate.
          type: bool
        tls10_enabled:
          description: Whether TLS 1.0 is accepted.
          type: bool
        tls11_enabled:
          description: Whether TLS 1.1 is accepted.
          type: bool
        http2_enabled:
          description: Whether HTTP/2 is accepted.
          type: bool
    certificate_authorities:
      description: The CA certificates the gateway uses for client certificates, sorted by certificate id.
      type: list
      elements: dict
      contains:
        certificate:
          description: The certificate id.
          type: str
        trusted:
          description: Trusted root (true) or intermediate (false).
          type: bool
        details:
          description: The certificate (subject, thumbprint, expiration_date, days_left, ...), or null.
          type: dict
    min_days_left:
      description: The fewest days left of any certificate of the gateway (hostnames and authorities); null without one.
      type: int
expiring:
  description:
    - Every certificate of the gateways listed that expires within O(expiry_warning_days) days or has expired,
      soonest first - what a status report warns about.
  returned: always
  type: list
  elements: dict
  contains:
    gateway:
      description: The gateway id.
      type: str
    hostname:
      description: The hostname that presents it, or empty for a certificate authority.
      type: str
    role:
      description: V(hostname) (presented to clients) or V(certificate_authority).
      type: str
    certificate:
      description: The certificate id.
      type: str
    expiration_date:
      description: Expiry, ISO 8601 UTC.
      type: str
    days_left:
      description: Whole days left (negative once expired).
      type: int
"""

from ansible_collections.apim.selfhosted.plugins.module_utils.apim_resources import (  # noqa: E402
    SERVICE_SPEC,
    certificate_view,
    check_entity_id,
    read,
)
from ansible_collections.apim.selfhosted.plugins.module_utils.azure_client import AzureModule  # noqa: E402

LOC_KEYS = ("name", "city", "district", "country_or_region")


def _gateway_row(az, client, rg, svc, gw, certs):
    name = gw.name
    label = "gateway '%s' of API Management instance '%s'" % (name, svc)
    apis = az.call("listing the APIs of %s" % label, lambda: list(client.gateway_api.list_by_service(rg, svc, name)))
    hcs = az.call(
        "listing the hostname configurations of %s" % label,
        lambda: list(client.gateway_hostname_configuration.list_by_service(rg, svc, name)),
    )
    cas = az.call(
        "listing the certificate authorities of %s" % label,
        lambda: list(client.gateway_certificate_authority.list_by_service(rg, svc, name)),
    )
    loc = gw.location_data
    row = {
        "name": name,
        "id": gw.id,
        "description": gw.description,
        "location_data": dict((k, getattr(loc, k, None)) for k in LOC_KEYS) if loc else {},
        "apis": sorted(
            ({"id": a.name, "display_name": a.display_name, "path": a.path} for a in apis),
            key=lambda a: a["id"].lower(),
        ),
        "hostname_configurations": sorted(
            (
                {
                    "name": h.name,
                    "hostname": h.hostname,
                    "certificate_id": h.certificate_id,
                    "certificate": certs.get((h.certificate_id or "").rstrip("/").rsplit("/", 1)[-1].lower()),
                    "negotiate_client_certificate": bool(h.negotiate_client_certificate),
                    "tls10_enabled": bool(h.tls10_enabled),
                    "tls11_enabled": bool(h.tls11_enabled),
                    "http2_enabled": bool(h.http2_enabled),
                }
                for h in hcs
            ),
            key=lambda h: (h["hostname"] or "").lower(),
        ),
        "certificate_authorities": sorted(
            ({"certificate": c.name, "trusted": bool(c.is_trusted), "details": certs.get(c.name.lower())} for c in cas),
            key=lambda c: c["certificate"].lower(),
        ),
    }
    lefts = [h["certificate"]["days_left"] for h in row["hostname_configurations"] if h["certificate"]]
    lefts += [c["details"]["days_left"] for c in row["certificate_authorities"] if c["details"]]
    lefts = [d for d in lefts if d is not None]
    row["min_days_left"] = min(lefts) if lefts else None
    return row


def expiring(rows, warning_days):
    """The certificates of ``rows`` with fewer than ``warning_days`` days left, soonest first."""
    found = []
    for row in rows:
        uses = [("hostname", h["hostname"], h["certificate"]) for h in row["hostname_configurations"]]
        uses += [("certificate_authority", "", c["details"]) for c in row["certificate_authorities"]]
        for role, hostname, cert in uses:
            if cert and cert["days_left"] is not None and cert["days_left"] < warning_days:
                found.append(
                    {
                        "gateway": row["name"],
                        "hostname": hostname,
                        "role": role,
                        "certificate": cert["name"],
                        "expiration_date": cert["expiration_date"],
                        "days_left": cert["days_left"],
                    }
                )
    return sorted(found, key=lambda e: (e["days_left"], e["gateway"], e["hostname"]))


def main():
    az = AzureModule(
        argument_spec=dict(
            SERVICE_SPEC,
            gateway=dict(type="str"),
            expiry_warning_days=dict(type="int", default=30),
        ),
        supports_check_mode=True,
    )
    p = az.params
    if p["gateway"] is not None:
        check_entity_id(az, p["gateway"], "gateway")
    client = az.apim(az.subscription_id())
    rg, svc = p["resource_group"], p["service_name"]
    instance = "API Management instance '%s'" % svc
    certs = az.call(
        "listing the certificates of %s" % instance,
        lambda: dict((c.name.lower(), certificate_view(c)) for c in client.certificate.list_by_service(rg, svc)),
    )
    if p["gateway"]:
        gw = read(az, "gateway '%s' of %s" % (p["gateway"], instance), client.gateway.get, rg, svc, p["gateway"])[0]
        gateways = [gw] if gw else []
    else:
        gateways = az.call(
            "listing the gateways of %s" % instance, lambda: list(client.gateway.list_by_service(rg, svc))
        )
    rows = sorted((_gateway_row(az, client, rg, svc, gw, certs) for gw in gateways), key=lambda r: r["name"].lower())
    az.module.exit_json(changed=False, gateways=rows, expiring=expiring(rows, p["expiry_warning_days"]))


if __name__ == "__main__":
    main()
