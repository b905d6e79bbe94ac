"""Evaluate the alert rules on what the twin sees, and forward what the lifecycle needs.

Per accepted reading: the static rules of the device's kind (cold chain,
vibration, shock) and, for metrics no static rule covers, the statistical
detector. Per node: inventory cover. Per device: silence. Each evaluation
passes the `ConditionGate`, so only edges, level changes and periodic
refreshes reach the alert lifecycle.

Why statistical alerts only where no static rule applies: one injected
problem must raise one alert; a cold-chain breach would otherwise also open
an `anomaly_temperature` alert on the same device.
"""

from __future__ import annotations

from streams.alert_agents import AlertInputs
from twin.aggregates import numeric_metrics
from twin.alerts.catalogue import (ANOMALY_SCORE_THRESHOLD, Subject, anomaly_condition, inventory_condition,
                                   rules_for, silence_condition)
from twin.alerts.gate import ConditionGate
from twin.alerts.models import Condition
from twin.detectors import CompositeConfig, CompositeDetector, DetectorBank
from twin.device_twin import DeviceStatus
from twin.network import Device, SupplyNetwork
from twin.telemetry import Reading

ANOMALY_METRICS = frozenset({"temperature", "humidity", "vibration", "throughput"})
"""Metrics the statistical detector watches (booleans, positions and battery decay are not anomalies)."""

DETECTOR_CONTEXTS = 1_000
"""Contexts remembered per series (~100 B each): bounds a worker with thousands of series to ~100 KB each."""

MAX_SERIES = 50_000
"""Series with a live detector per worker; the least recently seen re-learn when they return."""


def _detector() -> CompositeDetector:
    return CompositeDetector(CompositeConfig(context_capacity=DETECTOR_CONTEXTS))


class RuleEvaluator:
    """Turns readings, inventory and device status into gated conditions for the alert lifecycle."""

    def __init__(self, network: SupplyNetwork, sender: AlertInputs) -> None:
        self._network = network
        self._sender = sender
        self._gate = ConditionGate()
        self._bank = DetectorBank(_detector, max_metrics=MAX_SERIES)
        self._rules = {kind: {r.metric: r for r in rules_for(kind)} for kind in {d.kind for d in network.devices}}
        self._firing: set[tuple[str, str]] = set()
        """(device, rule) pairs last seen firing: only these, and new breaches, build a `Condition`."""

    async def _send(self, conditions: list[Condition], now_s: float, reading_ts_ms: int | None = None) -> None:
        for cond in conditions:
            if self._gate.admit(cond, now_s):
                await self._sender.condition(cond, reading_ts_ms)

    async def reading(self, device: Device, reading: Reading) -> None:
        """Evaluate one accepted reading. Normal values of a rule that is not firing cost a comparison,
        not a `Condition`: that is nearly every reading."""
        ts_s = reading.ts.timestamp()
        rules = self._rules.get(device.kind, {})
        conditions: list[Condition] = []
        for metric, value in numeric_metrics(reading).items():
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
                score = self._bank.update(f"{device.id}|{metric}", ts_s, value)
                key = (device.id, f"anomaly_{metric}")
                if score >= ANOMALY_SCORE_THRESHOLD:
                    self._firing.add(key)
                elif key in self._firing:
                    self._firing.discard(key)
                else:
                    continue
                conditions.append(anomaly_condition(Subject.of_device(device), metric, score))
        if conditions:
            await self._send(conditions, ts_s, int(ts_s * 1000))

    async def inventory(self, node_id: str, on_hand: float, now_s: float) -> None:
        node = self._network.node_by_id[node_id]
        await self._send([inventory_condition(Subject.of_node(node_id), on_hand, node.daily_demand)], now_s)

    async def silence(self, device: Device, status: DeviceStatus, now_s: float) -> None:
        await self._send([silence_condition(device, status)], now_s)
