# -*- coding: utf-8 -*-
# Copyright (c) apim.selfhosted contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Which azure-identity credential the Azure options and the environment ask for, and building it."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import shutil

AUTH_SOURCES = ["auto", "env", "credential", "msi", "workload_identity", "cli"]


class CredentialSettingError(ValueError):
    """A credential setting is missing; the message names what to set."""


def env_secret_triplet(environ):
    """Client id, secret and tenant from the environment; AWX's names win over azure-identity's."""
    cid = environ.get("AZURE_CLIENT_ID")
    secret = environ.get("AZURE_SECRET") or environ.get("AZURE_CLIENT_SECRET")
    tenant = environ.get("AZURE_TENANT") or environ.get("AZURE_TENANT_ID")
    return cid, secret, tenant


def pick_auth_source(params, environ, which=shutil.which):
    """The source ``auth_source=auto`` stands for, in the documented order; other values as they are."""
    source = params["auth_source"]
    if source != "auto":
        return source
    if params["secret"] or (params["client_id"] and params["tenant"]):
        return "credential"
    if all(env_secret_triplet(environ)):
        return "env"
    if environ.get("AZURE_FEDERATED_TOKEN_FILE"):
        return "workload_identity"
    if environ.get("IDENTITY_ENDPOINT") or environ.get("MSI_ENDPOINT"):
        return "msi"
    if which("az"):
        return "cli"
    return "msi"


def _require(needs, pairs):
    missing = [name for name, value in pairs if not value]
    if missing:
        raise CredentialSettingError("%s: %s" % (needs, ", ".join(missing)))


def credential_arguments(source, params, environ):
    """(azure-identity class name, keyword arguments) for ``source``; raises CredentialSettingError."""
    p = params
    if source == "credential":
        _require(
            "auth_source=credential needs client_id, secret and tenant; missing",
            (("client_id", p["client_id"]), ("secret", p["secret"]), ("tenant", p["tenant"])),
        )
        kwargs = dict(tenant_id=p["tenant"], client_id=p["client_id"], client_secret=p["secret"])
        return "ClientSecretCredential", kwargs
    if source == "env":
        cid, secret, tenant = env_secret_triplet(environ)
        _require(
            "auth_source=env needs these environment variables",
            (
                ("AZURE_CLIENT_ID", cid),
                ("AZURE_SECRET or AZURE_CLIENT_SECRET", secret),
                ("AZURE_TENANT or AZURE_TENANT_ID", tenant),
            ),
        )
        return "ClientSecretCredential", dict(tenant_id=tenant, client_id=cid, client_secret=secret)
    if source == "workload_identity":
        token_file = environ.get("AZURE_FEDERATED_TOKEN_FILE")
        cid = p["client_id"] or environ.get("AZURE_CLIENT_ID")
        tenant = p["tenant"] or environ.get("AZURE_TENANT_ID") or environ.get("AZURE_TENANT")
        _require(
            "auth_source=workload_identity needs",
            (
                ("AZURE_FEDERATED_TOKEN_FILE", token_file),
                ("client_id or AZURE_CLIENT_ID", cid),
                ("tenant or AZURE_TENANT_ID", tenant),
            ),
        )
        return "WorkloadIdentityCredential", dict(tenant_id=tenant, client_id=cid, token_file_path=token_file)
    if source == "msi":
        return "ManagedIdentityCredential", dict(client_id=p["client_id"]) if p["client_id"] else {}
    return "AzureCliCredential", dict(tenant_id=p["tenant"]) if p["tenant"] else {}


def build_credential(source, params, environ, identity_kwargs, verify):
    """The azure-identity credential object for ``source`` (azure-identity must be importable)."""
    import azure.identity

    cls_name, kwargs = credential_arguments(source, params, environ)
    if cls_name == "ManagedIdentityCredential":
        kwargs["connection_verify"] = verify
    elif cls_name != "AzureCliCredential":
        kwargs.update(identity_kwargs)
    credential = getattr(azure.identity, cls_name)(**kwargs)
    if cls_name == "AzureCliCredential":
        return azure.identity.ChainedTokenCredential(credential)
    return credential
