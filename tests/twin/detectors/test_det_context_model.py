"""The context model: a learned sequence is predictable, a break in it is surprising, memory stays bounded."""

import random

import pytest

from twin.detectors.context_model import ContextModel


def test_a_repeating_pattern_becomes_predictable() -> None:
    model = ContextModel(max_order=4)
    pattern = [0, 1, 2, 3, 2, 1]
    scores = [model.step(s) for s in pattern * 50]
    assert max(scores[-60:]) == 0.0


def test_a_break_in_the_pattern_is_surprising_and_a_new_symbol_most() -> None:
    model = ContextModel(max_order=4)
    for s in [0, 1, 2, 3] * 50:
        model.step(s)
    # 3 -> 2 never happened: 4 of the 5 contexts missed it, none is new; then 2 -> 3 is the known favourite again
    assert [model.step(s) for s in (2, 3)] == [pytest.approx(0.4), 0.0]
    model = ContextModel(max_order=4)
    for s in [0, 1, 2, 3] * 50:
        model.step(s)
    # a symbol never seen: every context misses it (the level detector scores a level outside its range 1.0
    # itself); the pattern's own favourite after it is no surprise
    assert [model.step(s) for s in (9, 0)] == [pytest.approx(0.5), 0.0]


def test_the_favourite_successor_scores_zero_even_if_rare_contexts_missed_it() -> None:
    model = ContextModel(max_order=2)
    for s in [0, 0, 1] * 30:
        model.step(s)
    assert model.step(0) == 0.0


def test_capacity_bounds_the_table() -> None:
    model = ContextModel(max_order=6, capacity=200)
    rnd = random.Random(1)
    for _ in range(20_000):
        model.step(rnd.randrange(16))
        assert len(model) <= 200


def test_invalid_parameters_are_refused() -> None:
    with pytest.raises(ValueError):
        ContextModel(max_order=0)
    with pytest.raises(ValueError):
        ContextModel(capacity=1)
