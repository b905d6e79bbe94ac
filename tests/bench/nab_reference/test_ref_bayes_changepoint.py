"""The Bayesian-changepoint reference: its Student-t density, NAB's scores on series NAB's own code was run on, and
the shared NAB series NAB committed results for."""

from __future__ import annotations

import math

import numpy as np
import pytest

from bench.nab_reference import bayes_changepoint as ref
from tests.bench.nab_reference.shared_series import (
    needs_shared,
    read_shared,
    window_counts,
)


def _scores(values: list[float]) -> np.ndarray:
    x = np.array(values, dtype=np.float64)
    return ref.scores(x, np.arange(len(x)) * 300.0, float(x.min()), float(x.max()), 0)


def test_the_predictive_density_is_the_student_t_of_the_prior_and_integrates_to_one() -> None:
    # Entry 0 is the prior: df = 2 alpha = 0.2, scale = sqrt(beta (kappa + 1) / (alpha kappa)) = sqrt(0.02).
    df, scale, x = 0.2, math.sqrt(0.001 * 2 / 0.1), 0.3
    z = x / scale
    expected = math.gamma((df + 1) / 2) / (math.sqrt(df * math.pi) * math.gamma(df / 2)) \
        * (1 + z * z / df) ** (-(df + 1) / 2) / scale
    assert ref._predictive(x, np.array([0.0]), np.array([0.001]))[0] == pytest.approx(expected, rel=1e-12)
    # Entry 10 (alpha 5.1, kappa 11) with mean 2 and beta 3: a proper density.
    grid = np.linspace(-60.0, 64.0, 200_001)
    mu, beta = np.full(11, 2.0), np.full(11, 3.0)
    density = np.array([ref._predictive(v, mu, beta)[10] for v in grid[::100]])
    assert np.trapezoid(density, grid[::100]) == pytest.approx(1.0, abs=1e-6)


def test_one_score_in_0_1_per_reading() -> None:
    rng = np.random.default_rng(2)
    s = _scores(list(np.r_[rng.normal(0, 1, 300), rng.normal(6, 1, 300)]))
    assert s.shape == (600,) and s.dtype == np.float64 and ((s >= 0) & (s <= 1)).all()
    assert s[300:310].max() > 0.9  # the step is a changepoint after a long run
    assert ref.scores(np.array([]), np.array([]), 0.0, 1.0, 0).shape == (0,)


def test_scores_are_causal() -> None:
    rng = np.random.default_rng(4)
    x = np.r_[rng.normal(0, 1, 550), rng.normal(3, 2, 150)]
    full = ref.scores(x, np.zeros(700), 0.0, 0.0, 105)
    changed = x.copy()
    changed[600:] = rng.uniform(-50, 50, 100)
    assert np.array_equal(ref.scores(changed, np.zeros(700), 0.0, 0.0, 105)[:600], full[:600])
    assert np.array_equal(ref.scores(x[:600], np.zeros(600), 0.0, 0.0, 105), full[:600])


# Non-zero scores of NAB's own BayesChangePtDetector (numenta/NAB ff474a1, run with scipy 1.17.1 / numpy 2.4.6 and
# scipy 0.14-0.18's t._pdf), at full precision. Every score is 1 - (most probable run) / (the previous one).
_ALTERNATING = {502: 1 - 2 / 501, 504: 1 - 4 / 501, 506: 1 - 6 / 501, 508: 1 - 8 / 501, 510: 1 - 10 / 501,
                **{i: 1 - 500 / 501 for i in range(512, 600, 2)}}


@pytest.mark.parametrize(("values", "nonzero"), [
    ([float(i % 7) for i in range(200)] + [20.0 + (i % 5) for i in range(100)], {200: 1 - 1 / 200}),
    # Past 500 readings the cap on run lengths (NAB drops the longest run's probability) makes the argmax fall.
    ([1.0, 2.0] * 300, _ALTERNATING),
    # A jump to 1e300 overflows every probability: NaN from then on, argmax 0, one score of 1 and nothing after.
    ([5.0] * 60 + [1e300] * 3 + [5.0] * 10, {60: 1.0}),
], ids=["step", "alternating-past-the-cap", "overflow"])
def test_scores_what_nabs_own_code_scores(values: list[float], nonzero: dict[int, float]) -> None:
    s = _scores(values)
    assert {int(i): float(s[i]) for i in np.flatnonzero(s)} == nonzero



@needs_shared
def test_speed_7578_scores_what_nabs_committed_results_say() -> None:
    # numenta/NAB results/bayesChangePt/realTraffic/bayesChangePt_speed_7578.csv (commit 487c0f9): every non-zero
    # anomaly_score, as Python 2 wrote them (12 significant digits).
    stamps, x = read_shared("realTraffic/speed_7578.csv")
    s = ref.scores(x, np.zeros(len(x)), float(x.min()), float(x.max()), 169)
    assert {stamps[i]: float(f"{s[i]:.12g}") for i in np.flatnonzero(s)} == {
        "2015-09-11 16:44:00": 0.996845425868, "2015-09-13 18:38:00": 0.964071856287,
        "2015-09-14 17:05:00": 0.996721311475, "2015-09-15 04:55:00": 0.512676056338,
        "2015-09-15 05:51:00": 0.505555555556, "2015-09-15 14:19:00": 0.988452655889,
        "2015-09-15 17:39:00": 0.214285714286, "2015-09-16 13:49:00": 0.993827160494,
        "2015-09-16 13:59:00": 0.25, "2015-09-16 15:05:00": 0.777777777778, "2015-09-16 16:55:00": 0.88,
        "2015-09-16 17:10:00": 0.785714285714, "2015-09-16 20:50:00": 0.434782608696,
        "2015-09-17 13:50:00": 0.944099378882, "2015-09-17 14:00:00": 0.6}


# NAB's committed results/bayesChangePt/bayesChangePt_standard_scores.csv (commit 56dfaca, the run behind the
# published 17.7, threshold 0.984596252441): scores at or above it after the probationary period, inside (TP) and
# outside (FP) the labelled windows.
_THRESHOLD = 0.984596252441
_NAB_COUNTS = {
    "artificialNoAnomaly/art_daily_small_noise.csv": (0, 22),
    "artificialWithAnomaly/art_daily_flatmiddle.csv": (2, 21),
    "artificialWithAnomaly/art_daily_jumpsup.csv": (2, 20),
    "realKnownCause/ambient_temperature_system_failure.csv": (0, 0),
    "realKnownCause/ec2_request_latency_system_failure.csv": (2, 4),
    "realKnownCause/machine_temperature_system_failure.csv": (1, 4),
    "realTraffic/speed_7578.csv": (3, 1),
}


@needs_shared
@pytest.mark.parametrize("rel", sorted(_NAB_COUNTS))
def test_detection_counts_match_nabs_committed_scores(rel: str) -> None:
    assert window_counts(ref.scores, rel, _THRESHOLD) == _NAB_COUNTS[rel]
