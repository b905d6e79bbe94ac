"""Score what the engine detected against what the fleet simulator injected (pure: no I/O).

WHY a pure module: the end-to-end bench (`bench/e2e.py`) gathers the records from Kafka and the
counters from Prometheus; the matching itself is the part that must be right and must be testable
without a broker, so it takes plain values in and gives a report out.

Inputs
  - ground truth: the simulator's `InjectedEvent`s (JSONL lines or `simulator.ground_truth` records,
    parsed with `parse_ground_truth`);
  - alerts: `AlertEvent`s from the `alerts` topic (`twin.alerts.contract.decode_event`), reduced with
    `contract.rebuild` to one snapshot per alert occurrence (its `created_at` is when it opened);
  - `DlqRecord`s of `telemetry.dlq` (the `reason` header, the key = device id when known, the time);
  - `TwinOutcomes`: the twin's `omnitrack_twin_readings_total{outcome=...}` counts;
  - `device_sites`: device id -> its site (node or lane), from the network file.

Matching rules
  - An event *affects*: its subject, its `devices`, `lanes` and `nodes` (for a supplier outage the nodes
    it feeds). A device alert matches when its device is affected; a node alert when the node is; a
    site (group) alert when the site is affected or is the site of an affected device.
  - An alert is a TRUE POSITIVE when it matches an event and opened within [start, end + grace].
  - An alert is EXPLAINED (neither true nor false) when it matches an event outside that window but
    after its start, or is about something the event legitimately causes downstream: the node or site
    of an affected device (a silent probe degrades its node's health; a supplier's outage drains the
    inventory cover of the nodes it feeds), any time after the event started. Recovery transients
    (a detector firing when a signal returns to normal) are explained the same way.
  - Every other alert is a FALSE POSITIVE.
  - Detection of subject events (cold chain, equipment failure, port closure, supplier outage, device
    silent) is "some true-positive alert"; time to detect = first such alert's `created_at` - start.
  - `clock_skew` is detected by the bridge, not by an alert: a DLQ record with reason `skew` keyed by
    the skewed device within the window.
  - Fleet-wide events are detected when the engine's own evidence shows them: `malformed` -> DLQ
    reasons `not_json`/`schema`/`unknown_metric`; `duplicates` -> twin outcome `duplicate` > 0;
    `reorder` -> twin outcome `late` > 0. Their "time to detect" is the first such evidence.
  - Precision per type counts the alerts of the rules that are evidence of that type (`RULE_TYPES`):
    matched to an event of the type / (those + false positives of those rules). Types detected
    without alerts have no precision.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from pydantic import BaseModel

from simulators.fleet.scenarios import EVENT_TYPES, InjectedEvent
from twin.alerts.contract import rebuild
from twin.alerts.models import Alert, AlertEvent, SubjectKind

MALFORMED_REASONS = frozenset({"not_json", "schema", "unknown_metric"})
"""DLQ reasons the simulator's `corrupt` variants produce (truncated JSON, schema version, misspelt metric)."""

SKEW_REASON = "skew"
"""`twin.telemetry.SkewError.reason`."""

OUTCOME_FOR = {"duplicates": "duplicate", "reorder": "late"}
"""Fleet event type -> the twin outcome label that shows it (`twin.device_twin.OutcomeKind`)."""

ALERT_TYPES = ("cold_chain_breach", "equipment_failure", "port_closure", "supplier_outage", "device_silent")
"""Event types the engine must turn into alerts."""

RULE_TYPES: dict[str, str] = {
    "cold_chain": "cold_chain_breach",
    "vibration_high": "equipment_failure",
    "device_silence": "device_silent",
    "inventory_cover": "supplier_outage",
    "node_health": "supplier_outage",
    "anomaly_throughput": "supplier_outage",
    "shipment_stalled": "port_closure",
    "lanes_stalled": "port_closure",
}
"""Rule -> the event type its alerts are evidence of (for per-type precision). A port closure shows as
trackers on the port's lanes that stop progressing (`shipment_stalled`, device alerts: the trackers are the
event's `devices`) and as the port's own `lanes_stalled` node alert (the event's subject)."""

DEFAULT_GRACE_S = 15.0
"""How long after an event ends an alert still counts as detecting it (worker lag, gating, liveness)."""


