"""Evaluate the alert rules on what the twin sees, and forward what the lifecycle needs.

Per accepted reading: the static rules of the device's kind (cold chain,
vibration, shock) and, for metrics no static rule covers, the statistical
detector; for a GPS tracker on a lane, whether its shipment still progresses
(`twin.tracking`). Per node: inventory cover, and stalled lanes towards several
places (`lanes_stalled`). Per device: silence. Each evaluation
passes the `ConditionGate`, so only edges, level changes and periodic
refreshes reach the alert lifecycle.

Why statistical alerts only where no static rule applies: one injected
problem must raise one alert; a cold-chain breach would otherwise also open
an `anomaly_temperature` alert on the same device.
"""

from __future__ import annotations

import logging
import weakref
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from functools import partial

from prometheus_client import Counter, Gauge

from streams.alert_agents import AlertInputs
from streams.detector_state import DetectorStore, SavedDetectors, fingerprint
from twin.aggregates import numeric_metrics
from twin.alerts.catalogue import (Subject, anomaly_condition, inventory_condition,
                                   lanes_stalled_condition, rules_for, silence_condition, stall_condition)
from twin.alerts.gate import ConditionGate
from twin.alerts.models import Condition
from twin.detectors import Detector, DetectorBank, DetectorKind, MetricDetection, make_detector, resolve_detection
from twin.detectors.base import words_for
from twin.device_twin import DeviceStatus
from twin.network import Device, DeviceKind, SupplyNetwork
from twin.telemetry import Position, Reading
from twin.tracking import TrackerState, lane_motions, stalled_neighbours, update_tracker

ANOMALY_METRICS = frozenset({"temperature", "humidity", "vibration", "throughput"})
"""Metrics the statistical detector watches (booleans, positions and battery decay are not anomalies)."""

DETECTOR_CONTEXTS = 2_000
"""Contexts remembered per model and series (two models, ~250 B a context). 500 made a noisy series forget
contexts it needed and find them new again (~1 false alert per 3,000 readings of plain noise); with 2,000 a noisy
series settles near 800 contexts, ~0.3 MB, and a steady sensor uses a few hundred."""

DETECTOR_MEMORY = 1_000
"""Readings kept per series to re-learn the level model from when its range grows or is refitted (8 B each). With 500
(83 minutes at 10-second readings) each re-learning left the model knowing too little of the series, which then
found its own habits new: null series at 10-second readings, 4 x 6 days of ten families (docs/detection-rounds.md,
eighteenth round), raised 50 alerts, 22 with 1,000 (19 with the offline 2,000); at one a minute 7 and 6. A saved
detector grows from 8.8-9.0 to 12.9-13.1 KB (a noisy daily cycle after 41 days at 5 minutes, zlib)."""

MAX_SERIES = 20_000
"""Series with a live detector per worker (at most ~6 GB of noisy series, far less in practice); the least
recently seen re-learn when they return."""

MAX_TRACKERS = 50_000
"""Trackers with a movement state per worker (~150 B each); the least recently seen start a new window."""

log = logging.getLogger(__name__)

ANOMALIES = Counter("omnitrack_twin_anomalies_total",
                    "Anomaly onsets: a metric's detector score reaching its alert threshold while not firing",
                    ["metric"])
DETECTOR_STARTS = Counter("omnitrack_twin_detector_starts_total",
                          "Anomaly detectors started from nothing (a series with no saved state to resume: new, "
                          "or its state refused): each learns the series before it can alert",
                          ["metric"])
DETECTOR_ERRORS = Counter("omnitrack_twin_detector_errors_total",
                          "Anomaly detectors that raised on a reading: dropped, the series starts afresh", ["metric"])
DETECTOR_SERIES = Gauge("omnitrack_twin_detector_series", "Series with a live anomaly detector in this worker")
_EVALUATORS: "weakref.WeakSet[RuleEvaluator]" = weakref.WeakSet()
DETECTOR_SERIES.set_function(lambda: sum(evaluator.detector_series() for evaluator in _EVALUATORS))

