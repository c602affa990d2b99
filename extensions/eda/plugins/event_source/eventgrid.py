# -*- coding: utf-8 -*-
# Copyright (c) apim.selfhosted contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Event-Driven Ansible event source: Azure Event Grid deliveries of API Management gateway token events."""

from __future__ import annotations

import asyncio
import hmac
import ipaddress
import json
import logging
import os
import re
import ssl
import tempfile
import time
from collections import OrderedDict
from datetime import datetime, timezone
from typing import Any

DOCUMENTATION = r"""
---
short_description: Receive Azure Event Grid deliveries of API Management gateway token events over HTTPS.
description:
  - An ansible-rulebook event source. It answers Event Grid's subscription validation (the
    C(Microsoft.EventGrid.SubscriptionValidationEvent) of the Event Grid schema, and the HTTP OPTIONS abuse-protection
    handshake of the CloudEvents v1.0 schema) and takes deliveries in both schemas, single events or batches.
  - Every request must be authenticated - a shared secret (in a header or a query parameter), a bearer token that
    Microsoft Entra issued to Event Grid for your application, or both (then both are required). A request that is not
    authenticated, or a delivery that cannot be parsed, is refused (401 or 400) with one log line and puts no event on
    the queue.
  - Envelopes are parsed with the Azure SDK's own models (C(azure.eventgrid.EventGridEvent),
    C(azure.core.messaging.CloudEvent)) and the event types named by C(azure.eventgrid.SystemEventNames).
  - Event Grid delivers at least once; an event whose id was already put on the queue is dropped (logged), also after
    a restart when O(dedupe_file) is set.
  - Each accepted event of O(event_types) becomes one rulebook event with C(id), C(type), C(subject), C(topic),
    C(time), C(schema), C(data), C(gateway) (C(name), C(service), C(resource_group), C(subscription_id),
    C(instance_id), C(resource_id)) and C(token) (C(expires_at), C(expired)). C(gateway.name) is the gateway resource
    name whether C(data.gatewayInfo.gatewayId) carries a bare name or a full resource id.
options:
  host:
    description: The address to listen on. Event Grid must reach it over HTTPS (directly, or through a proxy).
    type: str
    default: 127.0.0.1
  port:
    description: The TCP port to listen on.
    type: int
    required: true
  path:
    description: The URL path Event Grid posts to; other paths answer 404.
    type: str
    default: /
  certfile:
    description: The server certificate (PEM, with its chain). Event Grid only delivers to https endpoints.
    type: path
  keyfile:
    description: The private key of O(certfile).
    type: path
  password:
    description: The password of O(keyfile), if it is encrypted.
    type: str
  plain_http:
    description:
      - Listen without TLS, for a TLS-terminating reverse proxy on the same host. Only with a loopback O(host).
    type: bool
    default: false
  shared_secret:
    description:
      - The shared secret that every request must carry, in the header O(secret_header) or the query parameter
        O(secret_query) (C(apim.selfhosted.event_subscription) puts it in the endpoint URL's query by default).
    type: str
  secret_header:
    description: The header that carries O(shared_secret).
    type: str
    default: X-Apim-Eda-Secret
  secret_query:
    description: The query parameter that carries O(shared_secret).
    type: str
    default: code
  entra_tenant_id:
    description:
      - Require a bearer token issued by this Microsoft Entra tenant (the event subscription's
        C(azureActiveDirectoryTenantId)). Needs O(entra_audience).
    type: str
  entra_audience:
    description:
      - The application id and/or application id URI that the token must be issued for (the event subscription's
        C(azureActiveDirectoryApplicationIdOrUri)).
    type: list
    elements: str
  entra_authority:
    description: The Microsoft Entra authority whose keys sign the tokens.
    type: str
    default: https://login.microsoftonline.com
  entra_ca_bundle:
    description: A PEM file of CA certificates to trust for O(entra_authority) instead of the system store.
    type: path
  entra_client_ids:
    description:
      - The client application ids allowed to call (claim C(appid) or C(azp)). The default is Azure Event Grid's own
        application id; an empty list turns the check off.
    type: list
    elements: str
    default: [4962773b-9cdb-44cf-a8bf-237846a00ab7]
  entra_role:
    description:
      - The app role the token must carry (claim C(roles)), the role assigned to Event Grid's service principal on
        your application. An empty string turns the check off.
    type: str
    default: AzureEventGridSecureWebhookSubscriber
  event_types:
    description: The event types put on the queue; events of other types are acknowledged and dropped.
    type: list
    elements: str
    default: [Microsoft.ApiManagement.GatewayTokenNearExpiry, Microsoft.ApiManagement.GatewayTokenExpired]
  dedupe_size:
    description: How many event ids are remembered to drop duplicates.
    type: int
    default: 10000
  dedupe_file:
    description:
      - A file that keeps the remembered event ids across restarts (Event Grid retries for up to 24 hours). Written
        with mode 0600.
    type: path
"""

