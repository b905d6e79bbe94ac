"""The API's read model: what it shows, rebuilt from the public topics (pure; fed by feed.py).

Why the topics alone: every `alerts` record carries the full alert after its transition with a per-alert
version, `scenarios.results` is keyed by request id, and `twin.changes` by subject, so "keep the latest per
key" rebuilds current state idempotently, whatever was redelivered or compacted away. The twin rows come from
the twin tables' changelog topics (compacted, keyed by id) the same way. No worker is asked, so the API keeps
answering while workers rebalance.
"""

from __future__ import annotations

import base64
import logging
from collections import OrderedDict
from datetime import datetime, timezone
from typing import Any

import orjson
from pydantic import ValidationError

from streams.api.alert_detail import AlertTrail
from streams.api.history import WindowHistory
from streams.api.lanes import LaneStalls
from twin.alerts.contract import decode_event
from twin.alerts.models import Alert, AlertEvent, Severity
from twin.node_twin import HealthLevel, health_rank

__all__ = ["ReadModel", "MAX_ALERTS", "MAX_RESULTS", "MAX_TWIN_SUBJECTS", "PRIORS_KEY", "TWIN_SUBJECTS"]

log = logging.getLogger(__name__)

MAX_ALERTS = 20_000
"""Alerts held. Prevents the API being OOM-killed while replaying a long-retained `alerts` topic (weeks of
alerts, nearly all long cleared): beyond it, cleared alerts are evicted oldest first; only a storm of more
active alerts than this evicts active ones (oldest first), so memory stays bounded either way."""

MAX_RESULTS = 10_000
"""Scenario results held (oldest evicted first): each is a few KB, and the topic keeps every request ever made."""

MAX_TWIN_SUBJECTS = 100_000
"""Devices and nodes held, rows and changes each (least recently changed evicted first): a fleet at `--scale`
grows without limit."""

MAX_REFUSED_PER_ALERT = 5
"""Refused commands shown per alert (the latest): a script retrying a bad command must not grow one alert's
answer without bound; every one stays on `alerts.commands.dlq`."""

EVICT_TO = 0.9
"""Evict down to this fraction of a cap at once, so the sweep over cleared alerts runs once per many inserts."""

PRIORS_KEY = b"priors"
"""`scenarios.results` key of the priors updates: not a request id."""

TWIN_SUBJECTS = {"device_status": ("device", "device_id"), "node_health": ("node", "node_id")}
"""twin.changes record type -> (subject kind in the URL, the field naming the subject)."""


def _cap(store: OrderedDict[Any, Any], limit: int) -> int:
    """Drop the oldest entries of `store` down to EVICT_TO × limit when it exceeds `limit`; returns how many."""
    if len(store) <= limit:
        return 0
    target, dropped = int(limit * EVICT_TO), 0
    while len(store) > target:
        store.popitem(last=False)
        dropped += 1
    return dropped


