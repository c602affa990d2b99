# -*- coding: utf-8 -*-
# Copyright (c) apim.selfhosted contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type


class ModuleDocFragment(object):
    DOCUMENTATION = r"""
options:
  auth_source:
    description:
      - Where the credential comes from.
      - V(credential) uses O(client_id), O(secret) and O(tenant) (a Microsoft Entra app with a client secret).
      - V(env) uses C(AZURE_CLIENT_ID) with C(AZURE_SECRET) and C(AZURE_TENANT) (the names the AWX/AAP
        "Microsoft Azure Resource Manager" credential injects), or azure-identity's C(AZURE_CLIENT_SECRET) and
        C(AZURE_TENANT_ID); the AWX names win when both are set.
      - V(workload_identity) uses a federated token from C(AZURE_FEDERATED_TOKEN_FILE) with O(client_id) (or
        C(AZURE_CLIENT_ID)) and O(tenant) (or C(AZURE_TENANT_ID)).
      - V(msi) uses the managed identity of the machine the module runs on; O(client_id) selects a user-assigned
        identity.
      - V(cli) uses the signed-in Azure CLI (C(az account get-access-token)).
      - V(auto) picks the first that applies, in this order - O(secret) given, or O(client_id) and O(tenant)
        given (V(credential)); the environment variables of V(env) all set (V(env));
        C(AZURE_FEDERATED_TOKEN_FILE) set (V(workload_identity)); C(IDENTITY_ENDPOINT) or C(MSI_ENDPOINT) set
        (V(msi)); C(az) on the PATH (V(cli)); otherwise V(msi) through the instance metadata service.
    type: str
    default: auto
    choices: [auto, env, credential, msi, workload_identity, cli]
  subscription_id:
    description:
      - The Azure subscription (a GUID) of the resources. Defaults to C(AZURE_SUBSCRIPTION_ID) from the environment,
        then to the subscription in the scope the module works on, where it has one.
    type: str
  client_id:
    description:
      - The application (client) id of the Microsoft Entra app, for O(auth_source=credential) and
        O(auth_source=workload_identity); for O(auth_source=msi), the client id of a user-assigned identity.
    type: str
  secret:
    description:
      - The client secret of the Microsoft Entra app, for O(auth_source=credential). Never logged.
    type: str
  tenant:
    description:
      - The Microsoft Entra tenant (directory) id, for O(auth_source=credential) and O(auth_source=workload_identity).
    type: str
  cloud_environment:
    description:
      - The Azure cloud. It sets the authority host, the Resource Manager endpoint and the token scope.
    type: str
    default: AzureCloud
    choices: [AzureCloud, AzureUSGovernment, AzureChinaCloud]
  resource_manager_endpoint:
    description:
      - An https Resource Manager endpoint that overrides the one of O(cloud_environment) (private clouds, tests).
        The token is then requested for C(<endpoint>/.default).
    type: str
  authority_host:
    description:
      - An https Microsoft Entra authority that overrides the one of O(cloud_environment). Defaults to
        C(AZURE_AUTHORITY_HOST) from the environment when set.
    type: str
  ca_bundle:
    description:
      - A PEM file of CA certificates to trust for Resource Manager and the authority, instead of the system store
        (a TLS-inspecting proxy, a private cloud). C(REQUESTS_CA_BUNDLE) in the environment works too.
    type: path
  request_retries:
    description:
      - How many times a request is retried on throttling (HTTP 429, honouring C(Retry-After)), a 5xx answer or a
        connection error. 0 to 10.
    type: int
    default: 3
  request_retry_backoff:
    description:
      - The exponential back-off factor, in seconds, between retries that have no C(Retry-After).
    type: float
    default: 0.8
requirements:
  - azure-identity >= 1.15.0
  - azure-core >= 1.30.0
notes:
  - Azure errors become one line that names the operation, the Azure error code and what to do.
"""