EXAMPLES = r"""
- name: Rotate gateway tokens on Event Grid events
  hosts: all
  sources:
    - apim.selfhosted.eventgrid:
        host: 0.0.0.0
        port: 5443
        certfile: /etc/eda/tls/eventgrid.crt
        keyfile: /etc/eda/tls/eventgrid.key
        shared_secret: "{{ EVENTGRID_SECRET }}"
        dedupe_file: /var/lib/eda/eventgrid-ids.json
  rules:
    - name: Near expiry
      condition: event.type == "Microsoft.ApiManagement.GatewayTokenNearExpiry"
      action:
        debug:
          msg: "gateway {{ event.gateway.name }}: token expires {{ event.token.expires_at }}"
"""

LOG = logging.getLogger("apim.selfhosted.eventgrid")

EVENT_GRID_APP_ID = "4962773b-9cdb-44cf-a8bf-237846a00ab7"
NEAR_EXPIRY = "Microsoft.ApiManagement.GatewayTokenNearExpiry"
EXPIRED = "Microsoft.ApiManagement.GatewayTokenExpired"
VALIDATION = "Microsoft.EventGrid.SubscriptionValidationEvent"
SCHEMA_EVENTGRID = "EventGridSchema"
SCHEMA_CLOUDEVENTS = "CloudEventSchemaV1_0"
MAX_BODY = 2 * 1024 * 1024  # Event Grid: events up to 1 MB, batches up to 1 MB


class Refused(Exception):
    """A request answered with ``status``; ``reason`` is the log line (never a secret)."""

    def __init__(self, status, reason):
        super().__init__(reason)
        self.status = status
        self.reason = reason


# ---- the Azure SDK's models -------------------------------------------------------------------------------------
def _sdk():
    try:
        from azure.core.messaging import CloudEvent
        from azure.eventgrid import EventGridEvent, SystemEventNames
    except ImportError as exc:  # pragma: no cover - the decision environment lacks the SDK
        raise RuntimeError(
            "apim.selfhosted.eventgrid needs the azure-eventgrid package (pip install -r requirements.txt of the "
            "apim.selfhosted collection): %s" % exc
        ) from exc
    return EventGridEvent, CloudEvent, SystemEventNames


def check_sdk_names():
    """The SDK must know the event types this source is about, under the names it uses."""
    names = _sdk()[2]
    sdk = (
        names.ApiManagementGatewayTokenNearExpiryEventName,
        names.ApiManagementGatewayTokenExpiredEventName,
        names.EventGridSubscriptionValidationEventName,
    )
    if tuple(str(getattr(n, "value", n)) for n in sdk) != (NEAR_EXPIRY, EXPIRED, VALIDATION):
        raise RuntimeError("apim.selfhosted.eventgrid: azure-eventgrid names these events differently: %s" % (sdk,))


