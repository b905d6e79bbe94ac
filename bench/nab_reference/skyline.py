"""NAB's "Etsy Skyline" detector (scoreboard 35.7), as a batch reference.

What it does: at every reading the whole history so far is judged by seven of Etsy Skyline's algorithms, each a
True/False vote, and the score is (number of True votes) / 8 - NAB divides by len(algorithms) + 1, so the score
never exceeds 7/8 (reproduced on purpose). The votes, with t = the mean of the last three readings ("tail_avg"):
  1 median_absolute_deviation   |x - median| / median(|x_j - median|) > 6 (False when that MAD is 0)
  2 first_hour_average          |t - mean| > 3 std (ddof 1) of the readings in [T - 24h, T - 23h)
  3 stddev_from_average         |t - mean| > 3 std (ddof 1) of the whole history
  4 stddev_from_moving_average  |x - ewma| > 3 ewmstd (pandas ewm com=50, adjust=True, bias=False)
  5 mean_subtraction_cumulation |x - mean(earlier)| > 3 std(earlier - mean(earlier)) (ddof 1)
  6 least_squares               line fitted (lstsq on [epoch seconds, 1]) to the history; with e the residuals and
                                tm the mean of the last three, |tm| > 3 std(e) and round(std(e)) != 0 and round(tm) != 0
  7 histogram_bins              15 equal bins over the history; t falls in a bin holding <= 20 readings (for the
                                first bin only when t <= its left edge - Skyline's quirk, kept)
A NaN statistic (too few readings) makes the comparison False, as in pandas.

Reproduces numenta/NAB nab/detectors/skyline/skyline_detector.py at 8256abcfe931fa29ef6a6286f038d590064dfdfc and
nab/detectors/skyline/algorithms.py at 4e45930b9d44b4789cd589f2848369d946a1131b (NAB master / v1.1, pandas .ewm API).
The original is O(n^2) per file. Here: votes 1 and 7 keep a sorted history (medians and the MAD as order
statistics, histogram counts by bisection against numpy's own bin edges) - exact; vote 4 is pandas' ewma/ewmcov
recursion (window/aggregations.pyx, including its "constant series" guards) run once - exact; votes 2, 3, 5, 6 are
computed in O(1) per reading from extended-precision cumulative sums, with an explicit error bound, and any
reading whose decision lies within that bound of a tie is recomputed exactly the way pandas / numpy do it
(numpy.sum, two-pass variance, numpy.linalg.lstsq with rcond=-1 - the default of the numpy NAB ran on).

Verified vote by vote against NAB's code (run with pandas 3.1 / numpy 2.4 in a throwaway venv) on the first
3,000 readings of the seven NAB series under /work/shared/data/nab, on 1,200 readings of
machine_temperature_system_failure around its clock step back (reading 10148: timestamps not sorted), and on
synthetic noise / step / spike / constant (0.1, 0.3, 0.7, 5.0) / integer / clock-back series: 0 votes differ, max
|score difference| 0.0 on every one. Cost: about 10-40 us/reading on a 22,695-reading series (the original:
O(n^2), tens of ms per reading at that length).
Not reproduced: NaN values (NAB's corpus has none); Python 2 integer division in tail_avg (NAB v1.1 is Python 3;
under Python 2, files whose values were all integers got floor-divided tail averages).
"""

from __future__ import annotations

import bisect
import math

import numpy as np

NAME = "skyline"
PUBLISHED = 35.7

N_ALGORITHMS = 7          # skyline_detector.py: score = votes / (len(self.algorithms) + 1)
MAD_THRESHOLD = 6         # median_absolute_deviation: test_statistic > 6
SIGMAS = 3                # the "3 * stdDev" of algorithms 2-6
DAY, HOUR = 86400.0, 3600.0   # first_hour_average: readings in [T - day, T - (day - hour))
EWM_COM = 50.0            # stddev_from_moving_average: ewm(com=50, adjust=True, ignore_na=False, min_periods=0)
HIST_BINS = 15            # histogram_bins: np.histogram(series, bins=15)
HIST_MAX_COUNT = 20       # histogram_bins: a bin is "rare" when bin_size <= 20

_EPS_LD = float(np.finfo(np.longdouble).eps)
_REL = 1e-10              # slack for pandas' own float64 rounding in the statistics


