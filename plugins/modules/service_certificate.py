#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) apim.selfhosted contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: service_certificate
short_description: Upload a certificate to an API Management instance, from a PFX or a Key Vault secret
version_added: 0.2.0
author: apim.selfhosted maintainers (@apim-selfhosted)
description:
  - Manages a certificate entity of an API Management instance (C(Microsoft.ApiManagement/service/certificates)),
    the certificate that a gateway hostname configuration (M(apim.selfhosted.gateway_hostname)) presents or that a
    gateway trusts as a certificate authority (M(apim.selfhosted.gateway_certificate_authority)).
  - From a PFX (PKCS#12) file with its password - the file is opened on the host that runs the module (usually the
    controller) before anything is sent, so a wrong password fails at once, naming the option. A certificate whose
    thumbprint is already the one in Azure is not uploaded again.
  - Or from a Key Vault secret that the instance reads with its system-assigned identity, or with the user-assigned
    identity O(key_vault.identity_client_id); Azure refreshes it from Key Vault by itself.
  - Returns the subject, thumbprint, expiry and days left; never the certificate data, the private key or the
    password (Azure does not return them either).
  - Requests - one read when nothing changes; a C(PUT) (with C(If-Match) set to the ETag read, when it replaces a
    certificate) or a C(DELETE) (with the ETag read) when it changes.
extends_documentation_fragment:
  - apim.selfhosted.azure
  - apim.selfhosted.apim_service
  - apim.selfhosted.attributes
  - apim.selfhosted.attributes.actiongroup_azure