def _iso(value):
    if isinstance(value, datetime):
        if value.tzinfo is None:
            value = value.replace(tzinfo=timezone.utc)
        return value.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    return str(value) if value is not None else ""


def parse_time(text):
    """An Event Grid timestamp (up to 7 fractional digits, Z or an offset) as ``YYYY-MM-DDTHH:MM:SSZ``."""
    if not isinstance(text, str) or not text.strip():
        raise ValueError("missing")
    m = re.match(r"^(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2})(?:\.\d+)?(Z|[+-]\d{2}:?\d{2})?$", text.strip())
    if not m:
        raise ValueError("not an ISO 8601 time: %r" % text)
    zone = m.group(2) or "Z"
    value = datetime.fromisoformat(m.group(1) + ("+00:00" if zone == "Z" else zone))
    return _iso(value)


def envelope(item):
    """One event of a delivery through the SDK's models: a dict of the common fields, or ValueError."""
    event_grid_event, cloud_event = _sdk()[:2]
    if not isinstance(item, dict):
        raise ValueError("an event is a JSON object, got %s" % type(item).__name__)
    if "specversion" in item:
        try:
            ev = cloud_event.from_dict(dict(item))
        except (KeyError, TypeError, ValueError) as exc:
            raise ValueError("not a CloudEvent: %s" % exc) from None
        if str(ev.specversion) != "1.0":
            raise ValueError("CloudEvents specversion %r, expected 1.0" % ev.specversion)
        return {
            "id": str(ev.id),
            "type": str(ev.type),
            "subject": ev.subject or "",
            "topic": str(ev.source),
            "time": _iso(ev.time),
            "schema": SCHEMA_CLOUDEVENTS,
            "data": ev.data,
        }
    missing = [k for k in ("id", "eventType", "subject", "eventTime", "dataVersion", "data") if k not in item]
    if missing:
        raise ValueError("not an Event Grid event: missing %s" % ", ".join(missing))
    try:
        ev = event_grid_event.from_dict(dict(item))
    except Exception as exc:  # msrest raises its own DeserializationError, with a long nested message
        raise ValueError("not an Event Grid event: %s" % " ".join(str(exc).split())[:200]) from None
    return {
        "id": str(ev.id),
        "type": str(ev.event_type),
        "subject": ev.subject or "",
        "topic": ev.topic or "",
        "time": _iso(ev.event_time),
        "schema": SCHEMA_EVENTGRID,
        "data": ev.data,
    }


def _segments(resource_id):
    parts = [p for p in resource_id.strip().split("/") if p]
    found = {}
    for i, part in enumerate(parts[:-1]):
        key = part.lower()
        if key in ("subscriptions", "resourcegroups", "service", "gateway", "gateways"):
            found[key] = parts[i + 1]
    return found


def gateway_of(gateway_id, topic=""):
    """The gateway of ``data.gatewayInfo.gatewayId``: a bare name (the service's examples) or a resource id (the
    SDKs' documentation: ``/subscriptions/<s>/resourceGroups/<rg>/Microsoft.ApiManagement/service/<svc>/gateway/<gw>``,
    with or without ``providers``, ``gateway`` or ``gateways``). Service, resource group and subscription come from
    the id, else from the event's topic (the API Management instance)."""
    if not isinstance(gateway_id, str) or not gateway_id.strip():
        raise ValueError("data.gatewayInfo.gatewayId is missing")
    raw = gateway_id.strip()
    own = _segments(raw) if "/" in raw else {}
    if "/" in raw:
        name = own.get("gateways") or own.get("gateway")
        if not name:
            raise ValueError("data.gatewayInfo.gatewayId %r names no gateway" % raw)
    else:
        name = raw
    if not re.match(r"^[^*#&+:<>?/%\\]{1,80}$", name):
        raise ValueError("data.gatewayInfo.gatewayId %r is not a gateway name" % raw)
    top = _segments(topic or "")
    service = own.get("service") or top.get("service", "")
    rg = own.get("resourcegroups") or top.get("resourcegroups", "")
    sub = own.get("subscriptions") or top.get("subscriptions", "")
    resource_id = ""
    if sub and rg and service:
        resource_id = "/subscriptions/%s/resourceGroups/%s/providers/Microsoft.ApiManagement/service/%s/gateways/%s" % (
            sub,
            rg,
            service,
            name,
        )
    return {"name": name, "service": service, "resource_group": rg, "subscription_id": sub, "resource_id": resource_id}


