"""Statistical baselines: how far is the current reading from what this series usually does?

WHY: many real incidents are plain magnitude events - a spike, a drop, a level shift - and a robust baseline
catches them immediately, without having to learn patterns first. Two flavours:

* `EwmBaseline`      - EWMA level; scores the surprise of the current residual. Adapts to slow drift.
* `SeasonalBaseline` - slow level + time-of-day profile, so a daily cycle is expected and "a normal value at
                       the wrong hour" (a flat line where a peak should be) is surprising.

Both measure residuals against a `RobustScale` (a running median absolute deviation) and output the two-sided
normal surprise P(|Z| < |z|) in [0, 1]: a probability, comparable across series, not a raw magnitude.
"""

from __future__ import annotations

import math

from twin.detectors.base import slot_of, two_sided_surprise

__all__ = ["EwmBaseline", "RobustScale", "SeasonalBaseline"]

# Median of |Z| for a standard normal; dividing a median absolute deviation by it gives a sigma estimate, so z
# reads as a standard normal deviate and the surprise is a calibrated probability.
_MEDIAN_ABS_Z = 0.6744897501960817
# Mean of |Z| for a standard normal, sqrt(2/pi): converts the warm-up mean |residual| to the median tracked after.
_MEAN_ABS_Z = 0.7978845608028654
# Relative floor on the scale: a constant series has zero deviation, and without a floor the first tiny change
# would divide by ~0 and score 1 even when it is a rounding-level wiggle.
_REL_SCALE_FLOOR = 1e-3
# Absolute floor for series that hover around zero, for the same reason.
_ABS_SCALE_FLOOR = 1e-9
# Residuals are clipped to this many sigmas before they move the level/profile, so one huge spike cannot drag
# the baseline and hide the readings that follow it.
_RESIDUAL_CLIP = 4.0


class RobustScale:
    """Running median of |residual| by multiplicative quantile tracking (a streaming MAD).

    WHY: an exponentially weighted *mean* deviation grows in proportion to the deviations it sees, so a slowly
    growing excursion (a flat line drifting away from a daily cycle) inflated the scale as fast as it grew and was
    never flagged. Here each reading moves the estimate by at most a factor `1 +/- rate` whatever its size:
    robust to outliers, bounded growth during an incident, yet a lasting change of noise level is learned
    (doubling takes ~0.7/rate readings). The first `warmup` residuals are averaged to get a starting value.
    """

    __slots__ = ("_up", "_down", "_warmup", "_n", "_value")

    def __init__(self, rate: float = 0.005, warmup: int = 30) -> None:
        if not 0.0 < rate < 1.0 or warmup < 1:
            raise ValueError("0 < rate < 1 and warmup >= 1 are required")
        self._up = 1.0 + rate
        self._down = 1.0 - rate
        self._warmup = warmup
        self._n = 0
        self._value = 0.0

    @property
    def warm(self) -> bool:
        """True once the warm-up average is complete and scores can be trusted."""
        return self._n >= self._warmup

    def sigma(self, level: float) -> float:
        """Current sigma estimate, floored relative to `level` and absolutely (see the floors' comments)."""
        return max(self._value / _MEDIAN_ABS_Z, _REL_SCALE_FLOOR * abs(level), _ABS_SCALE_FLOOR)

    def update(self, residual: float) -> None:
        """Learn one residual."""
        r = abs(residual)
        n = self._n + 1
        self._n = n
        if n <= self._warmup:
            self._value += (r - self._value) / n  # mean |r| during warm-up (its sigma is not used for scoring)
            if n == self._warmup:
                self._value *= _MEDIAN_ABS_Z / _MEAN_ABS_Z  # mean |r| -> median |r| for a normal residual
        else:
            self._value *= self._up if r > self._value else self._down


def _score_residual(scale: RobustScale, resid: float, level: float) -> tuple[float, float]:
    """Surprise of a residual against the robust scale, and the residual clipped for learning.

    Clipping before the scale and level learn from it keeps one wild reading from
    inflating the scale and hiding the readings that follow.
    """
    sigma = scale.sigma(level)
    z = resid / sigma
    warm = scale.warm
    score = two_sided_surprise(z) if warm else 0.0
    if warm and abs(z) > _RESIDUAL_CLIP:
        resid = math.copysign(_RESIDUAL_CLIP * sigma, resid)
    scale.update(resid)
    return score, resid


