"""Faust's known failure modes, each as a named scenario against the real broker and the real twin worker.

* faust #176, restore after changelog compaction: the broker's log cleaner has removed superseded rows from the
  `devices` changelog (its offsets have gaps); a worker whose RocksDB is wiped must restore from it - not wait
  for offsets that no longer exist - and the twin must equal a recomputation from `telemetry`.
* faust #597, a changelog partition emptied by retention (its log start offset moved to its end, as retention or
  `kafka-delete-records` does):
  - `kept` (long variant, tests/faults/long.py): the worker still has its RocksDB; it must come back, lose nothing, and equal the recomputation;
  - `wiped`: the worker lost its RocksDB too; the rows of that partition are gone for good (no copy is left
    anywhere but a snapshot), and the worker must still come up on every partition - not hang in recovery -
    rebuild the other partitions' rows exactly, and count the emptied partition's devices from new readings only.
* faust #175, consumers silently stopping after a rebalance: lives in test_rebalance_storm.py.

They run on a private broker (tests/faults/private_kafka.py) whose log cleaner has nothing else to do.

Each prints its recovery time (worker restart -> twin as expected).
"""

from __future__ import annotations

import asyncio
import shutil
import time

import pytest
from aiokafka import TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, RecordsToDelete
from aiokafka.admin.config_resource import ConfigResource, ConfigResourceType

from tests.faults.long import long_only
from tests.faults.private_kafka import PrivateKafka, private_kafka  # noqa: F401 - the fixture
from tests.streams.conftest import Engine, read_topic, wait_for
from tests.streams.crash_helpers import (N_DEVICES, items, publish_in_background, rows, start_pipeline,
                                         twin_rows_equal_recomputation)

pytestmark = pytest.mark.integration

COMPACT_NOW = {"cleanup.policy": "compact", "segment.ms": "300", "min.cleanable.dirty.ratio": "0.01",
               "min.compaction.lag.ms": "0", "max.compaction.lag.ms": "500", "delete.retention.ms": "100"}
"""Changelog configs that make the broker roll a segment every 0.3 s and clean it at its next pass (the log
cleaner wakes every 15 s), so a test sees a compacted changelog within a minute, as a month-old one is."""


def _changelog(engine: Engine) -> str:
    return f"{engine.topics.app_id}-devices-changelog"


async def _alter(bootstrap: str, topic: str, configs: dict[str, str]) -> None:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        [response] = await admin.alter_configs([ConfigResource(ConfigResourceType.TOPIC, topic, configs)])
        errors = [r for r in response.resources if r[0]]
        assert not errors, errors
    finally:
        await admin.close()


async def _empty_partition(bootstrap: str, tp: TopicPartition) -> int:
    """Move the partition's log start offset to its end, as retention deleting every segment does. The broker
    refuses DeleteRecords on a compact-only topic, so the changelog is `delete` for that moment (the config
    reaches the partition's log a moment after the broker acknowledges it: retried) and `compact` again after."""
    from aiokafka import AIOKafkaConsumer
    from aiokafka.errors import PolicyViolationError

    await _alter(bootstrap, tp.topic, {"cleanup.policy": "delete", "retention.ms": "-1"})
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, group_id=None)
    await consumer.start()
    try:
        end = (await consumer.end_offsets([tp]))[tp]
    finally:
        await consumer.stop()
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                low = await admin.delete_records({tp: RecordsToDelete(before_offset=end)})
                break
            except PolicyViolationError:
                assert time.monotonic() < deadline, "the changelog stayed compact-only for 30 s"
                await asyncio.sleep(0.5)
    finally:
        await admin.close()
    await _alter(bootstrap, tp.topic, {"cleanup.policy": "compact"})
    assert low[tp] == end > 0, (low, end)
    return end


def _gaps(records: list) -> int:
    """Offsets missing from a partition read from its start (0: nothing is ever deleted from this changelog):
    rows the log cleaner removed. The cleaner keeps a key's last row, so the head of a partition goes first."""
    by_partition: dict[int, list[int]] = {}
    for r in records:
        by_partition.setdefault(r.partition, []).append(r.offset)
    return sum(offs[0] + sum(b - a - 1 for a, b in zip(offs, offs[1:]))
               for offs in (sorted(o) for o in by_partition.values()))


def _wipe_and_restart(engine: Engine) -> float:
    engine.kill("worker")
    folders = list((engine.home / "home" / "workers" / engine.prefix).glob("*"))
    assert folders, "the worker kept no local state"
    for folder in folders:
        shutil.rmtree(folder)
    engine.start("worker")
    return time.monotonic()


def _publish(engine: Engine, n: int, first: int, tag: str) -> None:
    thread, progress = publish_in_background(int(engine.env["OMNITRACK_MQTT_PORT"]), items(n, tag, first=first))
    thread.join(180)
    assert not thread.is_alive() and progress[0] == n


