"""The twin worker's coalesced writes: nothing is acknowledged before the rows and windows behind it are written."""

from __future__ import annotations

from dataclasses import dataclass, field

import pytest

from streams import twin_writes
from streams.twin_writes import CLOSES_PER_RECORD, CoalescedWrites


@dataclass
class _Message:
    partition: int


@dataclass(eq=False)
class _Event:
    message: _Message
    acked: bool = False
    log: list = field(default_factory=list)

    def ack(self) -> None:
        self.acked = True
        self.log.append(("ack", self.message.partition))


def _writes(log: list) -> CoalescedWrites[str]:
    return CoalescedWrites(lambda device, row: log.append(("row", device, row)),
                           lambda device, start, metrics: log.append(("window", device, start)))


def test_a_flush_writes_rows_and_windows_before_it_acknowledges(monkeypatch: pytest.MonkeyPatch) -> None:
    log: list = []
    writes = _writes(log)
    clock = [100.0]
    monkeypatch.setattr(twin_writes.time, "monotonic", lambda: clock[0])
    events = [_Event(_Message(3), log=log) for _ in range(2)]
    for i, event in enumerate(events):
        writes.row(3, "d1", f"v{i}")
        writes.record_done(event)
    assert log == [] and not any(e.acked for e in events)  # within the interval: held, nothing written
    for i in range(CLOSES_PER_RECORD + 3):
        writes.closed(3, "d1", 60 * i, {})
    clock[0] += twin_writes.FLUSH_INTERVAL_S
    last = _Event(_Message(3), log=log)
    writes.row(3, "d2", "w")
    writes.record_done(last)
    assert [entry[0] for entry in log] == ["window"] * (CLOSES_PER_RECORD + 3) + ["row", "row"] + ["ack"] * 3
    assert ("row", "d1", "v1") in log  # the latest row of a device, once
    assert writes.idle() == []


def test_closed_windows_drain_a_share_per_record_and_the_rest_at_the_flush(monkeypatch: pytest.MonkeyPatch) -> None:
    log: list = []
    writes = _writes(log)
    monkeypatch.setattr(twin_writes.time, "monotonic", lambda: 0.0)
    for i in range(100):
        writes.closed(0, f"d{i}", 0, {})
    writes.record_done(_Event(_Message(0), log=log))
    assert len(log) == max(CLOSES_PER_RECORD, -(-100 // twin_writes.CLOSE_DRAIN_RECORDS))
    writes.flush_outside_agent()
    assert [e[0] for e in log].count("window") == 100 and log[-1] == ("ack", 0)


def test_idle_partitions_and_forgetting_a_revoked_partition(monkeypatch: pytest.MonkeyPatch) -> None:
    log: list = []
    writes = _writes(log)
    clock = [0.0]
    monkeypatch.setattr(twin_writes.time, "monotonic", lambda: clock[0])
    held = _Event(_Message(1), log=log)
    writes.row(1, "d", "r")
    writes.hold(held)
    writes.hold(_Event(_Message(2), log=log))
    clock[0] = twin_writes.FLUSH_INTERVAL_S
    assert sorted(writes.idle()) == [1, 2]
    writes.forget()  # revoked: dropped unwritten, unacknowledged (the next owner processes them again)
    writes.flush_outside_agent()
    assert log == [] and not held.acked and writes.idle() == []


def test_a_partition_with_too_many_dirty_rows_flushes_at_once(monkeypatch: pytest.MonkeyPatch) -> None:
    log: list = []
    writes = _writes(log)
    monkeypatch.setattr(twin_writes.time, "monotonic", lambda: 0.0)
    monkeypatch.setattr(twin_writes, "FLUSH_MAX_ROWS", 3)
    for i in range(3):
        writes.row(0, f"d{i}", "r")
    event = _Event(_Message(0), log=log)
    writes.record_done(event)
    assert event.acked and [e[0] for e in log].count("row") == 3


def test_partitions_flush_early_in_their_own_phase_of_the_interval(monkeypatch: pytest.MonkeyPatch) -> None:
    """All partitions due at once flushed together (a ~100 ms stall of the worker each second); now each
    partition flushes in its own phase of the interval, and still no later than the interval."""
    log: list = []
    writes = _writes(log)
    clock = [0.0]
    monkeypatch.setattr(twin_writes.time, "monotonic", lambda: clock[0])
    phase_s = twin_writes.FLUSH_INTERVAL_S / twin_writes.FLUSH_PHASES
    for partition in range(twin_writes.FLUSH_PHASES):
        writes.row(partition, f"d{partition}", "r")
        writes.hold(_Event(_Message(partition), log=log))
    flushed_at: dict[int, float] = {}
    while clock[0] < twin_writes.FLUSH_INTERVAL_S * 1.5 and len(flushed_at) < twin_writes.FLUSH_PHASES:
        clock[0] += phase_s / 10
        for partition in range(twin_writes.FLUSH_PHASES):
            if partition in flushed_at:
                continue
            writes.record_done(_Event(_Message(partition), log=log))
            if ("ack", partition) in log:
                flushed_at[partition] = clock[0]
    assert sorted(flushed_at) == list(range(twin_writes.FLUSH_PHASES))
    assert max(flushed_at.values()) <= twin_writes.FLUSH_INTERVAL_S + phase_s / 10  # no later than before (+1 step)
    # each in its own phase: no two partitions in the same slice of the interval
    slices = {int(t / phase_s + 1e-9) % twin_writes.FLUSH_PHASES for t in flushed_at.values()}
    assert len(slices) == twin_writes.FLUSH_PHASES
