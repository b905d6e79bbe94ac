"""What the API answers, as pydantic models: the source of the response schemas in /openapi.json.

Why models for answers the handlers build as dicts: the OpenAPI document is generated from them
(`model_json_schema`), never written by hand, and the tests validate real answers against them, so the
document cannot drift from the code without a test failing. Rows the twin worker writes are shown as it wrote
them (`state`: an open object): their shape belongs to the worker.
"""

from __future__ import annotations

import warnings
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, RootModel

from engine.models import ScenarioResult
from twin.alerts.models import Alert, AlertCommand, AlertTransition, Severity, TransitionKind
from twin.network import DeviceKind, LaneMode, NodeKind

__all__ = ["ErrorBody", "Status", "AlertView", "AlertList", "AlertDetail", "ScenarioAccepted", "FeedbackAccepted",
           "ScenarioAnswer", "ScenarioLookup", "PriorsUpdate", "TwinState", "DeviceList", "NodeList", "LaneList",
           "History", "Network", "OpenApiDocument", "AlertCommand", "TransitionEntry", "AlertDevice", "LaneSummary"]


class _Out(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ErrorBody(_Out):
    """Every error: a stable `error` code, a sentence, and for 400 the fields at fault."""

    error: str = Field(description="invalid_request, invalid_json, unauthorized, forbidden, not_found, "
                                   "method_not_allowed, too_large, rate_limited, unavailable, internal")
    message: str
    detail: list[dict[str, Any]] | None = Field(None, description="400: [{loc, msg, type}] per invalid field")


class Status(_Out):
    status: Literal["ok", "ready", "starting"]


with warnings.catch_warnings():  # `status` is a property of Alert; here it is the field the API adds
    warnings.simplefilter("ignore")

    class AlertView(Alert):
        """An alert as the API shows it: the snapshot and its lifecycle status."""

        status: Literal["ACTIVE_UNACK", "ACTIVE_ACK", "CLEARED_UNACK", "CLEARED_ACK"] = Field(
            description="ACTIVE or CLEARED, then ACK or UNACK")


class AlertList(_Out):
    alerts: list[AlertView]
    count: int = Field(description="alerts on this page")
    total: int = Field(description="alerts matching, all pages together")
    next: str | None = Field(description="cursor of the next page (`after`), null on the last")


class RefusedCommand(_Out):
    action: str | None
    actor: str | None
    reason: str
    message: str
    at: str


class AlertDetail(_Out):
    alert: AlertView
    transition: AlertTransition
    event_id: str
    refused_commands: list[RefusedCommand] = Field(description="the last commands the alert worker could not apply")
    transitions: list[TransitionEntry] = Field(description="the alert's lifecycle so far, oldest first (the first "
                                               "and the latest 29)")
    devices: list[AlertDevice] = Field(description="the devices behind the alert (20 at most), each with its twin "
                                       "row and its last 1-minute windows of the metric the rule watches")


class ScenarioAccepted(_Out):
    request_id: str
    status: Literal["accepted"]
    location: str = Field(description="where the result will be: GET it")


class FeedbackAccepted(_Out):
    request_id: str
    status: Literal["accepted"]


class ScenarioAnswer(ScenarioResult):
    """A record of `scenarios.results` as the decider wrote it."""

    model_config = ConfigDict(extra="allow")


class PriorsUpdate(BaseModel):
    """The `priors` record of `scenarios.results` (GET /scenarios/priors): the version feedback produced."""

    model_config = ConfigDict(extra="allow")
    kind: Literal["priors"]
    version: int
    request_id: str | None = Field(None, description="the feedback's request")


class ScenarioLookup(RootModel[ScenarioAnswer | PriorsUpdate]):
    """GET /scenarios/{request_id}: a result, or for `priors` the latest priors update."""


class TwinState(_Out):
    kind: Literal["device", "node"]
    id: str
    state: dict[str, Any] | None = Field(description="the twin row as the worker last wrote it")
    last_change: dict[str, Any] | None = Field(description="the latest twin.changes record of this subject")


class DeviceSummary(_Out):
    id: str
    status: str | None
    last_seen: str | None
    readings_applied: int | None


class NodeSummary(_Out):
    id: str
    level: str | None
    days_of_cover: float | None


class DeviceList(_Out):
    devices: list[DeviceSummary]
    count: int
    total: int
    next: str | None = Field(description="cursor of the next page (`after`), null on the last")


class NodeList(_Out):
    nodes: list[NodeSummary]
    count: int
    total: int
    next: str | None = Field(description="cursor of the next page (`after`), null on the last")


class LaneSummary(_Out):
    id: str
    src: str | None = Field(description="null for a lane the network file does not have")
    dst: str | None
    mode: LaneMode | None
    stalled_shipments: int = Field(description="trackers whose shipment on this lane is stalled now")
    trackers: list[str] = Field(description="those trackers (50 at most)")


class LaneList(_Out):
    lanes: list[LaneSummary]
    count: int
    total: int
    next: str | None = Field(description="cursor of the next page (`after`), null on the last")


class Aggregate(_Out):
    count: int
    min: float | None
    max: float | None
    mean: float | None


class Window(_Out):
    start: str = Field(description="window start, ISO 8601 UTC")
    end: str = Field(description="start + 60 s")
    open: bool = Field(description="the minute the device is still filling (it may grow)")
    metrics: dict[str, Aggregate]


class History(_Out):
    device_id: str
    metric: str | None
    from_: str = Field(alias="from")
    to: str
    windows: list[Window]


class Point(_Out):
    lat: float
    lon: float


class NetworkNode(_Out):
    id: str
    kind: NodeKind
    name: str
    region: str
    position: Point
    capacity: float
    inventory: float = Field(description="units on hand in the network file (live: GET /twin/node/{id})")
    daily_demand: float
    days_of_cover: float | None
    daily_revenue_at_risk: float
    criticality: int


class NetworkLane(_Out):
    id: str
    src: str
    dst: str
    mode: LaneMode
    lead_time_days: float
    component: str | None
    backup: bool | None
    from_position: Point
    to_position: Point


class NetworkDevice(_Out):
    id: str
    kind: DeviceKind
    node_id: str | None
    lane_id: str | None
    expected_interval_s: float
    position: Point
    position_source: Literal["node", "lane_midpoint"]


class Counts(_Out):
    nodes: int
    lanes: int
    devices: int


class Network(_Out):
    nodes: list[NetworkNode]
    lanes: list[NetworkLane]
    devices: list[NetworkDevice]
    count: Counts


class TransitionEntry(_Out):
    version: int = Field(description="the alert's version after this transition")
    kind: TransitionKind
    at: str
    actor: str | None = Field(description="the operator, for commands")
    note: str | None
    previous_severity: Severity | None
    severity: Severity = Field(description="after the transition")
    status: str = Field(description="after the transition (ACTIVE_ACK, ...)")
    assignee: str | None


class AlertDevice(_Out):
    id: str
    why: str = Field(description="subject, at node N, stalled on lane L, child alert R")
    kind: DeviceKind | None = Field(description="null for a device the network file does not have")
    node_id: str | None
    lane_id: str | None
    status: str | None = Field(description="online, stale, offline from its twin row; null without one")
    last_seen: str | None
    readings_applied: int | None
    last_values: dict[str, Any] = Field(description="the row's last value per metric")
    metric: str | None = Field(description="the metric of `recent` (the one the rule watches)")
    recent: list[Window] = Field(description="the last 1-minute windows of `metric` up to the alert's clearing "
                                 "(or now), 15 at most")


class OpenApiDocument(BaseModel):
    """This document (OpenAPI 3.1)."""

    model_config = ConfigDict(extra="allow")
    openapi: str


AlertDetail.model_rebuild()
