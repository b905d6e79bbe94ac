"""Seasonal and EWMA baselines: quiet on a clean daily cycle, loud on spikes, shifts and flat lines."""

import math
import random

import pytest

from twin.detectors.baseline import EwmBaseline, RobustScale, SeasonalBaseline

STEP = 300.0  # 5-minute readings


def daily(n: int, seed: int = 1, noise: float = 1.0) -> list[float]:
    rnd = random.Random(seed)
    return [50 + 20 * math.sin(2 * math.pi * i * STEP / 86400) + rnd.gauss(0, noise) for i in range(n)]


def run(det, values: list[float]) -> list[float]:
    return [det.update(i * STEP, v) for i, v in enumerate(values)]


def test_seasonal_cycle_is_expected_after_a_few_days() -> None:
    scores = run(SeasonalBaseline(), daily(288 * 8))
    late = scores[288 * 5:]
    # two-sided normal surprise: ~1 % of clean readings beyond 0.99 is the nominal rate; allow slack
    assert sum(s > 0.999 for s in late) / len(late) < 0.02


def test_seasonal_flags_a_spike_and_a_flat_line() -> None:
    values = daily(288 * 8)
    spike = values.copy()
    spike[2000] += 15
    assert run(SeasonalBaseline(), spike)[2000] > 0.9999
    flat = values.copy()
    flat[2000:2100] = [flat[2000]] * 100  # the signal stops following its cycle
    scores = run(SeasonalBaseline(), flat)
    assert max(scores[2000:2100]) > 0.9999


@pytest.mark.parametrize("det_cls", [EwmBaseline, SeasonalBaseline])
def test_level_shift_is_surprising_at_onset(det_cls) -> None:
    rnd = random.Random(3)
    values = [10 + rnd.gauss(0, 1) for _ in range(1000)] + [20 + rnd.gauss(0, 1) for _ in range(50)]
    scores = run(det_cls(), values)
    assert scores[1000] > 0.9999
    assert max(scores[200:1000]) < 0.99999


@pytest.mark.parametrize("det_cls", [EwmBaseline, SeasonalBaseline])
def test_constant_series_scores_zero_and_first_change_scores_high(det_cls) -> None:
    scores = run(det_cls(), [5.0] * 500 + [6.0])
    assert max(scores[:500]) == 0.0
    assert scores[500] > 0.99


def test_invalid_parameters_are_refused() -> None:
    with pytest.raises(ValueError):
        EwmBaseline(alpha=0.0)
    with pytest.raises(ValueError):
        RobustScale(rate=1.5)
    with pytest.raises(ValueError):
        SeasonalBaseline(slots=0)


def test_robust_scale_tracks_the_noise_level_and_resists_a_burst() -> None:
    rnd = random.Random(9)
    scale = RobustScale(rate=0.005, warmup=30)
    for _ in range(5000):
        scale.update(rnd.gauss(0, 2.0))
    assert scale.sigma(0.0) == pytest.approx(2.0, rel=0.15)
    for _ in range(50):  # a 50-reading burst 50x larger moves the estimate by at most (1.005)^50 ~ 1.28x
        scale.update(100.0)
    assert scale.sigma(0.0) < 2.0 * 1.15 * 1.29