def _tail_avg(x: np.ndarray) -> np.ndarray:
    """tail_avg at every reading: (x[-1] + x[-2] + x[-3]) / 3, or x[-1] with fewer than three readings."""
    t = x.copy()
    t[2:] = (x[2:] + x[1:-1] + x[:-2]) / 3
    return t


def _pd_mean(a: np.ndarray) -> float:
    return a.sum(dtype=np.float64) / len(a) if len(a) else math.nan


def _pd_std(a: np.ndarray) -> float:
    """pandas nanstd (ddof=1, no bottleneck): two-pass, NaN for fewer than two readings."""
    n = len(a)
    if n < 2:
        return math.nan
    avg = a.sum(dtype=np.float64) / n
    return math.sqrt(((avg - a) ** 2).sum(dtype=np.float64) / (n - 1))


def _mean_std_fast(lo: np.ndarray, hi: np.ndarray, s1, s2, a1, shift: float):
    """Mean and std (ddof=1) of x[lo:hi] from cumulative sums of d = x - shift, with error bounds on both."""
    w = (hi - lo).astype(np.float64)
    d1 = s1[hi] - s1[lo]
    d2 = s2[hi] - s2[lo]
    with np.errstate(divide="ignore", invalid="ignore"):
        m = d1 / w
        var = (d2 - d1 * m) / (w - 1)
        # rounding of cumulative sums of k terms is at most k*eps*sum|terms|; hi bounds k
        e1 = 4 * _EPS_LD * hi * (a1[hi] + a1[lo])
        evar = (4 * _EPS_LD * hi * (s2[hi] + s2[lo]) + 2 * np.abs(m) * e1) / (w - 1)
        std = np.where(w < 2, np.nan, np.sqrt(np.maximum(var, 0)))   # pandas: NaN below two readings
        estd = np.fmin(np.sqrt(evar), evar / std)
        mean = (shift + m).astype(np.float64)
        emean = (e1 / w).astype(np.float64)
    return mean, std.astype(np.float64), emean, estd.astype(np.float64)


def _sigma_votes(d, std, err, exact):
    """d > 3*std with `err` bounding |error|; None where too close to call (NaN compares False)."""
    out = []
    for i in range(len(d)):
        if not (std[i] == std[i]) or not (d[i] == d[i]):
            out.append(False)
        elif abs(d[i] - SIGMAS * std[i]) > err[i]:
            out.append(bool(d[i] > SIGMAS * std[i]))
        else:
            out.append(exact(i))
    return out


def _ewm_votes(x: list) -> list:
    """stddev_from_moving_average, via pandas' ewma and ewmcov(bias=False) recursions (adjust=True)."""
    alpha = 1.0 / (1.0 + EWM_COM)
    f = 1.0 - alpha
    votes = [False]  # one reading: ewmstd is NaN
    mean_w = mean_c = x[0]       # ewma's and ewmcov's means (same arithmetic, kept apart as in pandas)
    old_w = old_c = 1.0
    cov, sum_wt, sum_wt2 = 0.0, 1.0, 1.0
    for cur in x[1:]:
        old_w *= f
        if mean_w != cur:
            mean_w = (old_w * mean_w + 1.0 * cur) / (old_w + 1.0)
        old_w += 1.0
        sum_wt *= f
        sum_wt2 *= f * f
        old_c *= f
        old_mean = mean_c
        if mean_c != cur:
            mean_c = (old_c * old_mean + 1.0 * cur) / (old_c + 1.0)
        cov = (old_c * (cov + (old_mean - mean_c) * (old_mean - mean_c))
               + 1.0 * ((cur - mean_c) * (cur - mean_c))) / (old_c + 1.0)
        sum_wt += 1.0
        sum_wt2 += 1.0
        old_c += 1.0
        num = sum_wt * sum_wt
        den = num - sum_wt2
        var = (num / den) * cov if den > 0 else math.nan
        std = math.sqrt(var) if var >= 0 else (0.0 if var < 0 else math.nan)
        votes.append(abs(cur - mean_w) > SIGMAS * std)
    return votes


def _least_squares_exact(x: np.ndarray, y: np.ndarray) -> bool:
    a = np.vstack([x, np.ones(len(x))]).T
    m, c = np.linalg.lstsq(a, y, rcond=-1)[0]
    errors = [value - (m * x[i] + c) for i, value in enumerate(y)]
    std_dev = np.std(errors)
    t = (errors[-1] + errors[-2] + errors[-3]) / 3
    return bool(abs(t) > std_dev * 3 and round(std_dev) != 0 and round(t) != 0)


