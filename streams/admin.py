"""Create the engine's Kafka topics with the partition counts the design relies on."""

from __future__ import annotations

import asyncio
import logging

from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import TopicAlreadyExistsError

from streams.topics import Topics

log = logging.getLogger(__name__)

TELEMETRY_PARTITIONS = 8
"""Upper bound on twin workers sharing the load; changing it later re-homes devices (and their table rows)."""


def topic_specs(topics: Topics) -> dict[str, int]:
    return {
        topics.telemetry: TELEMETRY_PARTITIONS,
        topics.telemetry_dlq: 1,
        topics.twin_changes: TELEMETRY_PARTITIONS,
        topics.alerts: TELEMETRY_PARTITIONS,
    }


async def ensure_topics(bootstrap: str, topics: Topics) -> None:
    """Create missing topics (idempotent); existing ones are left as they are."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        existing = set(await admin.list_topics())
        new = [NewTopic(name, partitions, 1) for name, partitions in topic_specs(topics).items() if name not in existing]
        if new:
            try:
                await admin.create_topics(new)
            except TopicAlreadyExistsError:
                pass  # created meanwhile by another process
        # metadata propagates asynchronously; wait until every topic is visible
        for _ in range(100):
            if set(topic_specs(topics)) <= set(await admin.list_topics()):
                return
            await asyncio.sleep(0.1)
    finally:
        await admin.close()
