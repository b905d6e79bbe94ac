"""SIGKILL an engine process five times at random points under load, restarting it each time, as Kafka's streams
EOS system test does. Readings flow the whole time and reefers breach their cold-chain limit one after another
across the kills. After the last restart:

* every reading published over MQTT is on `telemetry` (none lost),
* the twin equals a recomputation from `telemetry` (none applied twice),
* every breach has exactly one alert, and no alert event is on `alerts` twice.

Prints the seed (the kill points come from it), each kill's recovery time and the totals.
"""

from __future__ import annotations

import os
import random
import threading
import time
from collections import Counter, defaultdict
from datetime import datetime, timedelta, timezone

import orjson
import pytest

from streams.worker import assignments
from tests.streams.conftest import Engine, Publisher, read_topic, wait_for
from tests.streams.crash_helpers import N_DEVICES, items, start_pipeline, twin_rows_equal_recomputation
from twin.alerts.contract import decode_event

pytestmark = pytest.mark.integration

KILLS = 5
RATE = 1_500.0
"""Readings/s of the load, which lasts until the last kill's process runs again."""
N_REEFERS = 16


def _network() -> dict:
    node = lambda i: {"id": i, "kind": "warehouse", "name": i, "region": "Europe",  # noqa: E731
                      "location": {"lat": 50.0, "lon": 8.0}, "capacity": 1000, "inventory": 5000,
                      "daily_demand": 500, "daily_revenue_at_risk": 50_000.0, "criticality": 3}
    return {
        "nodes": [node("K-WHS-1"), node("K-WHS-2")],
        "lanes": [{"id": "K-LN-1", "src": "K-WHS-1", "dst": "K-WHS-2", "mode": "road", "lead_time_days": 1}],
        # silence is not the scenario: a reefer reports twice and must not go offline meanwhile
        "devices": [{"id": f"K-REEFER-{i:02d}", "kind": "reefer_temperature", "node_id": f"K-WHS-{1 + i % 2}",
                     "expected_interval_s": 3600} for i in range(N_REEFERS)],
    }


def _reefer_reading(i: int, seq: int, temperature: float) -> tuple[str, bytes]:
    device = f"K-REEFER-{i:02d}"
    body = {"schema_version": 1, "device_id": device, "ts": datetime.now(timezone.utc).isoformat(), "seq": seq,
            "metrics": {"temperature": temperature}}
    return f"dt/K-WHS-{1 + i % 2}/{device}/telemetry", orjson.dumps(body)


def _load_until(port: int, stop: threading.Event, sent: list[int]) -> threading.Thread:
    """Publish `items(..., "kl")` at RATE readings/s (QoS 1) from a thread until `stop`; sent[0] counts what the
    broker acknowledged."""

    def run() -> None:
        pub = Publisher(port)
        began, base = time.monotonic(), datetime.now(timezone.utc) - timedelta(minutes=1)
        while not stop.is_set():
            time.sleep(max(0.0, began + sent[0] / RATE - time.monotonic()))  # pacing
            pub.publish_many(items(500, "kl", first=sent[0], base=base, spacing_s=1 / RATE))
            sent[0] += 500
        pub.close()

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread


def _ready(engine: Engine, role: str, log_before: int) -> bool:
    """The restarted process runs again: the bridge subscribed, the worker got partitions."""
    text = engine.log(role)[log_before:]
    if role == "bridge":
        return "bridge running" in text
    return any(n > 0 for n in assignments(text))


@pytest.mark.timeout(600)
@pytest.mark.parametrize("role", ["bridge", "worker"])
def test_kill_loop_loses_and_duplicates_nothing(engine: Engine, role: str) -> None:
    seed = int(os.environ.get("OMNITRACK_FAULTS_SEED", random.randrange(1 << 30)))
    rng = random.Random(seed)
    start_pipeline(engine, _network())
    bootstrap, topics = engine.env["KAFKA_BOOTSTRAP"], engine.topics
    port = int(engine.env["OMNITRACK_MQTT_PORT"])

    reefers = Publisher(port)
    reefers.publish_many([_reefer_reading(i, 0, 4.5) for i in range(N_REEFERS)])
    stop_load, sent = threading.Event(), [0]
    load = _load_until(port, stop_load, sent)

    breaches_done = threading.Event()

    def breach_one_by_one() -> None:  # spread over the kills: some land while the process is down
        for i in range(N_REEFERS):
            time.sleep(rng.uniform(0.5, 1.2))
            reefers.publish_many([_reefer_reading(i, 1, 12.5)])
        breaches_done.set()

    breacher = threading.Thread(target=breach_one_by_one, daemon=True)
    breacher.start()

    recoveries: list[float] = []
    for _ in range(KILLS):
        time.sleep(rng.uniform(1.0, 3.0))  # a random point under load is the scenario, not a wait
        assert load.is_alive()
        log_before = len(engine.log(role))
        engine.kill(role)
        killed = time.monotonic()
        engine.start(role)
        wait_for(lambda: _ready(engine, role, log_before), 120, f"{role} back after a kill")
        recoveries.append(time.monotonic() - killed)
    last_restart = time.monotonic()
    assert breaches_done.wait(60)
    stop_load.set()
    load.join(180)
    assert not load.is_alive()
    reefers.close()
    n_readings = sent[0]

    expected = {(f"kl-{i % N_DEVICES:04d}", i // N_DEVICES) for i in range(n_readings)}
    expected |= {(f"K-REEFER-{i:02d}", s) for i in range(N_REEFERS) for s in (0, 1)}
    twin_rows_equal_recomputation(bootstrap, topics.telemetry, f"{topics.app_id}-devices-changelog", expected,
                                  deadline_s=240)
    converged_s = time.monotonic() - last_restart

    def alerts_by_reefer(records: list) -> dict[str, set[str]]:
        ids: dict[str, set[str]] = defaultdict(set)
        for r in records:
            alert = decode_event(r.value).alert
            if alert.rule == "cold_chain":
                ids[alert.subject_id].add(alert.id)
        return ids

    records = read_topic(bootstrap, topics.alerts, deadline_s=120,
                         until=lambda recs: len(alerts_by_reefer(recs)) == N_REEFERS)
    ids = alerts_by_reefer(records)
    assert sorted(ids) == [f"K-REEFER-{i:02d}" for i in range(N_REEFERS)], "a breach raised no alert"
    assert all(len(v) == 1 for v in ids.values()), {k: v for k, v in ids.items() if len(v) > 1}
    events = Counter((e.alert.id, e.alert.version) for e in map(decode_event, (r.value for r in records)))
    twice = {k: n for k, n in events.items() if n > 1}
    assert not twice, f"alert events on `alerts` more than once: {twice}"
    assert engine.alive("bridge") and engine.alive("worker")
    print(f"\n{role} SIGKILLed {KILLS} times under load (seed {seed}): {n_readings + 2 * N_REEFERS} readings, "
          f"none lost, twin equals the recomputation; {N_REEFERS} breaches, one alert each, no event twice; "
          f"recovery per kill (kill -> running again) {', '.join(f'{r:.1f}' for r in recoveries)} s; "
          f"last restart -> twin equals recomputation {converged_s:.1f} s")
