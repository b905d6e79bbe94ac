"""The rule catalogue: detector outputs and twin changes -> `Condition`s, with units and named defaults.

WHY a catalogue keyed by device kind: which limits apply follows from what a device measures
(`twin.network.DEVICE_KIND_METRICS`); the streaming agent should not hard-code that a reefer probe gets the
cold-chain rule and a conveyor sensor the vibration rule. Rules are pure and stateless; hysteresis and
identity live in the lifecycle, so every rule here is a plain "is it outside its limit now" check.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import NamedTuple

from twin.alerts.errors import UnitError
from twin.alerts.models import Condition, Severity, SubjectKind
from twin.alerts.severity import level_for_deviation
from twin.detectors.profile import DEFAULT_DETECTION
from twin.detectors.rules import convert
from twin.device_twin import DeviceStatus
from twin.network import Device, DeviceKind
from twin.node_twin import CRITICAL_COVER_DAYS, DEGRADED_COVER_DAYS, HealthLevel, NodeHealth
from twin.tracking import MIN_STALLED_NEIGHBOURS

__all__ = [
    "Subject",
    "StaticRule",
    "COLD_CHAIN",
    "VIBRATION",
    "SHOCK",
    "DEVICE_RULES",
    "rules_for",
    "metric_conditions",
    "anomaly_condition",
    "inventory_condition",
    "silence_condition",
    "health_condition",
    "stall_condition",
    "lanes_stalled_condition",
]

# Cold chain (WHO/EU GDP 2-8 degC for vaccines and biologics): prevents shipping product that froze or warmed.
COLD_CHAIN_LOW_C = 2.0
COLD_CHAIN_HIGH_C = 8.0
# Each 2 degC further out raises the level: 4 degC out (freezing, or 12 degC) is critical - product loss.
COLD_CHAIN_STEP_C = 2.0
# Vibration velocity RMS above ISO 10816-3 zone C (7.1 mm/s, medium machines): prevents running conveyors and
# reefer compressors into bearing failure, and transit damage to goods.
VIBRATION_MAX_MM_S = 7.1
VIBRATION_STEP_MM_S = 4.0
# Peak shock above 5 g (typical drop threshold for palletised electronics / glass vials): prevents releasing
# goods that were dropped without an inspection.
SHOCK_MAX_G = 5.0
SHOCK_STEP_G = 5.0
# Days of cover below which a site is degraded (same as the node twin): prevents a stock-out that a one-week
# upstream disruption would cause; each step down to CRITICAL_COVER_DAYS raises the level.
INVENTORY_COVER_MIN_DAYS = DEGRADED_COVER_DAYS
INVENTORY_COVER_STEP_DAYS = (DEGRADED_COVER_DAYS - CRITICAL_COVER_DAYS) / 2.0
# Detector score at which a statistical anomaly fires when the network file says nothing (sensitivity 0.5, see
# twin.detectors.profile): prevents alerting on ordinary noise while still catching changes no static rule
# describes.
ANOMALY_SCORE_THRESHOLD = DEFAULT_DETECTION.threshold
# Score at which an anomaly is a warning rather than info: statistical alerts page only when overwhelming.
ANOMALY_SCORE_WARNING = 0.95

# Linear units the detectors' table lacks: (dimension, factor to the base unit). Telemetry spells degC as °C.
_LINEAR: dict[str, tuple[str, float]] = {
    "mm/s": ("velocity", 1.0),
    "in/s": ("velocity", 25.4),
    "g": ("acceleration", 1.0),
    "m/s2": ("acceleration", 1.0 / 9.80665),
}
_ALIASES = {"°C": "degC", "°F": "degF", "m/s²": "m/s2"}


def to_unit(value: float, from_unit: str, to_unit_: str) -> float:
    """Convert between units of one dimension; `UnitError` when that is impossible (never guess)."""
    a, b = _ALIASES.get(from_unit, from_unit), _ALIASES.get(to_unit_, to_unit_)
    if a == b:
        return value
    if a in _LINEAR or b in _LINEAR:
        if a not in _LINEAR or b not in _LINEAR or _LINEAR[a][0] != _LINEAR[b][0]:
            raise UnitError(f"cannot convert {from_unit} to {to_unit_}")
        return value * _LINEAR[a][1] / _LINEAR[b][1]
    try:
        return convert(value, a, b)
    except ValueError as exc:
        raise UnitError(str(exc)) from None


class Subject(NamedTuple):
    """Who an alert is about, and the site (node or lane) whose partition owns it."""

    kind: SubjectKind
    id: str
    site_id: str

    @classmethod
    def of_device(cls, device: Device) -> "Subject":
        return cls(SubjectKind.device, device.id, device.site_id)

    @classmethod
    def of_node(cls, node_id: str) -> "Subject":
        return cls(SubjectKind.node, node_id, node_id)


def _condition(subject: Subject, rule: str, firing: bool, level: Severity, value: float | None,
               unit: str | None, detail: str) -> Condition:
    return Condition(
        subject_kind=subject.kind, subject_id=subject.id, site_id=subject.site_id, rule=rule, firing=firing,
        level=level, value=None if value is None or not math.isfinite(value) else value, unit=unit,
        detail=detail,
    )


@dataclass(frozen=True, slots=True)
class StaticRule:
    """A business limit on one metric: fires strictly outside [low, high] (bounds inclusive, as in specs).

    ``step`` is how far beyond the limit (in ``unit``) each further severity level lies.
    """

    name: str
    metric: str
    unit: str
    low: float | None
    high: float | None
    step: float

    def breached(self, value: float) -> bool:
        """The cheap test behind `check` (value in the rule's unit): lets a hot path skip building
        a normal `Condition` for every reading."""
        return (math.isnan(value) or (self.low is not None and value < self.low)
                or (self.high is not None and value > self.high))

    def check(self, subject: Subject, value: float, unit: str | None = None) -> Condition:
        """Evaluate one reading given in `unit` (default: the rule's). NaN is a breach (a broken probe)."""
        v = value if unit is None else to_unit(value, unit, self.unit)
        if math.isnan(v):
            deviation = math.inf
        elif self.low is not None and v < self.low:
            deviation = self.low - v
        elif self.high is not None and v > self.high:
            deviation = v - self.high
        else:
            return _condition(subject, self.name, False, Severity.warning, v, self.unit, "")
        level = level_for_deviation(deviation, self.step)
        detail = (f"{self.metric} {v:.2f} {self.unit} is {deviation:.2f} {self.unit} "
                  f"outside [{self.low}, {self.high}]")
        return _condition(subject, self.name, True, level, v, self.unit, detail)


COLD_CHAIN = StaticRule("cold_chain", "temperature", "degC", COLD_CHAIN_LOW_C, COLD_CHAIN_HIGH_C,
                        COLD_CHAIN_STEP_C)
VIBRATION = StaticRule("vibration_high", "vibration", "mm/s", None, VIBRATION_MAX_MM_S, VIBRATION_STEP_MM_S)
SHOCK = StaticRule("shock_high", "shock", "g", None, SHOCK_MAX_G, SHOCK_STEP_G)

# Static rules per device kind; every numeric metric additionally gets the statistical anomaly rule.
DEVICE_RULES: dict[DeviceKind, tuple[StaticRule, ...]] = {kind: () for kind in DeviceKind}
DEVICE_RULES.update({
    DeviceKind.reefer_temperature: (COLD_CHAIN,),
    DeviceKind.vibration: (VIBRATION,),
    DeviceKind.shock: (SHOCK,),
})


def rules_for(kind: DeviceKind) -> tuple[StaticRule, ...]:
    return DEVICE_RULES[kind]


def metric_conditions(device: Device, metric: str, value: float, unit: str | None = None) -> list[Condition]:
    """Static-rule conditions for one reading of `metric` from `device` (empty when no rule covers it)."""
    subject = Subject.of_device(device)
    return [r.check(subject, value, unit) for r in DEVICE_RULES[device.kind] if r.metric == metric]


def anomaly_condition(subject: Subject, metric: str, score: float,
                      threshold: float = ANOMALY_SCORE_THRESHOLD, why: str = "") -> Condition:
    """Statistical rule on a detector score in [0, 1]; rule name `anomaly_<metric>` (one alert per metric). `why`:
    the detector's words for what it saw (e.g. "0, the lowest in 1200 readings (usual 950 to 1050)"), which an
    operator needs more than the score."""
    firing = score >= threshold
    level = Severity.warning if score >= ANOMALY_SCORE_WARNING else Severity.info
    reason = f"{metric} {why}; " if why else f"{metric} "
    detail = f"{reason}anomaly score {score:.3f} >= {threshold}" if firing else ""
    return _condition(subject, f"anomaly_{metric}", firing, level, score, "score", detail)


def inventory_condition(subject: Subject, on_hand_units: float, daily_demand_units: float,
                        min_days: float = INVENTORY_COVER_MIN_DAYS) -> Condition:
    """Fires when days of cover fall below `min_days`; zero demand never fires (cover is unbounded)."""
    if daily_demand_units <= 0:
        return _condition(subject, "inventory_cover", False, Severity.warning, None, "d", "")
    cover = max(on_hand_units, 0.0) / daily_demand_units
    if cover >= min_days:
        return _condition(subject, "inventory_cover", False, Severity.warning, cover, "d", "")
    level = level_for_deviation(min_days - cover, INVENTORY_COVER_STEP_DAYS)
    return _condition(subject, "inventory_cover", True, level, cover, "d",
                      f"{cover:.1f} days of cover < {min_days}")


# Offline is worse than stale: stale may be one lost message, offline means we are blind to that device.
_SILENCE_LEVEL = {DeviceStatus.stale: Severity.warning, DeviceStatus.offline: Severity.major}


def silence_condition(device: Device, status: DeviceStatus) -> Condition:
    """From the device twin's status (`refresh_status` changes): stale/offline fire, online is normal."""
    level = _SILENCE_LEVEL.get(status)
    return _condition(Subject.of_device(device), "device_silence", level is not None,
                      level or Severity.warning, None, None, f"device {status.value}" if level else "")


def stall_condition(device: Device, stalled: bool, lane_id: str | None = None) -> Condition:
    """From `twin.tracking.update_tracker`: a tracked shipment not progressing along its lane (warning:
    one shipment's delay; the node rule `lanes_stalled` says when it is a place's problem)."""
    detail = f"shipment on lane {lane_id or device.site_id} stopped progressing" if stalled else ""
    return _condition(Subject.of_device(device), "shipment_stalled", stalled, Severity.warning, None, None, detail)


def lanes_stalled_condition(node_id: str, neighbours: set[str] | frozenset[str],
                            min_neighbours: int = MIN_STALLED_NEIGHBOURS) -> Condition:
    """Shipments stalled on the node's lanes towards at least `min_neighbours` distinct other nodes: the node
    itself is the bottleneck (a closed port, a strike, a blocked terminal). Major: every lane through it waits;
    critical from three times that many directions. The value is the number of stalled directions."""
    n = len(neighbours)
    firing = n >= min_neighbours
    level = Severity.critical if n >= 3 * min_neighbours else Severity.major
    detail = (f"shipments stalled on lanes to/from {n} nodes: {', '.join(sorted(neighbours)[:10])}"
              if firing else "")
    return _condition(Subject.of_node(node_id), "lanes_stalled", firing, level, float(n), "lanes", detail)


_HEALTH_LEVEL = {HealthLevel.degraded: Severity.warning, HealthLevel.critical: Severity.critical}


def health_condition(health: NodeHealth) -> Condition:
    """From the node twin: degraded/critical fire (reasons become the detail), ok is normal."""
    level = _HEALTH_LEVEL.get(health.level)
    return _condition(Subject.of_node(health.node_id), "node_health", level is not None,
                      level or Severity.warning, health.days_of_cover, "d" if health.days_of_cover is not None
                      else None, "; ".join(health.reasons)[:2000])
