"""Every route of the API in one table: path, handler, query and body models, answers. app.py registers the
routes from it and openapi.py describes them from it.

Why one table: a route registered here is described in /openapi.json by construction (and so fuzzed by the
schemathesis test), and its parameters are described from the very pydantic model that validates them.

Every path is served under `/api/v1` and, as an alias, without it (the paths of the first release, which
notification links and scripts already use). Both run the same handler with the same role.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web
from pydantic import BaseModel

from engine.models import Feedback, ScenarioRequest
from streams.api import routes as r
from streams.api import schemas as s
from streams.api.models import (AlertQuery, CommandBody, HistoryQuery, LaneQuery, StreamQuery, TwinQuery,
                                TwinStreamQuery, WaitQuery)
from twin.telemetry import ID_PATTERN

__all__ = ["Operation", "OPERATIONS", "API_PREFIX", "routes", "unversioned"]

API_PREFIX = r.API_PREFIX

ANY_ID: dict[str, Any] = {"type": "string", "minLength": 1, "maxLength": 256}
TWIN_ID: dict[str, Any] = {"type": "string", "pattern": ID_PATTERN}


@dataclass(frozen=True)
class Operation:
    """One route. `path` is without the version prefix; `responses` maps a status to the model of its body
    (None: no JSON body); `stream` marks a text/event-stream answer."""

    method: str
    path: str
    handler: r.Handler
    summary: str
    tag: str
    responses: Mapping[int, type[BaseModel] | None]
    query: type[BaseModel] | None = None
    body: type[BaseModel] | None = None
    body_optional: tuple[str, ...] = ()
    """Fields of `body` the handler fills in when absent (documented as optional though the model needs them)."""
    path_params: Mapping[str, dict[str, Any]] = field(default_factory=dict)
    stream: bool = False

    @property
    def operation_id(self) -> str:
        return self.handler.__name__


OPERATIONS: tuple[Operation, ...] = (
    Operation("GET", "/healthz", r.healthz, "Liveness", "health", {200: s.Status}),
    Operation("GET", "/readyz", r.readyz, "Readiness: the read model has caught up", "health",
              {200: s.Status, 503: s.Status}),
    Operation("GET", "/openapi.json", r.get_openapi, "This document", "meta", {200: s.OpenApiDocument}),
    Operation("GET", "/alerts", r.list_alerts, "Alerts, most recently updated first, paged", "alerts",
              {200: s.AlertList}, query=AlertQuery),
    # before /alerts/{alert_id}, which would take it
    Operation("GET", "/alerts/stream", r.stream_alerts, "Alert events from now on (Server-Sent Events)", "alerts",
              {200: None}, query=StreamQuery, stream=True),
    Operation("GET", "/alerts/{alert_id}", r.get_alert, "One alert: transitions, refused commands, devices behind it",
              "alerts", {200: s.AlertDetail, 404: s.ErrorBody}, path_params={"alert_id": ANY_ID}),
    Operation("POST", "/alerts/{alert_id}/commands", r.post_alert_command, "ack, clear, assign or comment",
              "alerts", {202: s.AlertCommand, 404: s.ErrorBody, 503: s.ErrorBody}, body=CommandBody,
              path_params={"alert_id": ANY_ID}),
    Operation("POST", "/scenarios", r.post_scenario, "Ask a what-if question", "scenarios",
              {200: s.ScenarioAnswer, 202: s.ScenarioAccepted, 503: s.ErrorBody}, query=WaitQuery,
              body=ScenarioRequest, body_optional=("request_id",)),
    Operation("GET", "/scenarios/{request_id}", r.get_scenario, "A request's result (`priors`: the priors)",
              "scenarios", {200: s.ScenarioLookup, 404: s.ErrorBody}, path_params={"request_id": ANY_ID}),
    Operation("POST", "/scenarios/{request_id}/feedback", r.post_feedback, "What happened after a decision",
              "scenarios", {202: s.FeedbackAccepted, 503: s.ErrorBody}, body=Feedback,
              body_optional=("request_id",), path_params={"request_id": ANY_ID}),
    Operation("GET", "/twin/devices", r.list_devices, "Devices by status", "twin", {200: s.DeviceList},
              query=TwinQuery),
    Operation("GET", "/twin/nodes", r.list_nodes, "Nodes by health level", "twin", {200: s.NodeList},
              query=TwinQuery),
    Operation("GET", "/twin/lanes", r.list_lanes, "Lanes and their stalled shipments, most stalled first", "twin",
              {200: s.LaneList}, query=LaneQuery),
    Operation("GET", "/twin/stream", r.stream_twin, "Device, node and lane changes from now on (SSE)",
              "twin", {200: None}, query=TwinStreamQuery, stream=True),
    Operation("GET", "/twin/device/{device_id}", r.get_device, "A device's twin row and last status change",
              "twin", {200: s.TwinState, 404: s.ErrorBody}, path_params={"device_id": TWIN_ID}),
    Operation("GET", "/twin/device/{device_id}/history", r.device_history, "A device's 1-minute windows",
              "twin", {200: s.History, 404: s.ErrorBody}, query=HistoryQuery, path_params={"device_id": TWIN_ID}),
    Operation("GET", "/twin/node/{node_id}", r.get_node, "A node's twin row and last health change", "twin",
              {200: s.TwinState, 404: s.ErrorBody}, path_params={"node_id": TWIN_ID}),
    Operation("GET", "/network", r.get_network, "Nodes, lanes and devices with positions", "network",
              {200: s.Network, 503: s.ErrorBody}),
)


def routes() -> list[web.RouteDef]:
    """Every operation under API_PREFIX and, as an alias, without it."""
    out = []
    for prefix in (API_PREFIX, ""):
        for op in OPERATIONS:
            add = web.get if op.method == "GET" else web.post
            out.append(add(prefix + op.path, op.handler))
    return out


def unversioned(template: str) -> str:
    """A route template without the version prefix: one metric series per route, whichever path was used."""
    return template.removeprefix(API_PREFIX) if template.startswith(API_PREFIX + "/") else template
