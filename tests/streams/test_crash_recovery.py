"""SIGKILL the bridge or a worker mid-stream: nothing is lost and the twin stays exact."""

from __future__ import annotations

import time

import pytest

from tests.streams.conftest import Engine, read_topic, wait_for
from tests.streams.crash_helpers import (N_DEVICES, items as _items, publish_in_background as _publish_in_background,
                                         rows as _rows, telemetry_pairs as _telemetry_pairs,
                                         start_pipeline, twin_rows_equal_recomputation)

pytestmark = pytest.mark.integration


def test_bridge_sigkill_loses_nothing(engine: Engine) -> None:
    n = 20_000
    start_pipeline(engine)
    items = _items(n, "bk")
    thread, progress = _publish_in_background(int(engine.env["OMNITRACK_MQTT_PORT"]), items)

    wait_for(lambda: progress[0] >= n // 4, 60, "a quarter published")
    engine.kill("bridge")
    killed_at = progress[0]
    time.sleep(0.5)  # publishing goes on while no bridge runs: the broker queues for the bridge's session
    engine.start("bridge")
    thread.join(180)
    assert not thread.is_alive()
    assert killed_at < n, "the bridge must die mid-stream"

    bootstrap, topics = engine.env["KAFKA_BOOTSTRAP"], engine.topics
    expected = {(f"bk-{i % N_DEVICES:04d}", i // N_DEVICES) for i in range(n)}
    records = read_topic(bootstrap, topics.telemetry, until=lambda r: _telemetry_pairs(r) >= expected,
                         deadline_s=120)
    assert _telemetry_pairs(records) == expected  # all N reached Kafka (duplicates allowed)

    changelog = f"{topics.app_id}-devices-changelog"
    per_device = n // N_DEVICES
    rows = _rows(read_topic(bootstrap, changelog, deadline_s=120, until=lambda r: (
        len(rows_ := _rows(r)) == N_DEVICES and all(v["readings_applied"] == per_device for v in rows_.values()))))
    assert len(rows) == N_DEVICES
    assert {v["readings_applied"] for v in rows.values()} == {per_device}  # exact despite redelivery
    assert all(v["seq_gaps"] == 0 and v["max_seq"] == per_device - 1 for v in rows.values())


def test_worker_sigkill_tables_equal_recomputation(engine: Engine) -> None:
    n = 10_000
    start_pipeline(engine)
    bootstrap, topics = engine.env["KAFKA_BOOTSTRAP"], engine.topics
    changelog = f"{topics.app_id}-devices-changelog"
    thread, progress = _publish_in_background(int(engine.env["OMNITRACK_MQTT_PORT"]), _items(n, "wk"))

    wait_for(lambda: progress[0] >= n // 3, 60, "a third published")
    read_topic(bootstrap, changelog, until=lambda r: len(r) >= 200, deadline_s=60)  # the worker is mid-stream
    engine.kill("worker")
    engine.start("worker")
    thread.join(180)
    assert not thread.is_alive()

    # the twin recomputed offline from the telemetry topic, partition by partition in order, must equal the tables
    expected_pairs = {(f"wk-{i % N_DEVICES:04d}", i // N_DEVICES) for i in range(n)}
    twin_rows_equal_recomputation(bootstrap, topics.telemetry, changelog, expected_pairs, deadline_s=120)
    assert engine.alive("worker")
