"""Interval-set primitives for the numba kernel.

An outage set is a sorted list of disjoint, non-touching half-open intervals
``[s, e)`` in days, stored in two float arrays plus a count. All sets live in
``[0, H]``: starts >= H are dropped and ends clipped to H. That is exact for
every in-horizon metric because propagation is causal (union, intersection,
shifting later by lead time and trimming by cover only look backwards).
"""

from __future__ import annotations

import numpy as np
from numba import njit

# Max disjoint outage intervals kept per set. Bounds per-thread scratch memory;
# on overflow the two intervals with the smallest gap are merged, which can
# only overstate an outage (conservative). With realistic outage rates a set
# rarely holds more than 3 intervals.
K_MAX = 16


@njit(cache=True)
def cap(s: np.ndarray, e: np.ndarray, n: int, kmax: int) -> int:
    """Merge closest neighbours until at most ``kmax`` intervals remain."""
    while n > kmax:
        best = 1
        gap = s[1] - e[0]
        for i in range(2, n):
            g = s[i] - e[i - 1]
            if g < gap:
                gap = g
                best = i
        if e[best] > e[best - 1]:
            e[best - 1] = e[best]
        for i in range(best, n - 1):
            s[i] = s[i + 1]
            e[i] = e[i + 1]
        n -= 1
    return n


@njit(cache=True)
def union(as_: np.ndarray, ae: np.ndarray, na: int, bs: np.ndarray, be: np.ndarray, nb: int,
          os_: np.ndarray, oe: np.ndarray) -> int:
    """Sorted merge with coalescing of overlapping or touching intervals."""
    i = 0
    j = 0
    n = 0
    while i < na or j < nb:
        if j >= nb or (i < na and as_[i] <= bs[j]):
            s = as_[i]
            e = ae[i]
            i += 1
        else:
            s = bs[j]
            e = be[j]
            j += 1
        if n > 0 and s <= oe[n - 1]:
            if e > oe[n - 1]:
                oe[n - 1] = e
        else:
            os_[n] = s
            oe[n] = e
            n += 1
    return n


@njit(cache=True)
def intersect(as_: np.ndarray, ae: np.ndarray, na: int, bs: np.ndarray, be: np.ndarray, nb: int,
              os_: np.ndarray, oe: np.ndarray) -> int:
    """Two-pointer intersection; the result is again canonical."""
    i = 0
    j = 0
    n = 0
    while i < na and j < nb:
        s = max(as_[i], bs[j])
        e = min(ae[i], be[j])
        if s < e:
            os_[n] = s
            oe[n] = e
            n += 1
        if ae[i] < be[j]:
            i += 1
        else:
            j += 1
    return n


@njit(cache=True)
def copy(src_s: np.ndarray, src_e: np.ndarray, n: int, dst_s: np.ndarray, dst_e: np.ndarray) -> None:
    for i in range(n):
        dst_s[i] = src_s[i]
        dst_e[i] = src_e[i]


@njit(cache=True)
def own_set(elem: int, scale: float, extra: float, horizon: float,
            has: np.ndarray, st: np.ndarray, dz: np.ndarray,
            f_ptr: np.ndarray, f_start: np.ndarray, f_dz: np.ndarray,
            os_: np.ndarray, oe: np.ndarray) -> int:
    """The element's own outages (sampled + forced) as a canonical set.

    ``scale`` is the variant's duration factor; ``extra`` extends the end (a
    lane outage strands goods in transit, so arrivals resume one lead time
    after the lane reopens).
    """
    n = 0
    if has[elem]:
        d = dz[elem] * scale
        s = st[elem]
        if d > 0.0 and s < horizon:
            os_[0] = s
            oe[0] = min(s + d + extra, horizon)
            n = 1
    for f in range(f_ptr[elem], f_ptr[elem + 1]):
        d = f_dz[f] * scale
        s = f_start[f]
        if d > 0.0 and s < horizon:
            e = min(s + d + extra, horizon)
            k = n                                  # insertion by start
            while k > 0 and os_[k - 1] > s:
                os_[k] = os_[k - 1]
                oe[k] = oe[k - 1]
                k -= 1
            os_[k] = s
            oe[k] = e
            n += 1
    m = 0                                          # coalesce in place
    for i in range(n):
        if m > 0 and os_[i] <= oe[m - 1]:
            if oe[i] > oe[m - 1]:
                oe[m - 1] = oe[i]
        else:
            os_[m] = os_[i]
            oe[m] = oe[i]
            m += 1
    return m
