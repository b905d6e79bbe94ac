"""A twin worker saves its detectors into the `detectors` table, and the worker that replaces it after a SIGKILL
resumes them from the table's changelog (streams/detector_state.py), over real Mosquitto and Kafka; a worker stopped
gracefully, or giving its partitions up in a rebalance, saves them first. And what the detectors say of an anomaly
reaches the alerts topic."""

from __future__ import annotations

import os
import signal
from datetime import datetime, timedelta, timezone

import orjson
import pytest

from omnitrack.progress import scrape
from streams.detector_state import SAVE_EVERY, TOKEN, fingerprint
from streams.twin_rules import DETECTOR_CONTEXTS, DETECTOR_MEMORY
from streams.worker import assignments
from tests.streams.conftest import Engine, Publisher, read_topic, wait_for
from tests.streams.crash_helpers import start_pipeline
from twin.detectors import MetricDetection, make_detector
from twin.detectors.snapshot import dumps, from_tree, loads, to_tree

pytestmark = pytest.mark.integration

DEVICE, SITE = "T-THR-1", "T-FAC-1"


def _network() -> dict:
    node = {"id": SITE, "kind": "factory", "name": SITE, "region": "Europe", "location": {"lat": 50.0, "lon": 8.0},
            "capacity": 1000, "inventory": 5000, "daily_demand": 500, "daily_revenue_at_risk": 50_000.0,
            "criticality": 3}
    return {"nodes": [node], "devices": [{"id": DEVICE, "kind": "throughput", "node_id": SITE,
                                          "expected_interval_s": 3600}]}


def _publish(pub: Publisher, first: int, n: int, base: datetime) -> None:
    pub.publish_many([(f"dt/{SITE}/{DEVICE}/telemetry", orjson.dumps({
        "schema_version": 1, "device_id": DEVICE, "seq": k, "ts": (base + timedelta(seconds=k)).isoformat(),
        "metrics": {"throughput": _value(k)}})) for k in range(first, first + n)])


def _saved_row(records: list) -> dict | None:
    rows = [r.value for r in records if r.key == DEVICE.encode() and r.value]
    return loads(rows[-1]) if rows else None


def test_a_restarted_worker_resumes_the_detectors_its_predecessor_saved(engine: Engine) -> None:
    start_pipeline(engine, _network())
    bootstrap, changelog = engine.env["KAFKA_BOOTSTRAP"], engine.topics.changelog("detectors")
    base = datetime.now(timezone.utc) - timedelta(minutes=20)
    pub = Publisher(int(engine.env["OMNITRACK_MQTT_PORT"]))
    try:
        _publish(pub, 0, 2 * SAVE_EVERY, base)
        records = read_topic(bootstrap, changelog, deadline_s=90,
                             until=lambda recs: len([r for r in recs if r.key == DEVICE.encode()]) >= 2)
        saved = _saved_row(records)
        assert saved is not None and set(saved) == {"throughput", TOKEN}
        fresh = make_detector(MetricDetection(), capacity=DETECTOR_CONTEXTS, memory=DETECTOR_MEMORY)
        detector = from_tree(saved["throughput"], fresh,
                             fingerprint(MetricDetection(), capacity=DETECTOR_CONTEXTS, memory=DETECTOR_MEMORY))
        assert detector._n >= 2 * SAVE_EVERY - 30  # all it had seen (less the warm-up), not a fresh detector

        engine.kill("worker")
        engine.start("worker")
        port = int(engine.env["OMNITRACK_METRICS_PORT"]) + 1  # worker 0 (Settings.metrics_port_for)
        _publish(pub, 2 * SAVE_EVERY, 5, base)

        def started() -> bool:  # the series' detector made, from saved state or from nothing
            return sum(scrape(port, name) or 0.0 for name in (
                "omnitrack_twin_detector_restores_total", "omnitrack_twin_detector_starts_total")) >= 1

        wait_for(started, 90, "the restarted worker's detector for the new readings")
    finally:
        pub.close()
    assert scrape(port, "omnitrack_twin_detector_restores_total") == 1
    assert scrape(port, "omnitrack_twin_detector_starts_total") == 0


def _value(k: int) -> float:
    return 1000.0 + (k * 37 % 101) - 50.0


