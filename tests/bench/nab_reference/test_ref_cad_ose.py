"""The CAD OSE reference (bench/nab_reference/cad_ose.py) against values captured from NAB's own code."""
import numpy as np

from bench.nab_reference import cad_ose


def _series():
    # a level-shifted periodic pattern (period 11) with one spike; 120 readings -> NAB probation 18
    values = [float((i * 7) % 11) + (5.0 if i >= 60 else 0.0) for i in range(120)]
    values[90] = 40.0
    return np.array(values)


# Captured by running NAB master's context_ose code (context_ose_detector.py e3e8718b, cad_ose.py a9853caf,
# context_operator.py 451503a1) under Python 2.7.18, as NAB did: minValue=0, maxValue=40,
# restPeriod = 18 / 5.0, one getAnomalyScore({"value": v}) per reading of _series(). The same code run under
# Python 3 differs at 63 of these readings (tuple hashes and dict order), so this pins the Python 2 semantics.
_NAB_PY27 = [
    0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.75, 0.0, 0.0, 0.0, 0.30288461538461536, 0.23660714285714285,
    0.3055555555555556, 0.4327485380116959, 0.4340277777777778, 0.18506493506493507, 0.245, 0.32867132867132864,
    0.15869565217391302, 0.20370370370370372, 0.20616883116883117, 0.15869565217391302, 0.14484126984126985,
    0.21767241379310343, 0.37606837606837606, 0.17045454545454547, 0.1706896551724138, 0.21994134897360704,
    0.16666666666666669, 0.16083916083916083, 0.10606060606060608, 0.21588089330024815, 0.11538461538461536,
    0.17045454545454547, 0.190625, 0.24813895781637715, 0.17045454545454547, 0.18333333333333335,
    0.1621212121212121, 0.21588089330024815, 0.16083916083916083, 0.1629032258064516, 0.16129032258064518,
    0.11538461538461536, 0.17045454545454547, 0.1706896551724138, 0.2621082621082621, 0.16614420062695928,
    0.13333333333333336, 0.16346153846153846, 0.2217948717948718, 0.16083916083916083, 0.16614420062695928,
    0.16666666666666669, 0.11538461538461536, 0.11666666666666664, 0.25462962962962965, 0.24999999999999997,
    0.3666666666666667, 1.0, 0.0, 0.0, 0.0, 0.0, 0.29166666666666663, 0.78, 0.0, 0.0, 0.0, 0.46640316205533594,
    0.2872807017543859, 0.125, 0.24166666666666667, 0.21730769230769229, 0.07692307692307693, 0.325,
    0.3040816326530612, 0.21875, 0.35119047619047616, 0.17647058823529413, 0.20238095238095238,
    0.20241477272727273, 0.125, 0.22916666666666669, 0.17424242424242425, 0.0, 0.28523936170212766,
    0.23611111111111113, 1.0, 0.0, 0.0, 0.0, 0.0, 0.07692307692307693, 0.17796610169491528, 0.16216216216216217,
    0.1284313725490196, 0.211864406779661, 0.16216216216216217, 0.1702226345083488, 0.23695893451720312,
    0.11590909090909088, 0.20248868778280543, 0.20142059868087264, 0.14521739130434785, 0.175,
    0.15999999999999998, 0.07547169811320753, 0.31551724137931036, 0.22962776659959758, 0.0892857142857143,
    0.21052631578947367, 0.11010638297872341, 0.23349282296650717, 0.16447368421052633, 0.14068908941755537,
    0.23125, 0.16883116883116883,
]


def _run(values, probation=None):
    values = np.asarray(values, dtype=np.float64)
    if probation is None:
        probation = int(min(np.floor(0.15 * len(values)), 0.15 * 5000))
    ts = 1.4e9 + 300.0 * np.arange(len(values))
    return cad_ose.scores(values, ts, float(values.min()), float(values.max()), probation)


def test_interface_shape_and_range():
    assert cad_ose.NAME == "cad_ose" and cad_ose.PUBLISHED == 69.9
    s = _run(np.sin(np.arange(500) / 7.0))
    assert s.shape == (500,) and s.dtype == np.float64
    assert np.all((s >= 0.0) & (s <= 1.0))


def test_matches_nab_original_under_python27():
    np.testing.assert_array_equal(_run(_series()), np.array(_NAB_PY27))


def test_causal():
    rng = np.random.default_rng(3)
    v = np.r_[_series(), rng.normal(5.0, 3.0, 200)]
    w = v.copy()
    w[150:] = rng.normal(20.0, 9.0, len(v) - 150)
    lo, hi = min(v.min(), w.min()), max(v.max(), w.max())     # the givens stay the same
    ts = np.arange(len(v), dtype=np.float64)
    a = cad_ose.scores(v, ts, lo, hi, 48)
    b = cad_ose.scores(w, ts, lo, hi, 48)
    np.testing.assert_array_equal(a[:150], b[:150])
    assert not np.array_equal(a[150:], b[150:])


def test_constant_and_short_series():
    # NAB (Python 2.7): a constant file scores 0.5 where the rest period allows, else 0; probation < 5 gives a
    # window of [-0:], the whole history, whose initial 1.0 silences every reading
    s = _run(np.full(100, 3.5))
    assert set(np.unique(s)) <= {0.0, 0.5} and 0.5 in s
    assert not _run(np.arange(30.0) % 4).any()


def test_python2_hash_and_dict_order():
    # values printed by CPython 2.7.18 (64-bit)
    assert cad_ose._py2_tuple_hash((0, 2, 4)) == 1267307236350160189
    assert cad_ose._py2_tuple_hash((1, 3, 5, 2147483648, 2147483650)) == -7670848708043638792
    assert cad_ose._py2_tuple_hash(()) == 3527539
    assert cad_ose._py2_order([9, 1, 17, 3, 25]) == [9, 3, 17, 25, 1]
    assert cad_ose._py2_order([24, 8, 16, 0, 40]) == [24, 8, 40, 16, 0]
    assert cad_ose._py2_order([9, 1, 17, 3, 25, 0, 11, 2]) == [0, 1, 2, 3, 9, 11, 17, 25]