def token_event(env):
    """A gateway token event as the rulebook sees it (ValueError when its data does not fit the schema)."""
    data = env["data"]
    if not isinstance(data, dict):
        raise ValueError("data is not an object")
    info = data.get("gatewayInfo")
    if not isinstance(info, dict):
        raise ValueError("data.gatewayInfo is missing")
    gateway = gateway_of(info.get("gatewayId"), env["topic"])
    gateway["instance_id"] = str(info.get("instanceId") or "")
    token = data.get("tokenInfo")
    if not isinstance(token, dict):
        raise ValueError("data.tokenInfo is missing")
    # The examples carry expiresAtUtc (near expiry) and expiredAtUtc (expired); the SDKs read expiredAtUtc for both.
    when = token.get("expiresAtUtc") or token.get("expiredAtUtc")
    try:
        expires_at = parse_time(when)
    except ValueError as exc:
        raise ValueError("data.tokenInfo expiry: %s" % exc) from None
    return dict(env, gateway=gateway, token={"expires_at": expires_at, "expired": env["type"] == EXPIRED})


def parse_delivery(body, event_type_header=""):
    """A request body: ``("validation", code)`` or ``("events", [envelopes])``; ValueError when malformed."""
    try:
        payload = json.loads(body)
    except (TypeError, ValueError):
        raise ValueError("the body is not JSON") from None
    items = payload if isinstance(payload, list) else [payload]
    if not items:
        raise ValueError("the delivery holds no event")
    envelopes = []
    for i, item in enumerate(items):
        try:
            envelopes.append(envelope(item))
        except ValueError as exc:
            raise ValueError("event %d of %d: %s" % (i + 1, len(items), exc)) from None
    if event_type_header.lower() == "subscriptionvalidation" or envelopes[0]["type"] == VALIDATION:
        data = envelopes[0]["data"]
        code = data.get("validationCode") if isinstance(data, dict) else None
        if len(envelopes) != 1 or envelopes[0]["type"] != VALIDATION or not code:
            raise ValueError("a subscription validation request must hold one SubscriptionValidationEvent with a code")
        return "validation", str(code)
    return "events", envelopes


# ---- duplicates -------------------------------------------------------------------------------------------------
class Seen:
    """The ids of events already put on the queue (oldest forgotten first), optionally kept in a file."""

    def __init__(self, size=10000, path=None):
        self.size = max(1, int(size))
        self.path = path
        self.ids = OrderedDict()
        if path and os.path.exists(path):
            try:
                with open(path) as fh:
                    for eid in json.load(fh)[-self.size :]:
                        self.ids[str(eid)] = True
            except (OSError, ValueError) as exc:
                LOG.warning("eventgrid: cannot read dedupe_file %s (%s); starting with no remembered ids", path, exc)

    def __contains__(self, eid):
        return eid in self.ids

    def add(self, eid):
        self.ids[eid] = True
        self.ids.move_to_end(eid)
        while len(self.ids) > self.size:
            self.ids.popitem(last=False)

    def save(self):
        if not self.path:
            return
        folder = os.path.dirname(os.path.abspath(self.path))
        fd, tmp = tempfile.mkstemp(dir=folder, prefix=".eventgrid-ids.")
        try:
            with os.fdopen(fd, "w") as fh:
                json.dump(list(self.ids), fh)
            os.chmod(tmp, 0o600)
            os.replace(tmp, self.path)
        except OSError:
            if os.path.exists(tmp):
                os.unlink(tmp)
            raise


