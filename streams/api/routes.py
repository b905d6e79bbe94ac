"""The API's handlers. Each names the least role it needs (`requires`) or is `public`; app.py enforces it.

Why writes answer 202: a command or a request is accepted once Kafka has it (acks=all); the agent that owns
the state applies it later, and the result shows on the public topics (and so in GET answers) after.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any
from urllib.parse import quote

import orjson
from aiohttp import web
from aiokafka import AIOKafkaProducer
from aiokafka.errors import KafkaError

from engine.models import Feedback, ScenarioRequest
from streams.api.alert_detail import alert_devices
from streams.api.auth import Principal, Role
from streams.api.feed import Feed
from streams.api.lanes import LANE_KEY_SHAPE, lane_page
from streams.api.live import AlertHub, TwinHub, stream_alerts_response, stream_twin_response
from streams.api.models import (AlertQuery, ApiError, CommandBody, HistoryQuery, LaneQuery, StreamQuery, TwinQuery,
                                TwinStreamQuery, WaitQuery, json_response, read_json, read_query, validate)
from streams.api.network import NetworkView
from streams.api.views import (PRIORS_KEY, TWIN_KEY_SHAPES, ReadModel, alert_json, decode_cursor, encode_cursor,
                               page_key)
from streams.topics import Topics
from twin.alerts.models import AlertCommand

__all__ = ["State", "STATE", "PRINCIPAL", "PUBLIC", "API_PREFIX", "requires", "public", "required_role"]

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

PRODUCE_TIMEOUT_S = 15.0
"""Longest a write waits for Kafka before answering 503: a broker outage must not hold connections forever."""

PUBLIC = object()
"""`required_role` of a route anyone may call."""

API_PREFIX = "/api/v1"
"""The versioned paths; the same paths without it are kept as aliases (docs/api.md)."""


@dataclass
class State:
    """What the handlers share: the read model, its feed, the producer and the topic names."""

    topics: Topics
    model: ReadModel
    feed: Feed
    hub: AlertHub
    twin_hub: TwinHub
    network: NetworkView
    producer: AIOKafkaProducer | None = None
    openapi: bytes = b"{}"
    """The OpenAPI document (openapi.py), built once when the app is made."""

    async def produce(self, topic: str, key: str, value: dict[str, Any]) -> None:
        """Produce one JSON record (acks=all) or raise a 503."""
        if self.producer is None:
            raise ApiError(503, "unavailable", "the API is not connected to Kafka yet")
        try:
            await asyncio.wait_for(self.producer.send_and_wait(topic, key=key.encode(), value=orjson.dumps(value)),
                                   PRODUCE_TIMEOUT_S)
        except (KafkaError, asyncio.TimeoutError) as exc:
            raise ApiError(503, "unavailable", f"Kafka did not take the record: {exc!r}",
                           headers={"Retry-After": "5"}) from exc


STATE = web.AppKey("state", State)
PRINCIPAL: Any = web.RequestKey("principal", Principal) if hasattr(web, "RequestKey") else "omnitrack.principal"
"""The authenticated Principal of a request (set by app.py's middleware); typed keys from aiohttp 3.14."""


def requires(role: Role) -> Callable[[Handler], Handler]:
    def mark(handler: Handler) -> Handler:
        handler.required_role = role  # type: ignore[attr-defined]
        return handler
    return mark


def public(handler: Handler) -> Handler:
    handler.required_role = PUBLIC  # type: ignore[attr-defined]
    return handler


def required_role(handler: Handler) -> Role | object:
    """The role a handler declared; a handler that declared nothing needs admin (deny by default)."""
    return getattr(handler, "required_role", Role.admin)


def _state(request: web.Request) -> State:
    return request.app[STATE]


# --- health -------------------------------------------------------------------------------


@public
async def healthz(_request: web.Request) -> web.Response:
    """Liveness: the process answers. Nothing else is said to an unauthenticated caller."""
    return json_response({"status": "ok"})


@public
async def readyz(request: web.Request) -> web.Response:
    """Readiness: the read model has caught up with the topics (503 until then)."""
    ready = _state(request).feed.ready
    return json_response({"status": "ready" if ready else "starting"}, status=200 if ready else 503)


# --- alerts ---------------------------------------------------------------------------------


@requires(Role.viewer)
async def list_alerts(request: web.Request) -> web.Response:
    q = read_query(request, AlertQuery)
    alerts, total = _state(request).model.alert_page(limit=q.limit + 1, after=q.after, **q.filters())
    page, more = alerts[:q.limit], len(alerts) > q.limit
    return json_response({"alerts": [alert_json(a) for a in page], "count": len(page), "total": total,
                          "next": encode_cursor(page_key(page[-1])) if more else None})


def _known_alert(request: web.Request):  # noqa: ANN202 - AlertEvent
    alert_id = request.match_info["alert_id"]
    event = _state(request).model.alert(alert_id)
    if event is None:
        raise ApiError(404, "not_found", f"no alert {alert_id!r}")
    return event


@requires(Role.viewer)
async def stream_alerts(request: web.Request) -> web.StreamResponse:
    """Alert events from now on, as Server-Sent Events (streams/api/live.py), filtered like GET /alerts."""
    q = read_query(request, StreamQuery)
    return await stream_alerts_response(request, _state(request).hub, q.filters())


@requires(Role.viewer)
async def get_alert(request: web.Request) -> web.Response:
    """One alert: its snapshot and last transition, the commands the alert worker refused, its transitions so far,
    and the devices behind it with their last values and recent 1-minute windows (alert_detail.py)."""
    event = _known_alert(request)
    state = _state(request)
    model = state.model
    return json_response({"alert": alert_json(event.alert), "transition": event.transition.model_dump(mode="json"),
                          "event_id": event.event_id, "refused_commands": model.refused_commands(event.alert.id),
                          "transitions": model.trail.transitions(event.alert.id),
                          "devices": alert_devices(event.alert, model, state.network.network,
                                                   datetime.now(timezone.utc).timestamp())})


@requires(Role.operator)
async def post_alert_command(request: web.Request) -> web.Response:
    """ack / clear / assign / comment, as the token's subject, routed by the alert's site."""
    body = validate(CommandBody, await read_json(request), "body")
    event = _known_alert(request)
    principal = request[PRINCIPAL]
    command = validate(AlertCommand, {"action": body.action, "site_id": event.alert.site_id,
                                      "alert_id": event.alert.id, "actor": principal.sub, "note": body.note,
                                      "assignee": body.assignee}, "body")
    state = _state(request)
    value = command.model_dump(mode="json")
    await state.produce(state.topics.alert_commands, command.site_id, value)
    return json_response(value, status=202)


# --- scenarios ------------------------------------------------------------------------------


def _prefix(request: web.Request) -> str:
    """The version prefix the caller used, so links it gets back are in the same family of paths."""
    return API_PREFIX if request.path.startswith(API_PREFIX + "/") else ""


def _location(request: web.Request, request_id: str) -> str:
    """Where the result will be: the id percent-encoded (it may hold `/`, `?` or a newline, which in a
    `Location` header would be a header injection; aiohttp refuses to send one, which was a 500)."""
    return f"{_prefix(request)}/scenarios/{quote(request_id, safe='')}"


@requires(Role.operator)
async def post_scenario(request: web.Request) -> web.Response:
    """A what-if request, produced as `omnitrack scenario run` does; `?wait=S` waits up to S s for the result."""
    wait = read_query(request, WaitQuery).wait
    data = await read_json(request)
    data.setdefault("request_id", f"api-{uuid.uuid4().hex[:12]}")
    if data["request_id"] == PRIORS_KEY.decode():
        raise ApiError(400, "invalid_request", "request_id 'priors' is reserved (the priors record's key)",
                       detail=[{"loc": ["request_id"], "msg": "reserved", "type": "value_error"}])
    scenario = validate(ScenarioRequest, data, "body")
    state = _state(request)
    await state.produce(state.topics.scenario_requests, scenario.request_id, scenario.model_dump(mode="json"))
    headers = {"Location": _location(request, scenario.request_id)}
    if wait > 0 and (result := await state.feed.wait_for_result(scenario.request_id, wait)) is not None:
        return json_response(result, headers=headers)
    return json_response({"request_id": scenario.request_id, "status": "accepted",
                          "location": _location(request, scenario.request_id)}, status=202, headers=headers)


@requires(Role.viewer)
async def get_scenario(request: web.Request) -> web.Response:
    """A request's result; `priors` gives the latest priors update."""
    request_id = request.match_info["request_id"]
    model = _state(request).model
    found = model.priors if request_id == PRIORS_KEY.decode() else model.result(request_id)
    if found is None:
        raise ApiError(404, "not_found", f"no result for request {request_id!r} (yet)")
    return json_response(found)


@requires(Role.operator)
async def post_feedback(request: web.Request) -> web.Response:
    """What actually happened after a decision, as `omnitrack scenario feedback` sends it."""
    request_id = request.match_info["request_id"]
    data = await read_json(request)
    if data.setdefault("request_id", request_id) != request_id:
        raise ApiError(400, "invalid_request", "request_id in the body differs from the path",
                       detail=[{"loc": ["request_id"], "msg": "differs from the path", "type": "value_error"}])
    feedback = validate(Feedback, data, "body")
    state = _state(request)
    await state.produce(state.topics.scenario_requests, request_id,
                        {"kind": "feedback", **feedback.model_dump(mode="json")})
    return json_response({"request_id": request_id, "status": "accepted"}, status=202)


# --- twin -----------------------------------------------------------------------------------


def _twin_state(request: web.Request, kind: str, subject_id: str) -> web.Response:
    found = _state(request).model.twin_state(kind, subject_id)
    if found is None:
        raise ApiError(404, "not_found", f"no twin for {kind} {subject_id!r} (yet)")
    return json_response(found)


@requires(Role.viewer)
async def get_device(request: web.Request) -> web.Response:
    """A device's current twin row (status, last value per metric, counters, open minute) and its last status
    change."""
    return _twin_state(request, "device", request.match_info["device_id"])


@requires(Role.viewer)
async def get_node(request: web.Request) -> web.Response:
    """A node's current twin row (health level, cover, its devices' statuses) and its last health change."""
    return _twin_state(request, "node", request.match_info["node_id"])


def _cursor(token: str | None, shape: tuple[type, ...]) -> tuple[object, ...] | None:
    """The page key in a route's `after`, or a 400 naming the field (a cursor of another route is refused)."""
    if token is None:
        return None
    try:
        return decode_cursor(token, shape)  # type: ignore[no-any-return]
    except ValueError as exc:
        raise ApiError(400, "invalid_request", "invalid query: after",
                       detail=[{"loc": ["after"], "msg": str(exc), "type": "value_error"}]) from exc


def _twin_page(request: web.Request, kind: str) -> web.Response:
    q = read_query(request, TwinQuery)
    found, total, last = _state(request).model.twin_page(kind, status=q.status, limit=q.limit,
                                                         after=_cursor(q.after, TWIN_KEY_SHAPES[kind]))
    return json_response({f"{kind}s": found, "count": len(found), "total": total,
                          "next": encode_cursor(last) if last is not None else None})


@requires(Role.viewer)
async def list_devices(request: web.Request) -> web.Response:
    """Devices by status (online, stale, offline), longest unheard first."""
    return _twin_page(request, "device")


@requires(Role.viewer)
async def list_nodes(request: web.Request) -> web.Response:
    """Nodes by health level (ok, degraded, critical), worst and least cover first."""
    return _twin_page(request, "node")


@requires(Role.viewer)
async def list_lanes(request: web.Request) -> web.Response:
    """Lanes and their stalled shipments now (lanes.py: from the node rows the twin worker writes), most stalled
    first; `stalled=true` keeps those with one. Live: `/twin/stream?kind=lane`."""
    q = read_query(request, LaneQuery)
    state = _state(request)
    found, total, last = lane_page(state.model.lanes, state.network.network, stalled=q.stalled, limit=q.limit,
                                   after=_cursor(q.after, LANE_KEY_SHAPE))
    return json_response({"lanes": found, "count": len(found), "total": total,
                          "next": encode_cursor(last) if last is not None else None})


@requires(Role.viewer)
async def stream_twin(request: web.Request) -> web.StreamResponse:
    """Device status and node health changes, and lanes' stalled shipments, from now on, as Server-Sent Events
    (`event: twin`, `data`: the twin.changes record, or a `lane_stall` record), optionally of one `kind`."""
    q = read_query(request, TwinStreamQuery)
    return await stream_twin_response(request, _state(request).twin_hub, q.kinds())


@requires(Role.viewer)
async def device_history(request: web.Request) -> web.Response:
    """A device's 1-minute windows (count/min/max/mean per metric; history.py): the closed ones from the
    twin worker's windowed table, the open one from its row. 404 when the API knows nothing of the device."""
    device_id = request.match_info["device_id"]
    q = read_query(request, HistoryQuery)
    state = _state(request)
    row = state.model.twin_row("device", device_id)
    if row is None and device_id not in state.network.device_ids and not state.model.history.knows(device_id):
        raise ApiError(404, "not_found", f"no device {device_id!r}")
    start_s, end_s = q.range_s(datetime.now(timezone.utc))
    windows = state.model.history.windows(device_id, start_s=start_s, end_s=end_s, metric=q.metric,
                                          open_window=(row or {}).get("window"))
    return json_response({"device_id": device_id, "metric": q.metric, "from": _iso(start_s), "to": _iso(end_s),
                          "windows": windows})


def _iso(epoch_s: float) -> str:
    return datetime.fromtimestamp(epoch_s, timezone.utc).isoformat().replace("+00:00", "Z")


# --- network and the API's own description ---------------------------------------------------


@requires(Role.viewer)
async def get_network(request: web.Request) -> web.Response:
    """The nodes, lanes and devices the engine runs on, with positions (network.py)."""
    network = _state(request).network
    if network.body is None:
        raise ApiError(503, "unavailable", f"the network file could not be loaded: {network.problem}")
    return web.Response(body=network.body, content_type="application/json")


@requires(Role.viewer)
async def get_openapi(request: web.Request) -> web.Response:
    """This API's OpenAPI 3.1 document, generated from its pydantic models (openapi.py)."""
    return web.Response(body=_state(request).openapi, content_type="application/json")