def parse_ground_truth(lines: Iterable[bytes | str]) -> list[InjectedEvent]:
    """Ground truth from JSONL lines or Kafka record values; blank lines are skipped, duplicates by id
    (a re-produced record) kept once."""
    out: dict[str, InjectedEvent] = {}
    for line in lines:
        if isinstance(line, bytes):
            line = line.decode()
        if line.strip():
            event = InjectedEvent.model_validate(json.loads(line))
            out.setdefault(event.event_id, event)
    return sorted(out.values(), key=lambda e: (e.start_s, e.event_id))


@dataclass(frozen=True, slots=True)
class DlqRecord:
    """One `telemetry.dlq` record: why, whose (the record key), when (the record's timestamp)."""

    reason: str
    key: str | None
    at: datetime


@dataclass(frozen=True, slots=True)
class TwinOutcomes:
    """The twin's reading outcomes (`first`, `new`, `late`, `duplicate`, ...) and when each was first seen."""

    counts: Mapping[str, float] = field(default_factory=dict)
    first_seen: Mapping[str, datetime] = field(default_factory=dict)


class TypeScore(BaseModel):
    """Detection quality of one scenario type."""

    type: str
    injected: int
    detected: int
    recall: float | None
    true_alerts: int = 0
    false_alerts: int = 0
    precision: float | None = None
    ttd_p50_s: float | None = None
    ttd_max_s: float | None = None
    evidence: dict[str, float] = {}
    detected_by: dict[str, str] = {}  # event id -> first true-positive alert "rule subject_kind:subject_id"
    undetected: list[str] = []
    how: str = ""


class Score(BaseModel):
    """The whole scoring: per type, plus the alert tally."""

    per_type: dict[str, TypeScore]
    alerts: int
    true_positive_alerts: int
    explained_alerts: int
    false_positive_alerts: int
    precision: float | None
    false_positives: list[dict[str, str]] = []
    false_positive_rules: dict[str, int] = {}


def opened(events: Iterable[AlertEvent]) -> list[Alert]:
    """Alert occurrences (one snapshot per id, oldest first): what a reader of the topic sees as opened."""
    return sorted(rebuild(events).values(), key=lambda a: a.created_at)


def _affected(event: InjectedEvent, device_sites: Mapping[str, str]) -> tuple[set[str], set[str], set[str]]:
    """(devices, nodes/lanes, sites) an event affects directly."""
    devices = set(event.devices) | ({event.subject_id} if event.subject_type == "device" else set())
    places = set(event.lanes) | set(event.nodes) | ({event.subject_id} if event.subject_type in ("node", "lane")
                                                    else set())
    sites = places | {device_sites[d] for d in devices if d in device_sites}
    return devices, places, sites


def _matches(alert: Alert, event: InjectedEvent, device_sites: Mapping[str, str]) -> str | None:
    """'direct' when the alert is about an affected subject, 'downstream' when about the site of one,
    else None."""
    devices, places, sites = _affected(event, device_sites)
    if alert.subject_kind is SubjectKind.device:
        return "direct" if alert.subject_id in devices else None
    if alert.subject_kind is SubjectKind.node:
        if alert.subject_id in places:
            return "direct"
        return "downstream" if alert.subject_id in sites else None
    return "direct" if alert.subject_id in sites else None  # a site (group) alert


def _quantile(values: list[float], q: float) -> float | None:
    if not values:
        return None
    s = sorted(values)
    return s[min(len(s) - 1, int(round(q * (len(s) - 1))))]


def _ratio(a: int, b: int) -> float | None:
    return round(a / b, 3) if b else None


def _seconds(a: datetime, b: datetime | None) -> float:
    return (a - b).total_seconds() if b is not None else 0.0