options:
  name:
    description: The certificate id in the instance, 1 to 80 characters without C(*#&+:<>?/%) or a backslash.
    type: str
    required: true
  pfx_path:
    description:
      - A PFX (PKCS#12) file with the certificate, its chain and its private key, on the host that runs the module.
      - Exclusive with O(pfx_data) and O(key_vault).
    type: path
  pfx_data:
    description:
      - The PFX file's content, base64-encoded (for example from a vault lookup). Never logged.
      - Exclusive with O(pfx_path) and O(key_vault).
    type: str
  password:
    description: The password of the PFX file. Never logged.
    type: str
  key_vault:
    description:
      - A Key Vault secret holding the certificate. Exclusive with O(pfx_path) and O(pfx_data).
      - The instance needs a managed identity allowed to read the secret (M(apim.selfhosted.service_identity)).
    type: dict
    suboptions:
      secret_identifier:
        description:
          - The secret's URL, C(https://<vault>.vault.azure.net/secrets/<name>), without a version to follow the
            latest one.
        type: str
        required: true
      identity_client_id:
        description: The client id of the user-assigned identity that reads it; without it, the system-assigned one.
        type: str
  state:
    description:
      - V(present) uploads the certificate when Azure does not hold this one; one of O(pfx_path), O(pfx_data) and
        O(key_vault) is required.
      - V(absent) deletes it; Azure refuses while a gateway hostname configuration or certificate authority uses it.
    type: str
    choices: [present, absent]
    default: present
  expiry_warning_days:
    description: Warn when the certificate expires within this many days.
    type: int
    default: 30
attributes:
  check_mode:
    support: full
    details: The PFX is opened and the certificate read; nothing is sent that changes anything.
  diff_mode:
    support: full
    details: The diff shows subject, thumbprint, expiry and the Key Vault reference, never key material.
  idempotent:
    support: full
seealso:
  - module: apim.selfhosted.gateway_hostname
  - module: apim.selfhosted.gateway_certificate_authority
  - module: apim.selfhosted.gateway_resource_info
"""

EXAMPLES = r"""
- name: The edge certificate of api.contoso.com, from a PFX on the controller
  apim.selfhosted.service_certificate:
    resource_group: rg-apim
    service_name: contoso
    name: api-contoso-com
    pfx_path: files/api.contoso.com.pfx
    password: "{{ vault_pfx_password }}"

- name: The same from Key Vault, read with a user-assigned identity
  apim.selfhosted.service_certificate:
    resource_group: rg-apim
    service_name: contoso
    name: api-contoso-com
    key_vault:
      secret_identifier: https://contoso-kv.vault.azure.net/secrets/api-contoso-com
      identity_client_id: 11111111-2222-3333-4444-555555555555
"""

RETURN = r"""
certificate:
  description:
    - The certificate after the run (before it, for O(state=absent)); empty when there is none.
    - In check mode, what would be uploaded (from the PFX; a Key Vault certificate is known only once uploaded).
  returned: always
  type: dict
  contains:
    id:
      description:
        - Full resource id; M(apim.selfhosted.gateway_hostname) takes it, or the name, as
          O(apim.selfhosted.gateway_hostname#module:certificate).
      type: str
    name:
      description: The certificate id.
      type: str
    subject:
      description: The certificate's subject.
      type: str
      sample: CN=api.contoso.com
    thumbprint:
      description: SHA-1 thumbprint, upper-case hex.
      type: str
    expiration_date:
      description: Expiry, ISO 8601 UTC.
      type: str
      sample: "2026-03-17T21:55:07Z"
    days_left:
      description: Whole days until the expiry (negative once expired).
      type: int
    key_vault:
      description: The Key Vault reference (secret_identifier, identity_client_id, last_status), or null.
      type: dict
"""

import base64  # noqa: E402
import binascii  # noqa: E402

from ansible.module_utils.basic import missing_required_lib  # noqa: E402

from ansible_collections.apim.selfhosted.plugins.module_utils.apim_resources import (  # noqa: E402
    SERVICE_SPEC,
    certificate_view,
    check_entity_id,
    days_left,
    iso,
    read,
    service_id,
    write,
)
from ansible_collections.apim.selfhosted.plugins.module_utils.azure_client import (  # noqa: E402
    AzureModule,
    HttpResponseError,
)
from ansible_collections.apim.selfhosted.plugins.module_utils.pfx import (  # noqa: E402
    CRYPTOGRAPHY_IMPORT_ERROR,
    HAS_CRYPTOGRAPHY,
    PfxError,
    read_pfx,
)

ARGUMENT_SPEC = dict(
    SERVICE_SPEC,
    name=dict(type="str", required=True),
    pfx_path=dict(type="path"),
    pfx_data=dict(type="str", no_log=True),
    password=dict(type="str", no_log=True),
    key_vault=dict(
        type="dict",
        no_log=False,  # a reference to a secret, not one
        options=dict(
            secret_identifier=dict(type="str", required=True),
            identity_client_id=dict(type="str"),
        ),
    ),
    state=dict(type="str", choices=["present", "absent"], default="present"),
    expiry_warning_days=dict(type="int", default=30),
)


def load_pfx(az):
    """(base64 data, facts) of the PFX the options name; fails, naming the option, before any request."""
    p = az.params
    if not HAS_CRYPTOGRAPHY:
        az.fail(missing_required_lib("cryptography"), exception=CRYPTOGRAPHY_IMPORT_ERROR)
    if p["pfx_path"]:
        option = "pfx_path '%s'" % p["pfx_path"]
        try:
            with open(p["pfx_path"], "rb") as fh:
                raw = fh.read()
        except OSError as exc:
            az.fail("cannot read pfx_path '%s': %s" % (p["pfx_path"], exc.strerror))
    else:
        option = "pfx_data"
        try:
            raw = base64.b64decode(p["pfx_data"], validate=True)
        except (binascii.Error, ValueError):
            az.fail("pfx_data must be the base64 of a PFX file")
    try:
        facts = read_pfx(raw, p["password"])
    except PfxError as exc:
        az.fail("%s: %s; check password" % (option, exc))
    if not facts["has_private_key"]:
        az.module.warn(
            "%s holds no private key: it can be a certificate authority, not a hostname certificate" % option
        )
    return base64.b64encode(raw).decode(), facts


def _same_vault(current, wanted):
    kv = current.get("key_vault") or {}
    same_secret = (kv.get("secret_identifier") or "").rstrip("/").lower() == wanted["secret_identifier"].rstrip(
        "/"
    ).lower()
    return same_secret and (kv.get("identity_client_id") or "").lower() == (wanted["identity_client_id"] or "").lower()


def remove(az, client, args, label, etag):
    try:
        client.certificate.delete(*args, if_match=etag or "*")
    except HttpResponseError as exc:
        if exc.status_code == 409:
            az.fail(
                "deleting %s: it is in use (%s); remove the gateway hostname configurations and certificate "
                "authorities that use it first" % (label, exc.error.message if exc.error else exc)
            )
        if exc.status_code == 412:
            az.fail("deleting %s: it was changed by someone else since it was read (ETag mismatch); run again" % label)
        az.fail_from(exc, "deleting %s" % label)


def main():
    az = AzureModule(
        argument_spec=ARGUMENT_SPEC,
        mutually_exclusive=[("pfx_path", "pfx_data", "key_vault")],
        required_if=[("state", "present", ("pfx_path", "pfx_data", "key_vault"), True)],
        supports_check_mode=True,
    )
    p = az.params
    name = check_entity_id(az, p["name"], "name")
    pfx = load_pfx(az) if p["state"] == "present" and not p["key_vault"] else None
    sub = az.subscription_id()
    client = az.apim(sub)
    args = (p["resource_group"], p["service_name"], name)
    label = "certificate '%s' of API Management instance '%s'" % (name, p["service_name"])
    model, etag = read(az, label, client.certificate.get, *args)
    current = certificate_view(model) if model else {}
    result = dict(changed=False, certificate=current)

    if p["state"] == "absent":
        if current:
            result["changed"] = True
            if not az.check_mode:
                remove(az, client, args, label, etag)
        if az.module._diff:
            result["diff"] = dict(before=current, after={})
        az.module.exit_json(**result)

    if pfx:
        data, facts = pfx
        unchanged = bool(current) and not current["key_vault"] and current["thumbprint"] == facts["thumbprint"]
        body = {"data": data, "password": p["password"] or ""}
        predicted = dict(
            id="%s/certificates/%s" % (service_id(sub, *args[:2]), name),
            name=name,
            subject=facts["subject"],
            thumbprint=facts["thumbprint"],
            expiration_date=iso(facts["not_after"]),
            days_left=days_left(facts["not_after"]),
            key_vault=None,
        )
    else:
        kv = p["key_vault"]
        unchanged = bool(current) and _same_vault(current, kv)
        body = {"key_vault": {"secret_identifier": kv["secret_identifier"]}}
        if kv["identity_client_id"]:
            body["key_vault"]["identity_client_id"] = kv["identity_client_id"]
        predicted = dict(
            current or {"id": "%s/certificates/%s" % (service_id(sub, *args[:2]), name), "name": name},
            key_vault=dict(kv, last_status=None),
        )
    after = current
    if not unchanged:
        result["changed"] = True
        after = predicted
        if not az.check_mode:
            contract = write(
                az, "uploading %s" % label, client.certificate.create_or_update, *args, body, if_match=etag or None
            )
            after = certificate_view(contract)
    result["certificate"] = after
    left = after.get("days_left")
    if left is not None and left < p["expiry_warning_days"]:
        az.module.warn("%s expires on %s (%d days left)" % (label, after["expiration_date"], left))
    if az.module._diff:
        result["diff"] = dict(before=current, after=after)
    az.module.exit_json(**result)


if __name__ == "__main__":
    main()
