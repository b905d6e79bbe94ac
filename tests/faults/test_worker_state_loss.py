"""A twin worker loses its local state: SIGKILLed (a stale RocksDB LOCK left behind) and its RocksDB folder
wiped. It must rebuild the tables from their changelogs and carry on, so that the twin equals a recomputation
from `telemetry` - nothing lost, nothing applied twice. Prints the recovery time."""

from __future__ import annotations

import shutil
import time

import pytest

from tests.streams.conftest import Engine, read_topic
from tests.streams.crash_helpers import (N_DEVICES, items, publish_in_background, rows, start_pipeline,
                                         twin_rows_equal_recomputation)

pytestmark = pytest.mark.integration


def test_worker_with_wiped_rocksdb_rebuilds_from_changelog(engine: Engine) -> None:
    first, second = 6_000, 4_000
    start_pipeline(engine)
    bootstrap, topics = engine.env["KAFKA_BOOTSTRAP"], engine.topics
    changelog = f"{topics.app_id}-devices-changelog"
    port = int(engine.env["OMNITRACK_MQTT_PORT"])

    thread, _ = publish_in_background(port, items(first, "wipe"))
    thread.join(120)
    per_device = first // N_DEVICES
    read_topic(bootstrap, changelog, deadline_s=120, until=lambda r: len(rows_ := rows(r)) == N_DEVICES and all(
        v["readings_applied"] == per_device for v in rows_.values()))

    engine.kill("worker")
    datadirs = list((engine.home / "home" / "workers" / engine.prefix).glob("*"))
    assert datadirs, "the worker kept no local state"
    assert list(engine.home.glob("home/workers/**/LOCK")), "a SIGKILLed worker leaves RocksDB's LOCK behind"
    for folder in datadirs:
        shutil.rmtree(folder)
    restarted = time.monotonic()
    engine.start("worker")

    thread, _ = publish_in_background(port, items(second, "wipe", first=first))
    thread.join(120)
    expected_pairs = {(f"wipe-{i % N_DEVICES:04d}", i // N_DEVICES) for i in range(first + second)}
    got = twin_rows_equal_recomputation(bootstrap, topics.telemetry, changelog, expected_pairs)
    recovery_s = time.monotonic() - restarted
    assert engine.alive("worker")
    # every row counts the first batch too: the rebuilt table started from the changelog, not from zero
    assert {v["readings_applied"] for v in got.values()} == {(first + second) // N_DEVICES}
    print(f"\nworker state wiped: {N_DEVICES} device twins rebuilt from the changelog and "
          f"{second} more readings applied exactly; recovery (restart -> twin equals recomputation) "
          f"{recovery_s:.1f} s")
