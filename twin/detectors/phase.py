"""Time of day: is this ordinary level ordinary at this hour?

WHY: the level and volatility context models (`twin.detectors.sequence`) see which coarse levels follow which, not
when. A daily cycle that shifts by hours, stops in the middle of its range or shrinks is made of ordinary levels in
an ordinary order, and stayed invisible: on the synthetic corpus (5 seeds) 14 of 22 phase shifts, 12 of 19 stopped
cycles and 6 of 12 period changes were missed (with this view: 8, 10 and 3). HTM, NAB's best-known streaming
detector, encodes the time of day with the value for this reason. This is the plainest form of that: per hour of
the day, the extremes of the readings seen then; a reading beyond its hour's extremes by more than a level is news.

Only levels that are common (at least `_COMMON` of the readings, counted afresh from the remembered ones when the
range grows) count: an hour's extreme is broken far more often than the series' own (it holds a twenty-fourth of
the readings), and heavy tails and sparse counts broke them with rare levels at a rate that doubled their offline
false positives. And only `_LEARN_DAYS` after the level was established (seen `_ESTABLISHED` times): after a level
shift every hour lacks the new level, and the view reported the shift again hour by hour as each came round. A
common, long-established level at an hour that has never had it is what a shifted, stopped or shrunk cycle is made
of. For the series' first `_LEARN_DAYS` days nothing is news (an hour has been seen once or twice). An hour's
extremes only widen, so a series without a daily cycle soon has every hour spanning its bulk and the view falls
silent.

Pure and bounded: 24 pairs of floats and a count per level. Non-finite or absurd timestamps are ignored.
"""

from __future__ import annotations

import math

from twin.detectors.base import slot_of

__all__ = ["TimeOfDay"]

_DAY_S = 86_400.0
# One bucket per hour: 6, 8, 12 and 24 buckets scored within a point of each other on the synthetic pool in an
# earlier form of this view (docs/detection-rounds.md, ninth round); an hour is what a phase shift of hours needs.
_BUCKETS = 24
# Days before an hour's extremes mean anything: after one day each hour has been seen once (at 5-minute readings,
# 12 times, all from one day's weather).
_LEARN_DAYS = 2.0  # also how long a level must have been common (the docstring says why)
# Share of the series' readings a level must have to count as common: without it Student-t(3), log-normal and
# sparse count noise raised 1.3-3.6 times the offline false positives at a threshold of 0.1 (12 x 10,000 readings).
_COMMON = 0.05
# Readings an hour must have before its extremes are trusted.
_MIN_SEEN = 10
# Readings of a level that establish it (from then on `_LEARN_DAYS` must pass before it is news at a new hour).
_ESTABLISHED = 10
# Timestamps beyond this (about year 33,658) are not seconds since the epoch: the view ignores them.
_MAX_TIMESTAMP = 1e12


class TimeOfDay:
    """Per hour of the day, the extremes of the readings seen then. `update` says whether a reading at a common
    level lies beyond its hour's extremes by more than `margin`, then learns it."""

    __slots__ = ("_lo", "_hi", "_seen", "_levels", "_since", "_n", "_t0", "_last", "_news")
    # `_news` is kept for `news` (an alert's words) only, and not saved (`twin.detectors.snapshot`).
    _TRANSIENT = ("_news",)

    def __init__(self, levels: int) -> None:
        self._lo = [math.inf] * _BUCKETS
        self._hi = [-math.inf] * _BUCKETS
        self._seen = [0] * _BUCKETS
        self._levels = [0] * levels
        self._since = [math.inf] * levels
        self._n = 0
        self._t0 = self._last = math.nan
        self._news: tuple[int, float, float] | None = None

    def recount(self, levels: list[int]) -> None:
        """The levels changed meaning (the range grew): count them afresh from the readings still remembered,
        each common one established from now on (the last timestamp seen)."""
        self._levels = levels
        self._n = sum(levels)
        now = self._last if self._last == self._last else -math.inf  # none seen yet: established from the start
        self._since = [now if c >= _ESTABLISHED else math.inf for c in levels]

    def news(self) -> str:
        """In words for an alert, the hour (UTC) of the latest reading `update` called news, and that hour's
        extremes before it; "" if none was."""
        if self._news is None:
            return ""
        b, lo, hi = self._news
        return f"a level not seen at {b:02d}:00-{b + 1:02d}:00 UTC before (usual then {lo:.4g} to {hi:.4g})"

    def update(self, timestamp_s: float, value: float, level: int, margin: float) -> bool:
        """Whether `value` (at `level`, an index into the series' levels) is news at this time of day."""
        if not -_MAX_TIMESTAMP < timestamp_s < _MAX_TIMESTAMP:  # also NaN
            return False
        t0 = self._t0
        if t0 != t0:
            self._t0 = t0 = timestamp_s
        self._last = timestamp_s
        b = slot_of(timestamp_s, _DAY_S, _BUCKETS)
        lo, hi = self._lo[b], self._hi[b]
        n = self._n
        since = self._since[level]
        news = (timestamp_s - t0 >= _LEARN_DAYS * _DAY_S and self._seen[b] >= _MIN_SEEN
                and (value > hi + margin or value < lo - margin) and self._levels[level] >= _COMMON * n
                and timestamp_s - since >= _LEARN_DAYS * _DAY_S)
        if news:
            self._news = (b, lo, hi)
        if value < lo:
            self._lo[b] = value
        if value > hi:
            self._hi[b] = value
        self._seen[b] += 1
        c = self._levels[level] = self._levels[level] + 1
        if c == _ESTABLISHED:
            self._since[level] = timestamp_s
        self._n = n + 1
        return news
