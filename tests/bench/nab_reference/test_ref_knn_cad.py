"""Tests of the KNN-CAD benchmark reference (bench/nab_reference/knn_cad.py)."""

import numpy as np

from bench.nab_reference import knn_cad

# Anomaly scores x 41 (41 = probation 60 - 19 training windows) for records 60..400 of _pinned_series(), produced by
# NAB's original nab/detectors/knncad/knncad_detector.py (commit 82d8d378, base class stubbed, numpy 2.4.6) with
# probation getProbationPeriod(0.15, 400) = 60.  -1 stands for NAB's 0.5 alarm-suppression score.
_H = -1
_PINNED = [
    8, 7, 7, 8, 10, 10, 9, 12, 13, 13, 7, 0, 0, 19, 16, 10, 22, 20, 26, 25, 24, 24, 11, 27, 0, 1, 8, 10, 12, 14, 17,
    6, 6, 6, 6, 15, 6, 2, 3, 36, 39, 40, 22, 40, 29, 23, 22, 30, 31, 34, 6, 6, 16, 16, 15, 26, 9, 14, 24, 31, 28, 31,
    41] + [_H] * 12 + [11, 6, 7, 40, 40, 40, 38, 41] + [_H] * 12 + [
    2, 6, 6, 6, 6, 10, 4, 5, 3, 3, 5, 6, 11, 4, 11, 16, 7, 17, 7, 15, 12, 5, 24, 22, 24, 41] + [_H] * 12 + [
    30, 31, 29, 27, 26, 37, 35, 41] + [_H] * 12 + [
    8, 9, 17, 9, 12, 11, 11, 15, 22, 11, 17, 19, 14, 1, 2, 11, 18, 11, 22, 19, 27, 31, 31, 12, 21, 39, 1, 0, 0, 7, 0,
    0, 18, 12, 13, 9, 19, 1, 7, 6, 15, 19, 17, 6, 14, 13, 0, 9, 6, 8, 35, 20, 27, 32, 32, 24, 11, 20, 16, 24, 4, 9,
    24, 31, 23, 16, 33, 19, 25, 21, 24, 30, 32, 9, 6, 36, 38, 32, 26, 19, 18, 29, 36, 35, 34, 35, 5, 41] + [_H] * 12 + [
    41] + [_H] * 12 + [29, 31, 25, 21, 24, 25, 17, 12, 13, 18, 16, 25, 24, 23, 25, 41] + [_H] * 12 + [
    9, 6, 40, 38, 39, 32, 31, 36, 35, 33, 0, 0, 0, 0, 2, 3, 1, 1, 6, 2, 8, 8, 0, 0, 0, 0, 1, 1, 1, 0, 0, 0, 0, 0, 1, 3,
    31, 32, 33, 33, 33, 32, 29, 26, 26, 26, 26]


def _pinned_series():
    i = np.arange(400)
    v = np.sin(i * 0.3) + 0.1 * ((i * 7919) % 13) / 13.0
    v[300] += 3.0
    v[340:360] = 0.5
    return v


def _run(v, probation=None, **kw):
    p = probation if probation is not None else min(int(0.15 * len(v)), 750)
    return knn_cad.scores(v, np.arange(len(v)) * 300.0, float(v.min()), float(v.max()), p, **kw)


def test_matches_nab_original_on_pinned_series():
    got = _run(_pinned_series(), 60)
    assert got.shape == (400,)
    assert np.all(got[:59] == 0.0)  # records before the probation period score 0
    want = np.array([0.5 if c == _H else c / 41 for c in _PINNED])
    assert len(want) == 341
    np.testing.assert_array_equal(got[59:], want)


def test_exact_path_agrees_with_fast_path():
    rng = np.random.RandomState(3)
    v = np.cumsum(rng.normal(size=700)) + 50.0
    v[500] += 15.0
    np.testing.assert_array_equal(_run(v), _run(v, _always_exact=True))


def test_causal():
    rng = np.random.RandomState(5)
    v = rng.normal(size=600)
    base = _run(v, 90)
    w = v.copy()
    w[450:] = rng.normal(10.0, 5.0, size=150)
    np.testing.assert_array_equal(_run(w, 90)[:450], base[:450])


def test_constant_series_and_short_series():
    const = _run(np.full(500, 2.0), 75)  # every window identical: all NCMs 0, no NCM below another -> score 0
    assert const.shape == (500,) and np.all(const == 0.0)
    short = _run(np.arange(200.0), 30)  # NAB raises here (too few training windows); the reference returns zeros
    assert short.shape == (200,) and np.all(short == 0.0)
