"""The contract every streaming detector keeps, plus the small numeric helpers they share.

WHY: the Faust worker and the offline replay (`omnitrack detect`) must run *the same* code, one reading at a
time. A structural `Protocol` lets any object with `update(timestamp_s, value) -> score` plug in, without a base
class to inherit from, and keeps this package free of I/O and of any streaming framework.
"""

from __future__ import annotations

import math
from typing import Protocol, runtime_checkable

__all__ = ["Describes", "Detector", "clamp01", "fisher_pool", "log_tail_score", "normal_tail", "slot_of",
           "two_sided_surprise", "words_for"]

# Tail probability that maps to a score of 1.0: log-scaling tails down to 1e-10 spreads the interesting range
# (1e-3 .. 1e-10) over the score axis; without it every alarm-worthy score would be crammed into [0.999, 1].
_TAIL_FLOOR = 1e-10
_LOG_TAIL_FLOOR = math.log(_TAIL_FLOOR)
# 1/sqrt(2): turns a z-score into the argument of erfc; named to avoid a magic number in the hot path.
_INV_SQRT2 = 1.0 / math.sqrt(2.0)


@runtime_checkable
class Detector(Protocol):
    """A causal, bounded-memory scorer of one metric's readings.

    WHY a protocol: callers (engine worker, replay, composite) only need `update`; each implementation decides
    its own state. Implementations must use only past and current readings and keep memory bounded.
    """

    def update(self, timestamp_s: float, value: float) -> float:
        """Ingest one reading and return an anomaly score in [0, 1] (higher = more anomalous)."""
        ...


@runtime_checkable
class Describes(Protocol):
    """A detector that can say, in words for an alert, what made its latest reading anomalous."""

    def describe(self, value: float) -> str:
        """`value` is the reading just scored; called only when it alerts (never on the per-reading path)."""
        ...


def words_for(detector: object, value: float) -> str:
    """The detector's words for its latest reading `value` (an alert's detail, `omnitrack detect --explain`), or ""
    from a detector that has none: the engine and the offline replay ask the same way."""
    return detector.describe(value) if isinstance(detector, Describes) else ""


def clamp01(x: float) -> float:
    """Clamp to [0, 1]; NaN maps to 0 so a numeric accident can never raise an alarm or break a threshold."""
    if x != x:  # NaN
        return 0.0
    return 0.0 if x < 0.0 else 1.0 if x > 1.0 else x


def slot_of(timestamp_s: float, period_s: float, slots: int) -> int:
    """Which of `slots` equal parts of a period (a day's hours) a finite timestamp falls in, always in range:
    a hair before the period's end, `(-1e-20) % 86400.0` rounds to 86400.0, one slot past the last."""
    i = int((timestamp_s % period_s) * slots / period_s)
    return i if i < slots else slots - 1


def normal_tail(z: float) -> float:
    """One-sided upper tail probability P(Z > z) of a standard normal."""
    return 0.5 * math.erfc(z * _INV_SQRT2)


def two_sided_surprise(z: float) -> float:
    """P(|Z| < |z|): 0 for a value on the baseline, -> 1 for a value far from it, on any series' scale."""
    return 1.0 - math.erfc(abs(z) * _INV_SQRT2)


def log_tail_score(tail: float) -> float:
    """Map a tail probability to [0, 1] on a log scale: 1e-5 -> 0.5, 1e-10 (or rarer) -> 1, >= 0.5 -> 0.

    WHY: every detector's evidence ends up as "how rare is this", so one threshold means the same rarity on
    every series (NAB scores the whole corpus with a single threshold, and so does an alerting rule).
    """
    if not tail < 0.5:  # also catches NaN
        return 0.0
    return clamp01(math.log(tail + _TAIL_FLOOR) / _LOG_TAIL_FLOOR)


def fisher_pool(score_a: float, score_b: float) -> float:
    """Pool two log-tail scores by Fisher's method and return the pooled log-tail score.

    With q = p_a * p_b, P(chi2 with 4 dof > -2 ln q) = q (1 - ln q). WHY: independent evidence multiplies; one
    overwhelming view still scores high, two moderate agreeing views score higher than either alone.
    """
    ln_q = (score_a + score_b) * _LOG_TAIL_FLOOR
    return log_tail_score(math.exp(ln_q) * (1.0 - ln_q))
