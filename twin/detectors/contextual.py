"""Context novelty: is the *shape* of the recent readings something this series has done before?

WHY: magnitude baselines miss anomalies made of ordinary values in an unusual order - a flat line in a signal
that always moves, a missing daily peak, a new oscillation. In the spirit of the Contextual Anomaly Detector
(CAD OSE, NAB's best open-source detector) and of HTM's "fraction of unpredicted columns", we quantise each
reading into a coarse level, form contexts from the last few levels (several orders), remember the contexts seen
(in a capped table), and score the fraction of the current contexts that were never seen before. The score is
therefore a rate of novelty, comparable across series once passed through the anomaly likelihood.
"""

from __future__ import annotations

import itertools
import math
from collections import deque

__all__ = ["ContextNovelty"]

# Bin indices are clamped to this magnitude: a reading absurdly far from the warm-up range (or an overflowing
# subtraction) would otherwise raise OverflowError converting an infinite quotient to int.
_MAX_BIN = float(2**62)
# On overflow, forget 1/this of the table at once: evicting one entry per reading would cost a scan per reading,
# and halving the table (tried first) made a long series forget its common contexts and raise novelty bursts.
_EVICT_DIVISOR = 10


class ContextNovelty:
    """Fraction of never-seen level contexts among orders 1..`max_order`.

    WHY the parameters: `levels` sets the quantisation (too fine = everything is novel on noisy series, too
    coarse = nothing is); the bin width is fixed after `warmup` readings so learned contexts keep their meaning
    (re-scaling would invalidate the whole table); `capacity` bounds memory, and on overflow the least recently
    seen tenth of the table is forgotten, so a long series keeps its common contexts and learns recent ones.
    """

    __slots__ = ("_levels", "_warmup", "_capacity", "_seen", "_hist", "_lo", "_width", "_buf")

    def __init__(self, levels: int = 8, max_order: int = 4, warmup: int = 150, capacity: int = 20_000) -> None:
        if levels < 2 or max_order < 1 or warmup < 2 or capacity < 16:
            raise ValueError("levels >= 2, max_order >= 1, warmup >= 2, capacity >= 16 are required")
        self._levels = levels
        self._warmup = warmup
        self._capacity = capacity
        self._seen: dict[tuple[int, ...], int] = {}
        self._hist: deque[int] = deque(maxlen=max_order + 1)
        self._buf: list[float] | None = []
        self._lo = 0.0
        self._width = 0.0

    def _fix_scale(self) -> None:
        """Choose the bin width from the warm-up readings (robust 2nd-98th percentile range)."""
        buf = sorted(self._buf or ())
        k = len(buf)
        lo, hi = buf[int(0.02 * (k - 1))], buf[int(0.98 * (k - 1))]
        span = hi - lo
        if not span > 0.0 or span == math.inf:
            # constant (or absurd) warm-up: any later change will be novel, by design
            span = max(min(abs(hi), 1e300) * 0.1, 1e-6)
        self._lo = lo
        self._width = span / self._levels
        self._buf = None  # free the warm-up buffer: memory stays bounded

    def update(self, timestamp_s: float, value: float) -> float:
        """Score the novelty of the context ending with `value`, then remember it."""
        if self._buf is not None:
            self._buf.append(value)
            if len(self._buf) >= self._warmup:
                self._fix_scale()
            return 0.0
        x = (value - self._lo) // self._width
        q = 0 if x != x else int(-_MAX_BIN if x < -_MAX_BIN else _MAX_BIN if x > _MAX_BIN else x)
        hist = self._hist
        hist.append(q)
        h = tuple(hist)
        seen = self._seen
        novel = 0
        for k in range(1, len(h) + 1):
            key = h[-k:]
            # pop + re-insert keeps the dict in least-recently-seen order, so eviction forgets stale contexts
            seen[key] = seen.pop(key, 0) + 1
            if seen[key] == 1:
                novel += 1
        if len(seen) > self._capacity:
            for key in list(itertools.islice(seen, len(seen) - self._capacity + self._capacity // _EVICT_DIVISOR)):
                del seen[key]
        return novel / len(h)

    @property
    def table_size(self) -> int:
        """Contexts currently remembered (never above `capacity`)."""
        return len(self._seen)
