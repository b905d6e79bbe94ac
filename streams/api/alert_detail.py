"""One alert's detail (GET /alerts/{id}): its lifecycle so far, and the devices and readings behind it.

Why: an operator deciding to acknowledge, assign or clear needs more than the last snapshot: how the alert got
here (created, escalated, acknowledged by whom, commented) and what the devices that raised it read now. Both
come from what the read model already holds, so answering asks no worker:

* the transitions are the `alerts` records of the alert (one per version; the topic is not compacted), kept per
  alert as the read model applies them (`AlertTrail`, bounded);
* the devices are the alert's subject when it is a device; for a node, the trackers stalled on its lanes
  (`lanes_stalled`), its inventory devices (`inventory_cover`) or all its devices; for a site alert grouping
  others, the subjects of its children. Each with its twin row's status and last values and its last 1-minute
  windows of the metric the rule watches (history.py).
"""

from __future__ import annotations

from collections import OrderedDict
from datetime import datetime
from typing import TYPE_CHECKING, Any

from twin.alerts.catalogue import DEVICE_RULES
from twin.alerts.models import Alert, AlertEvent
from twin.network import DEVICE_KIND_METRICS, DeviceKind, SupplyNetwork

if TYPE_CHECKING:
    from streams.api.views import ReadModel

__all__ = ["AlertTrail", "alert_devices", "rule_metric", "MAX_TRANSITIONS", "MAX_DEVICES", "RECENT_WINDOWS"]

MAX_TRANSITIONS = 30
"""Transitions kept per alert: the first (how it opened) and the latest 29. A flapping or much-commented alert
must not grow the API's memory; every transition stays on the `alerts` topic."""

MAX_DEVICES = 20
"""Devices listed behind one alert (a site alert may group hundreds)."""

RECENT_WINDOWS = 15
"""1-minute windows shown per device: the quarter hour before the alert's last update (or now)."""

RULE_METRICS = {rule.name: rule.metric for rules in DEVICE_RULES.values() for rule in rules}
RULE_METRICS["inventory_cover"] = "inventory"


def rule_metric(rule: str, kind: str | None) -> str | None:
    """The metric a rule watches (`cold_chain`: temperature, `anomaly_shock`: shock) when the device measures it
    (or its kind is unknown), else the device kind's first aggregated metric; None for a tracker (a position
    has no 1-minute aggregate)."""
    watched = RULE_METRICS.get(rule) or (rule.removeprefix("anomaly_") if rule.startswith("anomaly_") else None)
    measured = [m for m in DEVICE_KIND_METRICS.get(DeviceKind(kind), ()) if m != "position"] \
        if kind in DeviceKind.__members__ else None
    if measured is None:
        return watched
    return watched if watched in measured else (measured[0] if measured else None)


class AlertTrail:
    """Transitions per alert id, by version (a redelivered or late record is placed by its version, once)."""

    def __init__(self) -> None:
        self._by_alert: dict[str, dict[int, dict[str, Any]]] = {}

    def apply(self, event: AlertEvent) -> None:
        versions = self._by_alert.setdefault(event.alert.id, {})
        if event.alert.version in versions:
            return
        t, a = event.transition, event.alert
        versions[a.version] = {"version": a.version, "kind": t.kind.value, "at": t.at.isoformat(), "actor": t.actor,
                               "note": t.note, "previous_severity": t.previous_severity.value
                               if t.previous_severity else None, "severity": a.severity.value, "status": a.status,
                               "assignee": a.assignee}
        if len(versions) > MAX_TRANSITIONS:
            ordered = sorted(versions)
            del versions[ordered[1]]  # keep the first: how the alert opened

    def transitions(self, alert_id: str) -> list[dict[str, Any]]:
        """The alert's transitions, oldest first."""
        versions = self._by_alert.get(alert_id, {})
        return [versions[v] for v in sorted(versions)]

    def keep_only(self, alert_ids: OrderedDict[str, Any] | dict[str, Any]) -> None:
        """Forget the alerts the read model evicted."""
        for alert_id in [a for a in self._by_alert if a not in alert_ids]:
            del self._by_alert[alert_id]

    def __len__(self) -> int:
        return len(self._by_alert)


def _sources(alert: Alert, model: "ReadModel", network: SupplyNetwork | None) -> list[tuple[str, str, str]]:
    """(device id, why it is listed, the rule it is listed for) behind the alert, most relevant first."""
    if _kind(alert) == "device":
        return [(alert.subject_id, "subject", alert.rule)]
    if _kind(alert) == "node":
        node_id = alert.subject_id
        if alert.rule == "lanes_stalled":
            stalled = sorted(model.lanes.of_node(node_id).items())
            return [(t, f"stalled on lane {lane}", alert.rule) for t, lane in stalled]
        devices = network.devices_of(node_id) if network is not None and node_id in network.node_by_id else []
        if alert.rule == "inventory_cover":
            devices = [d for d in devices if d.kind.value == "inventory"] or devices
        return [(d.id, f"at node {node_id}", alert.rule) for d in devices]
    return [(child.subject_id, f"child alert {child.rule}", child.rule) for child in model.children(alert.id)
            if _kind(child) == "device"]


def alert_devices(alert: Alert, model: "ReadModel", network: SupplyNetwork | None,
                  now_s: float) -> list[dict[str, Any]]:
    """The devices behind the alert with their twin rows' status and last values and their recent windows of
    the metric the rule watches, up to MAX_DEVICES."""
    until = alert.cleared_at.timestamp() + 60 if alert.cleared_at is not None else now_s
    by_id = {d.id: d for d in network.devices} if network is not None else {}
    out: list[dict[str, Any]] = []
    seen: set[str] = set()
    for device_id, why, rule in _sources(alert, model, network):
        if device_id in seen:
            continue
        seen.add(device_id)
        device = by_id.get(device_id)
        kind = device.kind.value if device is not None else None
        row = model.twin_row("device", device_id) or {}
        metric = rule_metric(rule, kind)
        recent = model.history.windows(device_id, start_s=until - RECENT_WINDOWS * 60, end_s=until, metric=metric,
                                       open_window=row.get("window")) if metric else []
        out.append({"id": device_id, "why": why, "kind": kind,
                    "node_id": device.node_id if device is not None else None,
                    "lane_id": device.lane_id if device is not None else None,
                    "status": row.get("status"), "last_seen": _text(row.get("last_seen")),
                    "readings_applied": row.get("readings_applied"), "last_values": row.get("last_values") or {},
                    "metric": metric, "recent": recent[-RECENT_WINDOWS:]})
        if len(out) >= MAX_DEVICES:
            break
    return out


def _text(value: Any) -> str | None:
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, datetime):
        return value.isoformat()
    return str(value)


def _kind(alert: Alert) -> str:
    kind = alert.subject_kind
    return kind.value if hasattr(kind, "value") else str(kind)