def _least_squares_votes(x: np.ndarray, ts: np.ndarray) -> list:
    n = len(x)
    u = (ts - ts[0]).astype(np.longdouble)
    v = (x - x[0]).astype(np.longdouble)
    z = np.zeros(1, dtype=np.longdouble)
    su, sv = np.concatenate([z, np.cumsum(u)]), np.concatenate([z, np.cumsum(v)])
    suu, suv = np.concatenate([z, np.cumsum(u * u)]), np.concatenate([z, np.cumsum(u * v)])
    svv = np.concatenate([z, np.cumsum(v * v)])
    k = np.arange(1, n + 1)
    with np.errstate(divide="ignore", invalid="ignore"):
        cuu = suu[1:] - su[1:] * su[1:] / k
        cuv = suv[1:] - su[1:] * sv[1:] / k
        cvv = svv[1:] - sv[1:] * sv[1:] / k
        slope = np.where(cuu > 0, cuv / cuu, 0)
        icpt = sv[1:] / k - slope * su[1:] / k
        rss = np.maximum(cvv - slope * cuv, 0)
        std = np.sqrt(rss / k).astype(np.float64)
        res = v - (slope * u + icpt)      # residual of reading i under the fit of prefix i (valid for the last 3)
        res1 = np.concatenate([[0], (v[:-1] - (slope[1:] * u[:-1] + icpt[1:]))]) if n > 1 else res
        res2 = np.concatenate([[0, 0], (v[:-2] - (slope[2:] * u[:-2] + icpt[2:]))]) if n > 2 else res
        tm = ((res + res1 + res2) / 3).astype(np.float64)
    # generous error bound: NAB's lstsq on raw epoch seconds and its m*x + c (x ~ 1e9) lose far more than our sums
    scale = np.maximum.accumulate(np.abs(x)) + std + np.abs(tm)
    err = 1e-7 * scale + 1e-12 * np.abs(slope.astype(np.float64)) * np.max(np.abs(ts)) + 1e-300
    out = []
    for i in range(n):
        if i < 2:
            out.append(False)
            continue
        a, s, e = abs(tm[i]), std[i], err[i]
        conds = [(a - SIGMAS * s, e * 4), (s - 0.5, e), (a - 0.5, e)]   # round(q) != 0 <=> |q| > 0.5
        if any(g < -tol for g, tol in conds):
            out.append(False)
        elif all(g > tol for g, tol in conds):
            out.append(True)
        else:
            out.append(_least_squares_exact(ts[: i + 1], x[: i + 1]))
    return out


def scores(values: np.ndarray, timestamps: np.ndarray, input_min: float, input_max: float,
           probation: int) -> np.ndarray:
    """One score per reading, each from the readings up to it; `input_min/max` and `probation` unused (as NAB)."""
    return votes(values, timestamps).sum(axis=1) / (N_ALGORITHMS + 1)


