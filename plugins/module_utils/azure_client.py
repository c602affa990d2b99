# -*- coding: utf-8 -*-
# Copyright (c) apim.selfhosted contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The one Azure client of the collection: options, credentials, SDK clients and one-line errors."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import os
import re
import shutil
import traceback
import uuid

from ansible.module_utils.basic import AnsibleModule, missing_required_lib

try:
    from azure.core.exceptions import (
        ClientAuthenticationError,
        HttpResponseError,
        ServiceRequestError,
    )

    HAS_AZURE_CORE = True
    AZURE_CORE_IMPORT_ERROR = None
except ImportError:
    HAS_AZURE_CORE = False
    AZURE_CORE_IMPORT_ERROR = traceback.format_exc()

    class _Missing(Exception):
        pass

    ClientAuthenticationError = HttpResponseError = ServiceRequestError = _Missing

AUTH_SOURCES = ["auto", "env", "credential", "msi", "workload_identity", "cli"]
AUTHORIZATION_API_VERSION = "2022-04-01"
GUID_RE = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")
# A fixed namespace so that the same inputs always give the same resource names.
NAME_NAMESPACE = uuid.UUID("6f5e3c5c-2a4e-4c1b-9b0e-5a7d1c2f8e41")

# cloud: (authority host, ARM endpoint, token scope)
CLOUDS = {
    "AzureCloud": (
        "https://login.microsoftonline.com",
        "https://management.azure.com",
        "https://management.azure.com/.default",
    ),
    "AzureUSGovernment": (
        "https://login.microsoftonline.us",
        "https://management.usgovcloudapi.net",
        "https://management.core.usgovcloudapi.net/.default",
    ),
    "AzureChinaCloud": (
        "https://login.chinacloudapi.cn",
        "https://management.chinacloudapi.cn",
        "https://management.chinacloudapi.cn/.default",
    ),
}

AZURE_ARGUMENT_SPEC = dict(
    auth_source=dict(type="str", default="auto", choices=AUTH_SOURCES),
    subscription_id=dict(type="str"),
    client_id=dict(type="str"),
    secret=dict(type="str", no_log=True),
    tenant=dict(type="str"),
    cloud_environment=dict(type="str", default="AzureCloud", choices=list(CLOUDS)),
    resource_manager_endpoint=dict(type="str"),
    authority_host=dict(type="str"),
    ca_bundle=dict(type="path"),
    request_retries=dict(type="int", default=3),
    request_retry_backoff=dict(type="float", default=0.8),
)


def one_line(text):
    """Collapse any text to one line."""
    return " ".join(str(text).split())


def is_guid(value):
    return bool(value) and bool(GUID_RE.match(str(value)))


def stable_guid(*parts):
    """A GUID derived from ``parts`` (case-insensitive), the same on every run."""
    return str(uuid.uuid5(NAME_NAMESPACE, "|".join(str(p).lower() for p in parts)))


def trailing_guid(resource_id):
    return (resource_id or "").rstrip("/").rsplit("/", 1)[-1].lower()


def same_id(a, b):
    return (a or "").rstrip("/").lower() == (b or "").rstrip("/").lower()


def subscription_of(scope):
    m = re.match(r"^/subscriptions/([^/]+)", scope or "", re.IGNORECASE)
    return m.group(1) if m else None


def error_code(exc):
    err = getattr(exc, "error", None)
    return getattr(err, "code", None) or ""


def error_message(exc):
    err = getattr(exc, "error", None)
    msg = getattr(err, "message", None)
    if not msg:
        msg = getattr(exc, "message", None) or str(exc)
    return one_line(msg)


