"""Take a snapshot: read each changelog partition from its start to the end offset recorded when the dump began,
fold it into its compacted view (latest value per key, tombstoned keys dropped), and store it in S3.

Why per-partition end offsets, not a global cut: Kafka has no cross-partition snapshot, and none is needed.
Each partition is exact up to its offset; different partitions and tables may be a few records apart in time,
because the workers keep writing while the dump reads. That is safe for this engine: after a restore the twin
deduplicates readings by each device's sequence number and the alert state by event id, so anything delivered
again on top of a slightly older partition is recognised, and nothing depends on two tables being cut at the
same instant (a device row and its node row are each recomputed from the readings that follow).
Also `run_every`: the periodic mode (`omnitrack snapshot run`).
"""

from __future__ import annotations

import asyncio
import logging
import time
from datetime import datetime, timezone

from aiokafka import AIOKafkaConsumer, TopicPartition

from omnitrack.settings import Settings
from streams.snapshot.models import (CompactedView, Manifest, PartitionSnapshot, SnapshotError, TableSnapshot,
                                     encode_partition, new_snapshot_id)
from streams.snapshot.store import SnapshotStore
from streams.snapshot.tables import changelog_topics
from streams.topics import Topics, topics_for

log = logging.getLogger(__name__)

READ_DEADLINE_S = 600.0
"""A dump that has not reached its end offsets by then is stuck (broker gone), not slow: it fails, and the
periodic mode tries again at the next interval."""


async def read_compacted(bootstrap: str, topics: dict[str, str], deadline_s: float = READ_DEADLINE_S,
                         ) -> tuple[dict[str, dict[int, tuple[int, int, CompactedView]]], list[str]]:
    """Each existing topic's partitions -> (start offset, end offset, compacted view of [start, end)).
    Returns them by logical name, and the names whose topic does not exist."""
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, group_id=None, enable_auto_commit=False,
                                auto_offset_reset="earliest", max_partition_fetch_bytes=4 << 20)
    await consumer.start()
    try:
        await consumer._client.force_metadata_update()
        by_tp: dict[TopicPartition, str] = {}
        missing = []
        for name, topic in topics.items():
            partitions = consumer.partitions_for_topic(topic)
            if not partitions:
                missing.append(name)
                continue
            by_tp.update({TopicPartition(topic, p): name for p in partitions})
        out: dict[str, dict[int, tuple[int, int, CompactedView]]] = {name: {} for name in set(by_tp.values())}
        if not by_tp:
            return out, missing
        tps = list(by_tp)
        ends = await consumer.end_offsets(tps)
        starts = await consumer.beginning_offsets(tps)
        views = {tp: CompactedView() for tp in tps}
        pending = {tp for tp in tps if ends[tp] > starts[tp]}
        consumer.assign(list(pending))
        if pending:
            await consumer.seek_to_beginning(*pending)
        deadline = time.monotonic() + deadline_s
        while pending:
            if time.monotonic() > deadline:
                raise SnapshotError(f"dump did not reach the end offsets of {len(pending)} partitions "
                                    f"within {deadline_s:.0f}s, e.g. {sorted(map(str, pending))[:3]}")
            batch = await consumer.getmany(*pending, timeout_ms=500, max_records=20_000)
            for tp, records in batch.items():
                view, end = views[tp], ends[tp]
                for r in records:
                    if r.offset < end:
                        view.add(r.key, r.value, r.timestamp, r.headers or ())
            for tp in list(pending):
                # compaction may have removed the last offsets' records: the position still moves past them
                if await consumer.position(tp) >= ends[tp]:
                    pending.discard(tp)
                    consumer.pause(tp)
        for tp, name in by_tp.items():
            out[name][tp.partition] = (starts[tp], ends[tp], views[tp])
        return out, missing
    finally:
        await consumer.stop()


def take_snapshot(settings: Settings, store: SnapshotStore | None = None, topics: Topics | None = None) -> Manifest:
    """Dump every table changelog of the deployment to S3; returns the manifest (written last)."""
    store = store or SnapshotStore.from_settings(settings)
    topics = topics or topics_for(settings)
    began, t0 = datetime.now(timezone.utc), time.perf_counter()
    snapshot_id = new_snapshot_id(began)
    store.ensure_bucket()
    names = changelog_topics(topics)
    views, missing = asyncio.run(read_compacted(settings.bootstrap, names))
    if not views:
        # a wrong prefix or bootstrap, or a fresh cluster before its restore: an empty snapshot would only crowd
        # the real ones out of the bucket
        raise SnapshotError(f"nothing to snapshot: no changelog of prefix {topics.prefix!r} on {settings.bootstrap}")
    tables = []
    for name in names:
        if name not in views:
            continue
        table = TableSnapshot(name=name, topic=names[name])
        for partition, (start, end, view) in sorted(views[name].items()):
            part = PartitionSnapshot(partition=partition, start_offset=start, end_offset=end,
                                     records_read=view.records, keys=len(view.entries))
            if view.entries:
                blob, digest = encode_partition(view.entries.values())
                part.object_key = store.key(snapshot_id, f"{name}/{partition:04d}.jsonl.gz")
                part.bytes, part.sha256 = len(blob), digest
                store.put(part.object_key, blob)
            table.partitions.append(part)
        tables.append(table)
    manifest = Manifest(id=snapshot_id, source_prefix=topics.prefix, created_at=began, tables=tables,
                        missing=sorted(missing), finished_at=datetime.now(timezone.utc),
                        dump_s=round(time.perf_counter() - t0, 3))
    store.put_manifest(manifest)
    return manifest


def run_every(settings: Settings, every_s: float, keep: int) -> None:
    """Take a snapshot every `every_s` seconds (start to start) until interrupted; prune to `keep` snapshots.

    A failed snapshot is logged and retried at the next tick: the previous snapshots stay valid, and the recovery
    point only grows by one interval. The RPO of this mode is `every_s` + one dump's duration."""
    store = SnapshotStore.from_settings(settings)
    topics = topics_for(settings)
    next_at = time.monotonic()
    try:
        _loop(settings, store, topics, every_s, keep, next_at)
    except KeyboardInterrupt:
        print("snapshot run stopped", flush=True)


def _loop(settings: Settings, store: SnapshotStore, topics: Topics, every_s: float, keep: int, next_at: float) -> None:
    while True:
        try:
            manifest = take_snapshot(settings, store, topics)
            print(f"snapshot {manifest.describe()}", flush=True)
            if not manifest.keys:
                print("warning: this snapshot holds no keys (changelogs empty: a fresh cluster not restored yet?)",
                      flush=True)
            pruned = store.prune(keep, topics.prefix)
            if pruned:
                print(f"pruned {len(pruned)} old snapshot(s): {', '.join(pruned)}", flush=True)
        except Exception as exc:  # noqa: BLE001 - the loop must outlive a broker or S3 outage
            log.error("snapshot failed, retrying at the next interval: %s", exc)
            print(f"snapshot failed: {exc}", flush=True)
        next_at += every_s
        time.sleep(max(0.0, next_at - time.monotonic()))
        next_at = max(next_at, time.monotonic())