class ReadModel:
    """Latest alert event per alert id, result per request id, change per twin subject; bounded."""

    def __init__(self, *, max_alerts: int = MAX_ALERTS, max_results: int = MAX_RESULTS,
                 max_twin: int = MAX_TWIN_SUBJECTS, devices: int | None = None) -> None:
        """`devices`: how many devices the network lists, which sizes each device's window history (history.py;
        its default when None)."""
        self._alerts: OrderedDict[str, AlertEvent] = OrderedDict()  # least recently updated first
        self._results: OrderedDict[str, dict[str, Any]] = OrderedDict()
        self._twin: OrderedDict[tuple[str, str], dict[str, Any]] = OrderedDict()
        self._rows: OrderedDict[tuple[str, str], dict[str, Any]] = OrderedDict()
        self._refused: OrderedDict[str, list[dict[str, Any]]] = OrderedDict()  # alert id -> its parked commands
        self._max_alerts, self._max_results, self._max_twin = max_alerts, max_results, max_twin
        self.priors: dict[str, Any] | None = None
        self.latest_change: dict[str, Any] = {}
        """The last `twin.changes` record applied (for the live stream)."""
        self.history = WindowHistory(devices=devices)
        """Closed 1-minute windows per device (the `aggregates` changelog; history.py)."""
        self.lanes = LaneStalls()
        """Stalled shipments per lane, from the node rows (lanes.py)."""
        self.trail = AlertTrail()
        """Each alert's transitions so far (alert_detail.py)."""
        self.rejected = 0
        """Records not understood (logged and skipped: one bad producer must not stop the view)."""
        self.evicted = 0

    # --- applying records -----------------------------------------------------------------

    def apply_alert(self, value: bytes | None) -> AlertEvent | None:
        """One `alerts` record; the event if it changed the view, else None (a lower or equal version is a
        redelivery)."""
        try:
            event = decode_event(value or b"")
        except (ValidationError, ValueError) as exc:
            self._reject("alerts", exc)
            return None
        current = self._alerts.get(event.alert.id)
        self.trail.apply(event)
        if current is not None and current.alert.version >= event.alert.version:
            return None
        self._alerts[event.alert.id] = event
        self._alerts.move_to_end(event.alert.id)
        if len(self._alerts) > self._max_alerts:
            self._evict_alerts()
        return event

    def _evict_alerts(self) -> None:
        target = int(self._max_alerts * EVICT_TO)
        for alert_id in [k for k, ev in self._alerts.items() if not ev.alert.active]:
            if len(self._alerts) <= target:
                break
            del self._alerts[alert_id]
            self.evicted += 1
        self.evicted += _cap(self._alerts, self._max_alerts)  # more active alerts than the cap: oldest go
        self.trail.keep_only(self._alerts)

    def apply_result(self, key: bytes | None, value: bytes | None) -> bool:
        """One `scenarios.results` record: a result keyed by request id, or the priors record."""
        try:
            body = orjson.loads(value or b"")
        except orjson.JSONDecodeError as exc:
            return self._reject("scenarios.results", exc)
        if not isinstance(body, dict):
            return self._reject("scenarios.results", ValueError("not a JSON object"))
        if key == PRIORS_KEY:
            self.priors = body
            return True
        if body.get("kind") == "feedback":
            return False  # the decider's answer to invalid feedback: it must not replace the request's result
        request_id = key.decode(errors="replace") if key else body.get("request_id")
        if not isinstance(request_id, str) or not request_id:
            return self._reject("scenarios.results", ValueError("no request id"))
        self._results[request_id] = body
        self._results.move_to_end(request_id)
        self.evicted += _cap(self._results, self._max_results)
        return True

    def apply_twin_change(self, value: bytes | None) -> bool:
        """One `twin.changes` record (device status or node health)."""
        try:
            body = orjson.loads(value or b"")
        except orjson.JSONDecodeError as exc:
            return self._reject("twin.changes", exc)
        subject = TWIN_SUBJECTS.get(body.get("type")) if isinstance(body, dict) else None
        if subject is None or not isinstance(body.get(subject[1]), str):
            return self._reject("twin.changes", ValueError(f"unknown change {str(body)[:200]}"))
        key = (subject[0], body[subject[1]])
        self._twin[key] = body
        self.latest_change = body
        self._twin.move_to_end(key)
        self.evicted += _cap(self._twin, self._max_twin)
        return True

    def apply_twin_row(self, kind: str, key: bytes | None, value: bytes | None) -> bool:
        """One record of a twin table's changelog (`devices` or `nodes`, keyed by id): the row as the worker last
        wrote it (status, last values, counters, health). A tombstone (no value) removes it."""
        if not key:
            return self._reject(f"{kind} changelog", ValueError("no key"))
        subject = (kind, key.decode(errors="replace"))
        if value is None:
            if kind == "node":
                self.lanes.apply_node_row(subject[1], None)
            return self._rows.pop(subject, None) is not None
        try:
            row = orjson.loads(value)
        except orjson.JSONDecodeError as exc:
            return self._reject(f"{kind} changelog", exc)
        if not isinstance(row, dict):
            return self._reject(f"{kind} changelog", ValueError("not a JSON object"))
        self._rows[subject] = row
        self._rows.move_to_end(subject)
        if kind == "node":
            self.lanes.apply_node_row(subject[1], row)
        self.evicted += _cap(self._rows, self._max_twin)
        return True

    def apply_refused_command(self, value: bytes | None, headers: dict[str, bytes], at_ms: int) -> bool:
        """One `alerts.commands.dlq` record: shown with its alert, so whoever sent the command sees why it did
        not apply (the POST only said it was accepted for delivery). Records naming no alert id are skipped."""
        try:
            command = orjson.loads(value or b"")
        except orjson.JSONDecodeError as exc:
            return self._reject("alerts.commands.dlq", exc)
        alert_id = command.get("alert_id") if isinstance(command, dict) else None
        if not isinstance(alert_id, str):
            return False
        entry = {"action": command.get("action"), "actor": command.get("actor"),
                 "reason": headers.get("reason", b"").decode(errors="replace"),
                 "message": headers.get("message", b"").decode(errors="replace"),
                 "at": datetime.fromtimestamp(at_ms / 1000, timezone.utc).isoformat()}
        kept = self._refused.pop(alert_id, [])
        self._refused[alert_id] = (kept + [entry])[-MAX_REFUSED_PER_ALERT:]
        self.evicted += _cap(self._refused, self._max_alerts)
        return True

    def _reject(self, topic: str, exc: Exception) -> bool:
        self.rejected += 1
        log.warning("skipped a %s record the API does not understand: %s", topic, str(exc)[:300])
        return False

    # --- queries --------------------------------------------------------------------------

    def alert(self, alert_id: str) -> AlertEvent | None:
        """The latest event (transition and snapshot) of one alert."""
        return self._alerts.get(alert_id)

    def children(self, parent_id: str) -> list[Alert]:
        """The alerts grouped under a site alert (their `parent_id`), most recently updated first."""
        found = [ev.alert for ev in self._alerts.values() if ev.alert.parent_id == parent_id]
        found.sort(key=page_key)
        return found

    def refused_commands(self, alert_id: str) -> list[dict[str, Any]]:
        """The last commands for this alert that could not apply, oldest first."""
        return list(self._refused.get(alert_id, ()))

    def alert_page(self, *, limit: int = 100, after: tuple[float, str] | None = None,
                   **filters: Any) -> tuple[list[Alert], int]:
        """Up to `limit` alerts matching `filters` (those of `matches`), most recently updated first, and how many
        match in all; with `after` (a `page_key`), only those that sort after it: the next page."""
        found = [ev.alert for ev in self._alerts.values() if matches(ev.alert, **filters)]
        total = len(found)
        if after is not None:
            found = [a for a in found if page_key(a) > after]
        found.sort(key=page_key)
        return found[:limit], total

    def alerts(self, *, limit: int = 100, after: tuple[float, str] | None = None, **filters: Any) -> list[Alert]:
        """`alert_page` without the total."""
        return self.alert_page(limit=limit, after=after, **filters)[0]

    def result(self, request_id: str) -> dict[str, Any] | None:
        return self._results.get(request_id)

    def twin(self, kind: str, subject_id: str) -> dict[str, Any] | None:
        """The latest `twin.changes` record of a device or node."""
        return self._twin.get((kind, subject_id))

    def twin_row(self, kind: str, subject_id: str) -> dict[str, Any] | None:
        """The twin row of a device or node as its table's changelog last had it."""
        return self._rows.get((kind, subject_id))

    def twin_state(self, kind: str, subject_id: str) -> dict[str, Any] | None:
        """What the API shows of a device or node: its current twin row and its last status change (either may
        be missing: a device that never changed status has a row, a row evicted by the cap leaves the change)."""
        row, change = self._rows.get((kind, subject_id)), self._twin.get((kind, subject_id))
        if row is None and change is None:
            return None
        return {"kind": kind, "id": subject_id, "state": row, "last_change": change}

    def twin_page(self, kind: str, *, status: str | None = None, limit: int = 100,
                  after: tuple[Any, ...] | None = None) -> tuple[list[dict[str, Any]], int, tuple[Any, ...] | None]:
        """Up to `limit` devices (by `status`) or nodes (by health `level`) as their rows say, how many match in
        all, and the page key of the last one when more follow (`twin_key`; None on the last page): for an
        operator's "what is offline / critical now, and how many?". Devices longest unheard first; nodes worst
        first, then least cover. With `after`, the page after that key."""
        field = "status" if kind == "device" else "level"
        keyed = sorted((twin_key(kind, sid, row), sid, row) for (k, sid), row in self._rows.items()
                       if k == kind and (status is None or row.get(field) == status))
        total = len(keyed)
        if after is not None:
            keyed = [entry for entry in keyed if entry[0] > after]
        page = keyed[:limit]
        last = page[-1][0] if page and len(keyed) > limit else None
        if kind == "device":
            return [{"id": sid, "status": row.get("status"), "last_seen": row.get("last_seen"),
                     "readings_applied": row.get("readings_applied")} for _, sid, row in page], total, last
        return [{"id": sid, "level": row.get("level"), "days_of_cover": row.get("days_of_cover")}
                for _, sid, row in page], total, last

    def twin_list(self, kind: str, *, status: str | None = None, limit: int = 100) -> list[dict[str, Any]]:
        """`twin_page` without the total."""
        return self.twin_page(kind, status=status, limit=limit)[0]

    def sizes(self) -> dict[str, int]:
        return {"alerts": len(self._alerts), "results": len(self._results), "twin": len(self._twin),
                "twin_rows": len(self._rows), "windows": len(self.history), "alert_trails": len(self.trail),
                "stalled_lanes": len(self.lanes.stalled())}