def score(events: list[InjectedEvent], alert_events: Iterable[AlertEvent], dlq: Iterable[DlqRecord],
          outcomes: TwinOutcomes, device_sites: Mapping[str, str], *, grace_s: float = DEFAULT_GRACE_S,
          injected_messages: Mapping[str, int] | None = None) -> Score:
    """Match alerts and engine evidence to the injected events (rules in the module docstring).

    `injected_messages` (the simulator report's `injected`: messages mangled per fleet type) is only
    reported next to the evidence, to compare magnitudes."""
    alerts = opened(alert_events)
    dlq = list(dlq)
    grace = timedelta(seconds=grace_s)
    first_alert: dict[str, datetime] = {}  # event id -> first true-positive alert
    first_by: dict[str, str] = {}
    true_by_type: dict[str, int] = {}
    false_by_type: dict[str, int] = {}
    n_true = n_explained = 0
    false_list: list[Alert] = []
    for alert in alerts:
        verdict = "false"
        for event in events:
            if event.start is None or event.end is None or alert.created_at < event.start:
                continue
            how = _matches(alert, event, device_sites)
            if how == "direct" and alert.created_at <= event.end + grace:
                verdict = "true"
                if event.event_id not in first_alert:
                    first_alert[event.event_id] = alert.created_at
                    first_by[event.event_id] = f"{alert.rule} {alert.subject_kind.value}:{alert.subject_id}"
                true_by_type[event.type] = true_by_type.get(event.type, 0) + 1
                break
            if how is not None:
                verdict = "explained"
        if verdict == "true":
            n_true += 1
        elif verdict == "explained":
            n_explained += 1
        else:
            false_list.append(alert)
            kind = RULE_TYPES.get(alert.rule)
            if kind is not None:
                false_by_type[kind] = false_by_type.get(kind, 0) + 1
    per_type: dict[str, TypeScore] = {}
    for kind in EVENT_TYPES:
        of_kind = [e for e in events if e.type == kind]
        per_type[kind] = _type_score(kind, of_kind, first_alert, dlq, outcomes, grace,
                                     true_by_type.get(kind, 0), false_by_type.get(kind, 0),
                                     (injected_messages or {}).get(kind))
        per_type[kind].detected_by = {e.event_id: first_by[e.event_id] for e in of_kind if e.event_id in first_by}
    rules: dict[str, int] = {}
    for a in false_list:
        rules[a.rule] = rules.get(a.rule, 0) + 1
    return Score(
        per_type=per_type, alerts=len(alerts), true_positive_alerts=n_true, explained_alerts=n_explained,
        false_positive_alerts=len(false_list), precision=_ratio(n_true, n_true + len(false_list)),
        false_positives=[{"rule": a.rule, "subject": f"{a.subject_kind.value}:{a.subject_id}",
                          "created_at": a.created_at.isoformat()} for a in false_list[:20]],
        false_positive_rules=rules,
    )


def _type_score(kind: str, events: list[InjectedEvent], first_alert: Mapping[str, datetime], dlq: list[DlqRecord],
                outcomes: TwinOutcomes, grace: timedelta, n_true: int, n_false: int,
                injected_messages: int | None) -> TypeScore:
    detected_at: dict[str, datetime] = {}
    evidence: dict[str, float] = {}
    if injected_messages is not None:
        evidence["injected_messages"] = float(injected_messages)
    if kind in ALERT_TYPES:
        how = "a true-positive alert on an affected subject"
        detected_at = {e.event_id: first_alert[e.event_id] for e in events if e.event_id in first_alert}
    elif kind == "clock_skew":
        how = "DLQ reason 'skew' keyed by the device"
        for e in events:
            hits = [r.at for r in dlq if r.reason == SKEW_REASON and r.key == e.subject_id
                    and e.start is not None and e.end is not None and e.start <= r.at <= e.end + grace]
            if hits:
                detected_at[e.event_id] = min(hits)
        evidence["dlq_skew"] = float(sum(1 for r in dlq if r.reason == SKEW_REASON))
    elif kind == "malformed":
        how = "DLQ reasons not_json/schema/unknown_metric"
        hits = [r.at for r in dlq if r.reason in MALFORMED_REASONS]
        for reason in sorted(MALFORMED_REASONS):
            evidence[f"dlq_{reason}"] = float(sum(1 for r in dlq if r.reason == reason))
        if hits:
            detected_at = {e.event_id: min(hits) for e in events}
    else:
        label = OUTCOME_FOR[kind]
        how = f"twin outcome '{label}' > 0"
        count = float(outcomes.counts.get(label, 0.0))
        evidence[f"twin_{label}_readings"] = count
        if count > 0:
            seen = outcomes.first_seen.get(label)
            detected_at = {e.event_id: seen for e in events}  # type: ignore[misc]
    starts = {e.event_id: e.start for e in events}
    ttd = [max(0.0, _seconds(at, starts[eid])) for eid, at in detected_at.items() if at is not None]
    meaningful = kind in ALERT_TYPES
    return TypeScore(
        type=kind, injected=len(events), detected=len(detected_at), recall=_ratio(len(detected_at), len(events)),
        true_alerts=n_true, false_alerts=n_false,
        precision=_ratio(n_true, n_true + n_false) if meaningful else None,
        ttd_p50_s=None if not ttd else round(_quantile(ttd, 0.5) or 0.0, 3),
        ttd_max_s=None if not ttd else round(max(ttd), 3),
        evidence=evidence, undetected=sorted(e.event_id for e in events if e.event_id not in detected_at), how=how,
    )


