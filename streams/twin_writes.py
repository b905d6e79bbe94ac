"""Coalesced writes of the twin worker: a device's row is written once per flush, not once per record.

The records behind unwritten rows and windows stay unacknowledged, so a crash replays them (nothing is lost)
and the twin recognises what it had already applied. Per partition, this holds the rows changed since the
last flush, the 1-minute windows closed and not yet written, and the records waiting for both.

Table writes need Faust's current event (a record of the partition): inside the agent it is set; a flush from
a timer or before a rebalance runs as one of its held records (`flush_outside_agent`, streams/table_event.py).
"""

from __future__ import annotations

import time
from collections import defaultdict, deque
from typing import Callable, Generic, TypeVar

import faust
from prometheus_client import Counter

from streams.table_event import as_current
from twin.aggregates import MetricAggregate

__all__ = ["CoalescedWrites", "FLUSH_INTERVAL_S", "FLUSH_PHASES", "FLUSH_MAX_ROWS", "CLOSES_PER_RECORD",
           "CLOSE_DRAIN_RECORDS"]

FLUSHES = Counter("omnitrack_twin_flushes_total", "Coalesced writes of a partition's dirty device rows")

FLUSH_INTERVAL_S = 1.0
"""Longest a device row waits in memory before its write: bounds how stale the table (and its
changelog) can be, while letting a busy device's readings share one write. At 0.2 s, writing
the rows took a quarter of a worker's time at 25k readings/s over 2,000 devices."""

FLUSH_PHASES = 8
"""The flush interval is cut into this many phases, and partition p flushes early, in phase p mod FLUSH_PHASES
(once its oldest change is a phase old, so at most once per phase window).

WHY: the partitions of a worker started together and each flushed when its interval was up, so all of them
flushed within the same few milliseconds, once a second: 1,000 device rows at once held the worker's loop for
~100 ms, and every alert behind it waited (`bench latency`, 2026-12-05: the loop ~100 % busy for 100 ms each
second, 20-40 % between; the slowest alerts waited 70-150 ms in the worker's hops). In its own phase each
partition writes an eighth of the rows, spread over the second. A partition whose phase passes without a record
of it still flushes when its interval is up, as before."""

FLUSH_MAX_ROWS = 5_000
"""Dirty rows per partition that force a flush: bounds memory and the size of one flush."""

CLOSES_PER_RECORD = 2
"""Closed windows written to the history table after each record, at least (a queue per partition; the flush
writes what is left before it acknowledges anything). WHY: every device of a fleet closes its minute within
the same fraction of a second; written as they closed, 1,000 probes' windows took ~150 ms of the worker at
once and every alert behind them waited (`bench latency`: 145-160 ms at each minute boundary)."""

CLOSE_DRAIN_RECORDS = 32
"""...and at least 1/32 of the queue per record, so at high rates (hundreds of closes per record) the queue
drains as fast as it fills instead of leaving it all to the flush."""

Row = TypeVar("Row")
Metrics = dict[str, MetricAggregate]


class CoalescedWrites(Generic[Row]):
    """Rows, closed windows and records per partition, until a flush writes the first two and acknowledges the
    third. `write_row(device_id, row)` and `write_window(device_id, start_s, metrics)` do the table writes."""

    def __init__(self, write_row: Callable[[str, Row], None],
                 write_window: Callable[[str, int, Metrics], None]) -> None:
        self._write_row = write_row
        self._write_window = write_window
        self._dirty: dict[int, dict[str, Row]] = defaultdict(dict)
        self._pending: dict[int, list[faust.EventT]] = defaultdict(list)
        self._since: dict[int, float] = {}
        # oldest first; their records are unacknowledged until written, like the rows'
        self._closing: dict[int, deque[tuple[str, int, Metrics]]] = defaultdict(deque)

    def row(self, partition: int, device_id: str, row: Row) -> None:
        """The device's row changed: write it at the partition's next flush."""
        self._dirty[partition][device_id] = row

    def closed(self, partition: int, device_id: str, start_s: int, metrics: Metrics) -> None:
        """The device closed the window starting at `start_s`: write it soon (`drain`), at the latest at the flush."""
        self._closing[partition].append((device_id, start_s, metrics))

    def write_closed(self, partition: int, limit: int | None = None) -> None:
        """Write up to `limit` (None: all) of the partition's closed windows (current event: one of its records)."""
        queue = self._closing.get(partition)
        if not queue:
            return
        for _ in range(len(queue) if limit is None else min(limit, len(queue))):
            self._write_window(*queue.popleft())

    def record_done(self, event: faust.EventT) -> None:
        """The agent is through with `event` (its record): write a share of the closed windows, and flush the
        partition if it is due. Acknowledged only by a flush."""
        partition = event.message.partition
        if queue := self._closing.get(partition):
            self.write_closed(partition, max(CLOSES_PER_RECORD, -(-len(queue) // CLOSE_DRAIN_RECORDS)))
        self.hold(event)
        now = time.monotonic()
        age = now - self._since[partition]
        if (age >= FLUSH_INTERVAL_S or len(self._dirty[partition]) >= FLUSH_MAX_ROWS
                or (age >= FLUSH_INTERVAL_S / FLUSH_PHASES and _phase(now) == partition % FLUSH_PHASES)):
            self.flush(partition)

    def hold(self, event: faust.EventT) -> None:
        """Keep `event` unacknowledged until its partition's next flush."""
        partition = event.message.partition
        self._pending[partition].append(event)
        self._since.setdefault(partition, time.monotonic())

    def flush(self, partition: int) -> None:
        """Write the partition's closed windows and dirty rows, then acknowledge its records (current event: one
        of them)."""
        self.write_closed(partition)
        for device_id, row in self._dirty.pop(partition, {}).items():
            self._write_row(device_id, row)
        for done in self._pending.pop(partition, []):
            done.ack()
        self._since.pop(partition, None)
        FLUSHES.inc()

    def flush_outside_agent(self, partitions: list[int] | None = None) -> None:
        """Flush `partitions` (None: every one holding records) from a timer or a rebalance hook."""
        for partition in list(self._pending) if partitions is None else partitions:
            events = self._pending.get(partition)
            if not events:
                continue
            with as_current(events[-1]):  # table writes need a record of this partition
                self.flush(partition)

    def idle(self) -> list[int]:
        """Partitions whose oldest unwritten change waited `FLUSH_INTERVAL_S` (their traffic paused)."""
        now = time.monotonic()
        return [p for p, since in self._since.items() if now - since >= FLUSH_INTERVAL_S]

    def forget(self) -> None:
        """Partitions revoked: unwritten rows are dropped with their unacknowledged records, which the
        partition's next owner processes again."""
        self._dirty.clear()
        self._pending.clear()
        self._since.clear()
        self._closing.clear()


def _phase(now: float) -> int:
    """Which of the FLUSH_PHASES slices of the flush interval `now` falls in."""
    return int(now * FLUSH_PHASES / FLUSH_INTERVAL_S) % FLUSH_PHASES
