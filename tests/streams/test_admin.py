"""streams/admin.py against the test broker: new topics are served when `ensure_specs` returns."""

from __future__ import annotations

import asyncio
import logging

import pytest
from aiokafka import AIOKafkaConsumer, TopicPartition

from omnitrack.stack.endpoints import Endpoints
from streams.admin import ensure_specs, topic_specs, wait_until_served
from streams.topics import Topics

pytestmark = pytest.mark.integration


def test_new_topics_answer_a_consumer_at_once(stack_endpoints: Endpoints, topic_prefix: str,
                                               caplog: pytest.LogCaptureFixture) -> None:
    """A consumer that starts the moment `ensure_specs` returns (the API beside the worker that created its topics)
    gets its offsets without one refusal. Before, the broker refused its first requests (NotLeaderForPartition:
    the metadata named a leader before that broker served the partition) and aiokafka logged each at ERROR."""
    bootstrap = stack_endpoints.kafka_bootstrap
    specs = topic_specs(Topics(topic_prefix))  # the engine's own: 18 topics, 102 partitions
    partitions = [TopicPartition(name, p) for name, (count, _) in specs.items() for p in range(count)]

    async def go() -> dict[TopicPartition, int]:
        await ensure_specs(bootstrap, specs)
        consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
        await consumer.start()
        try:
            consumer.assign(partitions)  # as the API's read model does, then asks where each partition ends
            return await consumer.end_offsets(partitions)
        finally:
            await consumer.stop()

    with caplog.at_level(logging.DEBUG, logger="aiokafka"):
        ends = asyncio.run(go())
    assert len(ends) == len(partitions) and set(ends.values()) == {0}
    refusals = [r.getMessage() for r in caplog.records if "NotLeaderForPartition" in r.getMessage()]
    assert not refusals, refusals[:3]


def test_a_partition_never_served_ends_the_wait_at_its_deadline(stack_endpoints: Endpoints,
                                                                 topic_prefix: str) -> None:
    """A partition no broker serves (beyond the topic's count) does not hold a process's start for ever: the wait
    gives up at its deadline and says so."""
    bootstrap, name = stack_endpoints.kafka_bootstrap, f"{topic_prefix}.short"
    asyncio.run(ensure_specs(bootstrap, {name: (2, {})}))
    served = [TopicPartition(name, 0), TopicPartition(name, 1)]
    assert asyncio.run(wait_until_served(bootstrap, served, deadline_s=20)) is True
    assert asyncio.run(wait_until_served(bootstrap, [TopicPartition(name, 5)], deadline_s=2)) is False
