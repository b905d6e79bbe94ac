"""The Kafka transport of our Faust apps: faust-streaming's aiokafka driver with a short fetch wait.

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
"""

from __future__ import annotations

from typing import Any

from faust.transport.drivers import aiokafka as driver

FETCH_MAX_WAIT_MS = 100
"""The twin worker's longest broker-side wait for a fetch with nothing new: bounds the
stall above; an idle worker then asks ten times a second, next to nothing for the broker."""


class ConsumerThread(driver.AIOKafkaConsumerThread):
    def _create_worker_consumer(self, transport: Any) -> Any:
        consumer = super()._create_worker_consumer(transport)
        wait_ms = getattr(self.app, "fetch_max_wait_ms", None)
        if wait_ms is not None:
            consumer._fetch_max_wait_ms = wait_ms  # read by the fetcher when the consumer starts
        return consumer


class Consumer(driver.Consumer):
    def _new_consumer_thread(self) -> ConsumerThread:
        return ConsumerThread(self, loop=self.loop, beacon=self.beacon)


class Transport(driver.Transport):
    Consumer = Consumer
