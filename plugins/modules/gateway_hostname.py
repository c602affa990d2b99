#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) apim.selfhosted contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: gateway_hostname
short_description: Configure a hostname, its certificate and its TLS settings on a self-hosted gateway
version_added: 0.2.0
author: apim.selfhosted maintainers (@apim-selfhosted)
description:
  - Manages a hostname configuration of a gateway resource (C(service/gateways/hostnameConfigurations)) - the
    certificate a self-hosted gateway presents on HTTPS (port 8081 of the container) for a hostname (TLS SNI),
    whether it asks clients for a certificate, and which protocols it accepts.
  - TLS 1.0 and 1.1 are off unless turned on; every setting not given is set to its default, so the configuration
    is exactly what the task says.
  - The certificate is checked before any change - a certificate the instance does not hold fails naming
    O(certificate) (in check mode it is a warning, since an earlier task may be about to upload it).
  - Requests - one read when nothing changes; otherwise one read of the certificate and a C(PUT) with C(If-Match)
    set to the ETag read (a configuration changed by someone else in between is not overwritten), or a C(DELETE)
    with that ETag.
extends_documentation_fragment:
  - apim.selfhosted.azure
  - apim.selfhosted.apim_service
  - apim.selfhosted.apim_service.gateway
  - apim.selfhosted.attributes
  - apim.selfhosted.attributes.actiongroup_azure
options:
  hostname:
    description:
      - The hostname clients connect to, C(api.contoso.com), a wildcard C(*.contoso.com), or C(*) for every name
        (the certificate presented when no other configuration matches).
    type: str
    required: true
  name:
    description:
      - The configuration's id. Defaults to one derived from O(hostname) (C(api.contoso.com) gives
        C(api-contoso-com), C(*) gives C(default)), the same on every run.
    type: str
  certificate:
    description:
      - The certificate of the instance to present, by certificate id or full resource id
        (M(apim.selfhosted.service_certificate)). Required with O(state=present).
    type: str
  negotiate_client_certificate:
    description:
      - Ask clients for a certificate (mutual TLS), validated by policies and the gateway's certificate authorities
        (M(apim.selfhosted.gateway_certificate_authority)).
    type: bool
    default: false
  tls10_enabled:
    description: Accept TLS 1.0. Off by default; turn on only for clients that cannot do better.
    type: bool
    default: false
  tls11_enabled:
    description: Accept TLS 1.1. Off by default.
    type: bool
    default: false
  http2_enabled:
    description: Accept HTTP/2.
    type: bool
    default: false
  state:
    description: V(present) creates or updates the configuration, V(absent) deletes it.
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
  - module: apim.selfhosted.gateway_resource_info
"""

EXAMPLES = r"""
- name: Serve api.contoso.com with its certificate on the Lyon gateways
  apim.selfhosted.gateway_hostname:
    resource_group: rg-apim
    service_name: contoso
    gateway: lyon-edge
    hostname: api.contoso.com
    certificate: api-contoso-com
    http2_enabled: true
