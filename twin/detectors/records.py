"""Record rarity: how rare is a reading beyond every extreme this series has shown?

WHY a module of its own: a broken record is the sequence detector's one magnitude question (how far beyond, in
what unit), with its own statistics of the data (its step, the scale of its tails); kept apart, it reads and tests
as the small piece of arithmetic it is. After n readings one in n + 1 breaks the record by chance, and each unit
of overshoot beyond the data's smallest step makes that a hundred times rarer; the unit is the largest of the
caller's (a level, the usual change), that step and _TAIL_UNITS local scales of the tail broken. The result is on
the package's log-tail scale: 0.5 ~ 1 in 10^5, 1.0 ~ 1 in 10^10 or rarer.
"""

from __future__ import annotations

import math
from collections.abc import Iterable

__all__ = ["LOG_RAREST", "ROUNDING", "RecordRarity", "hold_out"]

# Natural log of how much rarer a record gets per unit of overshoot (4.6: a hundredfold): a new extreme that only
# just breaks the record is ordinary - scoring it 1.0 raised ~1 false alert per 1,000 readings of plain noise -
# and one far beyond it (a throughput falling to zero) is not.
_RECORD_DECAY = 4.6
# Log of the tail probability that scores 1.0 (the package's log-tail scale, twin.detectors.base).
LOG_RAREST = math.log(1e-10)
# Readings between two estimates of the data's step and tails (each sorts the remembered readings): a stream that
# sets a new extreme at every reading would otherwise sort its whole buffer per reading.
_STATS_EVERY = 250
# A record's overshoot is measured against the data's own granularity and tail (docs/detection-rounds.md, fourth round).
# Counts and other quantised readings cannot break a record by less than one step of their grid (the smallest gap
# between the distinct values seen), so that step is the "just broke it" case, not an overshoot; and a heavy tail
# (bursty counts, latencies) overshoots its record by more than a light one. The tail's local scale is the spacing
# of the remembered readings' top (bottom) _TAIL_K values: (x(1) - x(k)) / H(k-1), the scale b of an exponential
# tail, where one b of overshoot is e times rarer. A unit of overshoot is at least _TAIL_UNITS such scales: 3 leaves
# a Gaussian series' unit (its usual change or a level, ~1 sigma; the top spacing there is ~sigma / 3) about as it
# was, while exponential-tailed series (counts, latencies) stop raising a 1.0 at their ordinary new maxima.
# Measured with the engine's settings on 24 x 10,000 readings per family: alarms at 0.75 on Poisson(0.1),
# zero-inflated and negative-binomial counts went from 39, 18 and 28 to 2, 1 and 1, with the pooled NAB figure
# unchanged (mean of 10 synthetic seeds); 4.6 (an exponential tail's own rate) cost 0.5 on 5 seeds and sent the
# tuning half's optimiser climb to a worse threshold (69.9 against 86.0).
_TAIL_K = 10
_TAIL_UNITS = 3.0
# Gaps between distinct remembered values below this share of their spread are float rounding, not the data's step:
# changes of readings on a 0.01 grid (`twin.detectors.jumps`) are 0.01 give or take 1e-17, and as distinct values
# they made the step 1e-17 in one unit and 0 in another (the scores then depended on a metric's unit). Readings on a
# grid finer than a millionth of their spread are continuous for this purpose.
ROUNDING = 1e-6


def hold_out(held: float, incident: float, before: float) -> tuple[float, float]:
    """An alarmed reading's record, `incident`, broke the extreme `before`: return (the record held out now, the
    extreme now). WHY: an incident is not the series' habit. Counted in the extreme, one stuck stretch made every
    later one ordinary, one spike the next as high (docs/detection-rounds.md, nineteenth round). So the first is held
    out and the extreme stays `before`; with one held already (`held`, NaN when none), the same has recurred, which
    is a habit: both go in, the extreme becoming the farther of the two, and none is held. Used alike for the
    records of readings, of changes (`twin.detectors.jumps`) and of runs (`twin.detectors.runs`)."""
    if held != held:
        return incident, before
    return math.nan, max(incident, held) if incident > before else min(incident, held)


class RecordRarity:
    """The data's step and tail scales, refreshed from the remembered readings when a record needs them."""

    __slots__ = ("_stats_at", "_quantum", "_tail_lo", "_tail_hi")

    def __init__(self) -> None:
        self._stats_at = 0
        self._quantum = self._tail_lo = self._tail_hi = 0.0

    @property
    def step(self) -> float:
        """The data's step as last estimated (0.0: continuous, or not estimated yet)."""
        return self._quantum

    def surprise(self, value: float, seen_min: float, seen_max: float, n: int, remembered: Iterable[float],
                 unit: float, by_chance: bool = True) -> float:
        """Score of `value`, the `n`-th reading, beyond the extremes `seen_min` / `seen_max` of the readings before
        it, in [0, 1]. `remembered` holds the recent readings, `value` among them; `unit` is the caller's smallest
        unit of overshoot (a level, the usual change). With `by_chance` false only the overshoot is scored, not the
        1 in n + 1 chance of a record at all: a record by a hair scores 0 (for records that come too often by
        chance to be news: `twin.detectors.jumps`)."""
        if n >= self._stats_at:
            self._stats(value, n, remembered)
        if value > seen_max:
            over, tail = value - seen_max, self._tail_hi
        else:
            over, tail = seen_min - value, self._tail_lo
        step = self._quantum
        over = (over - step if over > step else 0.0) / max(unit, step, _TAIL_UNITS * tail)
        log_tail = (math.log(2.0 / (n + 1)) if by_chance else 0.0) - _RECORD_DECAY * over
        return 1.0 if log_tail <= LOG_RAREST else max(0.0, log_tail / LOG_RAREST)

    def _stats(self, value: float, n: int, remembered: Iterable[float]) -> None:
        """The data's step (smallest gap between distinct values; ~0 for continuous readings) and the local scale
        of each tail, from the remembered readings without `value` (the record being scored)."""
        self._stats_at = n + min(_STATS_EVERY, 1 + n // 4)  # a young memory changes fast: sooner at first
        values = sorted(remembered)
        if value in values:  # it is, for both callers; a caller whose value is not must still get its stats
            values.remove(value)
        if len(values) < 2:
            self._quantum = self._tail_lo = self._tail_hi = 0.0
            return
        self._quantum = self._step(values)
        k = max(2, min(_TAIL_K, len(values) // 4))
        harmonic = sum(1.0 / j for j in range(1, k))
        self._tail_hi = (values[-1] - values[-k]) / harmonic
        self._tail_lo = (values[k - 1] - values[0]) / harmonic

    def _step(self, values: list[float]) -> float:
        """The data's step: the smallest gap between distinct values (sorted), ~0 for continuous readings."""
        noise = ROUNDING * (values[-1] - values[0])
        gaps = [b - a for a, b in zip(values, values[1:], strict=False) if b - a > noise]
        return min(gaps) if gaps else 0.0
