"""NAB's "Windowed Gaussian" baseline (scoreboard 39.6), as a plain batch reference.

What it does: each reading is scored against the mean and (population) standard deviation of the readings before
it: score = 1 - Q(|z|), Q the Gaussian tail, so an ordinary reading scores 0.5..~0.84 and a far one ~1; the first
reading scores 0. Until `WINDOW` readings have been seen the statistics are refreshed after every reading; after
that, readings are buffered and the window slides by a whole `STEP` at once (the statistics of readings
WINDOW+k*STEP .. WINDOW+(k+1)*STEP-1 are the ones of the window as it was after the previous slide). A window whose
numpy standard deviation is exactly 0 gets std 1e-6.

Reproduces numenta/NAB nab/detectors/gaussian/windowedGaussian_detector.py at commit
de8e91a479f0c8dde58811bfd9c851a6e982f523
(NAB master / v1.1: window 6400, step 100, its own erfc-based `normalProbability`, score `1 - normalProbability`).
Older versions in NAB's history used window 1000 / step 1 and nupic's `anomaly_likelihood.normalProbability` (a
rounded lookup table, and the raw tail probability as the score); they are not what master runs.

Exactness: the statistics are computed with the very numpy calls NAB makes (`numpy.mean`, `numpy.std` of the same
window, same order), and the tail with NAB's own float steps (mirror x below the mean to 2*mean - x, then
0.5*erfc(z/sqrt(2))), so the scores are the original's bit for bit: verified with NAB's detector code run in a
throwaway venv on the seven NAB series under /work/shared/data/nab (full length) and on synthetic noise / step /
spike / constant-run series: max |difference| 0.0 on every one. NAB master writes results with
`DataFrame.to_csv` without float_format (full precision).

Cost: O(WINDOW) numpy work per reading while the window fills, then once per STEP readings (about 20 us/reading
on 22k readings).
"""

from __future__ import annotations

import math

import numpy as np

NAME = "windowed_gaussian"
PUBLISHED = 39.6

# NAB's `self.windowSize`: readings in the window ("tuned to give best performance on NAB").
WINDOW = 6400
# NAB's `self.stepSize`: once the window is full it slides by this many readings at a time.
STEP = 100
# NAB's replacement for a standard deviation of exactly 0.0.
STD_FLOOR = 0.000001


def _tail(x: float, mean: float, std: float) -> float:
    """NAB's `normalProbability(x, mean, std)`: P(sample > x), mirrored to the upper tail for x below the mean."""
    if x < mean:
        x = 2 * mean - x
    z = (x - mean) / std
    return 0.5 * math.erfc(z / math.sqrt(2))


def _stats(window: np.ndarray) -> tuple[float, float]:
    """NAB's `_updateWindow`: numpy mean and population std, a zero std replaced by the floor."""
    mean = float(np.mean(window))
    std = float(np.std(window))
    if std == 0.0:
        std = STD_FLOOR
    return mean, std


def scores(values: np.ndarray, timestamps: np.ndarray, input_min: float, input_max: float,
           probation: int) -> np.ndarray:
    """One score per reading; `timestamps`, `input_min`, `input_max` and `probation` are unused (as in NAB)."""
    x = np.ascontiguousarray(values, dtype=np.float64)
    n = len(x)
    out = np.zeros(n, dtype=np.float64)
    if n == 0:
        return out
    xs = x.tolist()
    # Filling phase: reading i (1 <= i <= WINDOW) is scored against readings 0..i-1.
    mean, std = 0.0, 1.0
    fill = min(n, WINDOW)
    for i in range(fill):
        if i > 0:
            out[i] = 1 - _tail(xs[i], mean, std)
        mean, std = _stats(x[: i + 1])
    # Sliding phase: the window after the k-th slide is readings k*STEP .. k*STEP+WINDOW-1; it serves the STEP
    # readings that follow the buffer that completed it (a partial last buffer never slides, as in NAB).
    start = WINDOW
    while start < n:
        stop = min(start + STEP, n)
        for i in range(start, stop):
            out[i] = 1 - _tail(xs[i], mean, std)
        if stop - start == STEP:
            lo = stop - WINDOW
            mean, std = _stats(x[lo:stop])
        start = stop
    return out