# ---- authentication ---------------------------------------------------------------------------------------------
class EntraVerifier:
    """Checks bearer tokens that Microsoft Entra issued to Event Grid for the application (signature from the
    tenant's published keys, issuer, audience, lifetime, calling application, app role)."""

    def __init__(self, tenant, audiences, authority, client_ids, role, ca_bundle=None):
        import jwt  # PyJWT, also a dependency of azure-identity's msal

        self.jwt = jwt
        self.tenant = tenant
        self.audiences = list(audiences)
        self.authority = authority.rstrip("/")
        self.client_ids = {c.lower() for c in client_ids}
        self.role = role
        self.ca_bundle = ca_bundle
        self.keys = None
        self.fetched_at = 0.0
        self.issuers = {
            "https://sts.windows.net/%s/" % tenant,
            "%s/%s/v2.0" % (self.authority, tenant),
        }
        self.lock = asyncio.Lock()

    async def _get_json(self, session, url):
        async with session.get(url, ssl=self._ssl(), timeout=15) as resp:
            if resp.status != 200:
                raise OSError("%s answered %s" % (url, resp.status))
            return await resp.json(content_type=None)

    def _ssl(self):
        return ssl.create_default_context(cafile=self.ca_bundle) if self.ca_bundle else None

    async def _refresh(self):
        import aiohttp

        async with aiohttp.ClientSession() as session:
            url = "%s/%s/v2.0/.well-known/openid-configuration" % (self.authority, self.tenant)
            config = await self._get_json(session, url)
            issuer = str(config.get("issuer", "")).replace("{tenantid}", self.tenant)
            if issuer:
                self.issuers.add(issuer)
            jwks = await self._get_json(session, config["jwks_uri"])
        self.keys = {k.key_id: k for k in self.jwt.PyJWKSet.from_dict(jwks).keys if k.key_id}
        self.fetched_at = time.monotonic()

    async def key_for(self, kid):
        async with self.lock:
            stale = self.keys is None or time.monotonic() - self.fetched_at > 86400
            # Entra rolls its keys: an unknown key id refreshes the set, at most once a minute.
            unknown = self.keys is not None and kid not in self.keys and time.monotonic() - self.fetched_at > 60
            if stale or unknown:
                try:
                    await self._refresh()
                except (OSError, ValueError, KeyError, asyncio.TimeoutError) as exc:
                    if self.keys is None:
                        msg = "cannot read the signing keys of tenant %s: %s" % (self.tenant, exc)
                        raise Refused(503, msg) from None
                    LOG.warning("eventgrid: refreshing the Entra signing keys failed (%s); using the known ones", exc)
            return (self.keys or {}).get(kid)

    async def verify(self, header):
        if not header or not header.lower().startswith("bearer "):
            raise Refused(401, "no Entra bearer token (Authorization: Bearer ...)")
        token = header[7:].strip()
        jwt = self.jwt
        try:
            unverified = jwt.get_unverified_header(token)
        except jwt.PyJWTError:
            raise Refused(401, "the bearer token is not a JWT") from None
        key = await self.key_for(unverified.get("kid"))
        if key is None:
            raise Refused(401, "the bearer token is signed with a key tenant %s does not publish" % self.tenant)
        try:
            claims = jwt.decode(
                token,
                key.key,
                algorithms=["RS256"],
                audience=self.audiences,
                options={"require": ["exp", "iss", "aud"]},
                leeway=60,
            )
        except jwt.ExpiredSignatureError:
            raise Refused(401, "the bearer token has expired") from None
        except jwt.InvalidAudienceError:
            msg = "the bearer token is for another audience (expected %s)" % ", ".join(self.audiences)
            raise Refused(401, msg) from None
        except jwt.PyJWTError as exc:
            raise Refused(401, "the bearer token is not valid: %s" % exc) from None
        if claims.get("iss") not in self.issuers:
            raise Refused(401, "the bearer token comes from another issuer (%s)" % claims.get("iss"))
        caller = str(claims.get("appid") or claims.get("azp") or "").lower()
        if self.client_ids and caller not in self.client_ids:
            raise Refused(401, "the bearer token was issued to application %s, not Event Grid" % (caller or "(none)"))
        if self.role and self.role not in (claims.get("roles") or []):
            raise Refused(401, "the bearer token lacks the app role %s" % self.role)


