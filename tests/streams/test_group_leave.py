"""A static member stopped gracefully leaves its group, however far its join had got (real broker).

streams/group_leave.py names the member by its instance id (LeaveGroup v3); aiokafka's v0-v1 leave needs the
member id, which a process stopped before reading its JoinGroup response does not know."""

from __future__ import annotations

import asyncio
import time

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient

from omnitrack.stack import Endpoints
from streams.kafka_transport import leave_on_stop


async def _members(bootstrap: str, group: str) -> list[str]:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        (resp,) = await admin.describe_consumer_groups([group])
        return [m[0] for m in resp.groups[0][5]]
    finally:
        await admin.close()


async def _members_after_stop(bootstrap: str, prefix: str, *, join_unread: bool = False,
                              leave_versions: tuple[int, int] | None = None) -> tuple[list[str], list[str]]:
    """(members while it ran, members once it stopped) of a static member's group."""
    topic, group = f"{prefix}-leave", f"{prefix}-group"
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap)
    await producer.start()
    try:
        await producer.send_and_wait(topic, b"x")  # the broker creates the topic
    finally:
        await producer.stop()
    consumer = AIOKafkaConsumer(topic, bootstrap_servers=bootstrap, group_id=group, group_instance_id=f"{prefix}-i",
                                enable_auto_commit=False, auto_offset_reset="earliest")
    leave_on_stop(consumer)
    await consumer.start()
    try:
        deadline = time.monotonic() + 60
        while not consumer.assignment() and time.monotonic() < deadline:
            await consumer.getmany(timeout_ms=200)
        assert consumer.assignment(), "the consumer never got its partition"
        running = await _members(bootstrap, group)
        if join_unread:  # as a member stopped before it read its JoinGroup response: no generation, no member id
            coordinator = consumer._coordinator
            coordinator.generation, coordinator.member_id = -1, ""
        if leave_versions is not None:  # as a broker that offers only these LeaveGroup versions (API key 13)
            for conn in consumer._client._conns.values():
                conn._versions[13] = leave_versions
    finally:
        await consumer.stop()
    return running, await _members(bootstrap, group)


def test_a_stopped_static_member_leaves(stack_endpoints: Endpoints, topic_prefix: str) -> None:
    running, stopped = asyncio.run(_members_after_stop(stack_endpoints.kafka_bootstrap, topic_prefix + "a"))
    assert len(running) == 1 and stopped == []


def test_a_static_member_stopped_before_reading_its_join_still_leaves(stack_endpoints: Endpoints,
                                                                       topic_prefix: str) -> None:
    """With aiokafka's leave (or ours before v3) nothing was sent: listed for the whole session timeout."""
    running, stopped = asyncio.run(_members_after_stop(stack_endpoints.kafka_bootstrap, topic_prefix + "b",
                                                       join_unread=True))
    assert len(running) == 1 and stopped == []


def test_a_broker_without_leave_v3_gets_the_leave_by_member_id(stack_endpoints: Endpoints, topic_prefix: str) -> None:
    """Kafka 2.3 has static membership but LeaveGroup only up to v2: the leave falls back to the member id."""
    running, stopped = asyncio.run(_members_after_stop(stack_endpoints.kafka_bootstrap, topic_prefix + "c",
                                                       leave_versions=(0, 2)))
    assert len(running) == 1 and stopped == []
