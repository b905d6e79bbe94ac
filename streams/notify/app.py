"""The notifier's Faust app: consume `alerts`, deliver in rounds, remember deliveries in a table.

Exactly-once towards subscribers, as far as an external system allows: the `delivered` table (RocksDB +
compacted changelog) holds every (alert, version, target) accepted by SNS or a webhook; a round's Kafka
records are acknowledged only after its deliveries are recorded and the changelog writes are flushed. After a
SIGKILL the uncommitted records are consumed again and every target already in the table is skipped
(`omnitrack_notify_deduplicated_total`). A crash *during* a publish leaves targets whose fate is unknown (SNS
may have accepted the batch before the process died); they are marked pending before the publish, and on
replay they are not re-sent but dead-lettered with reason `in_doubt` - an operator replays them if the
subscribers did not get them. So nothing is sent twice automatically and nothing disappears silently.
"""

from __future__ import annotations

import logging
import time
import weakref
from collections import deque
from typing import Any

import faust
from faust.streams import _current_event

from omnitrack.settings import Settings
from streams.app import create_app, STORE_OPTIONS
from streams.notify import metrics as m
from streams.notify.notifier import DlqRecord, Notifier
from streams.notify.settings import NotifySettings
from streams.notify.topics import notifications_dlq, notify_app_id
from streams.records import parked_headers
from streams.topics import topics_for
from twin.alerts.contract import decode_event

__all__ = ["create_notify_app", "register_notifier", "TableStore", "KafkaDlq"]

log = logging.getLogger(__name__)

# How often expired dedup keys are deleted from the table: the purge walks the whole local table, so it must
# not run every round; once a minute keeps the table within retention + 1 min.
PURGE_INTERVAL_S = 60.0
# How often pending digests are retried without new alerts arriving (e.g. quiet hours just ended).
DIGEST_INTERVAL_S = 5.0
UNDECODABLE_REASON = "undecodable_alert"
"""Header `reason` of an `alerts` record that is not an alert event, parked on notifications.dlq: logging and
skipping it would lose whatever notification it was meant to be without a trace on Kafka."""


class _PartitionCtx:
    """Stands in for a Faust event so a table write lands in the changelog partition of its alert."""

    class _Msg:
        def __init__(self, topic: str, partition: int) -> None:
            self.topic = topic
            self.partition = partition

    def __init__(self, topic: str, partition: int) -> None:
        self.message = self._Msg(topic, partition)


class TableStore:
    """`DeliveredStore` on a Faust table: key -> b"<state>:<unix time>:<partition>", state `p` (pending: a
    publish was attempted) or `d` (done: accepted, dead-lettered or deferred).

    Writes go to the changelog first and their futures are awaited in `sync()`: Faust's buffered flush gives
    up after 0.1 s per message, and a mark that never reached Kafka would mean a duplicate after a crash.

    The local RocksDB gets a write only after Kafka has it (`_apply_confirmed`), and the table's persisted
    changelog offset moves after the data, so the local store never runs ahead of its changelog. WHY: Faust
    writes the local value at once; a SIGKILL between that and the changelog send left a `d` mark on the disk
    of the worker but not on Kafka. The restarted worker trusted its disk (skipped the delivery, correctly),
    but the changelog still said `p`: on the next machine, or after the disk was lost, the delivered alert
    came back as `in_doubt` (seen in the SIGKILL + rewind test). Until `sync()`, `state()` reads the write
    from memory.
    """

    def __init__(self, table: Any, retention_s: float) -> None:
        self.table = table
        self.retention_s = retention_s
        self._unsynced: dict[bytes, bytes] = {}
        self._in_flight: deque[tuple[Any, bytes, bytes, Any]] = deque()  # (future, key, value, ctx), sent order

    def state(self, key: str) -> str:
        k = key.encode()
        v = self._unsynced.get(k)
        if v is None:
            v = self.table.get(k)
        if v is None:
            return "new"
        st, ts, _ = v.split(b":", 2)
        if time.time() - float(ts) >= self.retention_s:
            return "new"
        return "pending" if st == b"p" else "done"

    def begin(self, key: str, ctx: Any) -> None:
        self._write(key, b"p", ctx.message.partition, ctx)

    def mark(self, key: str, ctx: Any) -> None:
        self._write(key, b"d", ctx.message.partition, ctx)

    def _write(self, key: str, st: bytes, partition: int, ctx: Any) -> None:
        """Send to the changelog partition of the alert's Faust event; the local write waits for Kafka."""
        k = key.encode()
        v = b"%s:%.3f:%d" % (st, time.time(), partition)
        table = self.table
        fut = table.changelog_topic.send_soon(key=k, value=v, partition=partition, eager_partitioning=True,
                                              key_serializer=table.key_serializer,
                                              value_serializer=table.value_serializer)
        self._unsynced[k] = v
        self._in_flight.append((fut, k, v, ctx))

    async def sync(self) -> None:
        """Wait until every write so far is on Kafka, including those another concurrent `sync` is waiting for
        (none may return while an earlier write is in the air), then apply them locally."""
        for fut, *_ in list(self._in_flight):
            await fut
        self._apply_confirmed()

    def _apply_confirmed(self) -> None:
        """Apply the writes Kafka has confirmed, in the order they were sent: the value into the local store
        (under the alert's event: a take_events() round has no single current event, and RocksDB picks its
        partition DB by it), then the changelog offset Faust restarts from (`_on_changelog_sent`)."""
        table = self.table
        while self._in_flight and self._in_flight[0][0].done():
            fut, k, v, ctx = self._in_flight.popleft()
            fut.result()  # a failed send raises: the round is not acknowledged, its records come again
            token = _current_event.set(weakref.ref(ctx))
            try:
                table.data[k] = v
            finally:
                _current_event.reset(token)
            table._on_changelog_sent(fut)
            if self._unsynced.get(k) is v:  # no newer write of this key still in the air
                del self._unsynced[k]

    def purge(self, source_topic: str) -> int:
        """Delete keys past retention (tombstones compact them away from the changelog too)."""
        cutoff = time.time() - self.retention_s
        expired = []
        for k, v in list(self.table.items()):
            _, ts, part = v.split(b":", 2)
            if float(ts) < cutoff:
                expired.append((k, int(part)))
        for k, part in expired:
            ctx = _PartitionCtx(source_topic, part)
            token = _current_event.set(weakref.ref(ctx))
            try:
                del self.table[k]
            finally:
                _current_event.reset(token)
        return len(expired)


