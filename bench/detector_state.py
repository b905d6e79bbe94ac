"""What saving and resuming the twin's detectors costs (`omnitrack bench detector_state`).

WHY: since detectors are saved every `SAVE_EVERY` readings of a device (streams/detector_state.py), the twin
worker's rule evaluation does more per reading, and each save writes a row to the `detectors` changelog. This
replays one fleet's readings through `RuleEvaluator.observe` twice in the same process, without a store (as before)
and with one (a dict standing in for the table), alternating rounds so machine noise hits both alike, and reports
the ratio; then the size of a device's row and the time to save and to resume it.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import statistics
import time
from typing import Any

from streams.detector_state import SAVE_AFTER_S, SAVE_EVERY, MemoryStore
from streams.twin_rules import RuleEvaluator
from twin.network import SupplyNetwork


class _Sender:
    async def condition(self, cond: Any, reading_ts_ms: int | None = None) -> None:
        return None


def _network(devices: int) -> SupplyNetwork:
    node = {"id": "N1", "kind": "factory", "name": "n", "region": "EU", "location": {"lat": 0.0, "lon": 0.0},
            "capacity": 1000, "inventory": 5000, "daily_demand": 100, "daily_revenue_at_risk": 1, "criticality": 3}
    return SupplyNetwork.from_dict({"nodes": [node], "devices": [
        {"id": f"D{i:05d}", "kind": "throughput", "node_id": "N1", "expected_interval_s": 60} for i in range(devices)]})


def _replay(net: SupplyNetwork, store: MemoryStore | None, readings: int, seed: int, interval_s: float,
            rules: RuleEvaluator | None = None) -> float:
    """Seconds of CPU for `readings` readings per device, `interval_s` apart, through `rules` (a new evaluator by
    default)."""
    rules = rules or RuleEvaluator(net, _Sender(), detector_store=store)  # type: ignore[arg-type]
    rnd = random.Random(seed)
    values = [1000.0 * (1 + 0.05 * rnd.gauss(0, 1)) for _ in range(997)]
    devices = net.devices

    async def go() -> None:
        for k in range(readings):
            ts = 1.7e9 + interval_s * k
            for j, dev in enumerate(devices):
                await rules.observe(dev, ts, {"throughput": values[(k * 31 + j) % 997]}, None)

    start = time.process_time()
    asyncio.run(go())
    return time.process_time() - start


def run(devices: int, readings: int, rounds: int, interval_s: float = 1.0) -> dict[str, Any]:
    net = _network(devices)
    plain, saving, rows = [], [], {}
    for r in range(rounds):
        plain.append(_replay(net, None, readings, r, interval_s))
        store = MemoryStore()
        saving.append(_replay(net, store, readings, r, interval_s))
        rows = store.rows
    n = devices * readings
    sizes = [len(row) for row in rows.values()]
    resume_s = _resume_cost(net, rows)
    shutdown_s, shutdown_saved = _shutdown_cost(net, interval_s)
    return {
        "benchmark": "detector_state", "devices": devices, "readings_per_device": readings, "rounds": rounds,
        "save_every": SAVE_EVERY, "save_after_s": SAVE_AFTER_S, "interval_s": interval_s,
        "us_per_reading_without_store": round(min(plain) / n * 1e6, 2),
        "us_per_reading_with_store": round(min(saving) / n * 1e6, 2),
        "ratio": round(min(saving) / min(plain), 3),
        "row_bytes_median": int(statistics.median(sizes)) if sizes else 0,
        "row_bytes_max": max(sizes, default=0),
        "resume_ms_per_device": round(resume_s / max(len(rows), 1) * 1e3, 3),
        "shutdown_saved_devices": shutdown_saved,
        "shutdown_save_ms_per_device": round(shutdown_s / max(shutdown_saved, 1) * 1e3, 3),
    }


def _shutdown_cost(net: SupplyNetwork, interval_s: float) -> tuple[float, int]:
    """CPU seconds of the save at a graceful stop (`RuleEvaluator.save_detectors`) with every device 13 readings
    past its last save: what a stopping worker adds to its shutdown, per device it holds; and the devices saved."""
    rules = RuleEvaluator(net, _Sender(), detector_store=MemoryStore())  # type: ignore[arg-type]
    _replay(net, None, SAVE_EVERY + 13, 0, interval_s, rules)
    start = time.process_time()
    saved = rules.save_detectors()
    return time.process_time() - start, saved


def _resume_cost(net: SupplyNetwork, rows: dict[str, bytes]) -> float:
    """CPU seconds for a new evaluator (a restarted worker) to resume every device's detector."""
    store = MemoryStore()
    store.rows = dict(rows)
    rules = RuleEvaluator(net, _Sender(), detector_store=store)  # type: ignore[arg-type]

    async def go() -> None:
        for dev in net.devices:
            await rules.observe(dev, 1.7e9, {"throughput": 1000.0}, None)

    start = time.process_time()
    asyncio.run(go())
    return time.process_time() - start


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="omnitrack bench detector_state", description=__doc__.splitlines()[0])
    parser.add_argument("--devices", type=int, default=200)
    parser.add_argument("--readings", type=int, default=1_000, help="readings per device")
    parser.add_argument("--rounds", type=int, default=3, help="alternating rounds; the best of each is compared")
    parser.add_argument("--interval", type=float, default=1.0,
                        help=f"seconds between a device's readings (saves come every {SAVE_EVERY} readings or "
                             f"{SAVE_AFTER_S:.0f} s of device time)")
    parser.add_argument("--json", action="store_true", help="print one JSON object last")
    args = parser.parse_args(argv)
    result = run(args.devices, args.readings, args.rounds, args.interval)
    print(f"detector state: {args.devices} devices x {args.readings} readings {args.interval:g} s apart, saved every "
          f"{SAVE_EVERY} readings or {SAVE_AFTER_S:.0f} s: "
          f"{result['us_per_reading_without_store']} us/reading without a store, "
          f"{result['us_per_reading_with_store']} with (x {result['ratio']}); a device's row "
          f"{result['row_bytes_median']} B median, {result['row_bytes_max']} B max; resume "
          f"{result['resume_ms_per_device']} ms a device; the save at a graceful stop "
          f"{result['shutdown_save_ms_per_device']} ms a device")
    if args.json:
        print(json.dumps(result))
    return 0
