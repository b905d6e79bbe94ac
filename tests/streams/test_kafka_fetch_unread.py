"""A partition the application does not read must not hold up the fetches of those it reads (real broker).

Faust keeps a table's changelog assigned after recovery and never takes its records; aiokafka then sent no fetch to
that broker for 0.1 s each time such records came in (streams/kafka_transport.fetch_past_unread)."""

from __future__ import annotations

import asyncio
import time

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition

from omnitrack.stack import Endpoints
from streams.kafka_transport import fetch_past_unread

HELD_S = 4.0
"""The fetcher's prefetch backoff in this test (aiokafka's is 0.1 s): long enough that 'no fetch while the unread
records wait' cannot pass by chance on a slow machine."""


async def _fetches_while_unread_wait(bootstrap: str, prefix: str, patched: bool) -> int:
    """Fetches asking for the read partition sent while the unread partition's records waited."""
    read, unread = TopicPartition(f"{prefix}-read", 0), TopicPartition(f"{prefix}-unread", 0)
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap)
    await producer.start()
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False,
                                auto_offset_reset="earliest", fetch_max_wait_ms=10)
    if patched:
        fetch_past_unread(consumer)
    try:
        for tp in (read, unread):
            await producer.send_and_wait(tp.topic, b"x", partition=0)
        await consumer.start()
        consumer.assign([read])
        deadline = time.monotonic() + 30
        while not await consumer.getmany(read, timeout_ms=500) and time.monotonic() < deadline:
            pass
        fetcher = consumer._fetcher
        fetcher._prefetch_backoff = HELD_S
        sent: list[bool] = []
        proc = fetcher._proc_fetch_request

        async def noting(assignment, node_id, request):  # noqa: ANN001, ANN202
            waiting = fetcher._records.get(unread)
            asks_read = any(topic == read.topic for topic, _ in request.topics)
            sent.append(asks_read and waiting is not None and time.monotonic() - waiting._created < HELD_S / 2)
            return await proc(assignment, node_id, request)

        fetcher._proc_fetch_request = noting
        consumer.assign([read, unread])  # as Faust: the changelog is assigned, its records are never taken
        while not any(sent) and time.monotonic() < deadline:
            await consumer.getmany(read, timeout_ms=100)
            if unread in fetcher._records and time.monotonic() - fetcher._records[unread]._created > HELD_S / 2:
                break  # past the window: whatever was to be sent in it has been
        return sum(sent)
    finally:
        await consumer.stop()
        await producer.stop()


def test_records_waiting_on_an_unread_partition_do_not_stop_the_fetches(stack_endpoints: Endpoints,
                                                                         topic_prefix: str) -> None:
    bootstrap = stack_endpoints.kafka_bootstrap
    assert asyncio.run(_fetches_while_unread_wait(bootstrap, topic_prefix + "a", patched=True)) >= 1
    # without it, aiokafka holds every fetch to the broker back while they wait (what the patch is for)
    assert asyncio.run(_fetches_while_unread_wait(bootstrap, topic_prefix + "b", patched=False)) == 0