class KafkaDlq:
    """`DeadLetterSink` producing to `notifications.dlq`, keyed by the dedup key, reason in a header."""

    def __init__(self, topic: Any) -> None:
        self.topic = topic

    async def put(self, record: DlqRecord) -> None:
        fut = await self.topic.send(key=record.key.encode(), value=record.model_dump_json().encode(),
                                    headers={"reason": record.reason.encode()})
        await fut  # the alert is acked only once its dead letter is durable

    async def park(self, event: Any, reason: str, message: str) -> None:
        """A record that is not an alert event, kept byte for byte (replay reports it, cannot send it)."""
        fut = await self.topic.send(key=event.key, value=event.value, headers=parked_headers(reason, message, event))
        await fut


def create_notify_app(settings: Settings, notify: NotifySettings, **overrides: Any) -> faust.App:
    """A Faust app of its own (group, tables, data dir) so the notifier scales and restarts apart from the twin.
    `overrides` replace single Faust settings (the worker passes the cluster's `topic_replication_factor`)."""
    # Commit often: a restarted notifier re-reads (and dedups) less.
    config: dict[str, Any] = dict(broker_commit_every=100, broker_commit_interval=0.5, producer_linger_ms=1)
    return create_app(settings, app_id=notify_app_id(topics_for(settings)), role="notifier",
                      **{**config, **overrides})


def register_notifier(app: faust.App, settings: Settings, notify: NotifySettings, notifier_factory: Any) -> dict[str, Any]:
    """Declare topics, the `delivered` table, the agent and timers. `notifier_factory(store, dlq)` builds the
    `Notifier` (so the worker decides on clients and policy)."""
    topics = topics_for(settings)
    alerts = app.topic(topics.alerts, key_type=bytes, value_type=bytes, key_serializer="raw", value_serializer="raw")
    dlq_topic = app.topic(notifications_dlq(topics), key_type=bytes, value_type=bytes,
                          key_serializer="raw", value_serializer="raw")
    table = app.Table("delivered", key_type=bytes, value_type=bytes, default=None, options=STORE_OPTIONS)
    store = TableStore(table, notify.dedup_retention_s)
    dlq = KafkaDlq(dlq_topic)
    notifier: Notifier = notifier_factory(store, dlq)
    last_purge = [time.monotonic()]

    @app.agent(alerts)
    async def deliver(stream: faust.StreamT) -> None:
        async for events in stream.take_events(notify.batch_max, within=notify.batch_linger_s):
            items = []
            for ev in events:
                try:
                    items.append((decode_event(ev.value), ev))
                except ValueError as exc:  # pydantic.ValidationError: a contract violation, not ours to page
                    log.error("undecodable alert record at %s[%s]@%s, parked on %s: %s", ev.message.topic,
                              ev.message.partition, ev.message.offset, dlq_topic.get_topic_name(), exc)
                    await dlq.park(ev, UNDECODABLE_REASON, repr(exc))
                    m.UNDECODABLE.inc()
            if items:
                await notifier.handle(items)
            if time.monotonic() - last_purge[0] > PURGE_INTERVAL_S:
                last_purge[0] = time.monotonic()
                store.purge(topics.alerts)
            await store.sync()  # produce-then-ack: marks are on Kafka before take_events acks the round

    @app.timer(interval=DIGEST_INTERVAL_S)
    async def digests() -> None:
        await notifier.flush_digests()

    return {"agent": deliver, "table": table, "dlq": dlq_topic, "notifier": notifier, "store": store}
