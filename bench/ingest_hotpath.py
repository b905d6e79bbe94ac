"""The twin worker's per-reading path without Kafka or Faust, in CPU time: what each stage costs.

WHY beside `bench ingest`: on the shared 2-core VM the end-to-end and replayed figures move by ±30 % with
whatever else runs, while this one is the worker's own Python, measured in process CPU time, so a change to the
hot path shows up here first (issue 17). The records are the replayed runs' shape: 2,000 devices, 3 metrics,
each device's readings 1 s apart in event time, grouped by partition into records of 625 readings (a bridge
round of 5,000 readings over 8 partitions).

Passes over the same records, each from an empty twin, each adding one stage of `apply_telemetry`:
  decode   `decode_readings` (pydantic-core validation of every reading, into plain dicts);
  twin     + `apply_fields` (seq window, last values, learned interval);
  window   + the 1-minute window (`add_values`) and the closed windows' history values;
  status   + `refresh_in_place` per device per record;
  rows     + one row per device as JSON (`DeviceEntry.to_row`) every 8 records of a partition (~1 s of it).
A stage's cost is the difference between two passes. Run: `omnitrack bench ingest_hotpath [--readings N] [--json]`.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from datetime import datetime, timedelta, timezone

import orjson

from streams.bridge.bridge import _hash
from streams.records import decode_readings, encode_telemetry
from streams.twin_agents import DeviceEntry
from twin.aggregates import add_values, numeric_values
from twin.device_twin import apply_fields
from twin.liveness import refresh_in_place
from twin.history import closed_window_value

DEVICES, PARTITIONS, PER_RECORD = 2000, 8, 625
"""The replayed runs' shape (bench/ingest_replay.py): see the module docstring."""

ROWS_EVERY = 8
"""Records of a partition between two row flushes: ~1 s of a partition in the replayed runs."""

STAGES = ("decode", "twin", "window", "status", "rows")


def records(n: int) -> list[bytes]:
    first = datetime.now(timezone.utc) - timedelta(seconds=n // DEVICES)
    parts: dict[int, list[dict]] = {}
    for i in range(n):
        device = f"dev-{i % DEVICES:05d}"
        ts = int((first + timedelta(seconds=i // DEVICES)).timestamp() * 1000)
        parts.setdefault(_hash(device) % PARTITIONS, []).append(
            {"schema_version": 1, "device_id": device, "ts": ts, "seq": i // DEVICES,
             "metrics": {"temperature": 4.0 + (i % 40) * 0.1, "humidity": 55.0, "battery": 90.0}})
    return [encode_telemetry(wires[k:k + PER_RECORD]) for wires in parts.values()
            for k in range(0, len(wires), PER_RECORD)]


def one_pass(values: list[bytes], depth: int) -> float:
    """CPU seconds for the first `depth` stages over every record."""
    cache: dict[str, DeviceEntry] = {}
    dirty: dict[str, DeviceEntry] = {}
    started = time.process_time()
    for count, value in enumerate(values, 1):
        readings = decode_readings(value)
        if depth < 2:
            continue
        touched: dict[str, DeviceEntry] = {}
        for reading in readings:
            device_id, ts, present = reading["device_id"], reading["ts"], reading["metrics"]
            entry = touched.get(device_id) or cache.get(device_id) or DeviceEntry(None, None)
            entry.state, outcome = apply_fields(entry.state, device_id, ts, reading.get("seq"), present)
            if depth >= 3 and outcome.accepted:
                entry.window, closed = add_values(entry.window, ts, numeric_values(present))
                for _start, metrics in closed:
                    closed_window_value(metrics)
            touched[device_id] = entry
        now = readings[-1]["ts"]
        for device_id, entry in touched.items():
            if depth >= 4:
                refresh_in_place(entry.state, now, 60.0)
            cache[device_id] = dirty[device_id] = entry
        if depth >= 5 and count % (ROWS_EVERY * PARTITIONS) == 0:
            for entry in dirty.values():
                orjson.dumps(entry.to_row())
            dirty.clear()
    return time.process_time() - started


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="omnitrack bench ingest_hotpath", description=__doc__.splitlines()[0])
    ap.add_argument("--readings", type=int, default=200_000)
    ap.add_argument("--repeat", type=int, default=3, help="rounds of every pass; medians reported")
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args(argv)
    values = records(args.readings)
    cpu = {stage: statistics.median(one_pass(values, depth) for _ in range(args.repeat))
           for depth, stage in enumerate(STAGES, 1)}
    per_reading = {stage: cpu[stage] / args.readings * 1e6 for stage in STAGES}
    stage_us = {stage: per_reading[stage] - (per_reading[STAGES[i - 1]] if i else 0.0)
                for i, stage in enumerate(STAGES)}
    out = {"benchmark": "ingest_hotpath", "readings": args.readings, "records": len(values),
           "readings_per_cpu_s": round(args.readings / cpu["rows"]),
           "us_per_reading": round(per_reading["rows"], 2),
           "stage_us_per_reading": {k: round(v, 2) for k, v in stage_us.items()}}
    print(f"{out['readings_per_cpu_s']} readings/CPU-s ({out['us_per_reading']} µs a reading): "
          + ", ".join(f"{k} {v:.2f} µs" for k, v in out["stage_us_per_reading"].items()))
    if args.json:
        print(json.dumps(out))
    return 0