def _applied(engine: Engine, per_device: int) -> dict[str, dict]:
    """The device changelog once every one of the N_DEVICES rows counts `per_device` readings."""
    return rows(read_topic(engine.env["KAFKA_BOOTSTRAP"], _changelog(engine), deadline_s=180,
                           until=lambda r: len(rs := rows(r)) == N_DEVICES and all(
                               v["readings_applied"] == per_device for v in rs.values())))


@pytest.fixture
def engine_alone(engine: Engine, private_kafka: PrivateKafka) -> Engine:  # noqa: F811 - the fixture
    """The engine on a broker of its own: the log cleaner of the session's broker, busy with every other test's
    changelogs, took minutes to reach this one."""
    engine.env["KAFKA_BOOTSTRAP"] = private_kafka.bootstrap
    return engine


def test_faust_176_restore_from_a_compacted_changelog(engine_alone: Engine) -> None:
    engine, (first, second) = engine_alone, (8_000, 2_000)
    start_pipeline(engine)
    bootstrap, changelog = engine.env["KAFKA_BOOTSTRAP"], _changelog(engine)
    asyncio.run(_alter(bootstrap, changelog, COMPACT_NOW))
    for k in range(4):  # each batch applied before the next: every row is written 4 times, segments roll between
        _publish(engine, first // 4, k * first // 4, "cmp")
        _applied(engine, (k + 1) * first // 4 // N_DEVICES)
    gaps = [0]

    def compacted() -> bool:
        gaps[0] = _gaps(read_topic(bootstrap, changelog, until=lambda r: False, deadline_s=3))
        return gaps[0] > 0

    wait_for(compacted, 120, "the log cleaner to compact the devices changelog", interval_s=3)

    restarted = _wipe_and_restart(engine)
    _publish(engine, second, first, "cmp")
    expected = {(f"cmp-{i % N_DEVICES:04d}", i // N_DEVICES) for i in range(first + second)}
    got = twin_rows_equal_recomputation(bootstrap, engine.topics.telemetry, changelog, expected)
    recovery_s = time.monotonic() - restarted
    assert {v["readings_applied"] for v in got.values()} == {(first + second) // N_DEVICES}
    assert engine.alive("worker")
    print(f"\nfaust #176: the devices changelog compacted ({gaps[0]} superseded rows removed); worker with wiped "
          f"RocksDB restored from it and applied {second} more readings exactly; recovery {recovery_s:.1f} s")


@pytest.mark.parametrize("local_state", [pytest.param("kept", marks=long_only), "wiped"])
def test_faust_597_changelog_partition_emptied_by_retention(engine_alone: Engine, local_state: str) -> None:
    engine, (first, second) = engine_alone, (4_000, 2_000)
    start_pipeline(engine)
    bootstrap, changelog = engine.env["KAFKA_BOOTSTRAP"], _changelog(engine)
    _publish(engine, first, 0, "ret")
    before = _applied(engine, first // N_DEVICES)
    records = read_topic(bootstrap, changelog, until=lambda r: False, deadline_s=3)
    partition_of = {r.key.decode(): r.partition for r in records}
    victim = max(set(partition_of.values()), key=lambda p: sum(1 for q in partition_of.values() if q == p))
    emptied = {d for d, p in partition_of.items() if p == victim}

    if local_state == "kept":
        engine.kill("worker")
        asyncio.run(_empty_partition(bootstrap, TopicPartition(changelog, victim)))
        restarted = time.monotonic()
        engine.start("worker")
    else:
        asyncio.run(_empty_partition(bootstrap, TopicPartition(changelog, victim)))
        restarted = _wipe_and_restart(engine)
    _publish(engine, second, first, "ret")

    total = (first + second) // N_DEVICES
    if local_state == "kept":
        expected = {(f"ret-{i % N_DEVICES:04d}", i // N_DEVICES) for i in range(first + second)}
        got = twin_rows_equal_recomputation(bootstrap, engine.topics.telemetry, changelog, expected)
        assert {v["readings_applied"] for v in got.values()} == {total}
    else:
        want = {d: (second // N_DEVICES if d in emptied else total) for d in before}
        latest: dict[str, int] = {}

        def settled(records: list) -> bool:
            latest.update({k: v["readings_applied"] for k, v in rows(records).items()})
            return latest == want

        read_topic(bootstrap, changelog, deadline_s=180, until=settled)
        assert latest == want, {d: (latest.get(d), w) for d, w in want.items() if latest.get(d) != w}
    recovery_s = time.monotonic() - restarted
    assert engine.alive("worker")
    print(f"\nfaust #597 ({local_state} RocksDB): devices changelog partition {victim} emptied ({len(emptied)} "
          f"devices); the worker came up on every partition and applied {second} more readings; "
          + ("nothing lost" if local_state == "kept" else
             f"the {len(emptied)} devices restarted from new readings (their rows had no copy left), the others "
             "rebuilt exactly") + f"; recovery {recovery_s:.1f} s")

