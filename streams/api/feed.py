"""Kafka → the API's read model: one consumer over `alerts`, `scenarios.results`, `twin.changes`, the twin
tables' changelogs (`devices`, `nodes`, and the windowed `aggregates` history) and the commands that could not
apply (`alerts.commands.dlq`).

Why no consumer group, from the beginning, every partition: the view is rebuilt in memory on each start
(it is a cache of the topics, not state of its own), and every API replica must see every record, which a
group would split between them. Readiness means "caught up with the end offsets seen at start": before
that an empty list of alerts would be a lie, not an answer.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from typing import Any

from aiokafka import AIOKafkaConsumer, TopicPartition

from streams.api import metrics as m
from streams.api.views import ReadModel
from streams.topics import Topics
from twin.alerts.models import AlertEvent

__all__ = ["Feed"]

log = logging.getLogger(__name__)

TWIN_TABLES = {"devices": "device", "nodes": "node"}
"""The twin worker's table changelogs the view reads (durable copies of its rows, keyed by id) -> URL kind."""

RETRY_S = 2.0
"""Pause before a consumer that lost the broker is rebuilt (it re-reads from the beginning: idempotent)."""

FETCH_TIMEOUT_MS = 500
"""Longest one poll waits: bounds how late a stop request or a readiness check is noticed."""

METADATA_DEADLINE_S = 30.0
"""How long start-up waits for the topics' metadata before the consumer is rebuilt."""


class Feed:
    """Keeps a ReadModel current and lets handlers wait for a scenario result."""

    def __init__(self, bootstrap: str, topics: Topics, model: ReadModel,
                 on_alert: Callable[[AlertEvent], None] | None = None,
                 on_twin_change: Callable[[dict[str, Any]], None] | None = None) -> None:
        """`on_alert` is told every alert event that changes the view once caught up, `on_twin_change` every
        twin.changes record and every lane whose stalled shipments changed (the live streams' hubs)."""
        self._bootstrap = bootstrap
        self._model = model
        self._on_alert = on_alert
        self._on_twin_change = on_twin_change
        self._by_topic = {topics.alerts: "alerts", topics.scenario_results: "scenarios.results",
                          topics.twin_changes: "twin.changes", topics.changelog("devices"): "devices",
                          topics.changelog("nodes"): "nodes", topics.changelog("aggregates"): "aggregates",
                          topics.alert_commands_dlq: "alerts.commands.dlq"}
        self._results_changed = asyncio.Condition()
        self._ready = asyncio.Event()

    @property
    def ready(self) -> bool:
        return self._ready.is_set()

    async def run(self) -> None:
        """Follow the topics until cancelled, rebuilding the consumer after broker failures."""
        while True:
            try:
                await self._follow()
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # noqa: BLE001 - the view must outlive broker hiccups
                log.warning("API read model consumer restarting: %r", exc)
                await asyncio.sleep(RETRY_S)

    async def _follow(self) -> None:
        consumer = AIOKafkaConsumer(bootstrap_servers=self._bootstrap, group_id=None, enable_auto_commit=False,
                                    auto_offset_reset="earliest")
        await consumer.start()
        try:
            partitions = await self._partitions(consumer)
            consumer.assign(partitions)
            await consumer.seek_to_beginning(*partitions)
            pending = await self._end_offsets(consumer, partitions)
            while True:
                if not self.ready:
                    pending = {tp: end for tp, end in pending.items() if await consumer.position(tp) < end}
                    if not pending:
                        self._ready.set()
                        m.READY.set(1)
                        log.info("API read model caught up: %s", self._model.sizes())
                batch = await consumer.getmany(timeout_ms=FETCH_TIMEOUT_MS)
                results = False
                for tp, records in batch.items():
                    name = self._by_topic[tp.topic]
                    for record in records:
                        if name == "alerts":
                            event = self._model.apply_alert(record.value)
                            if event is not None and self._on_alert is not None and self.ready:
                                self._on_alert(event)
                        elif name == "twin.changes":
                            applied = self._model.apply_twin_change(record.value)
                            if applied and self._on_twin_change is not None and self.ready:
                                self._on_twin_change(self._model.latest_change)
                        elif name in TWIN_TABLES:
                            self._model.apply_twin_row(TWIN_TABLES[name], record.key, record.value)
                            if name == "nodes":
                                self._lane_changes()
                        elif name == "aggregates":
                            self._model.history.apply(record.key, record.value)
                        elif name == "alerts.commands.dlq":
                            self._model.apply_refused_command(record.value, dict(record.headers or ()),
                                                              record.timestamp)
                        else:
                            results = self._model.apply_result(record.key, record.value) or results
                    m.VIEW_RECORDS.labels(name).inc(len(records))
                if results:
                    async with self._results_changed:
                        self._results_changed.notify_all()
        finally:
            await consumer.stop()

    def _lane_changes(self) -> None:
        """Lanes whose stalled shipments a node row changed: to the twin stream once caught up (before that,
        a replay of old rows is no news)."""
        changes = self._model.lanes.drain()
        if self._on_twin_change is not None and self.ready:
            for change in changes:
                self._on_twin_change(change)

    async def _partitions(self, consumer: AIOKafkaConsumer) -> list[TopicPartition]:
        end = time.monotonic() + METADATA_DEADLINE_S
        while True:
            found = {t: consumer.partitions_for_topic(t) for t in self._by_topic}
            if all(found.values()):
                return [TopicPartition(t, p) for t, parts in found.items() for p in sorted(parts or ())]
            if time.monotonic() > end:
                missing = sorted(t for t, parts in found.items() if not parts)
                raise RuntimeError(f"topics {missing} have no partitions after {METADATA_DEADLINE_S:.0f}s")
            await consumer._client.force_metadata_update()  # topics created a moment ago
            await asyncio.sleep(0.2)

    @staticmethod
    async def _end_offsets(consumer: AIOKafkaConsumer, partitions: list[TopicPartition]) -> dict[TopicPartition, int]:
        ends: dict[TopicPartition, int] = await consumer.end_offsets(partitions)
        return {tp: end for tp, end in ends.items() if end > 0}

    async def wait_for_result(self, request_id: str, timeout_s: float) -> dict[str, Any] | None:
        """The result of `request_id` once the read model has it, or None after `timeout_s`."""
        async with self._results_changed:
            try:
                await asyncio.wait_for(
                    self._results_changed.wait_for(lambda: self._model.result(request_id) is not None), timeout_s)
            except asyncio.TimeoutError:
                return None
        return self._model.result(request_id)
