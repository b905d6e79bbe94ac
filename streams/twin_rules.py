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
from twin.alerts.catalogue import (Subject, anomaly_condition, inventory_condition, metric_conditions, rules_for,
                                   silence_condition)
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
        self._ruled = {kind: frozenset(r.metric for r in rules_for(kind)) for kind in {d.kind for d in network.devices}}

    async def _send(self, conditions: list[Condition], now_s: float, reading_ts_ms: int | None = None) -> None:
        for cond in conditions:
            if self._gate.admit(cond, now_s):
                await self._sender.condition(cond, reading_ts_ms)

    async def reading(self, device: Device, reading: Reading) -> None:
        ts_s = reading.ts.timestamp()
        ruled = self._ruled.get(device.kind, frozenset())
        conditions: list[Condition] = []
        for metric, value in numeric_metrics(reading).items():
            if metric in ruled:
                conditions.extend(metric_conditions(device, metric, value))
            elif metric in ANOMALY_METRICS:
                score = self._bank.update(f"{device.id}|{metric}", ts_s, value)
                conditions.append(anomaly_condition(Subject.of_device(device), metric, score))
        await self._send(conditions, ts_s, int(ts_s * 1000))

    async def inventory(self, node_id: str, on_hand: float, now_s: float) -> None:
        node = self._network.node_by_id[node_id]
        await self._send([inventory_condition(Subject.of_node(node_id), on_hand, node.daily_demand)], now_s)

    async def silence(self, device: Device, status: DeviceStatus, now_s: float) -> None:
        await self._send([silence_condition(device, status)], now_s)
