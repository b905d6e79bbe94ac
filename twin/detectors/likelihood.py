"""Anomaly likelihood: turns any raw score stream into a calibrated "how unusual is this *for this series*".

WHY: raw detector outputs live on different scales per series (a noisy series has a high raw baseline, a clean
one a low one), yet NAB - and an alerting engine - applies ONE threshold to every series. Following the idea of
Numenta's anomaly likelihood (Ahmad et al., 2017), we model the distribution of short-term averaged raw scores
as a Gaussian and report the log-scaled tail probability of the current short-term average, so the same output
means the same rarity on every metric. Unlike Numenta's version, the distribution is tracked with exponentially
weighted mean and variance (O(1) memory instead of a window of thousands of scores per metric): on the NAB
samples an EW time constant of 1000-3000 readings scored within the noise of an 8640-reading window.
"""

from __future__ import annotations

import math
from collections import deque

from twin.detectors.base import clamp01, log_tail_score, normal_tail

__all__ = ["AnomalyLikelihood"]

# Floor on the modelled mean raw score: on a near-perfectly predictable series the mean is ~0 and the slightest
# blip would otherwise read as a one-in-a-billion event (false alarms on clean series).
_MEAN_FLOOR = 0.03
# Floor on the modelled variance of the averaged raw score, for the same reason and for float round-off.
_VAR_FLOOR = 0.0003


class AnomalyLikelihood:
    """Calibrates a raw score in [0, 1] into a log-scaled tail probability in [0, 1].

    WHY each parameter: `short_window` averages a few raw scores so a single noisy point is not an event but a
    sustained change is; `memory` is the EW time constant (readings) of the score distribution, so an old regime
    is forgotten; `learning` keeps the output at 0 until the distribution is estimated (no start-up alarms);
    `two_sided` also flags a sudden *drop* of the raw score (off by default: it did not help on NAB samples).
    """

    __slots__ = ("_short", "_short_sum", "_mean", "_var", "_rate", "_learning", "_seen", "_two_sided")

    def __init__(self, short_window: int = 10, memory: int = 2000, learning: int = 300,
                 two_sided: bool = False) -> None:
        if short_window < 1 or memory < 1 or learning < 0:
            raise ValueError("short_window >= 1, memory >= 1 and learning >= 0 are required")
        self._short: deque[float] = deque(maxlen=short_window)
        self._short_sum = 0.0
        self._mean = 0.0
        self._var = 0.0
        self._rate = 1.0 / memory
        self._learning = learning
        self._seen = 0
        self._two_sided = two_sided

    def update(self, raw: float) -> float:
        """Add one raw score; return the calibrated score (0 = ordinary, 0.5 ~ 1e-5 tail, 1 ~ 1e-10 tail)."""
        raw = clamp01(raw)
        short = self._short
        if len(short) == short.maxlen:
            self._short_sum -= short[0]
        short.append(raw)
        self._short_sum += raw
        avg = max(self._short_sum / len(short), 0.0)  # max(): float round-off of the running sum

        score = 0.0
        if self._seen >= self._learning and self._seen > 0:
            z = (avg - max(self._mean, _MEAN_FLOOR)) / math.sqrt(max(self._var, _VAR_FLOOR))
            score = log_tail_score(normal_tail(abs(z) if self._two_sided else z))
        # Learn after scoring, so the current point cannot explain itself away; 1/n at first = a plain average.
        self._seen += 1
        r = max(1.0 / self._seen, self._rate)
        d = avg - self._mean
        self._mean += r * d
        self._var = (1.0 - r) * (self._var + r * d * d)
        return score

    @property
    def buffer_len(self) -> int:
        """Raw scores held (never above `short_window`; the distribution itself is O(1) state)."""
        return len(self._short)
