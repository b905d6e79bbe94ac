"""Send a keyed record with the app's own producer, not through Faust's `Topic.send`.

WHY: in a worker, `Topic.send` cost ~60-75 µs of CPU a message (its channel, a `FutureMessage` and their
callbacks around the producer's send), the producer's own `send` ~8 µs: one process, one broker, 5,000 messages
each way, alternated (2026-12-05). The twin publishes a status change per device that comes online, goes stale or
goes offline; when a fleet's devices first report, or all go silent at once, those sends were ~6 % of the
worker's time (`bench ingest`, issue 17).

Same producer as `Topic.send`, so the records sent to one partition keep the order of the calls whichever way
each was sent; the key decides the partition (murmur2, as for `Topic.send`). As with `Topic.send` the delivery
is not awaited: the producer retries (idempotent, `acks=all`), and a record it still could not deliver is logged
and counted in `omnitrack_publish_failures_total`.
"""

from __future__ import annotations

import asyncio
import logging
from functools import partial

import faust
from prometheus_client import Counter

__all__ = ["publish"]

log = logging.getLogger(__name__)

FAILURES = Counter("omnitrack_publish_failures_total",
                   "Records the producer could not deliver after its retries", ["topic"])


async def publish(app: faust.App, topic: str, key: bytes | None, value: bytes) -> None:
    """Queue one record for `topic` on the app's producer (returns once it is queued, not delivered)."""
    delivery = await app.producer.send(topic, key, value, None, None, None)
    delivery.add_done_callback(partial(_delivered, topic, key))  # type: ignore[attr-defined]


def _delivered(topic: str, key: bytes | None, delivery: asyncio.Future) -> None:
    if delivery.cancelled() or delivery.exception() is None:
        return
    FAILURES.labels(topic).inc()
    log.error("record for %s (key %r) not delivered: %r", topic, key, delivery.exception())
