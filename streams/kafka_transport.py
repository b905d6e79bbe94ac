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

Why the flow stops for that seek (`Consumer.perform_seek`): records fetched before it are still being handed
to the agents while it runs, and Faust's consumer loop takes each for the newest read: one past the committed
offset marks everything between as a gap (acknowledged, as if processed), and once the seek has brought the
records back, Faust drops them as older than what it read. Seen as alerts the notifier never delivered nor
parked after a SIGKILL (the restarted worker, re-reading from its committed offsets, committed past them).
With the flow stopped until the fetch in progress has returned, those records are discarded instead (Faust
throws away what arrives while the flow is stopped, and fetches it again from the new position).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Collection, Mapping
from typing import Any

from aiokafka import AIOKafkaConsumer, TopicPartition
from faust.transport.drivers import aiokafka as driver

from streams.group_leave import leave_early, leave_on_close

log = logging.getLogger(__name__)

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


def leave_on_stop(consumer: AIOKafkaConsumer) -> None:
    """Make a static member (``group_instance_id``, streams/app.py) leave its group when it stops gracefully.

    Why: static membership lets a process restarted after a crash take its partitions back at once (no
    rebalance, no wait for the dead member's session), but aiokafka then never sends LeaveGroup, so a worker
    stopped for good held its partitions for the whole session timeout (rebalance after a SIGTERM 10 s instead
    of 0-1 s, tests/faults/test_rebalance_storm.py). The leave names the member by its instance id
    (streams/group_leave.py), so it holds however far the join had got. A crashed process sends nothing, so a
    crash keeps the fast rejoin. Our Faust apps leave earlier still (`Consumer.on_stop`); the close then
    leaves only if the member joined again since."""
    start = consumer.start

    async def start_then_patch() -> None:
        await start()
        coordinator = consumer._coordinator
        if coordinator is not None and getattr(coordinator, "_group_instance_id", None) is not None:
            coordinator._maybe_leave_group = lambda: leave_on_close(coordinator)  # read by its close()

    consumer.start = start_then_patch


def fetch_past_unread(consumer: AIOKafkaConsumer) -> None:
    """Records of a partition the application is not reading must not hold up the fetches of those it reads.

    WHY: aiokafka's fetcher sends no fetch to a broker while any partition led there holds fetched records younger
    than its `prefetch_backoff` (0.1 s) that the application has not taken yet: a wait for the reader, so the next
    fetch asks for every partition at once. Faust never takes the records of a partition it is not reading (a
    table's changelog after recovery, which stays assigned). When such a changelog got records (the windowed
    history at each minute boundary: its first writes in a minute), their fetch stopped every fetch from that
    broker for 0.1 s, and the worker's agents sat idle with the telemetry waiting on the broker (`bench latency`,
    2026-12-05: drain waits of 101-106 ms; the slowest alert 135-175 ms, at :00.1 in every run).

    So the partitions the application last asked records of are noted (Faust passes its active ones to each
    `fetched_records`), and waiting records of any other partition count as already past their backoff: they
    stay buffered, their partition is left out of the next fetch (as aiokafka does for any partition with
    records buffered), and every other partition is fetched as usual. Dropping the backoff for all partitions
    instead made things worse (alert p50 132 ms against 26 ms): each fetch then left out the partitions the
    worker was still reading and waited out the broker's fetch wait on the quiet rest."""
    start = consumer.start

    async def start_then_patch() -> None:
        await start()
        fetcher = getattr(consumer, "_fetcher", None)
        if fetcher is None:
            return
        asked: list[frozenset | None] = [None]  # None: every partition (no list given)
        fetched_records = fetcher.fetched_records
        actions = fetcher._get_actions_per_node

        async def fetched_records_noting(partitions: Any, timeout: float = 0, max_records: int | None = None) -> Any:
            asked[0] = frozenset(partitions) if partitions else None
            return await fetched_records(partitions, timeout=timeout, max_records=max_records)

        def actions_past_unread(assignment: Any) -> Any:
            reading = asked[0]
            if reading is not None:
                for tp, waiting in fetcher._records.items():
                    if tp not in reading:
                        waiting._backoff = 0  # FetchResult and FetchError alike
            return actions(assignment)

        fetcher.fetched_records = fetched_records_noting
        fetcher._get_actions_per_node = actions_past_unread  # looked up on each round of its fetch routine

    consumer.start = start_then_patch


