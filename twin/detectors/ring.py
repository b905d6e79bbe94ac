"""The last readings of one series, bounded, and where their bulk lies.

WHY a module of its own: the sequence detector re-learns its level model from these readings, fits its level
grid to their bulk (`Ring.bulk`) and, for an alert's words, says how much they usually change (`Ring.usual_change`);
all plain data questions, easier to test apart from the detector.
"""

from __future__ import annotations

import heapq
from array import array
from collections.abc import Iterator, Sequence

__all__ = ["BULK_K", "Ring", "bulk_of"]

# Readings left out at each end when asking where the bulk lies, so that a few spikes never hold the sequence
# detector's level grid open. 5 recovered more of what one early spike costs than 2 (synthetic corpus, 5 seeds, three
# spike cases: 49.1 / 47.2 / 46.1 against 47.6 / 46.4 / 44.4; docs/detection-rounds.md, eleventh round).
BULK_K = 5


def bulk_of(values: Sequence[float], k: int) -> tuple[float, float]:
    """(k-th smallest, k-th largest) of `values` (at least k of them): their range without the k - 1 most extreme at
    each end. O(n log k)."""
    return heapq.nsmallest(k, values)[-1], heapq.nlargest(k, values)[-1]


class Ring:
    """The last `size` readings as 8-byte floats: a deque of float objects costs 4x the memory per series."""

    __slots__ = ("_data", "_size", "_next", "_full")

    def __init__(self, size: int) -> None:
        self._data = array("d", bytes(8 * size))
        self._size = size
        self._next = 0
        self._full = False

    def append(self, value: float) -> None:
        i = self._next
        self._data[i] = value
        i += 1
        if i == self._size:
            i = 0
            self._full = True
        self._next = i

    def clear(self) -> None:
        """Forget every reading (the memory is kept for the next ones)."""
        self._next = 0
        self._full = False

    def __len__(self) -> int:
        return self._size if self._full else self._next

    def __iter__(self) -> Iterator[float]:
        data, i = self._data, self._next
        if self._full:
            yield from data[i:]
        yield from data[:i]

    def bulk(self) -> tuple[float, float]:
        """(BULK_K-th smallest, BULK_K-th largest) of the readings: their range without the few most extreme at
        each end; with fewer than 2 * BULK_K readings, their whole range. O(n log BULK_K)."""
        data = self._data if self._full else self._data[:self._next]
        if not data:
            raise ValueError("no readings")
        if len(data) < 2 * BULK_K:
            return min(data), max(data)
        return bulk_of(data, BULK_K)

    def changes(self) -> list[float]:
        """The absolute changes from each reading to the next, oldest first."""
        values = list(self)
        return [abs(b - a) for a, b in zip(values, values[1:], strict=False)]

    def usual_change(self) -> float:
        """How much the readings usually change from one to the next: the median of the absolute changes, or their mean
        where most readings repeat (sparse counts: the median is 0, yet they do change); 0.0 with fewer than two
        readings. O(n log n): for an alert's words, not the per-reading path."""
        changes = sorted(self.changes())
        if not changes:
            return 0.0
        median = changes[len(changes) // 2]
        return median if median > 0.0 else sum(changes) / len(changes)
