"""NAB's "Relative Entropy" detector (scoreboard 54.6), as a batch reference.

What it does (Wang et al., "Statistical techniques for online anomaly detection in data centers", 2011, as NAB
implements it): the file's range [input_min, input_max] is cut into 5 steps and each reading is quantised to
ceil((value - input_min) / step), a level 0..5. From the 52nd reading on, the levels of the last 52 readings make
a histogram over 5 bins; the first histogram becomes the first "hypothesis". Every later histogram is tested
against each hypothesis with the statistic 2 * 52 * KL(histogram || hypothesis); if one scores under the
chi-square (4 degrees of freedom) 0.99 quantile the reading scores 0, otherwise it scores 1 and its histogram
becomes a new hypothesis. Scores are 0 or 1; a file whose minimum equals its maximum scores 0 throughout.

Reproduces numenta/NAB nab/detectors/relative_entropy/relative_entropy_detector.py at commit
4e45930b9d44b4789cd589f2848369d946a1131b (NAB master; the Python 3 port 451503a only turns `xrange` into `range`).
Quirks of NAB's code kept on purpose:
  * `numpy.histogram(levels, bins=5, range=(0, 5))` has edges 0,1,2,3,4,5 with the last bin closed: levels 0..3
    get a bin each and levels 4 and 5 share the last one. A level outside 0..5 is dropped from the histogram;
    that needs readings outside [input_min, input_max], which NAB never hands in (d / (d / 5) came out exactly 5
    for 2e7 random d, so the file's maximum always gets level 5).
  * NAB also counts how often each hypothesis is accepted and flags an accepted one seen at most `c_th` = 1
    times; a count is 1 when created and at least 2 once accepted, so that branch never flags anything: a
    reading scores 1 exactly when every hypothesis is rejected.
  * A window whose levels were all dropped has no histogram (numpy gives 0/0 = NaN): NaN is never under the
    threshold, so it scores 1, and the NaN hypothesis it leaves accepts nothing (unless it is the first window,
    which scores 0 as every first window does).
The statistic is scipy's `stats.entropy(p, q)` as NAB calls it: both vectors renormalised by their sums, then
sum(rel_entr) (x log(x/y); 0 where x = 0; +inf where x > 0 = y), summed left to right.

Exactness: verified against NAB's detector code (run with scipy 1.17 / numpy 2.4 in a throwaway venv) on the
seven NAB series under /work/shared/data/nab, full length, and on synthetic series (noise, step, spike, constant
runs, a ramp, integer levels, readings above a given input_max): identical scores, max |difference| 0.0 on every
one. Against the results NAB committed (results/relativeEntropy/..., scores 0.0 / 1.0, the run behind the
published 54.6): every reading of realTraffic/speed_7578, and the detection counts of
relativeEntropy_standard_scores.csv on all seven series. NAB's values are parsed by pandas there; on these seven
files pandas and float() give the same numbers.

Cost: a histogram's verdict depends only on the histogram and on the hypotheses before it, and hypotheses are
only ever added, so a histogram seen before is always accepted (by itself if it was rejected then). Only the first
occurrence of each distinct histogram is tested: 0.5 us/reading on the 22,695 readings of
machine_temperature_system_failure, at most ~25 us/reading on the series tested (NAB's code: 0.4-25 ms/reading).
"""

from __future__ import annotations

import numpy as np

__all__ = ["NAME", "PUBLISHED", "scores"]

NAME = "relative_entropy"
PUBLISHED = 54.6

# NAB's `self.N_bins`: the range is cut into this many steps (and the histogram has this many bins).
BINS = 5
# NAB's `self.W`: readings per window; no reading before the W-th is ever flagged.
WINDOW = 52
# NAB's `self.T = stats.chi2.isf(0.01, N_bins - 1)`: the chi-square (4 d.o.f.) 0.99 quantile, the value scipy
# 1.17.1 returns. For 4 d.o.f. the tail is exp(-x/2) (1 + x/2), which is 0.01 here (checked in the tests).
THRESHOLD = 13.276704135987625
# Histogram counts are packed into one integer key, BASE ** bin per bin; a count is at most WINDOW.
_BASE = WINDOW + 1


def _histogram_bins(values: np.ndarray, input_min: float, input_max: float) -> np.ndarray:
    """Per reading, the histogram bin NAB's quantised level falls in (0..4), or -1 where numpy drops it."""
    step = (input_max - input_min) / BINS
    level = np.ceil((values - input_min) / step)
    bins = np.where(level >= BINS - 1, BINS - 1, level)  # levels 4 and 5 share the closed last bin
    return np.where((level >= 0) & (level <= BINS), bins, -1).astype(np.int64)


def _statistic(p: np.ndarray, hypotheses: np.ndarray) -> np.ndarray:
    """2 * WINDOW * scipy.stats.entropy(p, q) for each row q of `hypotheses` (each already divided by its sum)."""
    pk = p / p.sum()
    pos = (pk > 0) & (hypotheses > 0)
    ratio = np.divide(pk, hypotheses, out=np.ones_like(hypotheses), where=pos)
    terms = np.where(pos, pk * np.log(ratio), np.where((pk == 0) & (hypotheses >= 0), 0.0, np.inf))
    total = terms[:, 0]
    for k in range(1, BINS):  # numpy's sum of 5 numbers, in its order
        total = total + terms[:, k]
    return 2 * WINDOW * total


def scores(values: np.ndarray, timestamps: np.ndarray, input_min: float, input_max: float,
           probation: int) -> np.ndarray:
    """One score (0.0 or 1.0) per reading; `timestamps` and `probation` are unused (as in NAB)."""
    x = np.ascontiguousarray(values, dtype=np.float64)
    n = len(x)
    out = np.zeros(n, dtype=np.float64)
    if (input_max - input_min) / BINS == 0.0 or n < WINDOW:
        return out
    onehot = np.zeros((n + 1, BINS), dtype=np.int64)
    bins = _histogram_bins(x, input_min, input_max)
    kept = bins >= 0
    onehot[1:][kept, bins[kept]] = 1
    running = np.cumsum(onehot, axis=0)
    counts = running[WINDOW:] - running[:-WINDOW]  # row j: the window ending at reading j + WINDOW - 1
    keys = counts @ (_BASE ** np.arange(BINS, dtype=np.int64))
    _, first = np.unique(keys, return_index=True)
    hypotheses = np.empty((0, BINS))
    for j in np.sort(first):
        total = counts[j].sum()
        if total == 0:  # nothing to histogram: numpy's density is 0/0
            out[j + WINDOW - 1] = 0.0 if j == 0 else 1.0
            continue
        p_hat = counts[j] / total  # numpy.histogram(density=True): counts / bin width 1 / count
        if j > 0 and np.any(_statistic(p_hat, hypotheses) < THRESHOLD):
            continue
        if j > 0:
            out[j + WINDOW - 1] = 1.0
        hypotheses = np.vstack([hypotheses, p_hat / p_hat.sum()])
    # A repeated all-dropped window is rejected again every time (its NaN hypothesis accepts nothing).
    empty = counts.sum(axis=1) == 0
    empty[0] = False
    out[WINDOW - 1:][empty] = 1.0
    return out
