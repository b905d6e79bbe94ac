"""A static member stopped gracefully leaves its group, however far its join had got (real broker).

streams/group_leave.py names the member by its instance id (LeaveGroup v3); aiokafka's v0-v1 leave needs the
member id, which a process stopped before reading its JoinGroup response does not know."""

from __future__ import annotations

import asyncio
import logging
import time

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, ConsumerRebalanceListener
from aiokafka.admin import AIOKafkaAdminClient

from omnitrack.stack import Endpoints
from streams.group_leave import leave_early
from streams.kafka_transport import leave_on_stop


async def _members(bootstrap: str, group: str) -> list[str]:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        (resp,) = await admin.describe_consumer_groups([group])
        return [m[0] for m in resp.groups[0][5]]
    finally:
        await admin.close()


async def _create_topic(bootstrap: str, topic: str) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap)
    await producer.start()
    try:
        await producer.send_and_wait(topic, b"x")  # the broker creates the topic
    finally:
        await producer.stop()


async def _members_after_stop(bootstrap: str, prefix: str, *, join_unread: bool = False,
                              leave_versions: tuple[int, int] | None = None,
                              leave_first: bool = False) -> tuple[list[str], list[str]]:
    """(members while it ran, members once it stopped) of a static member's group. `leave_first`: as our Faust
    apps stop, the early leave (streams/group_leave.leave_early), then the close."""
    topic, group = f"{prefix}-leave", f"{prefix}-group"
    await _create_topic(bootstrap, topic)
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
        if leave_first:
            await leave_early(consumer._coordinator)
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


class _StuckInRebalance(ConsumerRebalanceListener):
    """As Faust's rebalance callback when the app stops during a rebalance: it waits on the app, which no longer
    answers, so aiokafka's coordination routine never ends and the consumer's close (which awaits it) never
    reaches its leave."""

    def __init__(self) -> None:
        self.entered = asyncio.Event()
        self.release = asyncio.Event()

    async def on_partitions_revoked(self, revoked: object) -> None:
        return None

    async def on_partitions_assigned(self, assigned: object) -> None:
        self.entered.set()
        await self.release.wait()


async def _members_after_early_leave(bootstrap: str, prefix: str) -> tuple[list[str], list[str], list[str]]:
    """(members in the rebalance, members after the early leave, members once stopped) of a static member whose
    rebalance callback is stuck when it leaves."""
    topic, group = f"{prefix}-leave", f"{prefix}-group"
    await _create_topic(bootstrap, topic)
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, group_id=group, group_instance_id=f"{prefix}-i",
                                enable_auto_commit=False, auto_offset_reset="earliest")
    leave_on_stop(consumer)
    listener = _StuckInRebalance()
    await consumer.start()
    try:
        consumer.subscribe([topic], listener=listener)
        await asyncio.wait_for(listener.entered.wait(), 60)
        stuck = await _members(bootstrap, group)
        await leave_early(consumer._coordinator)
        left = await _members(bootstrap, group)
    finally:
        listener.release.set()
        await consumer.stop()
    return stuck, left, await _members(bootstrap, group)


def test_a_member_stuck_in_a_rebalance_leaves_early(stack_endpoints: Endpoints, topic_prefix: str) -> None:
    """The leave our Faust apps send as they stop (streams/kafka_transport.Consumer.on_stop), before the close."""
    stuck, left, stopped = asyncio.run(_members_after_early_leave(stack_endpoints.kafka_bootstrap, topic_prefix + "d"))
    assert len(stuck) == 1 and left == [] and stopped == []


def test_the_close_does_not_leave_twice(stack_endpoints: Endpoints, topic_prefix: str,
                                        caplog: pytest.LogCaptureFixture) -> None:
    """After an early leave, the close sends nothing while the member is as it left (a second leave is answered
    UnknownMemberIdError, logged as a warning on every graceful stop)."""
    with caplog.at_level(logging.WARNING, logger="streams.group_leave"):
        running, stopped = asyncio.run(_members_after_stop(stack_endpoints.kafka_bootstrap, topic_prefix + "e",
                                                           leave_first=True))
    assert len(running) == 1 and stopped == []
    leaves = [r.getMessage() for r in caplog.records if r.name == "streams.group_leave"]
    assert not leaves, leaves
