"""The fleet simulator's ground truth on Kafka, next to (or instead of) its JSONL file.

Why Kafka: the end-to-end benchmark and any external scorer read what was
injected from the same cluster as what the engine detected, with the same
clock, without sharing files between machines.
"""

from __future__ import annotations

import asyncio

from aiokafka import AIOKafkaProducer

from simulators.fleet.scenarios import GroundTruthSink, InjectedEvent


class KafkaGroundTruthSink:
    """A `GroundTruthSink` that produces each injected event (JSON, keyed by subject) and waits for the ack."""

    def __init__(self, bootstrap: str, topic: str) -> None:
        self._topic = topic
        self._loop = asyncio.new_event_loop()

        async def start() -> AIOKafkaProducer:  # the producer binds to the loop it is created in
            # idempotent: an event retried after a broker failover is not injected twice in the ground truth
            producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all", enable_idempotence=True)
            await producer.start()
            return producer

        self._producer = self._loop.run_until_complete(start())

    def write(self, event: InjectedEvent) -> None:
        self._loop.run_until_complete(self._producer.send_and_wait(
            self._topic, key=event.subject_id.encode(), value=event.model_dump_json().encode()))

    def close(self) -> None:
        self._loop.run_until_complete(self._producer.stop())
        self._loop.close()


class TeeSink:
    """Writes every event to several sinks (the JSONL file and the topic)."""

    def __init__(self, *sinks: GroundTruthSink) -> None:
        self._sinks = sinks

    def write(self, event: InjectedEvent) -> None:
        for sink in self._sinks:
            sink.write(event)

    def close(self) -> None:
        for sink in self._sinks:
            sink.close()
