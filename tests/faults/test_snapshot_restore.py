"""Disaster recovery from S3: the twin's changelogs are snapshotted to moto's S3, restored into a NEW topic prefix
(standing in for a fresh Kafka cluster), and a worker started there must come up with the same device twins and
carry on from them. Prints the figures docs/operations.md quotes: dump time and size, restore time, and the
worker's recovery time (RTO = restore + recovery)."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import time
from datetime import datetime, timedelta, timezone

import orjson
import pytest
from aiokafka.partitioner import murmur2

from omnitrack.settings import is_loopback_url
from omnitrack.stack.endpoints import Endpoints
from streams.admin import TELEMETRY_PARTITIONS, delete_topics
from streams.produce import produce
from streams.records import encode_telemetry, reading_to_wire
from streams.snapshot.models import Manifest, decode_partition
from streams.snapshot.store import SnapshotStore
from streams.snapshot.tables import changelog_topics
from streams.topics import Topics
from tests.streams.conftest import Engine, read_topic
from tests.streams.crash_helpers import IGNORED, N_DEVICES, items, publish_in_background, rows, start_pipeline
from twin.device_twin import DeviceState, apply_reading
from twin.telemetry import Reading

pytestmark = pytest.mark.integration

PER_DEVICE = 10

EXTRA_DEVICES = int(os.environ.get("OMNITRACK_SNAPSHOT_EXTRA_DEVICES", "0"))
"""For the figures at scale (docs/operations.md): this many more device rows, copies of the real ones under other
ids, are written into the twin's changelog (where the worker would write them: murmur2 partition of the id)
before the snapshot. 0 in CI."""


def _cli(env: dict[str, str], *args: str) -> str:
    done = subprocess.run([sys.executable, "-m", "omnitrack.cli", "snapshot", *args], env=env, capture_output=True,
                          text=True, timeout=120)
    assert done.returncode == 0, f"omnitrack snapshot {' '.join(args)}: {done.returncode}\n{done.stdout}\n{done.stderr}"
    return done.stdout


def _keys_at_least(n: int):
    """A `read_topic` condition: `n` distinct keys read, each record looked at once (read_topic grows one list)."""
    keys: set[bytes] = set()
    seen = [0]

    def done(records: list) -> bool:
        keys.update(r.key for r in records[seen[0]:])
        seen[0] = len(records)
        return len(keys) >= n
    return done


async def _produce_batched(bootstrap: str, topic: str, readings: list[Reading]) -> None:
    """Readings as the bridge writes them: many per record, each record in its devices' partition (murmur2 of the
    device id), so the worker's recovery time is not drowned in one Faust event per reading at scale."""
    by_partition: dict[int, list[dict]] = {}
    for reading in readings:
        part = (murmur2(reading.device_id.encode()) & 0x7FFFFFFF) % TELEMETRY_PARTITIONS
        by_partition.setdefault(part, []).append(reading_to_wire(reading))
    for part, wires in by_partition.items():
        await produce(bootstrap, topic, [(wires[i]["device_id"].encode(), encode_telemetry(wires[i:i + 500]))
                                         for i in range(0, len(wires), 500)], partition=part)


def _offsets_reached(ends: dict[int, int]):
    """A `read_topic` condition: every partition read up to its end offset (exclusive)."""
    last: dict[int, int] = {}
    seen = [0]

    def done(records: list) -> bool:
        for r in records[seen[0]:]:
            last[r.partition] = max(last.get(r.partition, -1), r.offset)
        seen[0] = len(records)
        return all(last.get(part, -1) >= end - 1 for part, end in ends.items() if end > 0)
    return done


def _strip(row: dict) -> dict:
    return {k: v for k, v in row.items() if k not in IGNORED}


