#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) apim.selfhosted contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: gateway_preflight
short_description: Check from a host that a self-hosted gateway can reach what its settings need
version_added: 0.1.0
author: apim.selfhosted maintainers (@apim-selfhosted)
description:
  - Runs on the gateway host, before anything changes there, the checks that a self-hosted gateway v2 needs to pass
    to load its configuration, and says for each failed check what to fix.
  - B(DNS) resolves the Configuration API host (C(/etc/hosts) and O(extra_hosts) count). When a proxy carries the
    connection, the proxy's name is resolved instead and the endpoint's own lookup is only reported, as the gateway
    leaves that lookup to the proxy.
  - B(TCP) connects to port 443 within O(timeout), directly or through the proxy with C(CONNECT), choosing the way
    exactly as the gateway (.NET C(HttpClient)) does from the C(HTTPS_PROXY), C(HTTP_PROXY) and C(NO_PROXY) values of
    its env-file.
  - B(TLS) completes a handshake with host name verification against the system trust store plus O(ca_bundle), and
    reports the certificate's issuer and days to expiry. An issuer that is not trusted fails and names
    O(ca_bundle_variable).
  - B(Clock) compares the host clock with the C(Date) header of the Configuration API's answer (any status code) and
    fails over O(clock_skew_threshold) seconds; it reports the NTP state where C(timedatectl) exists.
  - B(Entra) runs the DNS, TCP and TLS checks, when O(auth_mode=azureAdApp), for every endpoint that Microsoft's
    self-hosted gateway overview lists for Microsoft Entra authentication - the authority (O(authority)),
    C(<region>.login.microsoft.com) (O(region)) and Azure Resource Manager (O(resource_manager)), where the gateway
    checks RBAC permissions. With a token, O(features=entra_policies) checks the authority and
    C(<region>.login.microsoft.com) for policies that use Entra ID.
  - B(Optional features) named in O(features) add the endpoints the overview lists for them - the instance's Azure
    Storage blob and table accounts for API inspector and quotas (O(storage_accounts)), Application Insights
    (O(application_insights_endpoint), C(rt.services.visualstudio.com) and
    C(<region>.livediagnostics.monitor.azure.com)), Event Hubs namespaces (O(event_hubs_namespaces)) and an external
    cache (O(external_caches)). A failed check of such an endpoint says what the gateway needs it for.
  - B(Extra endpoints) runs the same checks for each item of O(extra_endpoints).
  - B(Ports) checks that the host ports in O(ports) are free, or held by the gateway's own container
    O(container_name). The holder is named by the Docker engine through the Docker SDK for Python (Debian's
    C(python3-docker)) when the host has both, else from C(/proc) alone.
  - No secret is sent anywhere. The only request is an anonymous C(GET /) to the Configuration API for its C(Date)
    header. Credentials in a proxy URL go only to that proxy, as the gateway sends them.
  - The module reads only. It never changes the host, so its result is the same in check mode.