TWIN_KEY_SHAPES: dict[str, tuple[type, ...]] = {"device": (str, str), "node": (int, int, float, str)}
"""The types of a twin page key per kind: what a cursor of GET /twin/devices or /twin/nodes must decode to."""


def twin_key(kind: str, subject_id: str, row: dict[str, Any]) -> tuple[Any, ...]:
    """The order of GET /twin/devices (last heard, id) and /twin/nodes (worst level, then least cover, then id;
    a node without a cover after every one with), and their page cursors."""
    if kind == "device":
        return (str(row.get("last_seen") or ""), subject_id)
    cover = _cover(row)
    finite = cover != float("inf")
    return (-_rank(row.get("level")), 0 if finite else 1, cover if finite else 0.0, subject_id)


def _rank(level: Any) -> int:
    """Health rank of a row's level; a row without a known level sorts after every known one."""
    return health_rank(level) if level in HealthLevel.__members__ else -1


def _cover(row: dict[str, Any]) -> float:
    cover = row.get("days_of_cover")
    return float(cover) if isinstance(cover, (int, float)) else float("inf")


def alert_json(alert: Alert) -> dict[str, Any]:
    """An alert as the API shows it: the snapshot plus its lifecycle `status`."""
    return {**alert.model_dump(mode="json"), "status": alert.status}


