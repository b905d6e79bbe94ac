"""NAB's "windowed Gaussian" baseline, as a streaming `Detector`.

WHY: a detector's NAB score means little on its own; NAB publishes its scoreboard against simple baselines, and
the windowed Gaussian is the one every paper quotes. Having it in-house, on the same `update()` contract and
replayed by the same `omnitrack detect` code, lets the bench put OmniTrack's detector next to it on any corpus
(NAB's samples, the synthetic corpus, a customer's series) and catch a change that makes us no better than it.

Behaviour follows NAB's published detector: each reading is scored against the mean and standard deviation of
the readings before it (at most `window` of them), as the two-sided Gaussian tail 1 - Q(|z|) - so an ordinary
reading scores between 0.5 and ~0.84 and only a far one approaches 1. Until the window is full the statistics
are refreshed after every reading; afterwards readings are collected in batches of `step` and the window slides
by a whole batch at once. Our own additions: a non-finite value scores 0.0 and leaves the state untouched (one
corrupt reading must not poison the statistics), and the sums are kept incrementally so a recompute costs
O(step), not O(window).
"""

from __future__ import annotations

import math
from collections import deque

__all__ = ["WindowedGaussian"]

# NAB's published window (readings): shorter windows forget the series' range and flag every seasonal peak;
# this is the size NAB tuned on its corpus, so our baseline scores as theirs does.
DEFAULT_WINDOW = 6400
# NAB's published step (readings): statistics move in batches, so a slow anomaly is compared with a baseline
# that has not yet absorbed it reading by reading.
DEFAULT_STEP = 100
# Floor for the standard deviation (NAB's value): a constant window (std 0) would otherwise divide by zero;
# with the floor any departure from a flat line scores ~1, as in NAB.
_STD_FLOOR = 1e-6
# Relative size of rounding residue in the incremental sums: a variance under it is taken as 0, or a window of
# identical readings (a stuck sensor) would get a tiny non-zero std and score ordinary repeats erratically.
_CANCELLATION = 1e-12
# 1/sqrt(2): turns a z-score into the argument of erfc; named to avoid a magic number in the hot path.
_INV_SQRT2 = 1.0 / math.sqrt(2.0)


class WindowedGaussian:
    """Score = 1 - Q(|value - mean| / std) over a bounded sliding window of past readings (NAB baseline).

    Memory is bounded by `window + step` floats. The timestamp is ignored (the baseline has no notion of time).
    """

    __slots__ = ("_window", "_step", "_data", "_pending", "_shift", "_s1", "_s2", "_slides", "_mean", "_std")

    def __init__(self, window: int = DEFAULT_WINDOW, step: int = DEFAULT_STEP) -> None:
        if window < 1 or step < 1:
            raise ValueError(f"window and step must be >= 1, got window={window}, step={step}")
        if step > window:
            raise ValueError(f"step ({step}) cannot exceed window ({window})")
        self._window = window
        self._step = step
        self._data: deque[float] = deque(maxlen=window)
        self._pending: list[float] = []
        # Sums of (x - shift) and (x - shift)^2 over the window; shifting by a value near the mean keeps the
        # variance free of catastrophic cancellation on series with a large offset (1e6 +- 1).
        self._shift = 0.0
        self._s1 = 0.0
        self._s2 = 0.0
        self._slides = 0
        self._mean = 0.0
        self._std = 1.0

    @property
    def mean(self) -> float:
        """Mean the next reading will be compared with."""
        return self._mean

    @property
    def std(self) -> float:
        """Standard deviation (population, floored) the next reading will be compared with."""
        return self._std

    def __len__(self) -> int:
        """Readings held (window plus the batch waiting to slide in)."""
        return len(self._data) + len(self._pending)

    def update(self, timestamp_s: float, value: float) -> float:
        """Score `value` against the past window, then learn it. Returns a score in [0.5, 1], or 0.0."""
        if not math.isfinite(value):
            return 0.0
        data = self._data
        score = 0.0
        if data:
            score = 1.0 - 0.5 * math.erfc(abs(value - self._mean) / self._std * _INV_SQRT2)
        if len(data) < self._window:
            if not data:
                self._shift = value
            d = value - self._shift
            self._s1 += d
            self._s2 += d * d
            data.append(value)
            self._refresh()
        else:
            pending = self._pending
            pending.append(value)
            if len(pending) == self._step:
                self._slide(pending)
                pending.clear()
        return score

    def _slide(self, batch: list[float]) -> None:
        """Drop the oldest `step` readings and take in `batch` (NAB slides by a whole step at once)."""
        data = self._data
        self._slides += 1
        if self._slides * self._step >= self._window:
            # Once per window length, re-sum exactly around the current mean so rounding from the incremental
            # add/remove cannot accumulate over an endless stream.
            data.extend(batch)
            self._slides = 0
            self._resum()
        else:
            shift, s1, s2 = self._shift, self._s1, self._s2
            popleft = data.popleft
            for _ in range(len(batch)):
                d = popleft() - shift
                s1 -= d
                s2 -= d * d
            for x in batch:
                d = x - shift
                s1 += d
                s2 += d * d
            data.extend(batch)
            self._s1, self._s2 = s1, s2
        self._refresh()

    def _resum(self) -> None:
        shift = self._mean
        s1 = s2 = 0.0
        for x in self._data:
            d = x - shift
            s1 += d
            s2 += d * d
        self._shift, self._s1, self._s2 = shift, s1, s2

    def _refresh(self) -> None:
        n = len(self._data)
        m1 = self._s1 / n
        m2 = self._s2 / n
        var = m2 - m1 * m1
        self._mean = self._shift + m1
        # A variance below rounding level of the sums is a constant window: NAB's numpy.std gives exactly 0 there,
        # which it replaces by the floor.
        self._std = math.sqrt(var) if var > _CANCELLATION * m2 else _STD_FLOOR