options:
  endpoint:
    description:
      - The v2 Configuration API endpoint, C(<apim-name>.configuration.azure-api.net), as a bare host or as
        C(https://<host>), with an optional port.
    type: str
    required: true
  auth_mode:
    description: How the gateway authenticates. With V(azureAdApp) the Entra endpoints are checked too.
    type: str
    choices: [token, azureAdApp]
    default: token
  authority:
    description: Entra authority URL, checked when O(auth_mode=azureAdApp) or O(features=entra_policies).
    type: str
    default: https://login.microsoftonline.com
  region:
    description:
      - The Azure region of the API Management instance's primary location, as Azure names it (V(westeurope)).
      - Required with O(auth_mode=azureAdApp) (or O(features=entra_policies)) and the public cloud's
        O(authority), for C(<region>.login.microsoft.com). With another cloud's authority it is checked only when given.
      - Also the default of O(application_insights_region).
    type: str
    default: ""
  resource_manager:
    description:
      - Azure Resource Manager endpoint, checked when O(auth_mode=azureAdApp). Another cloud's endpoint (for example
        C(https://management.usgovcloudapi.net)) replaces the public one.
    type: str
    default: https://management.azure.com
  features:
    description:
      - The optional gateway features in use that need endpoints of their own.
      - V(entra_policies) (policies that use Microsoft Entra ID) needs O(region) with the public cloud's O(authority);
        V(api_inspector) or V(quotas) (in policies) need O(storage_accounts); V(application_insights) needs a region
        (O(application_insights_region) or O(region)); V(event_hubs) needs O(event_hubs_namespaces);
        V(external_cache) needs O(external_caches).
    type: list
    elements: str
    choices: [entra_policies, api_inspector, quotas, application_insights, event_hubs, external_cache]
    default: []
  storage_accounts:
    description:
      - The instance's Azure Storage accounts, as the Network connectivity status page of the instance lists them in
        the Azure portal. A name (V(contosostore)) is checked as C(<name>.blob.core.windows.net) and
        C(<name>.table.core.windows.net); a host name (V(contosostore.blob.core.windows.net)) as it is.
    type: list
    elements: str
    default: []
  application_insights_endpoint:
    description:
      - The gateway's C(logs.applicationinsights.endpoint) setting; its host is the telemetry ingestion endpoint.
    type: str
    default: https://dc.services.visualstudio.com/v2/track
  application_insights_region:
    description:
      - The region of the Application Insights resource, for C(<region>.livediagnostics.monitor.azure.com).
        Defaults to O(region).
    type: str
    default: ""
  event_hubs_namespaces:
    description:
      - Event Hubs namespaces the gateway logs to, as a name (V(contoso-logs), checked as
        C(contoso-logs.servicebus.windows.net:443)), a host name or C(host:port) (for example port 5671 where the
        site allows AMQP).
    type: list
    elements: str
    default: []
  external_caches:
    description:
      - External caches, as C(host[:port]) or C(rediss://host[:port]) (TLS, port 6380 by default) or
        C(redis://host[:port]) (plain TCP, port 6379). Reached directly, as a Redis client ignores HTTP proxies.
    type: list
    elements: str
    default: []
  extra_endpoints:
    description:
      - More endpoints the gateway must reach (telemetry collectors, private registries), each as C(host),
        C(host:port), C(https://host[:port]) or C(http://host:port).
      - C(https) endpoints (the default, port 443) get the DNS, TCP and TLS checks; C(http) endpoints DNS and TCP.
    type: list
    elements: str
    default: []
  https_proxy:
    description:
      - The C(HTTPS_PROXY) value the gateway gets, C([http://][user:password@]host[:port]); the port defaults to
        80 as in .NET. Used for every C(https) endpoint unless O(no_proxy) matches it.
      - A password in the value is masked in every output of the module; the proxy's host and port are shown.
    type: str
    default: ""
  http_proxy:
    description:
      - The C(HTTP_PROXY) value the gateway gets. Like the gateway, used only for C(http) endpoints; an C(https)
        endpoint with only O(http_proxy) set is reached directly.
    type: str
    default: ""
  no_proxy:
    description:
      - The C(NO_PROXY) entries. Matched as the gateway matches them, case-insensitively against the host name
        only - an entry with a leading dot (C(.contoso.com)) matches that domain and every name under it, any other
        entry matches only the same host name. C(*), C(*.domain), CIDR ranges and ports are not understood by the
        gateway and match nothing.
      - Items may themselves be comma-separated lists.
    type: list
    elements: str
    default: []
  extra_hosts:
    description:
      - Host name to IP address entries the gateway container gets with C(--add-host). A name listed here is not
        looked up in DNS, as inside the container.
    type: dict
    default: {}
  ca_bundle:
    description:
      - Path on the host of a PEM file or a directory of hashed PEM files with more trusted CA certificates, e.g. a
        private PKI or a TLS-inspecting proxy's CA. Added to the system trust store for the TLS checks.
    type: path
  ca_bundle_variable:
    description:
      - The name of the setting that holds O(ca_bundle), used in messages, so that a role can name its own variable.
    type: str
    default: ca_bundle
  timeout:
    description: Seconds each check may take (DNS lookup, TCP connect, proxy tunnel, TLS handshake, Date request).
    type: float
    default: 5
  clock_skew_threshold:
    description: Largest accepted difference, in seconds, between the host clock and the Configuration API's clock.
    type: int
    default: 300
  ports:
    description:
      - Host ports the gateway will publish, as a number (TCP) or C(<number>/tcp) or C(<number>/udp).
    type: list
    elements: str
    default: []
  bind_address:
    description: Host IP address the ports are published on; V(0.0.0.0) means every address.
    type: str
    default: 0.0.0.0
  container_name:
    description: The gateway's container; a port held by it counts as free.
    type: str
    default: apim-gateway
  checks:
    description: The checks to run; the others are reported as skipped.
    type: list
    elements: str
    choices: [dns, tcp, tls, clock, entra, storage, application_insights, event_hubs, external_cache, extra, ports]
    default: [dns, tcp, tls, clock, entra, storage, application_insights, event_hubs, external_cache, extra, ports]
attributes:
  check_mode:
    description: Can run in check_mode and return changed status prediction without modifying target.
    support: full
    details: The module only reads; it runs the same checks in check mode.
  diff_mode:
    description: Will return details on what has changed (or possibly needs changing in check_mode), when in diff mode.
    support: none
    details: Nothing changes, so there is nothing to show.
notes:
  - The host's own resolver is used; DNS servers given to the container with C(--dns) are not queried.
  - Needs root (C(become)) to name the process that holds a port; without it the holder may be reported as unknown.
  - Without the Docker SDK for Python or a reachable engine, a port that a container publishes shows as Docker's
    C(docker-proxy) process, or not at all when the engine publishes ports with NAT rules only.
  - The endpoint table is the public cloud's, after Microsoft's self-hosted gateway overview; for another cloud set
    O(authority), O(resource_manager) and O(application_insights_endpoint), and list what else it needs in
    O(extra_endpoints).
"""

EXAMPLES = r"""
- name: Check the host before the gateway is deployed
  apim.selfhosted.gateway_preflight:
    endpoint: contoso.configuration.azure-api.net
    https_proxy: http://proxy.contoso.local:3128
    no_proxy: [.contoso.local]
    ca_bundle: /etc/pki/contoso-root.pem
    ca_bundle_variable: gateway_preflight_ca_bundle
    ports: ["80", "443"]
    container_name: apim-gateway

- name: Only the clock, before a token rotation
  apim.selfhosted.gateway_preflight:
    endpoint: https://contoso.configuration.azure-api.net
    checks: [clock]

- name: Entra app authentication, quotas in policies and a telemetry collector
  apim.selfhosted.gateway_preflight:
    endpoint: contoso.configuration.azure-api.net
    auth_mode: azureAdApp
    region: westeurope
    features: [quotas, event_hubs]
    storage_accounts: [contosostore]
    event_hubs_namespaces: [contoso-logs]
    extra_endpoints:
      - https://otel.contoso.local:4318
"""

RETURN = r"""
checks:
  description: One result per check, in the order they ran.
  returned: always
  type: list
  elements: dict
  contains:
    check:
      description: V(dns), V(tcp), V(tls), V(clock) or V(port).
      type: str
      sample: tls
    target:
      description: The endpoint (C(host:port)) or the port (C(443/tcp)) checked.
      type: str
      sample: contoso.configuration.azure-api.net:443
    purpose:
      description:
        - Why the target is checked - V(configuration), V(entra), V(entra_regional), V(resource_manager),
          V(storage), V(application_insights), V(event_hubs), V(external_cache), V(extra), V(proxy) or V(port).
      type: str
      sample: configuration
    status:
      description: V(ok), V(failed) or V(skipped).
      type: str
      sample: ok
    message:
      description: What was found.
      type: str
      sample: "certificate issued by 'Microsoft Azure RSA TLS Issuing CA 04', expires in 120 days"
    fix:
      description: What to change when the check failed, else empty.
      type: str
      sample: ""
    seconds:
      description: How long the check took.
      type: float
      sample: 0.012
    details:
      description:
        - Facts the check measured, e.g. C(addresses) and C(source) (dns), C(via) (tcp), C(issuer), C(subject),
          C(not_after) and C(days_to_expiry) (tls), C(skew_seconds), C(server_date), C(status_code) and
          C(ntp_synchronized) (clock), C(holder) and C(engine_error) (port).
        - C(needed_for) says what the gateway needs an optional endpoint for.
      type: dict
      sample: {"via": "direct", "address": "20.50.2.3"}
failed_checks:
  description: C(<check> <target>) of every failed check.
  returned: always
  type: list
  elements: str
  sample: ["dns contoso.configuration.azure-api.net:443"]
report:
  description: The checks as lines of a table, for printing.
  returned: always
  type: list
  elements: str
seconds:
  description: Wall time of all checks.
  returned: always
  type: float
  sample: 0.35
"""

# Ansible requires the documentation blocks above the imports.
from urllib.parse import unquote  # noqa: E402

from ansible.module_utils.basic import AnsibleModule  # noqa: E402

from ansible_collections.apim.selfhosted.plugins.module_utils.preflight import (  # noqa: E402
    ALL_CHECKS,
    failure_message,
    run,
    table,
)
from ansible_collections.apim.selfhosted.plugins.module_utils.preflight_common import InputError  # noqa: E402
from ansible_collections.apim.selfhosted.plugins.module_utils.preflight_endpoints import (  # noqa: E402
    APP_INSIGHTS_DEFAULT,
    FEATURES,
)


def mask_proxy_credentials(module):
    """Keep a password in a proxy URL out of every output, while the proxy's host and port stay readable."""
    for option in ("https_proxy", "http_proxy"):
        value = module.params[option] or ""
        rest = value.split("://", 1)[-1]
        if "@" in rest:
            userinfo = rest.rsplit("@", 1)[0]
            password = unquote(userinfo).partition(":")[2]
            module.no_log_values.add(userinfo)
            if password:
                module.no_log_values.add(password)


def argument_spec():
    return dict(
        endpoint=dict(type="str", required=True),
        auth_mode=dict(type="str", choices=["token", "azureAdApp"], default="token"),
        authority=dict(type="str", default="https://login.microsoftonline.com"),
        region=dict(type="str", default=""),
        resource_manager=dict(type="str", default="https://management.azure.com"),
        features=dict(type="list", elements="str", choices=FEATURES, default=[]),
        storage_accounts=dict(type="list", elements="str", default=[]),
        application_insights_endpoint=dict(type="str", default=APP_INSIGHTS_DEFAULT),
        application_insights_region=dict(type="str", default=""),
        event_hubs_namespaces=dict(type="list", elements="str", default=[]),
        external_caches=dict(type="list", elements="str", default=[]),
        extra_endpoints=dict(type="list", elements="str", default=[]),
        https_proxy=dict(type="str", default=""),
        http_proxy=dict(type="str", default=""),
        no_proxy=dict(type="list", elements="str", default=[]),
        extra_hosts=dict(type="dict", default={}),
        ca_bundle=dict(type="path"),
        ca_bundle_variable=dict(type="str", default="ca_bundle"),
        timeout=dict(type="float", default=5),
        clock_skew_threshold=dict(type="int", default=300),
        ports=dict(type="list", elements="str", default=[]),
        bind_address=dict(type="str", default="0.0.0.0"),  # noqa: S104 - the role's default
        container_name=dict(type="str", default="apim-gateway"),
        checks=dict(type="list", elements="str", choices=ALL_CHECKS, default=list(ALL_CHECKS)),
    )


def main():
    module = AnsibleModule(argument_spec=argument_spec(), supports_check_mode=True)
    params = module.params
    mask_proxy_credentials(module)
    if params["timeout"] <= 0:
        module.fail_json(msg="timeout must be more than 0 seconds, got %s" % params["timeout"])
    if params["clock_skew_threshold"] < 0:
        module.fail_json(msg="clock_skew_threshold must not be negative")
    try:
        checks, seconds = run(params, lambda args: module.run_command(args, check_rc=False))
    except InputError as exc:
        module.fail_json(msg=str(exc), checks=[], failed_checks=[], report=[], seconds=0.0)
    failed = [c for c in checks if c["status"] == "failed"]
    outcome = dict(
        changed=False,
        checks=checks,
        failed_checks=["%s %s" % (c["check"], c["target"]) for c in failed],
        report=table(checks),
        seconds=round(seconds, 3),
    )
    if failed:
        module.fail_json(msg=failure_message(failed), **outcome)
    module.exit_json(**outcome)


if __name__ == "__main__":
    main()
