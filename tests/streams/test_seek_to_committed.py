"""streams.kafka_transport.seek_to_committed against the real broker: after records were fetched past the
committed offset, the seek brings every partition back to it, 0 and "never committed" included.

This is the notifier's lost-after-rewind bug at its root: Faust resumes stream partitions, records get fetched
(and may be discarded) before its seek to the committed offsets, and aiokafka's own `seek_to_committed` leaves
a partition whose committed offset is 0, or that has none, where the fetch left it. The first test shows that
behaviour of aiokafka (if it changes, our override may go); the second shows ours.
"""

from __future__ import annotations

import asyncio

import pytest
from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.structs import OffsetAndMetadata

from streams.kafka_transport import seek_to_committed
from streams.produce import produce

pytestmark = pytest.mark.integration

RECORDS = 5


async def _fetched_past_committed(bootstrap: str, topic: str, group: str) -> AIOKafkaConsumer:
    """Partition 0 committed at 0, partition 1 at 2, partition 2 never: then everything fetched (position 5)."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        await admin.create_topics([NewTopic(topic, num_partitions=3, replication_factor=1)])
    finally:
        await admin.close()
    for p in range(3):
        await produce(bootstrap, topic, [(None, b"r%d" % i) for i in range(RECORDS)], partition=p)
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, group_id=group, enable_auto_commit=False,
                                auto_offset_reset="earliest")
    await consumer.start()
    tps = [TopicPartition(topic, p) for p in range(3)]
    consumer.assign(tps)
    await consumer.commit({tps[0]: OffsetAndMetadata(0, ""), tps[1]: OffsetAndMetadata(2, "")})
    got = 0
    for _ in range(100):
        batch = await consumer.getmany(timeout_ms=200)
        got += sum(len(v) for v in batch.values())
        if [await consumer.position(tp) for tp in tps] == [RECORDS] * 3:
            break
    assert [await consumer.position(tp) for tp in tps] == [RECORDS] * 3, got
    return consumer


async def _positions(consumer: AIOKafkaConsumer, topic: str) -> list[int]:
    return [await consumer.position(TopicPartition(topic, p)) for p in range(3)]


def test_aiokafka_leaves_partitions_at_zero_or_uncommitted_where_the_fetch_left_them(stack_endpoints,  # noqa: ANN001
                                                                                      topic_prefix: str) -> None:
    topic = f"{topic_prefix}.seek"

    async def scenario() -> list[int]:
        consumer = await _fetched_past_committed(stack_endpoints.kafka_bootstrap, topic, f"{topic_prefix}.g")
        try:
            await consumer.seek_to_committed()
            return await _positions(consumer, topic)
        finally:
            await consumer.stop()

    assert asyncio.run(scenario()) == [RECORDS, 2, RECORDS]  # records 0-4 of partitions 0 and 2: never again


def test_seek_to_committed_returns_every_partition_to_its_committed_offset(stack_endpoints,  # noqa: ANN001
                                                                         topic_prefix: str) -> None:
    topic = f"{topic_prefix}.seek"

    async def scenario() -> tuple[dict, list[int], list[int]]:
        consumer = await _fetched_past_committed(stack_endpoints.kafka_bootstrap, topic, f"{topic_prefix}.g")
        try:
            committed = await seek_to_committed(consumer)
            positions = await _positions(consumer, topic)
            # and from there the records come again: 5 + 3 + 5
            again: list = []
            for _ in range(100):
                batch = await consumer.getmany(timeout_ms=200)
                again += [r for recs in batch.values() for r in recs]
                if len(again) >= 13:
                    break
            return committed, positions, sorted((r.partition, r.offset) for r in again)
        finally:
            await consumer.stop()

    committed, positions, again = asyncio.run(scenario())
    assert {tp.partition: o for tp, o in committed.items()} == {0: 0, 1: 2, 2: None}
    assert positions == [0, 2, 0]
    assert again == [(0, i) for i in range(5)] + [(1, i) for i in range(2, 5)] + [(2, i) for i in range(5)]


def test_seek_to_committed_leaves_skipped_topics_alone(stack_endpoints, topic_prefix: str) -> None:  # noqa: ANN001
    topic = f"{topic_prefix}.seek"

    async def scenario() -> list[int]:
        consumer = await _fetched_past_committed(stack_endpoints.kafka_bootstrap, topic, f"{topic_prefix}.g")
        try:
            await seek_to_committed(consumer, skip_topics={topic})
            return await _positions(consumer, topic)
        finally:
            await consumer.stop()

    assert asyncio.run(scenario()) == [RECORDS] * 3
