"""Tests for the NAB windowed-Gaussian benchmark reference (bench/nab_reference/windowed_gaussian.py)."""

import numpy as np
import pytest

from bench.nab_reference import windowed_gaussian as wg


def _run(values):
    v = np.asarray(values, dtype=np.float64)
    t = 1.4e9 + 300.0 * np.arange(len(v))
    return wg.scores(v, t, float(v.min()), float(v.max()), 0)


def test_interface_and_shape():
    assert wg.NAME == "windowed_gaussian" and wg.PUBLISHED == 39.6
    s = _run(np.linspace(0.0, 1.0, 50))
    assert s.shape == (50,) and s.dtype == np.float64
    assert _run([3.0])[0] == 0.0
    assert len(wg.scores(np.array([]), np.array([]), 0.0, 0.0, 0)) == 0


# Expected values captured from NAB's own WindowedGaussianDetector.handleRecord (windowedGaussian_detector.py at
# de8e91a, run unmodified but for the base class) on these series, printed with repr().
def test_matches_nab_original_short():
    got = _run([1.0, 2.0, 3.0, 2.0, 1.0, 10.0, 5.0, 5.0])
    want = [0.0, 1.0, 0.9986501019683699, 0.5, 0.9213503964748574, 1.0, 0.7208844444623244, 0.7016797326513025]
    assert got.tolist() == want
    # A constant window has numpy std exactly 0 -> floor 1e-6: repeats score exactly 0.5, a tiny move ~0.54.
    got = _run([4.0, 4.0, 4.0, 4.0000001, 4.0])
    assert got.tolist() == [0.0, 0.5, 0.5, 0.5398278373883469, 0.7181485709062918]


def test_matches_nab_original_sliding_window():
    v = [float((i * 37) % 101) for i in range(6700)]
    v[6450] = 300.0
    got = _run(v)
    want = {1: 1.0, 6399: 0.8561516198255941, 6400: 0.5815895143854193, 6450: 1.0, 6499: 0.8711761495995223,
            6500: 0.8550954021559445, 6699: 0.9191525471647738}
    for i, w in want.items():
        assert got[i] == w, i


def test_window_slides_by_whole_steps():
    # After the window fills, the statistics stay frozen for STEP readings: a huge outlier at reading WINDOW does
    # not move the scores of readings WINDOW+1 .. WINDOW+STEP-1, and does once the batch slides in.
    rng = np.random.default_rng(0)
    v = rng.normal(0.0, 1.0, wg.WINDOW + 2 * wg.STEP)
    w = v.copy()
    w[wg.WINDOW] = 1e6
    a, b = _run(v), _run(w)
    stop = wg.WINDOW + wg.STEP
    assert np.array_equal(a[wg.WINDOW + 1:stop], b[wg.WINDOW + 1:stop])
    assert not np.allclose(a[stop:], b[stop:])


@pytest.mark.parametrize("cut", [1, 7, 300])
def test_causal(cut):
    rng = np.random.default_rng(cut)
    v = rng.normal(5.0, 2.0, 400)
    w = v.copy()
    w[cut:] = rng.normal(-50.0, 30.0, len(v) - cut)
    assert np.array_equal(_run(v)[:cut], _run(w)[:cut])
