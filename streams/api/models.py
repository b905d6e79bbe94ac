"""Request bodies and queries of the API, and how a bad one becomes a 400 that names the field.

Why pydantic with `extra="forbid"` for queries too: `?severty=critical` silently ignored would return every
alert and look like an answer; refused, the caller sees the typo. Scenario and feedback bodies are the
engine's own models (engine.models), so the API cannot accept what the decider would reject.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Annotated, Any, Literal, TypeVar

import orjson
from aiohttp import web
from pydantic import (AwareDatetime, BaseModel, ConfigDict, Field, ValidationError, WithJsonSchema, field_validator,
                      model_validator)

from streams.api.views import decode_cursor
from twin.alerts.models import MAX_TEXT, Severity
from twin.telemetry import METRIC_CATALOGUE

__all__ = ["ApiError", "AlertQuery", "CommandBody", "LaneQuery", "WaitQuery", "HistoryQuery", "StreamQuery",
           "TwinQuery", "TwinStreamQuery", "MAX_BODY_BYTES", "MAX_WAIT_S", "read_json", "read_query", "validate",
           "validation_error", "json_response"]

MAX_BODY_BYTES = 64 * 1024
"""Largest request body: every body here is a few hundred bytes; a bigger one is a mistake or an attack, and
must not be buffered (or produced to Kafka, whose default record limit is 1 MB)."""

MAX_WAIT_S = 30.0
"""Longest `?wait=` for a scenario result: a request holds a connection and a waiter while it waits."""

M = TypeVar("M", bound=BaseModel)


class ApiError(Exception):
    """An HTTP error answered as JSON: {"error": code, "message": ..., "detail"?: ...}."""

    def __init__(self, status: int, error: str, message: str, *, detail: Any = None,
                 headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.status, self.error, self.message, self.detail = status, error, message, detail
        self.headers = headers or {}

    def response(self) -> web.Response:
        body: dict[str, Any] = {"error": self.error, "message": self.message}
        if self.detail is not None:
            body["detail"] = self.detail
        return json_response(body, status=self.status, headers=self.headers)


MAX_CURSOR_CHARS = 200
"""Longest `after` accepted: the cursors this API hands out are far shorter."""


class _Query(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class StreamQuery(_Query):
    """GET /alerts/stream filters, which GET /alerts shares (all optional, combined with AND)."""

    active: bool | None = None
    site: str | None = Field(None, min_length=1, max_length=128)
    severity: Severity | None = None
    rule: str | None = Field(None, min_length=1, max_length=64)

    def filters(self) -> dict[str, Any]:
        """The filters as `views.matches` takes them."""
        return {name: getattr(self, name) for name in StreamQuery.model_fields}


class AlertQuery(StreamQuery):
    """GET /alerts: the filters, a page size, and the cursor of the previous page."""

    limit: int = Field(100, ge=1, le=1000)
    after: Annotated[tuple[float, str] | None, WithJsonSchema(
        {"anyOf": [{"type": "string", "minLength": 1, "maxLength": MAX_CURSOR_CHARS}, {"type": "null"}],
         "description": "the `next` of the previous page (an opaque cursor)"})] = None

    @field_validator("after", mode="before")
    @classmethod
    def _a_cursor_we_gave_out(cls, value: Any) -> Any:
        if isinstance(value, str):
            if not 1 <= len(value) <= MAX_CURSOR_CHARS:
                raise ValueError(f"a cursor is 1 to {MAX_CURSOR_CHARS} characters")
            return decode_cursor(value)  # ValueError -> 400 invalid_request with the field named
        return value


Cursor = Annotated[str | None, Field(None, min_length=1, max_length=MAX_CURSOR_CHARS,
                                     description="the `next` of the previous page (an opaque cursor)")]


class TwinQuery(_Query):
    """GET /twin/devices and /twin/nodes: filter on the row's `status` (devices: online, stale, offline) or
    `level` (nodes: ok, degraded, critical), longest unheard / worst first; `limit` a page, `after` the previous
    page's `next` (checked against the route's order by the handler: a device cursor is no node cursor)."""

    status: str | None = Field(None, min_length=1, max_length=32)
    limit: int = Field(100, ge=1, le=1000)
    after: Cursor = None


class LaneQuery(_Query):
    """GET /twin/lanes: `stalled` true keeps the lanes with a stalled shipment now (false: those without); most
    stalled first, then by id; paged like GET /twin/nodes."""

    stalled: bool | None = None
    limit: int = Field(100, ge=1, le=1000)
    after: Cursor = None


AggregatedMetric = Literal[  # type: ignore[misc]
    tuple(n for n, spec in METRIC_CATALOGUE.items() if spec.kind != "position")]
"""Metrics the twin aggregates per minute (twin/aggregates.py: every numeric one, door_open as 0/1)."""

MAX_HISTORY = timedelta(hours=24)
"""Widest history asked at once: the worker keeps 24 h of windows (1,440 per metric)."""

DEFAULT_HISTORY = timedelta(hours=1)

HISTORY_BOUNDS_S = (0.0, datetime(9999, 12, 30, tzinfo=timezone.utc).timestamp())
"""Range `from`/`to` may span (1970 to 9999): windows are epoch seconds, and an hour before 0001-01-01 is no
date Python can show (that was a 500, found by hypothesis)."""


class HistoryQuery(_Query):
    """GET /twin/device/{id}/history: windows starting in [`from`, `to`), one metric or all. `to` defaults to now,
    `from` to an hour before `to`; at most 24 h apart."""

    metric: AggregatedMetric | None = None
    since: AwareDatetime | None = Field(None, alias="from", description="first window start (ISO 8601 with zone)")
    to: AwareDatetime | None = Field(None, description="windows starting before this (ISO 8601 with zone)")

    @model_validator(mode="after")
    def _a_range(self) -> "HistoryQuery":
        try:
            start, end = self.range_s(datetime.now(timezone.utc))
        except (OverflowError, ValueError) as exc:
            raise ValueError("`from` and `to` must lie between 1970 and 9999") from exc
        if not (HISTORY_BOUNDS_S[0] <= start and end <= HISTORY_BOUNDS_S[1]):
            raise ValueError("`from` and `to` must lie between 1970 and 9999")
        if not end > start:
            raise ValueError("`to` must be after `from`")
        if end - start > MAX_HISTORY.total_seconds():
            raise ValueError(f"at most {MAX_HISTORY.total_seconds() / 3600:.0f} h of history at once")
        return self

    def range_s(self, now: datetime) -> tuple[float, float]:
        """[from, to) in epoch seconds. Floats, not datetimes: `to` minus an hour near year 1 is no error."""
        end = (self.to or now).timestamp()
        start = self.since.timestamp() if self.since is not None else end - DEFAULT_HISTORY.total_seconds()
        return start, end


class TwinStreamQuery(_Query):
    """GET /twin/stream: `kind` device (status changes), node (health changes) or lane (its stalled shipments), or
    several comma-separated (`node,lane`: what the console's map follows on one connection, since a browser
    holds 6 connections per server at most); all when absent."""

    kind: str | None = Field(None, pattern=r"^(device|node|lane)(,(device|node|lane)){0,2}$",
                             description="device, node, lane, or several comma-separated")

    def kinds(self) -> frozenset[str] | None:
        """The kinds asked for (None: all)."""
        return frozenset(self.kind.split(",")) if self.kind else None


class WaitQuery(_Query):
    """POST /scenarios: `wait` seconds for the result (0 = answer 202 at once)."""

    wait: float = Field(0.0, ge=0, le=MAX_WAIT_S)


class CommandBody(BaseModel):
    """POST /alerts/{id}/commands. The actor comes from the token and the site from the alert, never the body:
    an operator cannot act in someone else's name or route a command to another site's partition."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    action: Literal["ack", "clear", "assign", "comment"]
    note: str | None = Field(None, min_length=1, max_length=MAX_TEXT)
    assignee: str | None = Field(None, min_length=1, max_length=128)