class Auth:
    def __init__(self, args):
        # Rulebook variables are rendered to native types: a secret of digits arrives as a number.
        self.secret = str(args.get("shared_secret") or "")
        self.secret_header = args.get("secret_header") or "X-Apim-Eda-Secret"
        self.secret_query = args.get("secret_query") or "code"
        self.entra = None
        tenant = args.get("entra_tenant_id") or ""
        audiences = args.get("entra_audience") or []
        audiences = [str(a) for a in ([audiences] if isinstance(audiences, str) else audiences) if a]
        if tenant and not audiences:
            raise ValueError("apim.selfhosted.eventgrid: entra_tenant_id needs entra_audience")
        if audiences and not tenant:
            raise ValueError("apim.selfhosted.eventgrid: entra_audience needs entra_tenant_id")
        if tenant:
            client_ids = args.get("entra_client_ids")
            self.entra = EntraVerifier(
                tenant,
                audiences,
                args.get("entra_authority") or "https://login.microsoftonline.com",
                [EVENT_GRID_APP_ID] if client_ids is None else [c for c in client_ids if c],
                "AzureEventGridSecureWebhookSubscriber" if args.get("entra_role") is None else args["entra_role"],
                args.get("entra_ca_bundle") or None,
            )
        if not self.secret and not self.entra:
            raise ValueError(
                "apim.selfhosted.eventgrid: the endpoint must be authenticated: set shared_secret, or "
                "entra_tenant_id with entra_audience (or both)"
            )

    def _secret_ok(self, request):
        given = request.headers.get(self.secret_header) or request.query.get(self.secret_query) or ""
        if not given:
            raise Refused(
                401,
                "no shared secret (header %s or query parameter %s)" % (self.secret_header, self.secret_query),
            )
        if not hmac.compare_digest(given.encode(), self.secret.encode()):
            raise Refused(401, "wrong shared secret")

    async def check(self, request):
        if self.secret:
            self._secret_ok(request)
        if self.entra:
            await self.entra.verify(request.headers.get("Authorization", ""))


