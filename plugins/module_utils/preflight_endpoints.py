# -*- coding: utf-8 -*-
# Copyright (c) apim.selfhosted contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Which endpoints a gateway must reach for the settings in use, after the FQDN table of Microsoft's self-hosted
gateway overview ("Connectivity to Azure", FQDN dependencies): the Configuration API always; with Entra app
authentication the authority, ``<region>.login.microsoft.com`` and Azure Resource Manager (RBAC), for policies
that use Entra ID the authority and ``<region>.login.microsoft.com``; the instance's
Azure Storage blob and table accounts for API inspector or quotas; Application Insights, Event Hubs and an external
cache when they are configured; and whatever else the caller lists."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from urllib.parse import urlsplit

from ansible_collections.apim.selfhosted.plugins.module_utils.preflight_common import InputError, parse_endpoint

FEATURES = ["entra_policies", "api_inspector", "quotas", "application_insights", "event_hubs", "external_cache"]
PUBLIC_AUTHORITY = "login.microsoftonline.com"
APP_INSIGHTS_DEFAULT = "https://dc.services.visualstudio.com/v2/track"
APP_INSIGHTS_LIVE = "rt.services.visualstudio.com"
WHY = {
    "entra": "Entra ID sign-in of the gateway's app (its authority)",
    "entra_regional": "Entra ID sign-in of the gateway's app (the regional endpoint of the documents' table)",
    "resource_manager": "Entra authentication: the gateway checks RBAC permissions in Azure Resource Manager",
    "entra_policies": "policies that use Microsoft Entra ID",
    "storage": "API inspector or quotas: the instance's Azure Storage %s account",
    "application_insights": "Application Insights (%s)",
    "event_hubs": "logging to Event Hubs",
    "external_cache": "the external cache",
}


def job(scheme, host, port, purpose, why=None, clock=False, tls=None, proxied=True, protocol="HTTPS"):
    """One endpoint to check; tls defaults to an https scheme, proxied says whether HTTP(S)_PROXY applies."""
    return {
        "scheme": scheme,
        "host": host,
        "port": port,
        "purpose": purpose,
        "why": why,
        "clock": clock,
        "tls": scheme == "https" if tls is None else tls,
        "proxied": proxied,
        "protocol": protocol,
    }


def https_job(value, option, purpose, why):
    scheme, host, port = parse_endpoint(value, option)
    if scheme != "https":
        raise InputError("%s: %r must be https://" % (option, value))
    return job(scheme, host, port, purpose, why)


def configuration_job(params):
    scheme, host, port = parse_endpoint(params["endpoint"], "endpoint")
    if scheme != "https":
        raise InputError("endpoint: %r must be https:// (the Configuration API serves only HTTPS)" % params["endpoint"])
    return job(scheme, host, port, "configuration", clock=True)


def entra_jobs(params):
    """Entra app authentication: sign-in and RBAC; with a token, policies that use Entra ID: sign-in only."""
    app = params.get("auth_mode") == "azureAdApp"
    why = WHY["entra"] if app else WHY["entra_policies"]
    authority = https_job(params["authority"], "authority", "entra", why)
    jobs = [authority]
    region = (params.get("region") or "").strip().lower()
    # <region>.login.microsoft.com is a public-cloud name; another cloud's authority has no documented twin.
    if authority["host"].lower() == PUBLIC_AUTHORITY or region:
        if not region:
            raise InputError(
                "region: required with %s: the gateway signs in at <region>.login.microsoft.com besides %s; give "
                "the Azure region of the API Management instance, e.g. westeurope"
                % ("auth_mode azureAdApp" if app else "features entra_policies", PUBLIC_AUTHORITY)
            )
        host = "%s.login.microsoft.com" % region
        why = WHY["entra_regional"] if app else WHY["entra_policies"]
        jobs.append(https_job(host, "region", "entra_regional", why))
    if app:
        jobs.append(
            https_job(params["resource_manager"], "resource_manager", "resource_manager", WHY["resource_manager"])
        )
    return jobs


def storage_jobs(params):
    accounts = params.get("storage_accounts") or []
    if not accounts:
        raise InputError(
            "storage_accounts: required when features name api_inspector or quotas: the gateway keeps their data "
            "in the instance's Azure Storage (the account names are on the instance's Network connectivity status "
            "page in the Azure portal)"
        )
    jobs = []
    for index, item in enumerate(accounts):
        option = "storage_accounts[%d]" % index
        text = str(item).strip()
        if "." in text:  # a host name as the portal lists it
            kind = "table" if ".table." in text.lower() else "blob"
            jobs.append(https_job(text, option, "storage", WHY["storage"] % kind))
            continue
        for kind in ("blob", "table"):
            host = "%s.%s.core.windows.net" % (text, kind)
            jobs.append(https_job(host, option, "storage", WHY["storage"] % kind))
    return jobs