StallSink = Callable[[Device, str, bool, float], Awaitable[None]]
"""Told (tracker, lane id, stalled, device time) when a shipment stalls or moves again: feeds the node rule."""


class RuleEvaluator:
    """Turns readings, inventory and device status into gated conditions for the alert lifecycle."""

    def __init__(self, network: SupplyNetwork, sender: AlertInputs, on_stall: StallSink | None = None,
                 detector_store: DetectorStore | None = None) -> None:
        self._network = network
        self._sender = sender
        self._on_stall = on_stall
        self._lanes = lane_motions(network)
        self._trackers: OrderedDict[str, TrackerState] = OrderedDict()
        self._gate = ConditionGate()
        self._bank = DetectorBank(max_metrics=MAX_SERIES)
        self._saved = SavedDetectors(detector_store, self._bank) if detector_store is not None else None
        """Where the detectors resume from after a restart or a rebalance (streams/detector_state.py)."""
        self._detection: dict[tuple[str, str], tuple[MetricDetection, Callable[[], Detector]]] = {}
        """(device, metric) -> its detection settings and detector factory, resolved from the network once."""
        self._rules = {kind: {r.metric: r for r in rules_for(kind)} for kind in {d.kind for d in network.devices}}
        self._firing: set[tuple[str, str]] = set()
        """(device, rule) pairs last seen firing: only these, and new breaches, build a `Condition`."""
        _EVALUATORS.add(self)

    async def _send(self, conditions: list[Condition], now_s: float, reading_ts_ms: int | None = None) -> None:
        for cond in conditions:
            if self._gate.admit(cond, now_s):
                await self._sender.condition(cond, reading_ts_ms)

    async def reading(self, device: Device, reading: Reading) -> None:
        """Evaluate one accepted reading given as a `Reading` model (`observe` takes its fields)."""
        await self.observe(device, reading.ts.timestamp(), numeric_metrics(reading), reading.metrics.position)

    async def observe(self, device: Device, ts_s: float, values: dict[str, float], position: Position | None) -> None:
        """Evaluate one accepted reading given as its time (epoch s), `numeric_values` and GPS fix. Normal values
        of a rule that is not firing cost a comparison, not a `Condition`: that is nearly every reading."""
        rules = self._rules.get(device.kind, {})
        conditions: list[Condition] = []
        watched = False
        for metric, value in values.items():
            rule = rules.get(metric)
            if rule is not None:
                key = (device.id, rule.name)
                if rule.breached(value):
                    self._firing.add(key)
                elif key in self._firing:
                    self._firing.discard(key)
                else:
                    continue
                conditions.append(rule.check(Subject.of_device(device), value))
            elif metric in ANOMALY_METRICS:
                settings, factory = self._settings(device, metric)
                if settings.detector is DetectorKind.off:
                    continue
                if not watched and self._saved is not None:
                    self._saved.check(device.id)  # after a rebalance: is another worker's saved state newer?
                watched = True
                try:
                    score = self._bank.update(f"{device.id}|{metric}", ts_s, value, factory)
                except Exception as exc:  # noqa: BLE001 - one series' detector must not stop the twin
                    score = self._detector_failed(device.id, metric, exc)
                key = (device.id, f"anomaly_{metric}")
                why = ""
                if score >= settings.threshold:
                    if key not in self._firing:
                        ANOMALIES.labels(metric).inc()
                    self._firing.add(key)
                    why = self._describe(device.id, metric, value)
                elif key in self._firing:
                    self._firing.discard(key)
                else:
                    continue
                conditions.append(anomaly_condition(Subject.of_device(device), metric, score, settings.threshold, why))
        if watched and self._saved is not None:
            self._saved.observed(device.id, ts_s)
        if position is not None and device.kind is DeviceKind.gps_tracker:
            await self._track(device, position, ts_s)
        if conditions:
            await self._send(conditions, ts_s, int(ts_s * 1000))

    def _detector_failed(self, device_id: str, metric: str, exc: Exception) -> float:
        """A detector raised (a bug, or state resumed from a row it cannot use): the reading scores 0, the
        detector is dropped, and the series starts from nothing at its next reading."""
        log.error("anomaly detector of %s/%s failed, starting it afresh: %r", device_id, metric, exc, exc_info=exc)
        DETECTOR_ERRORS.labels(metric).inc()
        self._bank.drop(f"{device_id}|{metric}")
        if self._saved is not None:
            self._saved.failed(device_id, metric)
        return 0.0

    def _describe(self, device_id: str, metric: str, value: float) -> str:
        """The detector's words for the reading that fired (`twin.detectors.base.words_for`); "" from a detector
        that has none, or fails to say."""
        try:
            return words_for(self._bank.peek(f"{device_id}|{metric}"), value)
        except Exception as exc:  # noqa: BLE001 - words are a courtesy: the alert goes out without them
            log.warning("no description of the %s/%s anomaly: %r", device_id, metric, exc)
            return ""

    def detector_series(self) -> int:
        """Series with a live detector here."""
        return len(self._bank)

    def save_detectors(self) -> int:
        """Save every device's detectors that learned since their last save (at a rebalance or shutdown, after the
        last record): a deploy, a scale-out or a scale-in then costs the fleet's detectors nothing they learned.
        Returns the devices saved."""
        if self._saved is None:
            return 0
        saved = self._saved.save_unsaved()
        log.info("saved the anomaly detectors of %d devices", saved)
        return saved

    def partitions_revoked(self) -> None:
        """Partitions moved: detectors held here may be older than what their new owner saved meanwhile."""
        if self._saved is not None:
            self._saved.revoked()

    def _settings(self, device: Device, metric: str) -> tuple[MetricDetection, Callable[[], Detector]]:
        """The metric's detection settings and the factory of its detector, resolved once per (device, metric):
        this runs for every reading."""
        key = (device.id, metric)
        found = self._detection.get(key)
        if found is None:
            settings = resolve_detection(metric, device.detection, self._network.detection)
            limits = {"capacity": DETECTOR_CONTEXTS, "memory": DETECTOR_MEMORY}
            make = partial(make_detector, settings, **limits)
            starts, saved, fp = DETECTOR_STARTS.labels(metric), self._saved, fingerprint(settings, **limits)

            def start() -> Detector:
                fresh = make()
                if fresh is None:  # detection off: never asked for a detector (`observe` skips the metric)
                    raise ValueError(f"no detector for {metric}: detection is off")
                if saved is not None:
                    resumed = saved.resume(device.id, metric, fresh, fp)
                    if resumed is not fresh:
                        return resumed
                starts.inc()
                return fresh

            found = settings, start
            self._detection[key] = found
        return found

    async def _track(self, device: Device, pos: Position, ts_s: float) -> None:
        """Shipment movement of a tracker on a lane: a stall (or its end) becomes a device condition and
        goes to the lane's end nodes through `on_stall`."""
        lane = self._lanes.get(device.lane_id) if device.lane_id else None
        if lane is None:
            return
        trackers = self._trackers
        state, changed = update_tracker(trackers.get(device.id), ts_s, pos.lat, pos.lon, lane)
        trackers[device.id] = state
        trackers.move_to_end(device.id)
        if len(trackers) > MAX_TRACKERS:
            trackers.popitem(last=False)
        if changed:
            await self._send([stall_condition(device, state.stalled, lane.lane_id)], ts_s, int(ts_s * 1000))
            if self._on_stall is not None:
                await self._on_stall(device, lane.lane_id, state.stalled, ts_s)

    async def lanes(self, node_id: str, stalled_lanes: list[str], now_s: float) -> None:
        """The node rule on the node's lanes that have a stalled shipment now."""
        neighbours = stalled_neighbours(node_id, stalled_lanes, self._lanes)
        await self._send([lanes_stalled_condition(node_id, neighbours)], now_s)

    async def inventory(self, node_id: str, on_hand: float, now_s: float) -> None:
        node = self._network.node_by_id[node_id]
        await self._send([inventory_condition(Subject.of_node(node_id), on_hand, node.daily_demand)], now_s)

    async def silence(self, device: Device, status: DeviceStatus, now_s: float) -> None:
        await self._send([silence_condition(device, status)], now_s)
