"""Risk statistics with confidence intervals, for loss (or any per-trial metric).

Why intervals everywhere: the agents compare strategies and decide when to
stop sampling; a point estimate without its uncertainty invites ranking noise.

* mean: normal (CLT) interval;
* quantiles: distribution-free order-statistic interval (binomial, normal
  approximation) -- no bootstrap, so it is deterministic and O(n log n);
* CVaR_a (mean of the worst 1-a tail): Rockafellar-Uryasev estimator
  VaR + E[(X - VaR)+] / (1 - a), with a normal interval on that sample mean
  (treats VaR as known, slightly optimistic for small n).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from .rng import py_ndtri

# Reported quantiles: P99 is the tail the issue asks for; beyond it a 10k-trial
# run has too few exceedances for a usable interval.
QUANTILES = (0.50, 0.90, 0.99)
# CVaR level: worst 5 % of trials, ~500 samples at 10k trials, enough for a stable mean.
CVAR_LEVEL = 0.95


@dataclass(frozen=True)
class Estimate:
    """A point estimate and its confidence interval."""

    value: float
    lo: float
    hi: float

    @property
    def half_width(self) -> float:
        return (self.hi - self.lo) / 2.0


@dataclass(frozen=True)
class Summary:
    n: int
    mean: Estimate
    p50: Estimate
    p90: Estimate
    p99: Estimate
    cvar95: Estimate
    confidence: float


def z_value(confidence: float) -> float:
    """Two-sided standard normal critical value."""
    if not 0.0 < confidence < 1.0:
        raise ValueError("confidence must be in (0, 1)")
    return py_ndtri(0.5 + confidence / 2.0)


def mean_ci(x: np.ndarray, confidence: float = 0.95) -> tuple[float, float, float]:
    """(mean, lo, hi); normal interval with the sample standard deviation."""
    x = np.asarray(x, dtype=np.float64)
    n = x.size
    if n == 0:
        raise ValueError("empty sample")
    m = float(x.mean())
    if n < 2:
        return m, -math.inf, math.inf
    h = z_value(confidence) * float(x.std(ddof=1)) / math.sqrt(n)
    return m, m - h, m + h


def quantile_ci(x: np.ndarray, q: float, confidence: float = 0.95, *, sorted_x: np.ndarray | None = None) -> Estimate:
    """Order-statistic interval: ranks n*q -/+ z*sqrt(n q (1-q)), clamped to the sample."""
    xs = np.sort(np.asarray(x, dtype=np.float64)) if sorted_x is None else sorted_x
    n = xs.size
    if n == 0:
        raise ValueError("empty sample")
    z = z_value(confidence)
    spread = z * math.sqrt(n * q * (1.0 - q))
    lo_i = max(0, int(math.floor(n * q - spread)) - 1)
    hi_i = min(n - 1, int(math.ceil(n * q + spread)))
    return Estimate(float(np.quantile(xs, q)), float(xs[lo_i]), float(xs[hi_i]))


def cvar_ci(x: np.ndarray, level: float = CVAR_LEVEL, confidence: float = 0.95) -> Estimate:
    """Conditional value at risk (expected loss in the worst 1 - level tail)."""
    x = np.asarray(x, dtype=np.float64)
    var = float(np.quantile(x, level))
    y = var + np.maximum(x - var, 0.0) / (1.0 - level)
    m, lo, hi = mean_ci(y, confidence)
    return Estimate(m, lo, hi)


def summarize(x: np.ndarray, confidence: float = 0.95) -> Summary:
    """Mean, P50/P90/P99 and CVaR95, each with an interval."""
    x = np.asarray(x, dtype=np.float64).ravel()
    xs = np.sort(x)
    m, lo, hi = mean_ci(x, confidence)
    q50, q90, q99 = (quantile_ci(x, q, confidence, sorted_x=xs) for q in QUANTILES)
    return Summary(int(x.size), Estimate(m, lo, hi), q50, q90, q99, cvar_ci(x, CVAR_LEVEL, confidence), confidence)


def paired_difference(a: np.ndarray, b: np.ndarray, confidence: float = 0.95) -> Estimate:
    """Mean of a - b over the same trials (common random numbers): the interval
    is much narrower than comparing two independent means."""
    m, lo, hi = mean_ci(np.asarray(a, dtype=np.float64) - np.asarray(b, dtype=np.float64), confidence)
    return Estimate(m, lo, hi)