class ConsumerThread(driver.AIOKafkaConsumerThread):
    def _create_worker_consumer(self, transport: Any) -> Any:
        consumer = super()._create_worker_consumer(transport)
        wait_ms = getattr(self.app, "fetch_max_wait_ms", None)
        if wait_ms is not None:
            consumer._fetch_max_wait_ms = wait_ms  # read by the fetcher when the consumer starts
        leave_on_stop(consumer)
        fetch_past_unread(consumer)
        return consumer

    async def leave_group(self) -> None:
        """Leave the group now, from the consumer's own loop (streams/group_leave.leave_early)."""
        consumer = self._consumer
        coordinator = getattr(consumer, "_coordinator", None)
        if coordinator is not None and getattr(coordinator, "_group_instance_id", None) is not None:
            await self.call_thread(leave_early, coordinator)

    async def seek_to_committed(self) -> Mapping[Any, int | None]:
        """Faust's `perform_seek` (after every rebalance and recovery) through our `seek_to_committed`."""
        return await self.call_thread(
            seek_to_committed, self._ensure_consumer(), self.app.conf.consumer_auto_offset_reset,
            frozenset(self.app.tables.changelog_topics))


LEAVE_TIMEOUT_S = 5.0
"""Longest wait for the leave sent as the app stops: the stop goes on without it (the close still tries)."""

FETCH_RETURN_TIMEOUT_S = 5.0
"""Longest wait for the fetch in progress to return before a seek (a fetch waits at most Faust's 1 s poll
plus the broker's fetch wait); bounds a rebalance's extra time should a fetch hang."""


class Consumer(driver.Consumer):
    _fetch_idle: asyncio.Event | None = None

    def _new_consumer_thread(self) -> ConsumerThread:
        return ConsumerThread(self, loop=self.loop, beacon=self.beacon)

    async def on_stop(self) -> None:
        """Faust's last commit, then the leave, before the consumer thread stops (streams/group_leave.leave_early:
        the close alone never sends it when the stop caught the member in a rebalance)."""
        await super().on_stop()
        thread = self._thread
        if isinstance(thread, ConsumerThread):
            try:
                await asyncio.wait_for(thread.leave_group(), LEAVE_TIMEOUT_S)
            except asyncio.TimeoutError:
                self.log.warning("the leave did not return within %.0f s", LEAVE_TIMEOUT_S)

    def _idle(self) -> asyncio.Event:
        if self._fetch_idle is None:
            self._fetch_idle = asyncio.Event()
            self._fetch_idle.set()
        return self._fetch_idle

    async def _wait_next_records(self, timeout: float) -> Any:
        """Faust's fetch, with our own "a fetch is in progress" flag: Faust's `not_waiting_next_records` is set
        on entry as well as on exit, so `wait_for_stopped_flow` never waits."""
        if not self.flow_active:
            await self.wait(self.can_resume_flow)  # as Faust does, before the fetch (and not counted as one)
        idle = self._idle()
        idle.clear()  # no await between the check above and Faust's own: the flow is still active there
        try:
            return await super()._wait_next_records(timeout)
        finally:
            idle.set()

    async def perform_seek(self) -> None:
        """Seek to the committed offsets with the flow stopped (see the module docstring). Faust resumes the
        flow itself right after each seek it makes while the flow is active (both are in its recovery)."""
        if self.flow_active:
            self.stop_flow()
            try:
                await asyncio.wait_for(self._idle().wait(), FETCH_RETURN_TIMEOUT_S)
            except asyncio.TimeoutError:
                self.log.warning("a fetch did not return within %.0f s before a seek", FETCH_RETURN_TIMEOUT_S)
        await super().perform_seek()


class Producer(driver.Producer):
    """Faust's producer (table changelogs, agents' sends) with acks=all and idempotence, as every producer of
    the engine: Faust's `producer_acks` defaults to all but is a setting any app can lower, and its
    driver turns idempotence on only inside transactions. Without it, a batch whose ack was lost with a dead
    leader is written twice by the retry. aiokafka keeps one request in flight per broker anyway, so the
    sequence numbers cost no throughput."""

    def _settings_extra(self) -> Mapping[str, Any]:
        return {**super()._settings_extra(), "acks": "all", "enable_idempotence": True}


class Transport(driver.Transport):
    Consumer = Consumer
    Producer = Producer
