# -*- coding: utf-8 -*-
# Copyright (c) apim.selfhosted contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The one Azure client of the collection: options, credentials, SDK clients and one-line errors."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import os
import re
import traceback
import uuid

from ansible.module_utils.basic import AnsibleModule, missing_required_lib

from ansible_collections.apim.selfhosted.plugins.module_utils.azure_credential import (
    AUTH_SOURCES,
    CredentialSettingError,
    build_credential,
    pick_auth_source,
)

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
    """The error's message, with its details (API Management puts the field that is wrong there)."""
    err = getattr(exc, "error", None)
    msg = getattr(err, "message", None)
    if not msg:
        msg = getattr(exc, "message", None) or str(exc)
    details = [
        "%s: %s" % (d.target, d.message) if getattr(d, "target", None) else getattr(d, "message", None)
        for d in (getattr(err, "details", None) or [])
    ]
    details = [d for d in details if d and d != msg]
    return one_line(" ".join([msg, *details]))


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

    def find_subscription(self, scope=None, explicit=None):
        """The subscription, or None: ``explicit``, the option, AZURE_SUBSCRIPTION_ID, then the one in ``scope``."""
        return (
            explicit
            or self.params["subscription_id"]
            or os.environ.get("AZURE_SUBSCRIPTION_ID")
            or subscription_of(scope)
            or None
        )

    def subscription_id(self, scope=None, explicit=None):
        """The subscription (see find_subscription); fails the module when there is none."""
        sub = self.find_subscription(scope, explicit)
        if not sub:
            self.fail(
                "no subscription: set subscription_id (or AZURE_SUBSCRIPTION_ID in the environment, "
                "as the AWX Azure credential does)"
            )
        return sub

    # ---- credentials -----------------------------------------------------------------------------
    def _identity_kwargs(self):
        kw = {"authority": self.authority, "connection_verify": self.verify}
        if self.authority not in [c[0] for c in CLOUDS.values()]:
            # A private or test authority has no instance-discovery metadata on the public cloud.
            kw["disable_instance_discovery"] = True
        return kw

    @property
    def credential(self):
        if self._credential is None:
            if not HAS_AZURE_CORE:
                self.fail(missing_required_lib("azure-core"), exception=AZURE_CORE_IMPORT_ERROR)
            try:
                import azure.identity  # noqa: F401  pylint: disable=unused-import
            except ImportError:
                self.fail(missing_required_lib("azure-identity"), exception=traceback.format_exc())
            self._auth_used = pick_auth_source(self.params, os.environ)
            try:
                self._credential = build_credential(
                    self._auth_used, self.params, os.environ, self._identity_kwargs(), self.verify
                )
            except CredentialSettingError as exc:
                self.fail(str(exc))
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
            sub = self.find_subscription(scope) or "00000000-0000-0000-0000-000000000000"
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

    def resource_graph(self):
        """The Azure Resource Graph client (queries across subscriptions)."""
        if "graph" not in self._clients:
            try:
                from azure.mgmt.resourcegraph import ResourceGraphClient
            except ImportError:
                self.fail(missing_required_lib("azure-mgmt-resourcegraph"), exception=traceback.format_exc())
            self._clients["graph"] = ResourceGraphClient(self.credential, **self._client_kwargs())
        return self._clients["graph"]

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
