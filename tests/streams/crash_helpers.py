"""Helpers of the kill-and-recover tests (tests/streams/test_crash_recovery.py, tests/faults/): readings to
publish, a publisher in the background, and the twin recomputed offline from the telemetry topic."""

from __future__ import annotations

import json
import threading
import time
from datetime import datetime, timedelta, timezone

import orjson

from streams.records import decode_telemetry
from streams.worker import assignments
from tests.streams.conftest import Engine, Publisher, latest_by_key, read_topic, wait_for
from twin.device_twin import apply_reading
from twin.telemetry import Reading

__all__ = ["N_DEVICES", "IGNORED", "items", "start_pipeline", "publish_in_background", "rows", "telemetry_pairs",
           "twin_from_telemetry", "twin_rows_equal_recomputation"]

N_DEVICES = 200

IGNORED = frozenset({"duplicates", "too_old", "status", "window"})
"""Twin fields that legitimately differ from a recomputation: `duplicates` counts deliveries (a restarted worker
re-reads records past its last commit), and so does `too_old`: a worker killed again and again before it commits
re-reads an ever longer stretch while its flushed rows run ahead, and a repeat more than SEQ_WINDOW (256) readings
of its device back can no longer be told from a reading never seen, so it is counted `too_old`, not `duplicate`
(seen in CI, 2026-12-05: 9 of one device's readings in the worker kill loop; every other field equal, so nothing
was lost or applied twice); `status` depends on wall-clock time, `window` on when rows flushed. A reading wrongly
taken for too old would still show: it would be missing from `readings_applied`."""


def start_pipeline(engine: Engine, network: dict | None = None) -> None:
    """Start the bridge and a twin worker, and wait until the bridge has subscribed (readings are not lost
    before that, but a kill must come once the pipeline runs). With a `network` (a network file's content): the
    engine runs on it, and the wait lasts until the worker holds partitions too."""
    if network is not None:
        path = engine.home / "network.json"
        path.write_text(json.dumps(network))
        engine.env["OMNITRACK_NETWORK_FILE"] = str(path)
    engine.start("bridge")
    engine.start("worker")
    wait_for(lambda: "bridge running" in engine.log("bridge"), 60, "bridge subscribed")
    if network is not None:
        wait_for(lambda: any(n > 0 for n in assignments(engine.log("worker"))), 60, "worker assigned")


def items(n: int, tag: str, first: int = 0, base: datetime | None = None,
          spacing_s: float = 0.01) -> list[tuple[str, bytes]]:
    """n single readings spread over N_DEVICES devices, each device's seq first/N_DEVICES, +1, +2, ...; reading i
    is timestamped `base + i * spacing_s` (base: 10 minutes ago). A long stream must keep its timestamps near the
    wall clock (spacing = 1 / its rate): the bridge dead-letters readings from too far in the future as `skew`."""
    base = base or datetime.now(timezone.utc) - timedelta(minutes=10)
    out = []
    for i in range(first, first + n):
        dev, seq = f"{tag}-{i % N_DEVICES:04d}", i // N_DEVICES
        body = {"schema_version": 1, "device_id": dev, "ts": (base + timedelta(seconds=spacing_s * i)).isoformat(),
                "seq": seq, "metrics": {"temperature": round(-5 + (i % 97) * 0.3, 2), "battery": 90.0}}
        out.append((f"dt/site-{tag}/{dev}/telemetry", orjson.dumps(body)))
    return out


def publish_in_background(port: int, batch: list[tuple[str, bytes]], rate: float | None = None,
                          stop: threading.Event | None = None) -> tuple[threading.Thread, list[int]]:
    """Publish `batch` over MQTT (QoS 1) from a thread, at most `rate` readings/s if given; progress[0] counts
    what the broker acknowledged. Setting `stop` ends it early, between two rounds of 500: `batch[:progress[0]]`
    is then exactly what was published (a load that lasts as long as a scenario's faults, not a guess at them)."""
    progress = [0]

    def run() -> None:
        pub = Publisher(port)
        began = time.monotonic()
        for start in range(0, len(batch), 500):
            if stop is not None and stop.is_set():
                break
            if rate:  # pacing, so that a scenario's faults fall while readings still flow
                time.sleep(max(0.0, began + start / rate - time.monotonic()))
            pub.publish_many(batch[start:start + 500])
            progress[0] = min(start + 500, len(batch))
        pub.close()

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread, progress


def telemetry_pairs(records: list) -> set[tuple[str, int]]:
    """(device, seq) of every reading in `telemetry` records."""
    return {(w["device_id"], w["seq"]) for r in records for w in decode_telemetry(r.value)}


def rows(records: list) -> dict[str, dict]:
    """The latest changelog row per key."""
    return {k.decode(): orjson.loads(v) for k, v in latest_by_key(records).items()}


def twin_from_telemetry(records: list) -> dict[str, dict]:
    """The device twins recomputed offline from the telemetry topic, partition by partition in order."""
    states: dict[str, object] = {}
    for record in sorted(records, key=lambda r: (r.partition, r.offset)):
        for wire in decode_telemetry(record.value):
            reading = Reading.model_validate(wire)
            states[reading.device_id], _ = apply_reading(states.get(reading.device_id), reading)
    return {d: s.model_dump(mode="json") for d, s in states.items()}


class Incremental:
    """A `read_topic` condition that looks at each record once: re-reading every record on each poll made the
    wait quadratic, minutes for a scenario's ~100k readings."""

    def __init__(self, fold, done) -> None:
        self.seen, self.fold, self.done = 0, fold, done

    def __call__(self, records: list) -> bool:
        for record in records[self.seen:]:
            self.fold(record)
        self.seen = len(records)
        return self.done()


def twin_rows_equal_recomputation(bootstrap: str, telemetry_topic: str, changelog: str,
                                  expected_pairs: set[tuple[str, int]], deadline_s: float = 180) -> dict[str, dict]:
    """Wait until every expected reading is on `telemetry` and the device changelog agrees with the twin
    recomputed from it; assert every field but IGNORED is equal; return the changelog's rows."""
    pairs: set[tuple[str, int]] = set()
    telemetry = read_topic(bootstrap, telemetry_topic, deadline_s=deadline_s, until=Incremental(
        lambda r: pairs.update(telemetry_pairs([r])), lambda: pairs >= expected_pairs))
    missing = expected_pairs - pairs
    assert not missing, f"{len(missing)} readings never reached telemetry, e.g. {sorted(missing)[:5]}"
    expected = twin_from_telemetry(telemetry)
    latest: dict[bytes, bytes] = {}

    def settled() -> bool:
        if len(latest) != len(expected):
            return False
        got = {k.decode(): v for k, v in latest.items()}
        return all(d in got and orjson.loads(got[d])["readings_applied"] == e["readings_applied"]
                   for d, e in expected.items())

    got = rows(read_topic(bootstrap, changelog, deadline_s=deadline_s,
                          until=Incremental(lambda r: latest.__setitem__(r.key, r.value), settled)))
    assert set(got) == set(expected)
    for device, want in expected.items():
        have = got[device]
        diff = {k: (have.get(k), want.get(k)) for k in set(have) | set(want)
                if k not in IGNORED and have.get(k) != want.get(k)}
        assert not diff, f"{device}: changelog row vs recomputation differ in {diff}"
    return got
