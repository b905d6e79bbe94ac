"""Tests of the EXPoSE benchmark reference (bench/nab_reference/expose.py)."""

import numpy as np

from bench.nab_reference import expose

# Produced by NAB's original nab/detectors/expose/expose_detector.py (commit 86fc35d0; base class stubbed,
# numpy.asscalar -> .item()) with scikit-learn 1.9.1 / numpy 2.4.6, on _VALUES.
_VALUES = [0.0, 1.44, 2.52, 2.99, 2.73, 1.8, 0.42, -1.05, -2.27, -2.93, -2.88, -2.12, -0.84, 0.65, 1.97, 2.81, 2.97,
           2.4, 1.24, -0.23, 9.0, -2.64, -3.0, -2.63, -1.61, -0.2, 1.26, 2.41, 2.97, 2.8]
_NAB = [-0.003936722393729886, 0.6492827182237004, 0.9482293312899935, 0.9659186829037171, 0.9453634896908149,
        0.785065641583726, 0.1154473128964717, 0.45154957201754864, 0.927820366029248, 0.9745990036232431,
        0.9630718031641837, 0.8780315474454912, 0.3430904659152473, 0.251819570050817, 0.8310509766475032,
        0.9309587151581538, 0.9299044363761585, 0.8816703870551823, 0.5531786583385814, 0.1440216199186367,
        1.0009551335291746, 0.9357965524313765, 0.9440867945359784, 0.9170058793994339, 0.726657600470318,
        0.1745887296523212, 0.5797005492195265, 0.8736078245885617, 0.9075914326604915, 0.8882609428634399]


def _run(v):
    v = np.asarray(v, dtype=float)
    return expose.scores(v, np.arange(len(v)) * 60.0, float(v.min()), float(v.max()), int(0.15 * len(v)))


def test_random_features_match_sklearn_rbfsampler():
    # RBFSampler(gamma=0.5, n_components=20000, random_state=290).fit(...): random_weights_[0, :3],
    # random_offset_[:3] and the sums of both, captured from scikit-learn 1.9.1.
    w, b = expose.random_features()
    assert w.shape == (20000,) and b.shape == (20000,)
    assert w[:3].tolist() == [-0.9387132953709919, -0.8954344755554016, -0.5767709240609381]
    assert b[:3].tolist() == [0.6723573415210482, 4.585515895873479, 3.0566448870728764]
    assert float(w.sum()) == -178.83616825624273 and float(b.sum()) == 63039.06855509152


def test_matches_nab_original():
    got = _run(_VALUES)
    assert got.shape == (30,)
    np.testing.assert_allclose(got, _NAB, rtol=0, atol=1e-12)


def test_causal_and_repeated_values():
    rng = np.random.RandomState(1)
    v = np.round(rng.normal(size=150), 1)  # repeated values exercise the feature cache
    base = _run(v)
    w = v.copy()
    w[100:] = rng.normal(5.0, 1.0, size=50)
    np.testing.assert_array_equal(_run(w)[:100], base[:100])
    assert abs(base[0] - (1 - float((expose.feature_map(v[:1]) @ expose.feature_map(v[:1]).T)[0, 0]))) < 1e-15