def matches(alert: Alert, *, active: bool | None = None, site: str | None = None, severity: Severity | None = None,
            rule: str | None = None) -> bool:
    """The filters of GET /alerts and /alerts/stream (None: any)."""
    return ((active is None or alert.active == active) and (site is None or alert.site_id == site)
            and (severity is None or alert.severity == severity) and (rule is None or alert.rule == rule))


def page_key(alert: Alert) -> tuple[float, str]:
    """The order of GET /alerts (newest update first, then id) and its page cursor."""
    updated: datetime = alert.updated_at
    return (-updated.timestamp(), alert.id)


def encode_cursor(key: tuple[Any, ...]) -> str:
    """An opaque `next` token for the page after the alert with this `page_key`."""
    return base64.urlsafe_b64encode(orjson.dumps(list(key))).decode().rstrip("=")


def decode_cursor(token: str, shape: tuple[type, ...] = (float, str)) -> Any:
    """The page key in a `next` token, of these types (default: GET /alerts' `page_key`); ValueError for anything
    this API did not hand out."""
    try:
        value = orjson.loads(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)))
    except (ValueError, TypeError) as exc:  # binascii.Error is a ValueError
        raise ValueError("not a cursor this API gave out") from exc
    if not isinstance(value, list) or len(value) != len(shape):
        raise ValueError("not a cursor this API gave out")
    out: list[Any] = []
    for item, kind in zip(value, shape):
        numeric = isinstance(item, (int, float)) and not isinstance(item, bool)
        if kind is float and numeric:
            out.append(float(item))
        elif kind is int and numeric and isinstance(item, int):
            out.append(item)
        elif kind is str and isinstance(item, str):
            out.append(item)
        else:
            raise ValueError("not a cursor this API gave out")
    return tuple(out)
