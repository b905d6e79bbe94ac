"""The rule evaluator's statistical path, without a broker: the network file's per-metric detection settings
reach it (off, sensitivity), a device's own setting wins, and the default needs no configuration."""

from __future__ import annotations

import asyncio
import gc
import random
from datetime import datetime, timedelta, timezone

from prometheus_client import REGISTRY

from streams.twin_rules import RuleEvaluator
from twin.network import SupplyNetwork
from twin.telemetry import Reading

T0 = datetime(2026, 12, 4, 12, 0, tzinfo=timezone.utc)
NODE = {"id": "S1", "kind": "supplier", "name": "s", "region": "EU", "location": {"lat": 0.0, "lon": 0.0},
        "capacity": 1000, "inventory": 5000, "daily_demand": 100, "daily_revenue_at_risk": 1, "criticality": 3}


def network(net_detection: dict | None = None, dev_detection: dict | None = None) -> SupplyNetwork:
    dev = {"id": "S1-THR", "kind": "throughput", "node_id": "S1", "expected_interval_s": 60}
    if dev_detection is not None:
        dev["detection"] = dev_detection
    data = {"nodes": [NODE], "devices": [dev]}
    if net_detection is not None:
        data["detection"] = net_detection
    return SupplyNetwork.from_dict(data)


class Sender:
    def __init__(self) -> None:
        self.conditions = []

    async def condition(self, cond, reading_ts_ms=None) -> None:  # noqa: ANN001
        self.conditions.append(cond)


def anomaly_alerts(net: SupplyNetwork, rules: RuleEvaluator | None = None,
                   sender: Sender | None = None) -> list[tuple[str, bool]]:
    """Feed 80 ordinary throughput readings, then a collapse to zero; the anomaly conditions sent."""
    sender = sender or Sender()
    rules = rules or RuleEvaluator(net, sender)  # type: ignore[arg-type]
    dev = net.devices[0]
    rnd = random.Random(2)
    values = [1000 * (1 + 0.05 * rnd.gauss(0, 1)) for _ in range(80)] + [0.0]

    async def go() -> None:
        for k, v in enumerate(values):
            reading = Reading.model_validate({"schema_version": 1, "device_id": dev.id, "seq": k,
                                              "ts": T0 + timedelta(seconds=60 * k), "metrics": {"throughput": v}})
            await rules.reading(dev, reading)

    asyncio.run(go())
    return [(c.rule, c.firing) for c in sender.conditions if c.rule.startswith("anomaly_")]


def test_default_settings_alert_on_a_collapse() -> None:
    sender = Sender()
    assert anomaly_alerts(network(), sender=sender) == [("anomaly_throughput", True)]
    detail = sender.conditions[-1].detail  # the detector's words reach the alert, before its score
    assert detail.startswith("throughput 0, the lowest in 81 readings (usual 8") and detail.endswith(
        "; anomaly score 1.000 >= 0.75"), detail


def test_network_can_switch_a_metric_off_and_a_device_can_switch_it_back_on() -> None:
    assert anomaly_alerts(network({"throughput": {"detector": "off"}})) == []
    on_again = network({"throughput": {"detector": "off"}}, {"throughput": {"detector": "sequence"}})
    assert anomaly_alerts(on_again) == [("anomaly_throughput", True)]


def test_sensitivity_zero_alerts_only_on_the_strongest_evidence() -> None:
    # the collapse scores 1.0 (far outside the range), so even the least sensitive setting alerts
    assert anomaly_alerts(network({"throughput": {"sensitivity": 0.0}})) == [("anomaly_throughput", True)]


def sample(name: str, **labels: str) -> float:
    """A metric's value in this process's registry (0 before its first increment)."""
    return REGISTRY.get_sample_value(name, labels) or 0.0


def test_the_worker_exports_anomaly_onsets_and_detector_starts() -> None:
    """`omnitrack_twin_anomalies_total` counts the collapse's onset;
    `omnitrack_twin_detector_starts_total` counts each series' detector started from nothing, which a restarted
    worker does again (its detectors live in memory); `omnitrack_twin_detector_series` the live ones."""
    gc.collect()  # evaluators of earlier tests no longer count as live
    net = network()
    anomalies, starts = (sample("omnitrack_twin_anomalies_total", metric="throughput"),
                         sample("omnitrack_twin_detector_starts_total", metric="throughput"))
    series = sample("omnitrack_twin_detector_series")
    sender = Sender()
    rules = RuleEvaluator(net, sender)  # type: ignore[arg-type]
    assert anomaly_alerts(net, rules, sender) == [("anomaly_throughput", True)]
    assert sample("omnitrack_twin_anomalies_total", metric="throughput") == anomalies + 1
    assert sample("omnitrack_twin_detector_starts_total", metric="throughput") == starts + 1
    assert sample("omnitrack_twin_detector_series") == series + 1
    restarted = RuleEvaluator(net, Sender())  # type: ignore[arg-type]
    anomaly_alerts(net, restarted)
    assert sample("omnitrack_twin_detector_starts_total", metric="throughput") == starts + 2
    assert sample("omnitrack_twin_detector_series") == series + 2


def test_a_gaussian_metric_alert_says_how_far_the_reading_lay_from_the_recent_mean() -> None:
    sender = Sender()
    # the collapse alone: not the series' second reading (a window of one reading, no spread), as it once did
    assert anomaly_alerts(network({"throughput": {"detector": "gaussian"}}), sender=sender) == [
        ("anomaly_throughput", True)]
    detail = sender.conditions[-1].detail
    assert detail.startswith("throughput 0, ") and " standard deviations below the recent mean (" in detail, detail