# ---- the server -------------------------------------------------------------------------------------------------
class Receiver:
    def __init__(self, queue, args):
        self.queue = queue
        self.auth = Auth(args)
        self.path = "/" + str(args.get("path") or "/").lstrip("/")
        self.types = set(args.get("event_types") or (NEAR_EXPIRY, EXPIRED))
        self.seen = Seen(args.get("dedupe_size") or 10000, args.get("dedupe_file") or None)
        self.lock = asyncio.Lock()

    @staticmethod
    def _who(request):
        return request.remote or "?"

    async def handle(self, request):
        from aiohttp import web

        if request.path != self.path:
            return web.Response(status=404, text="not found")
        try:
            await self.auth.check(request)
            if request.method == "OPTIONS":
                return self._abuse_protection(request)
            if request.method != "POST":
                raise Refused(405, "method %s is not accepted" % request.method)
            body = await request.read()
            try:
                kind, value = parse_delivery(body, request.headers.get("aeg-event-type", ""))
                if kind == "events":
                    value = self._prepare(value)
            except ValueError as exc:
                raise Refused(400, "malformed delivery: %s" % exc) from None
        except Refused as exc:
            who = self._who(request)
            LOG.warning("eventgrid: refused %s %s from %s: %s", request.method, request.path, who, exc.reason)
            return web.json_response({"error": exc.reason}, status=exc.status)
        if kind == "validation":
            LOG.info("eventgrid: answered the subscription validation handshake")
            return web.json_response({"validationResponse": value})
        await self._accept(value)
        return web.Response(status=200)

    def _abuse_protection(self, request):
        from aiohttp import web

        origin = request.headers.get("WebHook-Request-Origin")
        if not origin:
            raise Refused(400, "an OPTIONS request without WebHook-Request-Origin")
        LOG.info("eventgrid: answered the CloudEvents abuse-protection handshake of %s", origin)
        headers = {"WebHook-Allowed-Origin": origin, "Allow": "POST, OPTIONS"}
        if request.headers.get("WebHook-Request-Rate"):
            headers["WebHook-Allowed-Rate"] = "*"
        return web.Response(status=200, headers=headers)

    def _prepare(self, envelopes):
        """The events to queue; ValueError names the first that does not fit its schema. Every event of a delivery is
        checked before any is queued: a delivery is taken whole or refused whole."""
        ready = []
        for i, env in enumerate(envelopes):
            if env["type"] not in self.types:
                LOG.info("eventgrid: ignored event %s of type %s", env["id"], env["type"])
                continue
            if env["type"] in (NEAR_EXPIRY, EXPIRED):
                try:
                    env = token_event(env)
                except ValueError as exc:
                    raise ValueError("event %d of %d (%s): %s" % (i + 1, len(envelopes), env["id"], exc)) from None
            ready.append(env)
        return ready

    async def _accept(self, ready):
        async with self.lock:
            queued = 0
            for ev in ready:
                if ev["id"] in self.seen:
                    LOG.warning("eventgrid: dropped duplicate event %s (%s)", ev["id"], ev["type"])
                    continue
                await self.queue.put(ev)
                self.seen.add(ev["id"])
                queued += 1
                gw = ev.get("gateway", {}).get("name", "")
                LOG.info("eventgrid: queued event %s %s%s", ev["id"], ev["type"], " for gateway %s" % gw if gw else "")
            if queued:
                self.seen.save()


def _ssl_context(args):
    certfile = args.get("certfile")
    host = args.get("host") or "127.0.0.1"
    if not certfile:
        if not args.get("plain_http"):
            raise ValueError(
                "apim.selfhosted.eventgrid: Event Grid delivers over HTTPS only: set certfile and keyfile (or "
                "plain_http: true behind a TLS-terminating proxy on this host)"
            )
        try:
            loopback = ipaddress.ip_address(host).is_loopback
        except ValueError:
            loopback = host == "localhost"
        if not loopback:
            raise ValueError("apim.selfhosted.eventgrid: plain_http needs a loopback host, got %s" % host)
        return None
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    ctx.load_cert_chain(certfile, args.get("keyfile"), args.get("password"))
    return ctx


async def main(queue: asyncio.Queue[Any], args: dict[str, Any]) -> None:
    """Serve until cancelled."""
    from aiohttp import web

    if not args.get("port"):
        raise ValueError("apim.selfhosted.eventgrid: port is required")
    check_sdk_names()
    receiver = Receiver(queue, args)
    # One handler for every method and path: it answers 404 and 405 itself, after authentication.
    ssl_context = _ssl_context(args)
    app = web.Application(client_max_size=MAX_BODY)
    app.router.add_route("*", "/{tail:.*}", receiver.handle)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    host = args.get("host") or "127.0.0.1"
    site = web.TCPSite(runner, host, int(args["port"]), ssl_context=ssl_context)
    await site.start()
    scheme = "https" if ssl_context else "http"
    LOG.info("eventgrid: listening on %s://%s:%s%s", scheme, host, args["port"], receiver.path)
    try:
        await asyncio.Future()
    finally:
        await runner.cleanup()
