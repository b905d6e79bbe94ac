"""The relative-entropy reference: NAB's scores on hand-checkable cases, on series NAB's own code was run on, and
on the shared NAB series NAB committed results for."""

from __future__ import annotations

import math

import numpy as np
import pytest

from bench.nab_reference import relative_entropy as ref
from tests.bench.nab_reference.shared_series import (
    needs_shared,
    read_shared,
    window_counts,
)


def _scores(values: list[float], lo: float | None = None, hi: float | None = None) -> np.ndarray:
    x = np.array(values, dtype=np.float64)
    return ref.scores(x, np.arange(len(x)) * 300.0, x.min() if lo is None else lo,
                      x.max() if hi is None else hi, 0)


def test_the_threshold_is_the_chi_square_4_dof_99th_percentile() -> None:
    t = ref.THRESHOLD
    assert math.exp(-t / 2) * (1 + t / 2) == pytest.approx(0.01, rel=1e-13)


def test_one_binary_score_per_reading_and_none_before_the_first_full_window() -> None:
    values = [float(i % 17) for i in range(300)]
    s = _scores(values)
    assert s.shape == (300,) and s.dtype == np.float64 and set(np.unique(s)) <= {0.0, 1.0}
    assert not s[: ref.WINDOW].any()
    assert not _scores(values[:51]).any() and ref.scores(np.array([]), np.array([]), 0.0, 1.0, 0).shape == (0,)
    assert not _scores([4.2] * 200).any()  # min == max: NAB's zero step, nothing is ever flagged


def test_a_bin_no_hypothesis_has_seen_is_flagged_at_once_and_a_small_drift_is_not() -> None:
    # 52 zeros make the first hypothesis (all in bin 0); the first 10 (level 5, the last bin) puts mass where the
    # hypothesis has none: divergence +inf, flagged. The next window (50/52, 2/52) is 104 * KL = 0.79 from the
    # hypothesis the flag created: accepted.
    s = _scores([0.0] * 52 + [10.0] * 2 + [0.0] * 10)
    assert s[52] == 1.0 and s[53] == 0.0


def test_scores_are_causal_given_the_files_range() -> None:
    rng = np.random.default_rng(5)
    x = np.r_[rng.normal(0, 1, 400), rng.normal(4, 1, 200)]
    full = ref.scores(x, np.zeros(600), -5.0, 9.0, 90)
    changed = x.copy()
    changed[450:] = rng.uniform(-5, 9, 150)
    assert np.array_equal(ref.scores(changed, np.zeros(600), -5.0, 9.0, 90)[:450], full[:450])
    assert np.array_equal(ref.scores(x[:450], np.zeros(450), -5.0, 9.0, 90), full[:450])
    assert full[400:].any()  # the shift is seen, so the comparison is not of empty score lists


# Flagged readings from NAB's own RelativeEntropyDetector (numenta/NAB 4e45930, run with scipy 1.17.1 / numpy
# 2.4.6, min and max of the series handed in as NAB does, or the given ones for the last case).
_SEASONAL = [10 * math.sin(i / 7) + (i % 5) for i in range(400)] + [25.0 + (i % 3) for i in range(100)] \
    + [10 * math.sin(i / 7) for i in range(300)]
_LEVELS = [1.0] * 60 + [2.0] * 60 + [1.0, 2.0] * 60 + [9.0] * 10 + [1.0] * 60
_CYCLE = [float((i * 37) % 11) for i in range(300)]
_ABOVE = [float(i % 10) for i in range(200)] + [12.0] * 80 + [float(i % 10) for i in range(100)]


@pytest.mark.parametrize(("values", "lo", "hi", "flagged"), [
    (_SEASONAL, None, None, [407, 420, 432, 442, 449, 500, 511, 523, 524, 533, 543, 551]),
    (_LEVELS, None, None, [60, 66, 77, 90, 103, 111, 240, 246, 271, 289, 299]),
    (_CYCLE, None, None, []),
    # input_max below the data: level 6 falls outside numpy's histogram range and is dropped; a window of dropped
    # readings alone (251..279) is NaN and flagged every time.
    (_ABOVE, 0.0, 10.0, [243, 244, 246, 248, *range(251, 282), 283, 285]),
], ids=["seasonal-step", "levels", "cycle", "above-given-max"])
def test_flags_the_readings_nabs_own_code_flags(values: list[float], lo: float | None, hi: float | None,
                                                 flagged: list[int]) -> None:
    assert np.flatnonzero(_scores(values, lo, hi)).tolist() == flagged



@needs_shared
def test_speed_7578_is_flagged_where_nabs_committed_results_are() -> None:
    # numenta/NAB results/relativeEntropy/realTraffic/relativeEntropy_speed_7578.csv (commit f32bed6): the only
    # rows with anomaly_score 1.0.
    stamps, x = read_shared("realTraffic/speed_7578.csv")
    s = ref.scores(x, np.zeros(len(x)), x.min(), x.max(), 168)
    assert [stamps[i] for i in np.flatnonzero(s)] == [
        "2015-09-09 17:13:00", "2015-09-11 16:44:00", "2015-09-11 16:49:00", "2015-09-15 14:29:00",
        "2015-09-16 14:29:00", "2015-09-16 17:10:00", "2015-09-16 19:10:00"]


# NAB's committed results/relativeEntropy/relativeEntropy_standard_scores.csv (commit bf2de21, the run behind the
# published 54.6): detections after the probationary period inside (TP) and outside (FP) the labelled windows.
_NAB_COUNTS = {
    "artificialNoAnomaly/art_daily_small_noise.csv": (0, 5),
    "artificialWithAnomaly/art_daily_flatmiddle.csv": (9, 1),
    "artificialWithAnomaly/art_daily_jumpsup.csv": (11, 0),
    "realKnownCause/ambient_temperature_system_failure.csv": (3, 12),
    "realKnownCause/ec2_request_latency_system_failure.csv": (5, 0),
    "realKnownCause/machine_temperature_system_failure.csv": (18, 7),
    "realTraffic/speed_7578.csv": (5, 1),
}


@needs_shared
@pytest.mark.parametrize("rel", sorted(_NAB_COUNTS))
def test_detection_counts_match_nabs_committed_scores(rel: str) -> None:
    assert window_counts(ref.scores, rel, 0.5) == _NAB_COUNTS[rel]
