"""NAB's scores (standard profile, and its two others), in process: weights per reading, then every threshold at once.

WHY our own: `bench nab` must run where only the repository is (CI, a user's machine), and the synthetic corpus
- where detector parameters are chosen - needs no NAB file at all. This follows NAB's published rules, the same
ones `../shared/tools/nab_score.py` approximates (tests/bench/test_nab_scoring.py checks that both agree):

* the first min(15 % of rows, 750) rows of a series are a learning period and are not scored;
* inside an anomaly window only the first detection counts, worth the scaled sigmoid of its position (up to
  TP = 1.0 at the window's start, ~0 at its end);
* a detection outside every window costs FP = 0.11 times the scaled sigmoid of its distance after the previous
  window (the full 0.11 before any window or far after one);
* a window without detection costs FN = 1.0;
* one threshold for the whole corpus, the best one; 0 = no detections, 100 = a perfect detector.

NAB publishes two more profiles beside the standard one, which only weigh these differently (its
config/profiles.json): "reward low FP" charges a false positive 0.22, "reward low FN" a missed window 2.0. Each
is scored at its own threshold, as NAB's optimiser picks one per profile.

The sweep is vectorised: per window the running maximum of the scores says, for every threshold, where the
first detection falls (a binary search); outside windows, the weights sorted by score give the cost of every
threshold as a cumulative sum. ~50 ms for 300k readings instead of minutes for a loop per threshold.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

__all__ = ["PROFILES", "STANDARD", "Losses", "Profile", "SeriesScores", "Result", "probation", "series_scores",
           "best_score", "losses", "nab_optimiser_score", "score_at"]


@dataclass(frozen=True)
class Profile:
    """NAB's weights for a true positive (at a window's start), a false positive (far from any window) and a miss."""

    tp: float
    fp: float
    fn: float


STANDARD = Profile(tp=1.0, fp=0.11, fn=1.0)
# NAB's three profiles (config/profiles.json), by the names its results use.
PROFILES: dict[str, Profile] = {
    "standard": STANDARD,
    "reward_low_fp_rate": Profile(tp=1.0, fp=0.22, fn=1.0),
    "reward_low_fn_rate": Profile(tp=1.0, fp=0.11, fn=2.0),
}
# NAB's learning period: this share of each series, capped at this many rows, is never scored.
PROBATION_SHARE, PROBATION_CAP = 0.15, 750
# Candidate thresholds: every distinct score rounded to 4 decimals, thinned to about this many (NAB's own sweep
# is similar); more would only slow the sweep, as neighbouring thresholds give the same detections.
MAX_CANDIDATES = 400


def _scaled_sigmoid(x: float) -> float:
    return -1.0 if x > 3.0 else 2.0 / (1.0 + math.exp(5.0 * x)) - 1.0


@dataclass(frozen=True)
class SeriesScores:
    """One series, ready to sweep: per window its weights and running max of scores, and the outside readings."""

    window_weights: list[np.ndarray]  # a true positive's credit per reading, before the profile's weight
    window_running_max: list[np.ndarray]
    outside_scores: np.ndarray
    outside_weights: np.ndarray  # a false positive's (negative) charge per reading, before the profile's weight
    scored: np.ndarray  # every score after the learning period: the candidate thresholds


@dataclass(frozen=True)
class Result:
    score: float
    threshold: float
    series: int


@dataclass(frozen=True)
class Losses:
    """Where a corpus' points go at one threshold: what a perfect detector would score, less each of these."""

    windows: int
    found: int
    lateness: float  # found windows' credit short of a detection at the window's start (before the TP weight)
    false_positives: int
    false_positive_cost: float  # their charge, the profile's FP weight included

    @property
    def missed(self) -> int:
        return self.windows - self.found


def probation(n: int) -> int:
    """NAB's probationary period of an n-row series (nab/util.getProbationPeriod): never scored, and handed to NAB's
    detectors up front (bench/nab_reference/)."""
    return int(min(math.floor(PROBATION_SHARE * n), PROBATION_CAP))


def series_scores(stamps: list[str], windows: list[tuple[str, str]], scores: list[float]) -> SeriesScores:
    """Weigh each reading of one series (timestamps as in the CSV, windows as [start, end] timestamps)."""
    if len(stamps) != len(scores):
        raise ValueError(f"{len(scores)} scores for {len(stamps)} rows")
    index = {t: i for i, t in enumerate(stamps)}
    try:
        spans = sorted((index[a], index[b]) for a, b in windows)
    except KeyError as exc:
        raise ValueError(f"window bound {exc.args[0]!r} is not a timestamp of the series") from None
    n = len(stamps)
    learn = probation(n)
    values = np.asarray(scores, dtype=float)
    max_tp = _scaled_sigmoid(-1.0)
    inside = np.zeros(n, dtype=bool)
    w_weights, w_max = [], []
    for left, right in spans:
        lo = max(left, learn)
        inside[left:right + 1] = True  # (a window wholly in the learning period can only be missed)
        pos = np.arange(lo, right + 1)
        w_weights.append(np.array([_scaled_sigmoid(-(right - i + 1) / (right - left + 1)) / max_tp for i in pos]))
        w_max.append(np.maximum.accumulate(values[lo:right + 1]))
    out_idx = [i for i in range(learn, n) if not inside[i]]
    out_w = np.empty(len(out_idx))
    w = 0
    prev_end = prev_width = None
    for j, i in enumerate(out_idx):
        while w < len(spans) and i > spans[w][1]:
            prev_end, prev_width = spans[w][1], spans[w][1] - spans[w][0] + 1
            w += 1
        weight = -1.0 if prev_end is None else _scaled_sigmoid(abs(prev_end - i) / max(prev_width - 1, 1))
        out_w[j] = weight
    return SeriesScores(w_weights, w_max, values[out_idx], out_w, values[learn:])


