"""Restore a snapshot: re-produce each partition's entries into the same partition of the changelog of a
deployment (a fresh cluster, or a new topic prefix), so that a Faust worker started afterwards rebuilds its
tables from them, exactly as after losing its local state.

Why into empty changelogs only (unless `force`): Faust's recovery reads a changelog from its start and the
last record per key wins; restored entries written after newer ones would roll those keys back. Why the same
partition number: a table partition is recovered from the changelog partition of the same number, and a
device's row must sit where its readings' partition (murmur2 of the device id) is processed.
Why acks=all with idempotence: a restore reported done must have every entry on min.insync.replicas brokers,
and a retried batch must not be written twice (harmless for compaction, but it would break the count check).
"""

from __future__ import annotations

import asyncio
import time

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from pydantic import BaseModel

from omnitrack.settings import Settings
from streams.admin import ensure_specs, ensure_topics
from streams.snapshot.models import Manifest, SnapshotError, decode_partition
from streams.snapshot.store import SnapshotStore
from streams.snapshot.tables import TABLES, changelog_topics, topic_configs
from streams.topics import Topics

IN_FLIGHT = 5_000
"""Sends awaited at once: keeps the producer's buffer bounded on a large snapshot."""


class RestoreReport(BaseModel):
    snapshot_id: str
    target_prefix: str
    records: int
    bytes: int
    restore_s: float
    tables: dict[str, int]
    """Logical name -> entries written."""


async def _end_offsets(bootstrap: str, topic_partitions: dict[str, int]) -> dict[TopicPartition, tuple[int, int]]:
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, group_id=None, enable_auto_commit=False)
    await consumer.start()
    try:
        await consumer._client.force_metadata_update()
        for topic, want in topic_partitions.items():
            have = consumer.partitions_for_topic(topic) or set()
            if len(have) != want:
                raise SnapshotError(f"{topic} has {len(have)} partitions, the snapshot {want}: a table partition "
                                    "must come back to the partition of the same number; recreate the topic")
        tps = [TopicPartition(t, p) for t, n in topic_partitions.items() for p in range(n)]
        starts, ends = await consumer.beginning_offsets(tps), await consumer.end_offsets(tps)
        return {tp: (starts[tp], ends[tp]) for tp in tps}
    finally:
        await consumer.stop()


async def _produce(bootstrap: str, plan: list[tuple[str, int, bytes, str | None]]) -> int:
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all", enable_idempotence=True,
                                linger_ms=20, max_batch_size=1 << 20, max_request_size=8 << 20)
    await producer.start()
    written = 0
    try:
        futures = []
        for topic, partition, blob, digest in plan:
            for entry in decode_partition(blob, digest):
                futures.append(await producer.send(topic, key=entry.key, value=entry.value, partition=partition,
                                                   timestamp_ms=entry.timestamp_ms, headers=list(entry.headers)))
                if len(futures) >= IN_FLIGHT:
                    await asyncio.gather(*futures)
                    written += len(futures)
                    futures.clear()
        await asyncio.gather(*futures)
        written += len(futures)
        await producer.flush()
    finally:
        await producer.stop()
    return written


def restore_snapshot(settings: Settings, manifest: Manifest, target: Topics, store: SnapshotStore | None = None,
                     force: bool = False) -> RestoreReport:
    """Create the target deployment's topics if missing (changelogs with the snapshot's partition counts), check
    the changelogs are empty, write the snapshot, and check every partition grew by exactly its entries."""
    store = store or SnapshotStore.from_settings(settings)
    t0 = time.perf_counter()
    unknown = [t.name for t in manifest.tables if t.name not in TABLES]
    if unknown:
        raise SnapshotError(f"snapshot {manifest.id} has tables this version does not know: {unknown}")
    topic_of = changelog_topics(target)
    wanted = {topic_of[t.name]: len(t.partitions) for t in manifest.tables}
    specs = {topic_of[t.name]: (len(t.partitions), topic_configs(t.name)) for t in manifest.tables}
    # the deployment's whole topic set first (as a worker or bridge would make it), so the inputs a worker reads
    # after the restore have their partition counts too; then the changelogs no process creates up front
    asyncio.run(ensure_topics(settings.bootstrap, target))
    asyncio.run(ensure_specs(settings.bootstrap, specs))
    before = asyncio.run(_end_offsets(settings.bootstrap, wanted))
    busy = sorted(f"{tp.topic}[{tp.partition}]" for tp, (start, end) in before.items() if end > start)
    if busy and not force:
        raise SnapshotError(f"{len(busy)} target changelog partitions are not empty, e.g. {busy[:3]}: restoring "
                            "over live state would roll keys back; restore into a fresh cluster or prefix "
                            "(or pass --force)")
    plan, total_bytes, per_table = [], 0, {}
    for table in manifest.tables:
        per_table[table.name] = table.keys
        for part in table.partitions:
            if part.object_key:
                plan.append((topic_of[table.name], part.partition, store.get(part.object_key), part.sha256))
                total_bytes += part.bytes
    written = asyncio.run(_produce(settings.bootstrap, plan))
    after = asyncio.run(_end_offsets(settings.bootstrap, wanted))
    for table in manifest.tables:
        for part in table.partitions:
            tp = TopicPartition(topic_of[table.name], part.partition)
            grown = after[tp][1] - before[tp][1]
            if grown != part.keys:
                raise SnapshotError(f"{tp.topic}[{tp.partition}] grew by {grown} records, expected {part.keys} "
                                    "(another writer on the target?)")
    return RestoreReport(snapshot_id=manifest.id, target_prefix=target.prefix, records=written, bytes=total_bytes,
                         restore_s=round(time.perf_counter() - t0, 3), tables=per_table)
