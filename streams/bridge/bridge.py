"""The bridge's core: MQTT messages in, validated Kafka records out, PUBACK last.

Flow per round: gather the messages that arrived (a few ms of linger), decode
each with the telemetry contract, group valid readings by the Kafka partition
their device hashes to (one record per partition), route each invalid message
to the dead-letter topic with its raw bytes, produce, and once Kafka has
acknowledged the whole round, acknowledge its MQTT messages in arrival order.
A Kafka failure stops the bridge without acknowledging: the broker redelivers
to the restarted bridge, so nothing is lost (duplicates are recognised by the twin).
"""

from __future__ import annotations

import asyncio
import collections
import logging
import time
from collections.abc import Callable
from datetime import datetime, timezone
from functools import lru_cache

from aiokafka import AIOKafkaProducer
from aiokafka.partitioner import murmur2

from streams.bridge import metrics
from streams.bridge.transport import Inbound, Transport
from streams.records import dlq_headers, encode_telemetry, reading_to_wire
from streams.topics import Topics
from twin.telemetry import GatewayTopic, Reading, TelemetryError, decode_reading, parse_topic

log = logging.getLogger(__name__)

MAX_ROUND_MESSAGES = 5000
"""Messages per round: bounds the memory and latency of one produce/ack cycle."""

MAX_ROUND_READINGS = 5000
"""Readings per round, counted as its messages are decoded (a round may end up to one gateway batch over).

WHY: a round is decoded whole before its first record goes to Kafka. Bounded by messages only, a burst of
gateway batches (the bench's 4,000 in 0.15 s) made one round of up to 250,000 readings, and the twin worker, with
nothing to read meanwhile, sat idle for a third of the run with CPU to spare (bench ingest, issue 17). 5,000
readings are ~40 ms of the bridge's CPU (~8 µs a reading), and ~625 readings a record over 8 partitions."""

MAX_READINGS_PER_RECORD = 1000
"""Readings per Kafka record: ~130 KB of typical readings, ~500 KB of readings of every metric at their longest
(tests/streams/test_bridge_rounds.py), below the 1 MB record limit that a round of gateway batches would
otherwise exceed (the producer refuses such a record). WHY not 500, as before: a round of 5,000 readings over 8
partitions is ~625 a partition, so 500 cut most of them in two, and the worker pays per record: records of ~625
readings cost it 1.37 CPU-s per 200,000 readings, 500 + 125 cost 1.51-1.57 and ~310 cost 1.78 (issue 17)."""

MAX_ROUNDS_IN_FLIGHT = 4
"""Rounds awaiting Kafka at once: overlaps decoding with the broker's round trip without unbounded buffering."""


_BATCHES, _SINGLES = metrics.MESSAGES.labels("batch"), metrics.MESSAGES.labels("reading")  # looked up once, not per message


@lru_cache(maxsize=1 << 17)
def _hash(device_id: str) -> int:
    # Kafka's default partitioner (murmur2 of the key), so the partition is the
    # one any Kafka client would pick for this device id as key.
    return murmur2(device_id.encode()) & 0x7FFFFFFF


def take_round(inbox: collections.deque[Inbound], decode: Callable[[Inbound], list[Reading]],
               max_messages: int = MAX_ROUND_MESSAGES,
               max_readings: int = MAX_ROUND_READINGS) -> list[tuple[Inbound, list[Reading] | TelemetryError]]:
    """Take the next round's messages from `inbox`, oldest first, each with its readings or why it was refused.

    The round ends when the inbox is empty, or at `max_messages` messages, or once it holds `max_readings`
    readings; what is left stays in the inbox for the next round, in order."""
    round_: list[tuple[Inbound, list[Reading] | TelemetryError]] = []
    readings = 0
    while inbox and len(round_) < max_messages and readings < max_readings:
        message = inbox.popleft()
        try:
            decoded = decode(message)
        except TelemetryError as error:
            round_.append((message, error))
            continue
        readings += len(decoded)
        round_.append((message, decoded))
    return round_


