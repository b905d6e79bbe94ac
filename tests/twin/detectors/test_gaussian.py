"""WindowedGaussian: NAB's windowed-Gaussian baseline, checked against a direct (slow) reading of its rules."""

import math
import random
import statistics

import pytest

from twin.detectors.base import Detector
from twin.detectors.gaussian import WindowedGaussian


def _reference_scores(values: list[float], window: int, step: int) -> list[float]:
    """NAB's rules written the slow, obvious way: full recompute with `statistics` whenever the window changes."""
    data: list[float] = []
    pending: list[float] = []
    mean, std = 0.0, 1.0
    out = []
    for x in values:
        out.append(1.0 - 0.5 * math.erfc(abs(x - mean) / std / math.sqrt(2.0)) if data else 0.0)
        if len(data) < window:
            data.append(x)
        else:
            pending.append(x)
            if len(pending) < step:
                continue
            data = data[step:] + pending
            pending = []
        mean, std = statistics.fmean(data), statistics.pstdev(data)
        std = std or 1e-6
    return out


def test_is_a_detector() -> None:
    assert isinstance(WindowedGaussian(), Detector)


def test_matches_the_published_rules_through_warmup_and_sliding() -> None:
    rng = random.Random(7)
    # a level change and a variance change, so a stale mean/std would show up as a mismatch
    values = [rng.gauss(10.0, 1.0) for _ in range(700)] + [rng.gauss(14.0, 3.0) for _ in range(900)]
    det = WindowedGaussian(window=200, step=25)
    got = [det.update(float(i), v) for i, v in enumerate(values)]
    want = _reference_scores(values, 200, 25)
    assert got == pytest.approx(want, abs=1e-9)


def test_spike_scores_near_one_and_ordinary_values_stay_low() -> None:
    rng = random.Random(1)
    det = WindowedGaussian()
    ordinary = [det.update(60.0 * i, rng.gauss(50.0, 2.0)) for i in range(3000)]
    spike = det.update(60.0 * 3000, 50.0 + 12 * 2.0)
    dip = det.update(60.0 * 3001, 50.0 - 12 * 2.0)
    assert spike > 0.999999 and dip > 0.999999
    settled = ordinary[100:]
    # 1 - Q(|z|) of N(0,1) is uniform on [0.5, 1]: its median is 0.75, and only ~0.3 % exceed 1 - Q(3)
    assert 0.5 <= min(settled) and statistics.median(settled) == pytest.approx(0.75, abs=0.03)
    assert sum(s > 0.99865 for s in settled) < 0.01 * len(settled)
    assert spike > max(settled)


def test_first_reading_scores_zero_and_constant_series_flags_any_change() -> None:
    det = WindowedGaussian()
    assert det.update(0.0, 5.0) == 0.0
    assert all(det.update(float(i), 5.0) == 0.5 for i in range(1, 50))
    assert det.std == 1e-6
    assert det.update(50.0, 5.01) > 0.999


def test_large_offset_keeps_precision() -> None:
    rng = random.Random(3)
    det = WindowedGaussian(window=500, step=50)
    values = [1e9 + rng.gauss(0.0, 1.0) for _ in range(3000)]
    for i, v in enumerate(values):
        det.update(float(i), v)
    window = values[-500:]
    assert det.mean == pytest.approx(statistics.fmean(window), abs=1e-6)
    assert det.std == pytest.approx(statistics.pstdev(window), rel=1e-6)


def test_memory_is_bounded_by_window_plus_step() -> None:
    det = WindowedGaussian(window=300, step=40)
    sizes = []
    for i in range(5000):
        det.update(float(i), float(i % 17))
        sizes.append(len(det))
    assert max(sizes) <= 300 + 40 - 1
    assert sizes[-1] >= 300


def test_non_finite_values_score_zero_and_leave_state_untouched() -> None:
    rng = random.Random(5)
    values = [rng.gauss(0.0, 1.0) for _ in range(400)]
    clean, dirty = WindowedGaussian(window=100, step=10), WindowedGaussian(window=100, step=10)
    got_clean, got_dirty = [], []
    for i, v in enumerate(values):
        got_clean.append(clean.update(float(i), v))
        if i % 37 == 0:
            assert dirty.update(float(i), math.nan) == 0.0
            assert dirty.update(float(i), math.inf) == 0.0
            assert dirty.update(float(i), -math.inf) == 0.0
        got_dirty.append(dirty.update(float(i), v))
    assert got_dirty == got_clean
    assert len(dirty) == len(clean)


def test_rejects_nonsense_parameters() -> None:
    with pytest.raises(ValueError):
        WindowedGaussian(window=0)
    with pytest.raises(ValueError):
        WindowedGaussian(window=10, step=20)
