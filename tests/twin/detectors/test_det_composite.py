"""The previous default detector (composite), kept for `bench nab`'s comparison: low on clean seasonal data,
high soon after injected anomalies, bounded (the contract every detector keeps is in test_det_contract.py)."""

import math
import random


from twin.detectors import CompositeConfig, CompositeDetector, Detector, DetectorBank

STEP = 300.0  # 5-minute readings
DAY = 288
ONSET = 6 * DAY


def clean(n: int = 8 * DAY, seed: int = 7) -> list[float]:
    rnd = random.Random(seed)
    return [40 + 15 * math.sin(2 * math.pi * i / DAY) + rnd.gauss(0, 1.5) for i in range(n)]


def run(values: list[float], det: Detector | None = None) -> list[float]:
    det = det or CompositeDetector()
    return [det.update(i * STEP, v) for i, v in enumerate(values)]


def test_clean_seasonal_noisy_series_stays_low() -> None:
    scores = run(clean())
    assert max(scores[400:]) < 0.4  # the best single threshold on the NAB samples is ~0.85


def test_spike_scores_high_at_onset() -> None:
    values = clean()
    values[ONSET] += 25
    scores = run(values)
    assert max(scores[ONSET:ONSET + 3]) > 0.8
    assert max(scores[400:ONSET]) < 0.4


def test_level_shift_scores_high_soon_after_onset() -> None:
    values = clean()
    values[ONSET:] = [v + 20 for v in values[ONSET:]]
    scores = run(values)
    assert max(scores[ONSET:ONSET + 3]) > 0.8


def test_flatline_scores_high_soon_after_onset() -> None:
    values = clean()
    values[ONSET:ONSET + DAY] = [values[ONSET]] * DAY
    scores = run(values)
    assert max(scores[ONSET:ONSET + 60]) > 0.6  # within 5 hours of a stuck reading on a daily cycle


def test_sustained_incident_raises_few_alarms() -> None:
    values = clean()
    values[ONSET:] = [v + 25 for v in values[ONSET:]]  # a lasting level shift: every reading is off-baseline
    scores = run(values)
    assert scores[ONSET] > 0.7
    alarms = sum(s > 0.7 for s in scores[ONSET:])
    assert 1 <= alarms <= 15  # without suppression, hundreds of readings score above 0.7


def test_memory_is_bounded_after_100k_updates() -> None:
    cfg = CompositeConfig(context_capacity=2000, levels=64)
    det = CompositeDetector(cfg)
    rnd = random.Random(11)
    for i in range(100_000):
        det.update(i * 60.0, rnd.gauss(0, 1) + (i // 5000) * 3)
    assert det._context.table_size <= 2000
    assert det._likelihood.buffer_len <= 10
    assert det._filter.buffer_len <= cfg.suppress_window


def test_bank_keeps_one_detector_per_metric_and_caps_their_number() -> None:
    bank = DetectorBank(CompositeDetector, max_metrics=3)
    values = clean(2 * DAY)
    a = [bank.update("a", i * STEP, v) for i, v in enumerate(values)]
    assert a == run(values)
    for key in "bcde":
        bank.update(key, 0.0, 1.0)
    assert len(bank) == 3

