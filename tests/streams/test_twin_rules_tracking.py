"""The rule evaluator's tracker path, without a broker: a stalled shipment becomes a device condition and
reaches both ends of its lane; the node rule fires for stalls towards several places."""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta, timezone

from streams.twin_rules import RuleEvaluator
from twin.network import SupplyNetwork
from twin.telemetry import Reading

T0 = datetime(2026, 11, 26, 12, 0, tzinfo=timezone.utc)
NODE = {"name": "n", "region": "EU", "capacity": 1000, "inventory": 50_000, "daily_demand": 800,
        "daily_revenue_at_risk": 1, "criticality": 3}
NET = SupplyNetwork.from_dict({
    "meta": {},
    "nodes": [{**NODE, "id": i, "kind": k, "location": {"lat": 0.0, "lon": lon}}
              for i, k, lon in (("P", "port", 0.0), ("X", "warehouse", 1.0), ("Y", "factory", -1.0))],
    "lanes": [{"id": "L1", "src": "P", "dst": "X", "mode": "road", "lead_time_days": 0.25},
              {"id": "L2", "src": "Y", "dst": "P", "mode": "road", "lead_time_days": 0.25}],
    "devices": [{"id": "L1-GPS", "kind": "gps_tracker", "lane_id": "L1", "expected_interval_s": 300},
                {"id": "L2-GPS", "kind": "gps_tracker", "lane_id": "L2", "expected_interval_s": 300}],
})


class Sender:
    def __init__(self) -> None:
        self.conditions = []

    async def condition(self, cond, reading_ts_ms=None) -> None:  # noqa: ANN001
        self.conditions.append(cond)


def fix(dev: str, seq: int, t: float, lon: float) -> Reading:
    return Reading.model_validate({"schema_version": 1, "device_id": dev, "ts": T0 + timedelta(seconds=t),
                                   "seq": seq, "metrics": {"position": {"lat": 0.0, "lon": lon}}})


def test_a_stalled_shipment_alerts_and_tells_both_ends_of_its_lane() -> None:
    sender, stalls = Sender(), []

    async def on_stall(device, lane_id, stalled, at_s) -> None:  # noqa: ANN001
        stalls.append((device.id, lane_id, stalled))

    rules = RuleEvaluator(NET, sender, on_stall=on_stall)  # type: ignore[arg-type]
    dev = next(d for d in NET.devices if d.id == "L1-GPS")

    async def go() -> None:
        for k in range(200):  # parked at lon 0.3 of a ~5 m/s lane for 200 s
            await rules.reading(dev, fix("L1-GPS", k, float(k), 0.3))
        await rules.lanes("P", ["L1"], 200.0)
        await rules.lanes("P", ["L1", "L2"], 201.0)

    asyncio.run(go())
    assert stalls == [("L1-GPS", "L1", True)]
    rules_seen = [(c.rule, c.subject_id, c.firing) for c in sender.conditions]
    # one direction stalled is normal for P (the gate passes no normal first evaluation); two fire
    assert rules_seen == [("shipment_stalled", "L1-GPS", True), ("lanes_stalled", "P", True)]