def application_insights_jobs(params):
    region = (params.get("application_insights_region") or params.get("region") or "").strip().lower()
    if not region:
        raise InputError(
            "application_insights_region: required when features name application_insights (or give region): "
            "live metrics go to <region>.livediagnostics.monitor.azure.com"
        )
    option = "application_insights_endpoint"
    value = (params.get(option) or APP_INSIGHTS_DEFAULT).strip()
    try:
        origin = "https://%s" % urlsplit(value if "://" in value else "https://" + value).netloc
    except ValueError:
        origin = value  # parse_endpoint names the option
    return [
        https_job(origin, option, "application_insights", WHY["application_insights"] % "telemetry ingestion"),
        https_job(APP_INSIGHTS_LIVE, option, "application_insights", WHY["application_insights"] % "live metrics"),
        https_job(
            "%s.livediagnostics.monitor.azure.com" % region,
            "application_insights_region",
            "application_insights",
            WHY["application_insights"] % "live metrics of the region",
        ),
    ]


def event_hubs_jobs(params):
    namespaces = params.get("event_hubs_namespaces") or []
    if not namespaces:
        raise InputError("event_hubs_namespaces: required when features name event_hubs")
    jobs = []
    for index, item in enumerate(namespaces):
        scheme, sep, rest = str(item).strip().rpartition("://")
        host, colon, port = rest.partition(":")
        if host and "." not in host:  # a namespace name, with or without a port
            rest = "%s.servicebus.windows.net%s%s" % (host, colon, port)
        option = "event_hubs_namespaces[%d]" % index
        jobs.append(https_job(scheme + sep + rest, option, "event_hubs", WHY["event_hubs"]))
    return jobs


def external_cache_jobs(params):
    caches = params.get("external_caches") or []
    if not caches:
        raise InputError("external_caches: required when features name external_cache")
    jobs = []
    for index, item in enumerate(caches):
        option = "external_caches[%d]" % index
        scheme, host, port = parse_endpoint(item, option, "rediss", {"rediss": 6380, "redis": 6379})
        # A Redis client does not use HTTP proxies; rediss is TLS from the first byte.
        jobs.append(
            job(scheme, host, port, "external_cache", WHY["external_cache"], tls=scheme == "rediss", proxied=False,
                protocol="TLS (Redis)")
        )  # fmt: skip
    return jobs


def extra_jobs(params):
    jobs = []
    for index, item in enumerate(params.get("extra_endpoints") or []):
        scheme, host, port = parse_endpoint(item, "extra_endpoints[%d]" % index)
        jobs.append(job(scheme, host, port, "extra"))
    return jobs


def check_features(params):
    """The features named, after refusing details given for a feature that is not named."""
    features = set(params.get("features") or [])
    unnamed = [
        (option, names)
        for option, names in (
            ("storage_accounts", ("api_inspector", "quotas")),
            ("event_hubs_namespaces", ("event_hubs",)),
            ("external_caches", ("external_cache",)),
        )
        if params.get(option) and not features.intersection(names)
    ]
    for option, names in unnamed:
        raise InputError("%s: given, but features does not name %s" % (option, " or ".join(names)))
    return features


def plan(params, checks):
    """Every endpoint to check for params, in order, each with the purpose its results carry.

    checks: the enabled check names; entra, storage, application_insights, event_hubs, external_cache and extra
    switch their endpoint groups. Raises InputError naming the option that is missing or wrong.
    """
    jobs = [configuration_job(params)]
    features = check_features(params)
    groups = [
        ("entra", params.get("auth_mode") == "azureAdApp" or "entra_policies" in features, entra_jobs),
        ("storage", bool(features.intersection(["api_inspector", "quotas"])), storage_jobs),
        ("application_insights", "application_insights" in features, application_insights_jobs),
        ("event_hubs", "event_hubs" in features, event_hubs_jobs),
        ("external_cache", "external_cache" in features, external_cache_jobs),
        ("extra", True, extra_jobs),
    ]
    for name, wanted, build in groups:
        if wanted and name in checks:
            jobs.extend(build(params))
    return jobs