def json_response(data: Any, *, status: int = 200, headers: dict[str, str] | None = None) -> web.Response:
    return web.Response(body=orjson.dumps(data), status=status, content_type="application/json", headers=headers)


def validation_error(exc: ValidationError, where: str) -> ApiError:
    """A 400 listing each invalid field (`loc`), what is wrong (`msg`) and pydantic's error `type`."""
    detail = [{"loc": list(e["loc"]), "msg": e["msg"], "type": e["type"]}
              for e in exc.errors(include_url=False, include_context=False, include_input=False)]
    fields = ", ".join(".".join(str(p) for p in d["loc"]) or where for d in detail)
    return ApiError(400, "invalid_request", f"invalid {where}: {fields}", detail=detail)


async def read_json(request: web.Request) -> dict[str, Any]:
    """The body as a JSON object; 413 beyond MAX_BODY_BYTES, 400 when it is not a JSON object."""
    if request.content_length is not None and request.content_length > MAX_BODY_BYTES:
        raise ApiError(413, "too_large", f"the body exceeds {MAX_BODY_BYTES} bytes")
    raw = await request.read()  # aiohttp stops at client_max_size (413) when no length was announced
    try:
        data = orjson.loads(raw) if raw else None
    except orjson.JSONDecodeError as exc:
        raise ApiError(400, "invalid_json", f"the body is not JSON: {exc}") from exc
    if not isinstance(data, dict):
        raise ApiError(400, "invalid_request", "the body must be a JSON object")
    return data


def validate(model: type[M], data: dict[str, Any], where: str) -> M:
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise validation_error(exc, where) from exc


def read_query(request: web.Request, model: type[M]) -> M:
    """The query string validated as `model` (a repeated parameter is refused, not silently truncated)."""
    query = request.query
    repeated = sorted({k for k in query if len(query.getall(k)) > 1})
    if repeated:
        raise ApiError(400, "invalid_request", f"repeated query parameters: {', '.join(repeated)}")
    return validate(model, dict(query), "query")
