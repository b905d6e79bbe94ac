"""Exact expectations of the flow model on small networks (derivations in docs/decisions.md).

Kept apart from the kernels on purpose: each formula is derived from the model
description (daily steps, whole-day outages, demand-driven orders), so
agreement tests the implementation. An outage of median ``m`` and log-sd
``sigma`` lasts ``K = max(1, round(m exp(sigma Z)))`` whole days; its
distribution is exact (two normal CDF values per k), so the expectations below
are finite sums with no integration error.
"""

from __future__ import annotations

import math

import numpy as np

# Durations beyond this many days are summed as one tail mass: every formula
# below is flat in k once k exceeds the horizon, so the tail is exact.
K_MAX = 2_000


def _phi(x: float) -> float:
    return 0.5 * math.erfc(-x / math.sqrt(2.0))


def duration_pmf(median: float, sigma: float) -> tuple[np.ndarray, np.ndarray]:
    """(k, P(K = k)) for k = 1..K_MAX; the last entry holds the tail P(K >= K_MAX)."""
    ks = np.arange(1, K_MAX + 1)
    if sigma == 0:
        k0 = max(1, math.floor(median + 0.5))
        return ks, (ks == k0).astype(np.float64)

    def cdf(x: float) -> float:          # P(median exp(sigma Z) < x)
        return 0.0 if x <= 0 else _phi((math.log(x) - math.log(median)) / sigma)

    upper = np.array([cdf(k + 0.5) for k in ks])
    lower = np.concatenate([[0.0], upper[:-1]])
    pmf = upper - lower
    pmf[-1] = 1.0 - lower[-1]
    return ks, pmf


def expect(f, median: float, sigma: float) -> float:
    ks, pmf = duration_pmf(median, sigma)
    return float(sum(p * f(int(k)) for k, p in zip(ks, pmf) if p > 0))


def single_source_lost_units(demand: float, cover_days: float, median: float, sigma: float, window: int,
                             available: float = 0.0) -> float:
    """Source -> customer, source down (or at ``available`` units/day) for K days from day s;
    ``window = H - s - lead`` arrival days fall inside the horizon:
    lost = max(0, (D - available)+ x min(K, window) - c D)."""
    gap = max(0.0, demand - available)
    return expect(lambda k: max(0.0, gap * min(k, window) - cover_days * demand), median, sigma)


def parallel_lost_units(demand: float, share: float, alt_capacity: float, switch_days: int, cover_days: float,
                        median: float, sigma: float, window: int) -> float:
    """Two sources with shares (share, 1 - share); the first is down K days from day s; after
    ``switch_days`` (delta) days its orders go to the second, which ships at most ``alt_capacity``.
    Arrival deficit on day r after s + lead: share x D for r < min(K, delta); if K >= delta,
    (D - alt_capacity)+ for delta <= r <= K. lost = max(0, sum over r < window - c D).
    Needs alt_capacity >= (1 - share) D and the first source's capacity >= share x D."""
    def lost(k: int) -> float:
        first = share * demand * min(k, switch_days, window)
        later = 0.0
        if k >= switch_days:
            later = max(0.0, demand - alt_capacity) * max(0, min(k + 1, window) - switch_days)
        return max(0.0, first + later - cover_days * demand)
    return expect(lost, median, sigma)


def series_lost_units(demand: float, cover_days: float, p1: float, median1: float, sigma1: float, p2: float,
                      median2: float, sigma2: float, window: int) -> float:
    """Supplier 1 -> supplier 2 (no stock, lead 1 day) -> customer; both outages (if they occur) start on
    the same day. Supplier 2 cannot ship while down; what reaches it meanwhile waits and ships when it
    reopens, so with the 1-day lead the customer misses max(K1, K2) days of supply:
    E = p1 (1-p2) E g(K1) + (1-p1) p2 E g(K2) + p1 p2 E g(max(K1, K2)), g(k) = D max(0, min(k, w) - c)."""
    k1, f1 = duration_pmf(median1, sigma1)
    k2, f2 = duration_pmf(median2, sigma2)

    def g(k: np.ndarray) -> np.ndarray:
        return demand * np.maximum(0.0, np.minimum(k, window) - cover_days)

    e1, e2 = float(f1 @ g(k1)), float(f2 @ g(k2))
    c1, c2 = np.cumsum(f1), np.cumsum(f2)
    pmax = c1 * c2 - np.concatenate([[0.0], (c1 * c2)[:-1]])    # P(max = k)
    emax = float(pmax @ g(k1))
    return p1 * (1 - p2) * e1 + (1 - p1) * p2 * e2 + p1 * p2 * emax