class EwmBaseline:
    """EWMA level with a robust scale; scores the surprise of each new residual.

    WHY: O(1) time and memory per reading, causal, robust to spikes; the simplest useful baseline for metrics
    without a daily cycle.
    """

    __slots__ = ("_alpha", "_level", "_scale", "_n")

    def __init__(self, alpha: float = 0.05, scale_rate: float = 0.005, warmup: int = 30) -> None:
        if not 0.0 < alpha <= 1.0:
            raise ValueError("alpha must be in (0, 1]")
        self._alpha = alpha
        self._level = 0.0
        self._scale = RobustScale(scale_rate, warmup)
        self._n = 0

    def update(self, timestamp_s: float, value: float) -> float:
        """Score `value` against the baseline learned so far, then learn from it."""
        n = self._n
        self._n = n + 1
        if n == 0:
            self._level = value
            return 0.0
        score, resid = _score_residual(self._scale, value - self._level, self._level)
        self._level += max(self._alpha, 1.0 / (n + 1)) * resid
        return score


class SeasonalBaseline:
    """Slow level + time-of-day profile, scoring the surprise of the residual.

    WHY: daily cycles are the most common seasonality in operational metrics. Modelling the reading as
    `level + profile[slot]` makes the cycle itself unsurprising and makes "a normal value at the wrong hour" (a
    flat line where a peak should be) surprising. The level learns on a *time* constant (about a day), so it
    cannot absorb the cycle whatever the sampling rate (a per-reading rate did exactly that at 5-minute
    sampling); each slot's profile starts as a running average so the cycle is learned within a few days. With no
    cycle the profile stays ~0 and this is a slow-level baseline. Memory is fixed: `slots` floats and counts.
    """

    __slots__ = ("_period_s", "_tau_s", "_gamma", "_level", "_profile", "_count", "_scale", "_n",
                 "_last_t")

    def __init__(
        self,
        period_s: float = 86400.0,
        slots: int = 48,
        level_tau_s: float = 86400.0,
        gamma: float = 0.05,
        scale_rate: float = 0.005,
        warmup: int = 30,
    ) -> None:
        if slots < 1 or period_s <= 0 or level_tau_s <= 0:
            raise ValueError("slots >= 1, period_s > 0 and level_tau_s > 0 are required")
        if not 0.0 <= gamma <= 1.0:
            raise ValueError("gamma must be in [0, 1]")
        self._period_s = period_s
        self._tau_s = level_tau_s
        self._gamma = gamma
        self._level = 0.0
        self._profile = [0.0] * slots
        self._count = [0] * slots
        self._scale = RobustScale(scale_rate, warmup)
        self._n = 0
        self._last_t = 0.0

    def update(self, timestamp_s: float, value: float) -> float:
        """Score `value` against level + profile for its time-of-day slot, then learn from it."""
        i = slot_of(timestamp_s, self._period_s, len(self._profile))
        n = self._n
        self._n = n + 1
        if n == 0:
            self._level = value
            self._last_t = timestamp_s
            return 0.0
        dt = timestamp_s - self._last_t
        self._last_t = timestamp_s
        season = self._profile[i]
        warm = self._scale.warm  # as it was before this reading updates the scale
        score, resid = _score_residual(self._scale, value - self._level - season, self._level)
        # Level: time-based rate (irregular sampling is fine; out-of-order readings do not move it).
        a = -math.expm1(-dt / self._tau_s) if dt > 0.0 else 0.0
        if not warm:
            a = max(a, 1.0 / (n + 1))  # start from the running mean, not from the first reading
        self._level += a * resid
        # Profile: running average of the slot's de-levelled residual at first, then exponential forgetting.
        c = self._count[i] + 1
        self._count[i] = c
        self._profile[i] = season + max(self._gamma, 1.0 / c) * (1.0 - a) * resid
        return score