def test_snapshot_to_s3_restores_the_twin_into_a_fresh_prefix(engine: Engine, stack_endpoints: Endpoints) -> None:
    if not is_loopback_url(stack_endpoints.sns_url):
        pytest.skip("the test stack runs no moto (S3) on loopback")
    bootstrap, topics = engine.env["KAFKA_BOOTSTRAP"], engine.topics
    target = Topics(prefix=f"{engine.prefix}r")
    env = {**engine.env, "OMNITRACK_SNAPSHOT_BUCKET": f"snap-{engine.prefix}"}
    assert "OMNITRACK_SNS_PORT" in env  # the snapshot endpoint defaults to the stack's moto through it
    store = SnapshotStore(env["OMNITRACK_SNAPSHOT_BUCKET"], "twin-snapshots", stack_endpoints.sns_url)
    try:
        # 1. the engine keeps 200 device twins
        start_pipeline(engine)
        thread, _ = publish_in_background(int(engine.env["OMNITRACK_MQTT_PORT"]), items(N_DEVICES * PER_DEVICE, "snap"))
        thread.join(120)
        changelog = topics.changelog("devices")
        read_topic(bootstrap, changelog, deadline_s=120, until=lambda r: len(got := rows(r)) == N_DEVICES and all(
            v["readings_applied"] == PER_DEVICE for v in got.values()))

        if EXTRA_DEVICES:
            templates = list(rows(read_topic(bootstrap, changelog, deadline_s=30,
                                             until=_keys_at_least(N_DEVICES))).values())
            extra = [(f"syn-{i:07d}", {**templates[i % N_DEVICES], "device_id": f"syn-{i:07d}"})
                     for i in range(EXTRA_DEVICES)]
            asyncio.run(produce(bootstrap, changelog, [(d.encode(), orjson.dumps(row)) for d, row in extra]))
        devices_total = N_DEVICES + EXTRA_DEVICES

        # 2. snapshot while the engine runs, through the CLI (endpoint: the stack's moto by default)
        manifest = Manifest.model_validate_json(_cli(env, "take", "--json"))
        devices = next(t for t in manifest.tables if t.name == "twin.devices")
        assert devices.keys == devices_total and devices.topic == changelog
        assert manifest.id in _cli(env, "list")
        # the snapshot's cut: the source changelog up to the end offsets the manifest recorded (the worker may
        # have written more since, e.g. a status change)
        ends = {p.partition: p.end_offset for p in devices.partitions}
        original = rows([r for r in read_topic(bootstrap, changelog, deadline_s=120, until=_offsets_reached(ends))
                         if r.offset < ends[r.partition]])
        assert len(original) == devices_total

        # 3. the cluster is lost: the engine stops; restore into a new prefix (a fresh cluster's empty changelogs)
        engine.kill("worker")
        engine.kill("bridge")
        t0 = time.monotonic()
        report = json.loads(_cli(env, "restore", "--id", manifest.id, "--into-prefix", target.prefix))
        restore_wall_s = time.monotonic() - t0
        assert report["tables"]["twin.devices"] == devices_total
        restored = rows(read_topic(bootstrap, target.changelog("devices"), deadline_s=120,
                                   until=_keys_at_least(devices_total)))
        assert restored == original, "the restored changelog differs from the snapshotted one"
        # every table (devices, and aggregates or sites when they hold rows): the target changelog is the snapshot
        for table in (t for t in manifest.tables if t.keys):
            stored = {(p.partition, e.key): e.value for p in table.partitions if p.object_key
                      for e in decode_partition(store.get(p.object_key), p.sha256)}
            topic = changelog_topics(target)[table.name]
            written = read_topic(bootstrap, topic, deadline_s=60, until=lambda r, n=table.keys: len(r) >= n)
            assert {(r.partition, r.key): r.value for r in written} == stored, table.name
        again = subprocess.run([sys.executable, "-m", "omnitrack.cli", "snapshot", "restore", "--id", manifest.id,
                                "--into-prefix", target.prefix], env=env, capture_output=True, text=True, timeout=120)
        assert again.returncode == 2 and "not empty" in again.stderr, "a second restore must refuse live changelogs"

        # 4. a worker on the restored prefix recovers its tables and applies the next reading on top of them
        now = datetime.now(timezone.utc)
        at = now.replace(microsecond=now.microsecond // 1000 * 1000)  # the wire carries epoch ms
        nxt = {d: Reading.model_validate({"schema_version": 1, "device_id": d, "seq": PER_DEVICE,
                                          "ts": (at + timedelta(milliseconds=i)).isoformat(),
                                          "metrics": {"temperature": 1.5, "battery": 80.0}})
               for i, d in enumerate(sorted(original))}
        asyncio.run(_produce_batched(bootstrap, target.telemetry, list(nxt.values())))
        started = time.monotonic()
        engine.start("worker", {"OMNITRACK_TOPIC_PREFIX": target.prefix, "OMNITRACK_WORKER_ID": "1"}, name="restored")
        latest: dict[bytes, bytes] = {}
        seen = [0]

        def caught_up(records: list) -> bool:  # each record looked at once (read_topic grows one list)
            for r in records[seen[0]:]:
                latest[r.key] = r.value
            seen[0] = len(records)
            return len(latest) == devices_total and all(
                orjson.loads(v)["readings_applied"] == PER_DEVICE + 1 for v in latest.values())

        read_topic(bootstrap, target.changelog("devices"), deadline_s=90 + devices_total / 500, until=caught_up)
        recovery_s = time.monotonic() - started
        assert engine.alive("restored")
        after = {k.decode(): orjson.loads(v) for k, v in latest.items()}
        for device, row in original.items():
            state = DeviceState.model_validate({k: v for k, v in row.items() if k != "window"})
            want, _ = apply_reading(state, nxt[device])
            # readings_applied 11, not 1: the worker started from the restored twin, not from nothing
            assert _strip(after[device]) == _strip(want.model_dump(mode="json")), device
        read = sum(p.records_read for t in manifest.tables for p in t.partitions)
        print(f"\nsnapshot {manifest.id}: {read} changelog records read, {manifest.keys} keys "
              f"({devices.keys} device twins) in "
              f"{sum(len(t.partitions) for t in manifest.tables)} partitions, {manifest.bytes:,} bytes gzipped, "
              f"dump {manifest.dump_s:.2f} s; restore {report['restore_s']:.2f} s ({report['records']} records; "
              f"CLI wall {restore_wall_s:.1f} s); worker start -> restored twins applying readings "
              f"{recovery_s:.1f} s; RTO (restore + recovery) {report['restore_s'] + recovery_s:.1f} s\n"
              f"  manifest: {manifest.describe()}")
    finally:
        engine.stop_all()  # before its topics go: a worker left running logs missing topics until the teardown
        asyncio.run(delete_topics(bootstrap, target.prefix))
        for snapshot_id in store.ids():
            store.delete(snapshot_id)