"""

RETURN = r"""
hostname_configuration:
  description: The configuration after the run (before it, for O(state=absent)); empty when there is none.
  returned: always
  type: dict
  contains:
    id:
      description: Full resource id.
      type: str
    name:
      description: The configuration id.
      type: str
    hostname:
      description: The hostname.
      type: str
    certificate_id:
      description: Full resource id of the certificate presented.
      type: str
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
"""

import re  # noqa: E402

from ansible_collections.apim.selfhosted.plugins.module_utils.apim_resources import (  # noqa: E402
    GATEWAY_SPEC,
    certificate_id,
    check_entity_id,
    read,
    write,
)
from ansible_collections.apim.selfhosted.plugins.module_utils.azure_client import AzureModule  # noqa: E402

HOSTNAME_RE = re.compile(
    r"^(\*|(\*\.)?[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*)$"
)
FLAGS = ("negotiate_client_certificate", "tls10_enabled", "tls11_enabled", "http2_enabled")


def default_name(hostname):
    """The configuration id derived from a hostname: lower case, dots and stars as dashes."""
    if hostname == "*":
        return "default"
    return re.sub(r"-+", "-", re.sub(r"[^a-z0-9-]", "-", hostname.lower().replace("*", "wildcard"))).strip("-")[:80]


def view(hc):
    out = dict((k, getattr(hc, k)) for k in ("id", "name", "hostname", "certificate_id"))
    out.update((k, bool(getattr(hc, k))) for k in FLAGS)
    return out


def main():
    az = AzureModule(
        argument_spec=dict(
            GATEWAY_SPEC,
            hostname=dict(type="str", required=True),
            name=dict(type="str"),
            certificate=dict(type="str"),
            negotiate_client_certificate=dict(type="bool", default=False),
            tls10_enabled=dict(type="bool", default=False),
            tls11_enabled=dict(type="bool", default=False),
            http2_enabled=dict(type="bool", default=False),
            state=dict(type="str", choices=["present", "absent"], default="present"),
        ),
        required_if=[("state", "present", ("certificate",))],
        supports_check_mode=True,
    )
    p = az.params
    gateway = check_entity_id(az, p["gateway"], "gateway")
    hostname = (p["hostname"] or "").strip()
    if not HOSTNAME_RE.match(hostname):
        az.fail("hostname must be a DNS name, a wildcard *.<domain> or *, got '%s'" % p["hostname"])
    name = check_entity_id(az, p["name"] or default_name(hostname), "name")
    sub = az.subscription_id()
    client = az.apim(sub)
    rg, svc = p["resource_group"], p["service_name"]
    label = "hostname configuration '%s' of gateway '%s'" % (name, gateway)
    model, etag = read(az, label, client.gateway_hostname_configuration.get, rg, svc, gateway, name)
    current = view(model) if model else {}
    result = dict(changed=False, hostname_configuration=current)

    if p["state"] == "absent":
        if current:
            result["changed"] = True
            if not az.check_mode:
                ops = client.gateway_hostname_configuration
                write(az, "deleting %s" % label, ops.delete, rg, svc, gateway, name, etag)
        if az.module._diff:
            result["diff"] = dict(before=current, after={})
        az.module.exit_json(**result)

    cert_id = certificate_id(sub, rg, svc, p["certificate"].strip())
    desired = dict(current or {"id": None, "name": name}, hostname=hostname, certificate_id=cert_id)
    desired.update((k, p[k]) for k in FLAGS)
    same = (
        current
        and all((current[k] or "").lower() == (desired[k] or "").lower() for k in ("hostname", "certificate_id"))
        and all(current[k] == desired[k] for k in FLAGS)
    )
    after = current
    if not same:
        result["changed"] = True
        cert_name = cert_id.rstrip("/").rsplit("/", 1)[-1]
        if read(az, "certificate '%s'" % cert_name, client.certificate.get, rg, svc, cert_name)[0] is None:
            missing = "certificate: '%s' is not a certificate of API Management instance '%s'" % (p["certificate"], svc)
            if not az.check_mode:
                az.fail("%s; upload it first (apim.selfhosted.service_certificate)" % missing)
            # In check mode an earlier task that would upload it has not.
            az.module.warn("%s (yet)" % missing)
        after = desired
        if not az.check_mode:
            body = dict((k, desired[k]) for k in ("hostname", "certificate_id", *FLAGS))
            hc = write(
                az,
                "writing %s" % label,
                client.gateway_hostname_configuration.create_or_update,
                rg,
                svc,
                gateway,
                name,
                body,
                if_match=etag or None,
            )
            after = view(hc)
    result["hostname_configuration"] = after
    if az.module._diff:
        result["diff"] = dict(before=current, after=after)
    az.module.exit_json(**result)


if __name__ == "__main__":
    main()
