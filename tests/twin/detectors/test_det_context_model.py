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
    # 3 -> 2 never happened: 4 of the 5 contexts missed it, none is new; then 2 -> 3 is known to the short
    # contexts while the three longer ones (ending ...3, 2) are new
    assert [model.step(s) for s in (2, 3)] == [pytest.approx(0.4), pytest.approx(0.3)]
    model = ContextModel(max_order=4)
    for s in [0, 1, 2, 3] * 50:
        model.step(s)
    # a symbol never seen: every context misses it (the level detector scores a level outside its range 1.0
    # itself); after it, every context but the empty one is new
    assert [model.step(s) for s in (9, 0)] == [pytest.approx(0.5), pytest.approx(0.4)]


def test_a_known_successor_of_known_contexts_scores_zero_even_if_rarely_seen() -> None:
    model = ContextModel(max_order=2)
    for s in [0, 0, 1] * 30:
        model.step(s)
    # the history ends 0, 1: every context of order 0..2 has seen 0 follow it
    assert model.step(0) == 0.0
    # surprise depends on which contexts missed a symbol, not on how often it followed: 1 after (1, 0) is new
    assert model.step(1) == pytest.approx(0.5 * (1 / 3))


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
