"""The aiohttp application: middlewares (metrics, CORS preflights, JSON errors, authentication and roles, rate
limits) and Kafka's lifecycle.

Why the role check is a middleware reading each handler's declaration rather than code in each handler: a
route added later without a declaration is refused to all but admins (deny by default), instead of being
open because someone forgot a line.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator

import orjson
from aiohttp import web
from aiohttp.web_response import ContentCoding
from aiokafka import AIOKafkaProducer

from omnitrack.settings import Settings
from streams.admin import ensure_topics
from streams.api import metrics as m
from streams.api.auth import AuthError, Role, TokenVerifier
from streams.api.catalog import routes, unversioned
from streams.api.console import console_routes
from streams.api.cors import Cors
from streams.api.feed import Feed
from streams.api.limits import TokenBuckets
from streams.api.live import AlertHub, TwinHub
from streams.api.models import MAX_BODY_BYTES, ApiError, json_response
from streams.api.network import NetworkView
from streams.api.openapi import openapi_document
from streams.api.routes import PRINCIPAL, PUBLIC, STATE, Handler, State, required_role
from streams.api.views import ReadModel
from streams.lag import export_lag
from streams.topics import topics_for

__all__ = ["create_app", "INVALID_TOKEN", "VERIFIER"]

log = logging.getLogger(__name__)

VERIFIER = web.AppKey("verifier", TokenVerifier)
LIMITS = web.AppKey("limits", TokenBuckets)
INVALID_TOKEN = 'Bearer error="invalid_token"'
"""RFC 6750 §3: the challenge a 401 carries."""
INSUFFICIENT_SCOPE = 'Bearer error="insufficient_scope"'


def _route(request: web.Request) -> str:
    """The route template (`/alerts/{alert_id}`), never the raw path: bounded metric labels. Without the version
    prefix: a route is one series whether it was called as /api/v1/alerts or by its alias /alerts."""
    resource = request.match_info.route.resource
    return unversioned(resource.canonical) if resource is not None else "unmatched"


LONG_LIVED = {"/alerts/stream", "/twin/stream"}  # unversioned templates (`_route`)
"""Routes that stay open for as long as the client likes: their time is not an answer time, and in
`omnitrack_api_request_duration_seconds` it would read as minutes of latency (omnitrack_api_open_streams
counts them instead)."""


@web.middleware
async def observe(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Count and time every answer by route template, method and status (outermost: sees the final status)."""
    started = time.perf_counter()
    status = 500
    try:
        response = await handler(request)
        status = response.status
        return response
    except web.HTTPException as exc:
        status = exc.status
        raise
    finally:
        route = _route(request)
        m.REQUESTS.labels(route, request.method, str(status)).inc()
        if route not in LONG_LIVED:
            m.DURATION.labels(route, request.method).observe(time.perf_counter() - started)


GZIP_MIN_BYTES = 1024
"""JSON answers at least this long are compressed when the client accepts it: /network (362 KiB) is 32 KiB
gzipped; a few hundred bytes gain nothing worth the CPU."""


@web.middleware
async def compress(request: web.Request, handler: Handler) -> web.StreamResponse:
    """gzip (or deflate) for large JSON answers, by aiohttp's own `enable_compression`, which follows the
    request's Accept-Encoding; never for the event streams (they are written as they happen, not buffered)."""
    response = await handler(request)
    if (isinstance(response, web.Response) and not response.prepared and response.content_type == "application/json"
            and isinstance(response.body, bytes) and len(response.body) >= GZIP_MIN_BYTES):
        coding = _accepted_coding(request.headers.get("Accept-Encoding", ""))
        if coding is not None:
            response.enable_compression(coding)
        response.headers.add("Vary", "Accept-Encoding")
    return response


def _accepted_coding(header: str) -> ContentCoding | None:
    """gzip when the client accepts it, else deflate, else None (aiohttp alone would pick deflate first, and
    take `gzip;q=0` for a yes)."""
    accepted = set()
    for part in header.lower().split(","):
        name, _, params = part.strip().partition(";")
        if params.strip().replace(" ", "") not in ("q=0", "q=0.0", "q=0.00", "q=0.000"):
            accepted.add(name.strip())
    for coding in (ContentCoding.gzip, ContentCoding.deflate):
        if coding.value in accepted:
            return coding
    return None