def _raw_scores(series: SeriesScores, thresholds: np.ndarray, profile: Profile = STANDARD) -> np.ndarray:
    """The raw NAB score of one series at every threshold."""
    raw = np.zeros(len(thresholds))
    for weights, running in zip(series.window_weights, series.window_running_max):
        first = np.searchsorted(running, thresholds, side="left")  # first reading >= threshold
        if len(running) == 0:
            raw -= profile.fn
            continue
        hit = first < len(running)
        raw += np.where(hit, profile.tp * weights[np.minimum(first, len(running) - 1)], -profile.fn)
    order = np.argsort(-series.outside_scores, kind="stable")
    desc = series.outside_scores[order]
    cum = np.concatenate(([0.0], np.cumsum(profile.fp * series.outside_weights[order])))
    # readings with score >= t are the first k of the descending order, k = count of desc >= t
    k = np.searchsorted(-desc, -thresholds, side="right")
    return raw + cum[k]


def best_score(all_series: list[SeriesScores], profile: Profile = STANDARD) -> Result:
    """The best normalised score over one shared threshold for the whole corpus."""
    windows = sum(len(s.window_weights) for s in all_series)
    # Python's round, as ../shared/tools/nab_score.py: numpy's rounds a score written as 0.18645 to 0.1864, Python's
    # (correctly rounded) to 0.1865, and one candidate more or less shifts every other one the thinning keeps
    raw_pool = np.unique(np.concatenate([s.scored for s in all_series] or [np.zeros(0)]))
    pool = np.unique([round(x, 4) for x in raw_pool.tolist()])[::-1]
    step = max(1, len(pool) // MAX_CANDIDATES)
    thresholds = np.concatenate((pool[::step], [1.01]))
    raw = sum((_raw_scores(s, thresholds, profile) for s in all_series), np.zeros(len(thresholds)))
    i = int(np.argmax(raw))  # first best, like a sweep from the highest threshold down
    return Result(round(_normalised(float(raw[i]), windows, profile), 1), float(thresholds[i]), len(all_series))


def _normalised(raw: float, windows: int, profile: Profile) -> float:
    """NAB's normalisation: 0 is the detector that never fires (every window missed), 100 the perfect one."""
    null, perfect = -profile.fn * windows, profile.tp * windows
    return 100.0 * (raw - null) / (perfect - null) if perfect != null else 0.0


def nab_optimiser_score(all_series: list[SeriesScores], tolerance: float = 1e-7,
                        profile: Profile = STANDARD) -> Result:
    """The score NAB's own `run.py --optimize` would report: its threshold comes from a local hill climb
    (`nab/optimizer.py`, "twiddle": from 0.5 in steps of 0.1, doubled after a gain, halved after none), not from
    a sweep. WHY it matters: a detector whose good thresholds lie far from 0.5, behind a plateau (no reading
    scores in 0.4-0.6), is scored at 0.5 by NAB whatever its best threshold is here. `best_score` is the
    ceiling; this is what the whole-corpus scoring outside the repository will see."""
    windows = sum(len(s.window_weights) for s in all_series)
    calls: dict[float, float] = {}

    def objective(t: float) -> float:
        if not 0.0 <= t <= 1.0:
            return float("-inf")
        if t not in calls:
            calls[t] = float(sum(_raw_scores(s, np.array([t]), profile)[0] for s in all_series))
        return calls[t]

    x, delta = 0.5, 0.1
    best = objective(x)
    while delta > tolerance:
        x += delta
        if objective(x) > best:
            best, delta = objective(x), delta * 2
            continue
        x -= 2 * delta
        if objective(x) > best:
            best, delta = objective(x), delta * 2
            continue
        x += delta
        delta *= 0.5
    t = max(calls, key=lambda k: calls[k])
    return Result(round(_normalised(calls[t], windows, profile), 1), float(t), len(all_series))


def score_at(all_series: list[SeriesScores], threshold: float, profile: Profile = STANDARD) -> Result:
    """The normalised score of a corpus at a threshold chosen elsewhere (exact, no rounding): how a threshold
    picked on one pool of series fares on series it never saw (NAB imposes one threshold on all of them)."""
    windows = sum(len(s.window_weights) for s in all_series)
    raw = float(sum(_raw_scores(s, np.array([threshold]), profile)[0] for s in all_series))
    return Result(round(_normalised(raw, windows, profile), 1), float(threshold), len(all_series))


def losses(all_series: list[SeriesScores], threshold: float, profile: Profile = STANDARD) -> Losses:
    """Where the points go at `threshold`: windows missed (each costs the profile's FN weight), the lateness of the
    windows found (credit short of a detection at the window's start) and the false positives (count and charge).
    WHY: a score alone does not say which of the three to work on; with NAB's standard weights one window found
    is worth ~16 false positives (credit ~0.8 plus the miss avoided, against 0.11 each), so a detector with many
    cheap false positives may still lose most of its points to misses. The raw score is
    TP weight x (found - lateness) - FN weight x missed - false_positive_cost (tested)."""
    windows = found = fps = 0
    credit = fp_charge = 0.0
    for s in all_series:
        for weights, running in zip(s.window_weights, s.window_running_max, strict=True):
            windows += 1
            first = int(np.searchsorted(running, threshold, side="left"))
            if first < len(running):
                found += 1
                credit += float(weights[first])
        hit = s.outside_scores >= threshold
        fps += int(hit.sum())
        fp_charge -= float(s.outside_weights[hit].sum())
    return Losses(windows, found, found - credit, fps, profile.fp * fp_charge)
