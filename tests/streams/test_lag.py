"""streams/lag.py against the real broker: a group's lag is end offset minus its committed offset, per topic,
and `export_lag` puts it on the gauge."""

from __future__ import annotations

import asyncio

import pytest
from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.structs import OffsetAndMetadata
from prometheus_client import REGISTRY

from streams.lag import engine_groups, export_lag, group_lag
from streams.produce import produce
from streams.topics import Topics

pytestmark = pytest.mark.integration


def _gauge(group: str, topic: str) -> float | None:
    return REGISTRY.get_sample_value("omnitrack_consumer_lag_records", {"group": group, "topic": topic})


async def _commit(bootstrap: str, group: str, topic: str, offsets: dict[int, int]) -> None:
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, group_id=group, enable_auto_commit=False)
    await consumer.start()
    try:
        consumer.assign([TopicPartition(topic, p) for p in offsets])  # aiokafka commits assigned partitions only
        await consumer.commit({TopicPartition(topic, p): OffsetAndMetadata(o, "") for p, o in offsets.items()})
    finally:
        await consumer.stop()


def test_lag_is_what_the_group_has_not_committed(stack_endpoints, topic_prefix: str) -> None:  # noqa: ANN001
    bootstrap = stack_endpoints.kafka_bootstrap
    topics = Topics(topic_prefix)
    group = engine_groups(topics)["notifier"]
    topic = topics.alerts

    async def scenario() -> list[dict[str, int]]:
        admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
        await admin.start()
        await admin.create_topics([NewTopic(topic, num_partitions=2, replication_factor=1)])
        # 7 records on partition 0 and 5 on partition 1 (keys chosen by partition, not hashed)
        for partition, n in ((0, 7), (1, 5)):
            producer_records = [(None, b"x")] * n
            await produce(bootstrap, topic, producer_records, partition=partition)
        consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, group_id=None, enable_auto_commit=False)
        await consumer.start()
        try:
            seen = [await group_lag(admin, consumer, group)]  # never committed: nothing to show
            await _commit(bootstrap, group, topic, {0: 3, 1: 5})
            seen.append(await group_lag(admin, consumer, group))
            await _commit(bootstrap, group, topic, {0: 7})
            seen.append(await group_lag(admin, consumer, group))
            exporting = asyncio.create_task(export_lag(bootstrap, topics, interval_s=0.2))
            await _commit(bootstrap, group, topic, {0: 1})  # rewound: the gauge follows
            for _ in range(100):
                if _gauge(group, topic) == 6:
                    break
                await asyncio.sleep(0.1)
            exporting.cancel()
            seen.append({topic: int(_gauge(group, topic) or -1)})
            return seen
        finally:
            await consumer.stop()
            await admin.close()

    assert asyncio.run(scenario()) == [{}, {topic: 4}, {topic: 0}, {topic: 6}]