@web.middleware
async def errors(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Every error as JSON: ours (ApiError), aiohttp's (404, 405, 413) and unexpected ones (500, logged)."""
    try:
        return await handler(request)
    except ApiError as exc:
        return exc.response()
    except web.HTTPException as exc:
        if exc.status < 400:
            raise
        headers = {k: v for k, v in exc.headers.items() if k.lower() in ("allow", "retry-after")}
        error = {404: "not_found", 405: "method_not_allowed", 413: "too_large",
                 429: "rate_limited"}.get(exc.status, "http_error")
        message = f"the body exceeds {MAX_BODY_BYTES} bytes" if exc.status == 413 else exc.reason
        return ApiError(exc.status, error, message, headers=headers).response()
    except asyncio.CancelledError:
        raise
    except Exception:  # noqa: BLE001 - a bug answers 500, the server keeps serving
        log.exception("unhandled error on %s %s", request.method, request.path)
        return json_response({"error": "internal", "message": "internal error"}, status=500)


@web.middleware
async def authenticate(request: web.Request, handler: Handler) -> web.StreamResponse:
    """A valid bearer token on every non-public route, the role the route declares, and the rate limit of the
    token's subject (limits.py: 429 with Retry-After).

    Unknown paths need a valid token too (then 404): an anonymous caller learns nothing about the routes."""
    match = request.match_info
    needed = Role.viewer if match.http_exception is not None else required_role(match.handler)
    if needed is PUBLIC:
        return await handler(request)
    assert isinstance(needed, Role)
    try:
        principal = request.app[VERIFIER].authenticate(request.headers.get("Authorization"))
    except AuthError as exc:
        m.AUTH_FAILURES.labels(exc.reason).inc()
        raise ApiError(401, "unauthorized", exc.message, headers={"WWW-Authenticate": INVALID_TOKEN}) from exc
    if not principal.allows(needed):
        m.AUTH_FAILURES.labels("forbidden").inc()
        have = principal.level.name if principal.level else "no role"
        raise ApiError(403, "forbidden", f"this needs role {needed.name}; {principal.sub!r} has {have}",
                       headers={"WWW-Authenticate": INSUFFICIENT_SCOPE})
    request[PRINCIPAL] = principal
    verdict = request.app[LIMITS].take(principal.sub)
    if not verdict.allowed:
        m.RATE_LIMITED.inc()
        raise ApiError(429, "rate_limited", f"too many requests for {principal.sub!r}: retry in "
                       f"{verdict.retry_after_s} s", headers={"Retry-After": str(verdict.retry_after_s)})
    return await handler(request)


def create_app(settings: Settings, verifier: TokenVerifier, *, model: ReadModel | None = None) -> web.Application:
    """The API for these settings: topics under `settings.topic_prefix`, tokens checked by `verifier`."""
    cors = Cors(settings.api_cors_origins, settings.api_cors_max_age_s)
    app = web.Application(middlewares=[observe, compress, cors.preflight, errors, authenticate],
                          client_max_size=MAX_BODY_BYTES)
    app.on_response_prepare.append(cors.on_prepare)
    topics = topics_for(settings)
    network = NetworkView(settings.network_file)
    model = model or ReadModel(devices=len(network.device_ids) or None)  # history sized to the fleet
    hub, twin_hub = AlertHub(), TwinHub()
    feed = Feed(settings.bootstrap, topics, model, on_alert=hub.publish, on_twin_change=twin_hub.publish)
    app[STATE] = State(topics=topics, model=model, feed=feed, hub=hub, twin_hub=twin_hub,
                       network=network,
                       openapi=orjson.dumps(openapi_document()))
    app[VERIFIER] = verifier
    app[LIMITS] = TokenBuckets(settings.api_rate_limit_per_s, settings.api_rate_limit_burst)
    app.add_routes(routes())
    app.add_routes(console_routes())  # public static files, not API operations (not in /openapi.json)

    async def kafka(app: web.Application) -> AsyncIterator[None]:
        """Topics, the producer and the read model's consumer for the life of the app."""
        state = app[STATE]
        await ensure_topics(settings.bootstrap, topics)
        # idempotent: a command retried after a broker failover is applied once
        producer = AIOKafkaProducer(bootstrap_servers=settings.bootstrap, acks="all", enable_idempotence=True,
                                    request_timeout_ms=10_000, max_request_size=1024 * 1024)
        await producer.start()
        state.producer = producer
        feeding = asyncio.create_task(state.feed.run(), name="api-read-model")
        lagging = asyncio.create_task(export_lag(settings.bootstrap, topics), name="consumer-lag")
        try:
            yield
        finally:
            for task in (feeding, lagging):
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
            state.producer = None
            await producer.stop()

    app.cleanup_ctx.append(kafka)
    app.on_shutdown.append(lambda _app: _close_streams(hub, twin_hub))
    return app


async def _close_streams(*hubs: AlertHub | TwinHub) -> None:
    """On SIGTERM: open streams end now instead of holding the shutdown for its timeout."""
    for hub in hubs:
        hub.close()