def _learn(engine: Engine) -> tuple[datetime, int]:
    """The pipeline, and SAVE_EVERY + 37 readings of the device applied by worker 0: its detectors are 37 readings
    past their periodic save. Returns the first reading's time and the readings' count."""
    start_pipeline(engine, _network())
    base = (datetime.now(timezone.utc) - timedelta(minutes=20)).replace(microsecond=0)  # the bridge keeps ms
    port = int(engine.env["OMNITRACK_METRICS_PORT"]) + 1  # worker 0 (Settings.metrics_port_for)
    n = SAVE_EVERY + 37
    pub = Publisher(int(engine.env["OMNITRACK_MQTT_PORT"]))
    try:
        _publish(pub, 0, n, base)
    finally:
        pub.close()
    wait_for(lambda: (scrape(port, "omnitrack_twin_readings_total") or 0.0) >= n, 90, "all readings applied")
    return base, n


def _saved_is_all_of(engine: Engine, base: datetime, n: int) -> None:
    """The device's last row in the changelog is, to the bit, a detector replayed here over all `n` readings (the
    periodic save alone would leave it 37 behind, and the next worker would never see those: their records are
    committed)."""
    changelog = engine.topics.changelog("detectors")
    limits = {"capacity": DETECTOR_CONTEXTS, "memory": DETECTOR_MEMORY}
    offline = make_detector(MetricDetection(), **limits)
    assert offline is not None
    for k in range(n):
        offline.update((base + timedelta(seconds=k)).timestamp(), _value(k))
    expected = loads(dumps({"throughput": to_tree(offline, fingerprint(MetricDetection(), **limits))}))["throughput"]
    records = read_topic(engine.env["KAFKA_BOOTSTRAP"], changelog, deadline_s=60,
                         until=lambda recs: len([r for r in recs if r.key == DEVICE.encode()]) >= 2)
    saved = _saved_row(records)
    assert saved is not None and saved["throughput"] == expected


def test_a_worker_stopped_gracefully_saves_all_its_detectors_learned(engine: Engine) -> None:
    """SIGTERM: the row the stopping worker leaves holds all it learned."""
    base, n = _learn(engine)
    worker = engine.procs["worker"]
    os.killpg(worker.pid, signal.SIGTERM)
    assert worker.wait(60) == 0
    _saved_is_all_of(engine, base, n)


def test_a_rebalance_saves_all_the_detectors_learned_before_partitions_move(engine: Engine) -> None:
    """A second worker joins: before worker 0 gives its partitions up, the device's row holds all it learned, so
    whichever worker reads the device next resumes exactly there."""
    base, n = _learn(engine)
    mark = len(engine.log("worker"))
    engine.start("worker", {"OMNITRACK_WORKER_ID": "1"}, name="worker1")
    wait_for(lambda: any(k > 0 for k in assignments(engine.log("worker1"))) and any(
        k > 0 for k in assignments(engine.log("worker")[mark:])), 120, "both workers assigned after the join")
    assert engine.alive("worker")  # the row came from the rebalance, not from a stop
    _saved_is_all_of(engine, base, n)


def test_an_anomaly_alert_on_the_alerts_topic_says_what_the_detector_saw(engine: Engine) -> None:
    """The words reach the alert consumers downstream: the collapse's `anomaly_throughput` alert, read from the
    alerts topic, names the reading against the range the device usually keeps."""
    base, n = _learn(engine)
    pub = Publisher(int(engine.env["OMNITRACK_MQTT_PORT"]))
    try:
        pub.publish_many([(f"dt/{SITE}/{DEVICE}/telemetry", orjson.dumps({
            "schema_version": 1, "device_id": DEVICE, "seq": n, "ts": (base + timedelta(seconds=n)).isoformat(),
            "metrics": {"throughput": 0.0}}))])
    finally:
        pub.close()

    def anomaly(records: list) -> list[dict]:
        events = [orjson.loads(r.value) for r in records if r.value and b"anomaly_throughput" in r.value]
        return [e["alert"] for e in events if e.get("alert", {}).get("rule") == "anomaly_throughput"]

    events = anomaly(read_topic(engine.env["KAFKA_BOOTSTRAP"], engine.topics.alerts, deadline_s=90,
                                until=lambda recs: bool(anomaly(recs))))
    assert events, "no anomaly_throughput alert"
    detail = events[0]["detail"]
    assert detail.startswith(f"throughput 0, the lowest in {n + 1} readings (usual 9"), detail
