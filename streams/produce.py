"""Send a list of keyed records to one topic and return once the broker acknowledged every one.

The one-shot producer of tools, benchmarks and tests (a storm of alerts, a scenario request): not of the engine's
own processes, which keep their producer open. `acks="all"`: a record that was only buffered, or only on the
leader, is not yet one a test may count on. Idempotent: a send retried after a broker died (its ack lost with
it) is written once, not twice.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from aiokafka import AIOKafkaProducer

__all__ = ["produce"]


async def produce(bootstrap: str, topic: str, records: Iterable[tuple[bytes | None, bytes]],
                  linger_ms: int = 5, headers: Sequence[tuple[str, bytes]] | None = None,
                  partition: int | None = None) -> int:
    """Send (key, value) records in order, each with `headers` if given, to `partition` if given (else the key
    decides); returns how many were acknowledged (all, or it raised)."""
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all", enable_idempotence=True,
                                linger_ms=linger_ms)
    await producer.start()
    sent = 0
    try:
        for key, value in records:
            await producer.send(topic, key=key, value=value, partition=partition,
                                headers=list(headers) if headers else None)
            sent += 1
        await producer.flush()
    finally:
        await producer.stop()
    return sent
