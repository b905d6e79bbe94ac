"""The Kafka transport of our Faust apps: faust-streaming's aiokafka driver with a short fetch wait, and a seek
to the committed offsets that really goes there.

Why: the driver hard-codes `fetch_max_wait_ms=1500`, and aiokafka keeps one
fetch in flight per broker. When that fetch asks only for partitions that are
caught up, the broker holds it for the full wait while records pile up on the
other partitions: a worker draining a backlog stalled for up to 1.5 s at a
time (seen in `omnitrack bench ingest` as flat stretches of the applied
count with the worker idle), and every alert waited behind it.

Only the twin worker uses it (`OmniTrackApp.fetch_max_wait_ms`). With it, the
notifier's restart-from-a-rewound-group test saw some records twice after
table recovery (Faust's recovery seeks back to the committed offsets while a
quicker fetch may already have delivered records past them); the notifier
dedups them but counts them, and its latency gains nothing from a shorter wait.
The twin recognises such records as duplicates by sequence number.

Why our own seek (`seek_to_committed`): after a rebalance Faust resumes the stream partitions and only then
seeks them to their committed offsets, and records fetched in between can be discarded by Faust (a partition
not yet among its active ones). The seek is what brings them back, but aiokafka's `seek_to_committed` skips
a partition whose committed offset is 0 (`if offset and offset > 0`) or that has none yet: its position stays
past the discarded records. Seen as a notifier that, after its group was reset to offset 0, processed nothing
(or all but a few records) and would have committed past them once newer records arrived: notifications lost
without a trace. The same holds for every partition of a new group, and for any partition whose first commit
had not happened yet when a worker was killed.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from typing import Any

from aiokafka import AIOKafkaConsumer, TopicPartition
from faust.transport.drivers import aiokafka as driver

FETCH_MAX_WAIT_MS = 100
"""The twin worker's longest broker-side wait for a fetch with nothing new: bounds the
stall above; an idle worker then asks ten times a second, next to nothing for the broker."""


async def seek_to_committed(consumer: AIOKafkaConsumer, reset: str = "earliest",
                            skip_topics: Collection[str] = ()) -> dict[TopicPartition, int | None]:
    """Move every assigned partition to its committed offset, 0 included; one never committed to where
    `reset` ("earliest"/"latest") puts it. Returns the committed offsets (None: none), as aiokafka's does.

    `skip_topics` (table changelogs: the group commits nothing there, recovery positions them itself) are
    reported but not moved."""
    committed: dict[TopicPartition, int | None] = {}
    unset: list[TopicPartition] = []
    for tp in sorted(consumer.assignment()):
        offset = await consumer.committed(tp)
        committed[tp] = offset
        if tp.topic in skip_topics:
            continue
        if offset is not None and offset >= 0:
            consumer.seek(tp, offset)
        else:
            unset.append(tp)
    if unset and reset == "earliest":
        await consumer.seek_to_beginning(*unset)
    elif unset and reset == "latest":
        await consumer.seek_to_end(*unset)
    return committed


class ConsumerThread(driver.AIOKafkaConsumerThread):
    def _create_worker_consumer(self, transport: Any) -> Any:
        consumer = super()._create_worker_consumer(transport)
        wait_ms = getattr(self.app, "fetch_max_wait_ms", None)
        if wait_ms is not None:
            consumer._fetch_max_wait_ms = wait_ms  # read by the fetcher when the consumer starts
        return consumer

    async def seek_to_committed(self) -> Mapping[Any, int | None]:
        """Faust's `perform_seek` (after every rebalance and recovery) through our `seek_to_committed`."""
        return await self.call_thread(
            seek_to_committed, self._ensure_consumer(), self.app.conf.consumer_auto_offset_reset,
            frozenset(self.app.tables.changelog_topics))


class Consumer(driver.Consumer):
    def _new_consumer_thread(self) -> ConsumerThread:
        return ConsumerThread(self, loop=self.loop, beacon=self.beacon)


class Transport(driver.Transport):
    Consumer = Consumer
