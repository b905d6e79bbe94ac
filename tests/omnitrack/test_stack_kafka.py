"""The real Kafka broker of the local stack: produce and consume over loopback with aiokafka."""

from __future__ import annotations

import asyncio

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer

from omnitrack.stack.endpoints import Endpoints

pytestmark = pytest.mark.integration

N = 500


def test_produce_and_consume_roundtrip(stack_endpoints: Endpoints, topic_prefix: str) -> None:
    topic = f"{topic_prefix}.roundtrip"

    async def scenario() -> list[tuple[bytes, bytes]]:
        producer = AIOKafkaProducer(bootstrap_servers=stack_endpoints.kafka_bootstrap, acks="all")
        await producer.start()
        try:
            for i in range(N):
                await producer.send(topic, key=f"dev-{i % 7}".encode(), value=f"reading-{i}".encode())
            await producer.flush()
        finally:
            await producer.stop()

        consumer = AIOKafkaConsumer(
            topic,
            bootstrap_servers=stack_endpoints.kafka_bootstrap,
            group_id=f"{topic_prefix}.group",
            auto_offset_reset="earliest",
        )
        await consumer.start()
        got: list[tuple[bytes, bytes]] = []
        try:
            async with asyncio.timeout(60):
                while len(got) < N:
                    batch = await consumer.getmany(timeout_ms=1000)
                    for records in batch.values():
                        got.extend((r.key, r.value) for r in records)
        finally:
            await consumer.stop()
        return got

    got = asyncio.run(scenario())
    assert sorted(v for _, v in got) == sorted(f"reading-{i}".encode() for i in range(N))
    # keyed records keep their per-key order within a partition
    for key in {k for k, _ in got}:
        seq = [int(v.split(b"-")[1]) for k, v in got if k == key]
        assert seq == sorted(seq)


def test_the_stack_is_up_only_once_the_broker_names_group_coordinators(stack_endpoints: Endpoints) -> None:
    """`stack.up` waits for the group coordinator (on a fresh broker `__consumer_offsets` is created on the first
    question, and every process of `make run` once logged its consumer group's failed join): up means it answers.
    Where nothing listens, the probe says so within its timeout instead of hanging."""
    from omnitrack.ports import free_port_block
    from omnitrack.stack.kafka import coordinator_ok

    assert coordinator_ok(stack_endpoints.kafka_bootstrap)
    assert not coordinator_ok(f"127.0.0.1:{free_port_block((0,))}", timeout_s=2.0)