class AzureModule:
    """An AnsibleModule with the shared Azure options, a credential and SDK clients built on demand."""

    def __init__(self, argument_spec, **kwargs):
        spec = dict(AZURE_ARGUMENT_SPEC)
        spec.update(argument_spec)
        self.module = AnsibleModule(argument_spec=spec, **kwargs)
        self.params = self.module.params
        self.check_mode = self.module.check_mode
        self._credential = None
        self._auth_used = None
        self._clients = {}
        self._validate_common()

    # ---- options ---------------------------------------------------------------------------------
    def fail(self, msg, **kw):
        self.module.fail_json(msg=one_line(msg), **kw)

    def _validate_common(self):
        p = self.params
        for opt in ("resource_manager_endpoint", "authority_host"):
            if p[opt] and not p[opt].startswith("https://"):
                self.fail("%s must be an https:// URL, got '%s'" % (opt, p[opt]))
        if p["ca_bundle"] and not os.path.isfile(p["ca_bundle"]):
            self.fail("ca_bundle '%s' is not a readable file" % p["ca_bundle"])
        if p["request_retries"] < 0 or p["request_retries"] > 10:
            self.fail("request_retries must be between 0 and 10")
        if p["request_retry_backoff"] < 0:
            self.fail("request_retry_backoff must not be negative")
        if p["subscription_id"] is not None and not is_guid(p["subscription_id"]):
            self.fail("subscription_id must be a GUID, got '%s'" % p["subscription_id"])

    @property
    def endpoint(self):
        return (self.params["resource_manager_endpoint"] or CLOUDS[self.params["cloud_environment"]][1]).rstrip("/")

    @property
    def token_scope(self):
        if self.params["resource_manager_endpoint"]:
            return self.endpoint + "/.default"
        return CLOUDS[self.params["cloud_environment"]][2]

    @property
    def authority(self):
        return (
            self.params["authority_host"]
            or os.environ.get("AZURE_AUTHORITY_HOST")
            or CLOUDS[self.params["cloud_environment"]][0]
        ).rstrip("/")

    @property
    def verify(self):
        return self.params["ca_bundle"] or True

    def subscription_id(self, fallback_scope=None):
        sub = self.params["subscription_id"] or os.environ.get("AZURE_SUBSCRIPTION_ID")
        sub = sub or subscription_of(fallback_scope)
        if not sub:
            self.fail(
                "no subscription: set subscription_id (or AZURE_SUBSCRIPTION_ID in the environment, "
                "as the AWX Azure credential does)"
            )
        return sub

    # ---- credentials -----------------------------------------------------------------------------
    def _require_identity(self):
        if not HAS_AZURE_CORE:
            self.fail(missing_required_lib("azure-core"), exception=AZURE_CORE_IMPORT_ERROR)
        try:
            import azure.identity  # noqa: F401  pylint: disable=unused-import
        except ImportError:
            self.fail(missing_required_lib("azure-identity"), exception=traceback.format_exc())

    def _identity_kwargs(self):
        kw = {"authority": self.authority, "connection_verify": self.verify}
        if self.authority not in [c[0] for c in CLOUDS.values()]:
            # A private or test authority has no instance-discovery metadata on the public cloud.
            kw["disable_instance_discovery"] = True
        return kw

    def _env_secret_triplet(self):
        cid = os.environ.get("AZURE_CLIENT_ID")
        secret = os.environ.get("AZURE_SECRET") or os.environ.get("AZURE_CLIENT_SECRET")
        tenant = os.environ.get("AZURE_TENANT") or os.environ.get("AZURE_TENANT_ID")
        return cid, secret, tenant

    def _build_credential(self):
        from azure.identity import (
            AzureCliCredential,
            ChainedTokenCredential,
            ClientSecretCredential,
            ManagedIdentityCredential,
            WorkloadIdentityCredential,
        )

        p = self.params
        source = p["auth_source"]
        if source == "auto":
            env_cid, env_secret, env_tenant = self._env_secret_triplet()
            if p["secret"] or (p["client_id"] and p["tenant"]):
                source = "credential"
            elif env_cid and env_secret and env_tenant:
                source = "env"
            elif os.environ.get("AZURE_FEDERATED_TOKEN_FILE"):
                source = "workload_identity"
            elif os.environ.get("IDENTITY_ENDPOINT") or os.environ.get("MSI_ENDPOINT"):
                source = "msi"
            elif shutil.which("az"):
                source = "cli"
            else:
                source = "msi"
        self._auth_used = source
        kw = self._identity_kwargs()
        if source == "credential":
            missing = [
                n for n, v in (("client_id", p["client_id"]), ("secret", p["secret"]), ("tenant", p["tenant"])) if not v
            ]
            if missing:
                self.fail("auth_source=credential needs client_id, secret and tenant; missing: %s" % ", ".join(missing))
            return ClientSecretCredential(p["tenant"], p["client_id"], p["secret"], **kw)
        if source == "env":
            cid, secret, tenant = self._env_secret_triplet()
            missing = [
                n
                for n, v in (
                    ("AZURE_CLIENT_ID", cid),
                    ("AZURE_SECRET or AZURE_CLIENT_SECRET", secret),
                    ("AZURE_TENANT or AZURE_TENANT_ID", tenant),
                )
                if not v
            ]
            if missing:
                self.fail("auth_source=env needs these environment variables: %s" % ", ".join(missing))
            return ClientSecretCredential(tenant, cid, secret, **kw)
        if source == "workload_identity":
            token_file = os.environ.get("AZURE_FEDERATED_TOKEN_FILE")
            cid = p["client_id"] or os.environ.get("AZURE_CLIENT_ID")
            tenant = p["tenant"] or os.environ.get("AZURE_TENANT_ID") or os.environ.get("AZURE_TENANT")
            missing = [
                n
                for n, v in (
                    ("AZURE_FEDERATED_TOKEN_FILE", token_file),
                    ("client_id or AZURE_CLIENT_ID", cid),
                    ("tenant or AZURE_TENANT_ID", tenant),
                )
                if not v
            ]
            if missing:
                self.fail("auth_source=workload_identity needs: %s" % ", ".join(missing))
            return WorkloadIdentityCredential(tenant_id=tenant, client_id=cid, token_file_path=token_file, **kw)
        if source == "msi":
            mkw = {"connection_verify": self.verify}
            if p["client_id"]:
                mkw["client_id"] = p["client_id"]
            return ManagedIdentityCredential(**mkw)
        # cli
        ckw = {}
        if p["tenant"]:
            ckw["tenant_id"] = p["tenant"]
        return ChainedTokenCredential(AzureCliCredential(**ckw))

    @property
    def credential(self):
        if self._credential is None:
            self._require_identity()
            self._credential = self._build_credential()
        return self._credential

    # ---- SDK clients -----------------------------------------------------------------------------
    def _client_kwargs(self):
        return dict(
            base_url=self.endpoint,
            credential_scopes=[self.token_scope],
            connection_verify=self.verify,
            retry_total=self.params["request_retries"],
            retry_backoff_factor=self.params["request_retry_backoff"],
            user_agent="apim.selfhosted",
        )

    def authorization(self, scope=None):
        """The Microsoft.Authorization client (api-version 2022-04-01)."""
        if "auth" not in self._clients:
            try:
                from azure.mgmt.authorization import AuthorizationManagementClient
            except ImportError:
                self.fail(missing_required_lib("azure-mgmt-authorization"), exception=traceback.format_exc())
            # Scoped RBAC calls never use the subscription; a placeholder keeps the SDK's check happy.
            sub = (
                self.params["subscription_id"]
                or os.environ.get("AZURE_SUBSCRIPTION_ID")
                or subscription_of(scope)
                or "00000000-0000-0000-0000-000000000000"
            )
            self._clients["auth"] = AuthorizationManagementClient(
                self.credential, sub, api_version=AUTHORIZATION_API_VERSION, **self._client_kwargs()
            )
        return self._clients["auth"]

    def apim(self, subscription_id):
        key = "apim:" + subscription_id.lower()
        if key not in self._clients:
            try:
                from azure.mgmt.apimanagement import ApiManagementClient
            except ImportError:
                self.fail(missing_required_lib("azure-mgmt-apimanagement"), exception=traceback.format_exc())
            self._clients[key] = ApiManagementClient(self.credential, subscription_id, **self._client_kwargs())
        return self._clients[key]

    # ---- errors ----------------------------------------------------------------------------------
    def describe(self, exc, what):
        """One line that says what failed, why, and what to do."""
        code = error_code(exc)
        msg = error_message(exc)
        status = getattr(exc, "status_code", None)
        source = self._auth_used or self.params["auth_source"]
        if isinstance(exc, ClientAuthenticationError) and status in (None, 401):
            return (
                "%s: authentication failed (auth_source=%s): %s. Check the credential (client_id, secret, tenant, "
                "or the environment variables), authority_host and cloud_environment." % (what, source, msg)
            )
        if code == "AuthorizationFailed" or status == 403:
            return (
                "%s: permission denied (%s): %s Grant the caller the action named above at that scope "
                "(for role definitions and assignments: User Access Administrator or Owner), then retry."
                % (what, code or "Forbidden", msg)
            )
        if status == 429:
            return "%s: Azure throttled the request (429) after %d retries: %s. Retry later or lower the pace." % (
                what,
                self.params["request_retries"],
                msg,
            )
        if isinstance(exc, ServiceRequestError):
            return (
                "%s: cannot reach %s: %s. Check resource_manager_endpoint/cloud_environment, ca_bundle and any "
                "proxy settings." % (what, self.endpoint, msg)
            )
        if isinstance(exc, HttpResponseError):
            return "%s failed (HTTP %s %s): %s" % (what, status, code or "error", msg)
        return "%s failed: %s" % (what, one_line(exc))

    def fail_from(self, exc, what, **kw):
        self.fail(self.describe(exc, what), **kw)

    def call(self, what, fn, *args, **kwargs):
        """Run an SDK call; any Azure error fails the module with one line naming ``what``."""
        try:
            return fn(*args, **kwargs)
        except (HttpResponseError, ClientAuthenticationError, ServiceRequestError) as exc:
            self.fail_from(exc, what)
        except ValueError as exc:
            # azure-identity raises ValueError for malformed tenant ids and authorities.
            self.fail("%s: invalid Azure setting: %s" % (what, one_line(exc)))


def role_definition_id(scope, guid):
    """The id ARM gives a custom role created at ``scope``."""
    sub = subscription_of(scope)
    prefix = "/subscriptions/%s" % sub if sub else ""
    return "%s/providers/Microsoft.Authorization/roleDefinitions/%s" % (prefix, guid)


def validate_scope(module, value, option):
    if not value or not value.startswith("/") or value.rstrip("/") == "" or "//" in value:
        module.fail("%s must be an ARM scope starting with '/' (e.g. /subscriptions/<id>), got '%s'" % (option, value))
    return value.rstrip("/")
