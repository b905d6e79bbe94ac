"""Jump rarity: how rare is a change from one reading to the next beyond every change this series has shown?

WHY: a level record (`twin.detectors.records`) sees a reading outside the range; nothing saw an abrupt move
inside it. An inventory that falls by 276 units in one reading, where picks never took more than a dozen an hour
and only deliveries ever moved it by hundreds (upwards), stays within its range, and the context models have seen
"high" followed by "low" often enough (after deliveries, the other way round). What is new is the size of the
fall: the largest drop in thousands of readings, by far. So the signed change is a series of its own with its own
records, one per direction (a series whose rises are large and falls small, or the reverse, keeps both), scored
by a level record's arithmetic - each unit of overshoot beyond the record a hundred times rarer - but without the
1 in n + 1 chance of setting a record at all: changes of noise set records by a hair now and then, and scoring
those (~0.25 each) cost the synthetic corpus 3 points (docs/detection-rounds.md, fourteenth round). O(1) a
reading; the recent changes are read from the caller's buffer of readings only when a record is scored.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Iterator

from twin.detectors.records import ROUNDING, RecordRarity, hold_out

__all__ = ["ChangeRecords", "JumpRarity"]


def _changes(readings: Iterable[float]) -> Iterator[float]:
    """Each reading minus the one before it, oldest first."""
    it = iter(readings)
    prev = next(it, None)
    for value in it:
        yield value - prev  # type: ignore[operator]
        prev = value


class ChangeRecords(RecordRarity):
    """Record rarity of changes. Their step is the smallest move the series makes, not the smallest gap between
    two distinct changes: a stock that only ever falls by 1 and rises by 100 has changes 101 apart, and a fall of
    100 would have broken the record of falls by less than that "step" (scored 0)."""

    __slots__ = ()

    def _step(self, values: list[float]) -> float:
        noise = ROUNDING * (values[-1] - values[0])
        moves = [abs(v) for v in values if abs(v) > noise]
        return min(moves) if moves else 0.0


class JumpRarity:
    """The largest rise and fall seen; `update` scores a change beyond them on the package's log-tail scale."""

    __slots__ = ("_lo", "_hi", "_records", "_undo", "_rose", "_broke_at", "_held_lo", "_held_hi")

    def __init__(self) -> None:
        # 0 is inside both: a series that only ever rose (a ramp, a cumulative counter) breaks its record of falls
        # with its first fall of any size (scored as such: by how far below 0 it goes)
        self._lo = self._hi = 0.0
        self._records = ChangeRecords()
        self._undo = 0.0  # the extreme the latest record-breaking change broke ...
        self._rose = False  # ... (the largest rise, or fall) ...
        self._broke_at = -1  # ... at this reading
        self._held_lo = self._held_hi = math.nan  # per direction, an alarmed change held out (`hold_out`)

    def reported(self, n: int) -> None:
        """The `n`-th reading raised an alarm. If its change broke a record, that change is an incident, not the
        series' habit: the extreme stays as it was, unless a change the same way was kept out before (one
        recurrence is a habit; the sequence detector's docstring says why)."""
        if self._broke_at != n:
            return
        if self._rose:
            self._held_hi, self._hi = hold_out(self._held_hi, self._hi, self._undo)
        else:
            self._held_lo, self._lo = hold_out(self._held_lo, self._lo, self._undo)

    def start(self, readings: Iterable[float]) -> None:
        """Take the extremes of the changes of the warm-up readings (oldest first)."""
        changes = list(_changes(readings))
        self._lo = min(0.0, *changes) if changes else 0.0
        self._hi = max(0.0, *changes) if changes else 0.0

    def update(self, change: float, n: int, readings: Iterable[float], unit: float) -> float:
        """Score `change` (the `n`-th reading minus the one before) in [0, 1]: 0 unless beyond the largest rise or
        fall seen. `readings` are the recent readings, oldest first, the `n`-th last; `unit` as for a record."""
        lo, hi = self._lo, self._hi
        if lo <= change <= hi:
            return 0.0
        self._broke_at = n
        if change > hi:
            self._undo, self._rose, self._hi = hi, True, change
        else:
            self._undo, self._rose, self._lo = lo, False, change
        return self._records.surprise(change, lo, hi, n, _changes(readings), unit, by_chance=False)