def votes(values: np.ndarray, timestamps: np.ndarray) -> np.ndarray:
    """(n, 7) array of 0/1 votes, columns in NAB's order of `self.algorithms` (see the module docstring)."""
    x = np.ascontiguousarray(values, dtype=np.float64)
    ts = np.ascontiguousarray(timestamps, dtype=np.float64)
    n = len(x)
    if n == 0:
        return np.zeros((0, N_ALGORITHMS))
    xl = x.tolist()
    tail = _tail_avg(x)
    tl = tail.tolist()
    votes = np.zeros((n, N_ALGORITHMS))

    # 1 and 7: sorted history.
    srt: list = []
    edges_key, edges = None, None
    for i in range(n):
        bisect.insort(srt, xl[i])
        k = i + 1
        h = k // 2
        med = srt[h] if k % 2 else (srt[h - 1] + srt[h]) / 2
        q = bisect.bisect_left(srt, med)
        lc, rc = q, k - q

        # j-th smallest (0-based) of |x - med|: merge of two sorted runs around the median
        def kth(j, srt=srt, q=q, med=med, lc=lc, rc=rc):
            lo, hi = max(0, j + 1 - rc), min(j + 1, lc)
            while lo < hi:
                a = (lo + hi) // 2
                b = j + 1 - a
                if b > 0 and a < lc and srt[q + b - 1] - med > med - srt[q - 1 - a]:
                    lo = a + 1
                else:
                    hi = a
            b = j + 1 - lo
            left = med - srt[q - lo] if lo > 0 else -math.inf
            right = srt[q + b - 1] - med if b > 0 else -math.inf
            return max(left, right)

        mad = kth(h) if k % 2 else (kth(h - 1) + kth(h)) / 2
        if mad != 0 and abs(xl[i] - med) / mad > MAD_THRESHOLD:
            votes[i, 0] = 1
        mn, mx = srt[0], srt[-1]
        if (mn, mx) != edges_key:
            edges_key = (mn, mx)
            edges = np.linspace(mn - 0.5, mx + 0.5, HIST_BINS + 1) if mn == mx else np.linspace(mn, mx, HIST_BINS + 1)
            edges = edges.tolist()
        t = tl[i]
        if t <= edges[0]:
            if bisect.bisect_left(srt, edges[1]) <= HIST_MAX_COUNT:
                votes[i, 6] = 1
        else:
            b = bisect.bisect_right(edges, t) - 1
            if 1 <= b <= HIST_BINS - 1 and t < edges[b + 1]:
                upper = k if b == HIST_BINS - 1 else bisect.bisect_left(srt, edges[b + 1])
                if upper - bisect.bisect_left(srt, edges[b]) <= HIST_MAX_COUNT:
                    votes[i, 6] = 1

    # 4: exponentially weighted.
    votes[:, 3] = _ewm_votes(xl)

    # 2, 3, 5: means and standard deviations from extended-precision cumulative sums.
    d = (x - x[0]).astype(np.longdouble)
    z = np.zeros(1, dtype=np.longdouble)
    s1, s2, a1 = (np.concatenate([z, np.cumsum(q)]) for q in (d, d * d, np.abs(d)))
    idx = np.arange(n)

    def tol(mean, std, emean, estd, t, w):
        return emean + SIGMAS * estd + _REL * (np.abs(t) + np.abs(mean) + (3 + np.sqrt(w)) * std) + 1e-300

    # 3 stddev_from_average: whole history including the reading.
    mean, std, em, es = _mean_std_fast(np.zeros(n, dtype=np.int64), idx + 1, s1, s2, a1, x[0])
    votes[:, 2] = _sigma_votes(np.abs(tail - mean), std, tol(mean, std, em, es, tail, idx + 1),
                          lambda i: abs(tl[i] - _pd_mean(x[: i + 1])) > SIGMAS * _pd_std(x[: i + 1]))

    # 5 mean_subtraction_cumulation: the reading against the history before it.
    mean, std, em, es = _mean_std_fast(np.zeros(n, dtype=np.int64), idx, s1, s2, a1, x[0])

    def msc_exact(i):
        y = x[: i + 1] - _pd_mean(x[:i])
        return abs(y[-1]) > SIGMAS * _pd_std(y[:-1])

    votes[:, 4] = _sigma_votes(np.abs(x - mean), std, tol(mean, std, em, es, x, idx) * 2, msc_exact)

    # 2 first_hour_average: readings with T - DAY <= ts < T - (DAY - HOUR).
    if np.all(np.diff(ts) >= 0):
        lo = np.searchsorted(ts, ts - DAY, side="left")
        hi = np.searchsorted(ts, ts - (DAY - HOUR), side="left")
    else:  # unsorted timestamps: the original filters, it does not slice; fall back to exact
        lo = hi = None
    if lo is not None:
        mean, std, em, es = _mean_std_fast(lo, hi, s1, s2, a1, x[0])
        w = (hi - lo).astype(np.float64)
        votes[:, 1] = _sigma_votes(np.abs(tail - mean), std, tol(mean, std, em, es, tail, w),
                              lambda i: abs(tl[i] - _pd_mean(x[lo[i]:hi[i]])) > SIGMAS * _pd_std(x[lo[i]:hi[i]]))
    else:
        order = np.argsort(ts, kind="stable")
        st = ts[order]
        lo = np.searchsorted(st, ts - DAY, side="left")
        hi = np.searchsorted(st, ts - (DAY - HOUR), side="left")
        for i in range(n):
            j = order[lo[i]:hi[i]]
            sel = x[np.sort(j[j <= i])]   # in the history's order, as the original's list comprehension
            votes[i, 1] = abs(tl[i] - _pd_mean(sel)) > SIGMAS * _pd_std(sel)

    # 6 least_squares.
    votes[:, 5] = _least_squares_votes(x, ts)
    return votes
