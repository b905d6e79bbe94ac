"""A twin worker saves its detectors into the `detectors` table, and the worker that replaces it after a SIGKILL
resumes them from the table's changelog (streams/detector_state.py), over real Mosquitto and Kafka; a worker stopped
gracefully saves them first."""

from __future__ import annotations

import os
import signal
from datetime import datetime, timedelta, timezone

import orjson
import pytest

from omnitrack.progress import scrape
from streams.detector_state import SAVE_EVERY, TOKEN, fingerprint
from streams.twin_rules import DETECTOR_CONTEXTS, DETECTOR_MEMORY
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
        "metrics": {"throughput": 1000.0 + (k * 37 % 101) - 50.0}})) for k in range(first, first + n)])


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


def test_a_worker_stopped_gracefully_saves_all_its_detectors_learned(engine: Engine) -> None:
    """SIGTERM after SAVE_EVERY + 37 readings: the row the stopping worker leaves holds the detector of all of them,
    to the bit (the periodic save alone would leave it 37 readings behind, and its successor would never see them:
    their records are committed)."""
    start_pipeline(engine, _network())
    bootstrap, changelog = engine.env["KAFKA_BOOTSTRAP"], engine.topics.changelog("detectors")
    base = (datetime.now(timezone.utc) - timedelta(minutes=20)).replace(microsecond=0)  # the bridge keeps ms
    port = int(engine.env["OMNITRACK_METRICS_PORT"]) + 1  # worker 0 (Settings.metrics_port_for)
    n = SAVE_EVERY + 37
    pub = Publisher(int(engine.env["OMNITRACK_MQTT_PORT"]))
    try:
        _publish(pub, 0, n, base)
    finally:
        pub.close()
    wait_for(lambda: (scrape(port, "omnitrack_twin_readings_total") or 0.0) >= n, 90, "all readings applied")
    worker = engine.procs["worker"]
    os.killpg(worker.pid, signal.SIGTERM)
    assert worker.wait(60) == 0

    records = read_topic(bootstrap, changelog, deadline_s=60,
                         until=lambda recs: len([r for r in recs if r.key == DEVICE.encode()]) >= 2)
    saved = _saved_row(records)
    assert saved is not None
    limits = {"capacity": DETECTOR_CONTEXTS, "memory": DETECTOR_MEMORY}
    fp = fingerprint(MetricDetection(), **limits)
    offline = make_detector(MetricDetection(), **limits)
    assert offline is not None
    for k in range(n):  # the same readings, replayed here
        offline.update((base + timedelta(seconds=k)).timestamp(), 1000.0 + (k * 37 % 101) - 50.0)
    assert saved["throughput"] == loads(dumps({"throughput": to_tree(offline, fp)}))["throughput"]