class Bridge:
    """Moves telemetry from one MQTT transport into Kafka without losing a message."""

    def __init__(self, transport: Transport, producer: AIOKafkaProducer, topics: Topics,
                 *, linger_s: float = 0.005, known_devices: frozenset[str] | None = None) -> None:
        self._transport = transport
        self._producer = producer
        self._topics = topics
        self._linger_s = linger_s
        self._known = known_devices
        self._inbox: collections.deque[Inbound] = collections.deque()
        self._wakeup = asyncio.Event()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._partitions = 0
        self._rounds: asyncio.Queue[tuple[list[asyncio.Future], list[Inbound]] | None] = asyncio.Queue(
            MAX_ROUNDS_IN_FLIGHT
        )

    def _deliver(self, message: Inbound) -> None:
        """Called from the transport's thread for every message."""
        self._inbox.append(message)
        metrics.PENDING.inc()
        if self._loop is not None and not self._wakeup.is_set():
            self._loop.call_soon_threadsafe(self._wakeup.set)

    async def run(self, stop: asyncio.Event) -> None:
        """Bridge until `stop` is set or Kafka fails (then raise, leaving messages unacknowledged)."""
        self._loop = asyncio.get_running_loop()
        partitions = await self._producer.partitions_for(self._topics.telemetry)
        self._partitions = len(partitions)
        acker = asyncio.create_task(self._ack_rounds())
        self._transport.start(self._deliver)
        log.info("bridge running: %d partitions on %s", self._partitions, self._topics.telemetry)
        try:
            while not stop.is_set():
                if not self._inbox:
                    self._wakeup.clear()
                    waiter = asyncio.create_task(self._wakeup.wait())
                    stopper = asyncio.create_task(stop.wait())
                    await asyncio.wait({waiter, stopper}, return_when=asyncio.FIRST_COMPLETED)
                    waiter.cancel()
                    stopper.cancel()
                    if stop.is_set():
                        break
                    await asyncio.sleep(self._linger_s)
                if acker.done():
                    acker.result()  # re-raise a Kafka failure
                await self._rounds.put(await self._round())
            await self._rounds.put(None)
            await acker
        finally:
            self._transport.stop()
            if not acker.done():
                acker.cancel()

    async def _round(self) -> tuple[list[asyncio.Future], list[Inbound]]:
        now = datetime.now(timezone.utc)
        decoded = take_round(self._inbox, lambda m: decode_reading(m.payload, m.topic, now, self._known))
        taken = [message for message, _ in decoded]
        by_partition: dict[int, list[dict]] = {}
        futures: list[asyncio.Future] = []
        topics = self._topics
        for message, readings in decoded:
            if isinstance(readings, TelemetryError):
                error = readings
                metrics.REJECTED.labels(error.reason).inc()
                futures.append(await self._producer.send(
                    topics.telemetry_dlq, value=message.payload,
                    key=(error.device_id or message.topic).encode(errors="replace"),
                    headers=dlq_headers(error, message.topic, now),
                ))
                metrics.RECORDS.labels("dlq").inc()
                continue
            (_BATCHES if isinstance(parse_topic(message.topic), GatewayTopic) else _SINGLES).inc()
            for reading in readings:
                part = _hash(reading.device_id) % self._partitions
                by_partition.setdefault(part, []).append(reading_to_wire(reading))
        received = str(taken[0].received_ns // 1_000_000).encode() if taken else b"0"
        for part, wires in by_partition.items():
            for start in range(0, len(wires), MAX_READINGS_PER_RECORD):
                chunk = wires[start:start + MAX_READINGS_PER_RECORD]
                futures.append(await self._producer.send(
                    topics.telemetry, value=encode_telemetry(chunk), key=chunk[0]["device_id"].encode(),
                    partition=part, headers=[("bridge_received_ms", received)],
                ))
                metrics.RECORDS.labels("telemetry").inc()
            metrics.READINGS.inc(len(wires))
        return futures, taken

    async def _ack_rounds(self) -> None:
        """Acknowledge rounds in order, each only after Kafka acknowledged all its records."""
        while (item := await self._rounds.get()) is not None:
            futures, taken = item
            if futures:
                await asyncio.gather(*futures)  # raises on a failed delivery: nothing acked
            done_ns = time.time_ns()
            for message in taken:
                message.ack()
                metrics.LATENCY.observe((done_ns - message.received_ns) / 1e9)
            metrics.ACKED.inc(len(taken))
            metrics.PENDING.dec(len(taken))
