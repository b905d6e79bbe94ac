"""Context novelty: repeating shapes become familiar, a new shape is novel, the context table stays capped."""

import random

import pytest

from twin.detectors.contextual import ContextNovelty


def test_repeating_pattern_becomes_familiar_and_a_new_shape_is_novel() -> None:
    pattern = [0, 1, 2, 3, 4, 5, 6, 7, 6, 5, 4, 3, 2, 1] * 60
    det = ContextNovelty(levels=8, warmup=50)
    scores = [det.update(float(i), float(v)) for i, v in enumerate(pattern)]
    assert max(scores[300:]) == 0.0  # every context already seen
    # a flat line at a familiar level: its level is known but the contexts (v, v, v) are new
    tail = [det.update(1e6 + i, 3.0) for i in range(4)]
    assert tail[1] > 0.0 and max(tail) >= 0.5


def test_scores_are_fractions_of_novel_contexts() -> None:
    det = ContextNovelty(warmup=10)
    rnd = random.Random(0)
    for i in range(5000):
        s = det.update(float(i), rnd.random())
        assert 0.0 <= s <= 1.0


def test_table_never_exceeds_capacity_on_endless_noise() -> None:
    det = ContextNovelty(levels=50, capacity=1000, warmup=20)
    rnd = random.Random(1)
    for i in range(100_000):
        det.update(float(i), rnd.gauss(0, 1))
        if i % 997 == 0:
            assert det.table_size <= 1000
    assert det.table_size <= 1000


def test_extreme_values_do_not_overflow_the_quantiser() -> None:
    det = ContextNovelty(warmup=3)
    for i, v in enumerate([0.0, 1.0, 2.0, 1e308, -1e308, 5e-324, 3.0]):
        assert 0.0 <= det.update(float(i), v) <= 1.0


def test_invalid_parameters_are_refused() -> None:
    with pytest.raises(ValueError):
        ContextNovelty(levels=1)
