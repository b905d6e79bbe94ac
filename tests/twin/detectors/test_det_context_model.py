"""The context model: a learned sequence is predictable, a break in it is surprising, memory stays bounded."""

import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

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


class _Counting:
    """The model as first written: every step stores every context's entry with its full count. `step` now skips
    the store where nothing it keeps would change; the scores, and what forgetting keeps, must not differ."""

    def __init__(self, order: int, capacity: int) -> None:
        self.order, self.capacity, self.table, self.hist, self.n = order, capacity, {}, 0, 0

    def step(self, sym: int) -> float:
        pairs = [(1 << (4 * k), (1 << (4 * k)) - 1) for k in range(min(self.n, self.order) + 1)]
        predicted = novel = 0
        for mark, mask in pairs:
            key = mark | (self.hist & mask)
            entry = self.table.get(key)
            if entry is None:
                self.table[key] = (1 << 16) | (1 << sym)
                novel += 1
            else:
                predicted += bool(entry & (1 << sym))
                self.table[key] = (entry + (1 << 16)) | (1 << sym)
        self.hist, self.n = ((self.hist << 4) | sym) & ((1 << (4 * self.order)) - 1), self.n + 1
        if len(self.table) > self.capacity:
            keep = {k: v for k, v in self.table.items() if v >= 2 << 16}
            self.table = dict(list(keep.items())[len(keep) // 2:]) if len(keep) > self.capacity // 2 else keep
        selected = len(pairs) - novel
        return 0.5 * ((1.0 - predicted / selected if selected else 1.0) + novel / len(pairs))


@pytest.mark.parametrize(("order", "capacity", "alphabet"), [(1, 16, 16), (2, 64, 8), (3, 256, 16), (4, 64, 5)])
def test_skipping_unchanged_stores_changes_no_score(order: int, capacity: int, alphabet: int) -> None:
    rnd = random.Random(order)
    model, reference = ContextModel(order, capacity), _Counting(order, capacity)
    symbols = [rnd.randrange(alphabet) if rnd.random() < 0.4 else i % alphabet for i in range(5_000)]
    forgot = 0
    for s in symbols:
        before = len(reference.table)
        assert model.step(s) == reference.step(s)
        forgot += len(reference.table) < before
    assert forgot >= 3  # the table overflowed and was thinned several times: what it keeps is compared too
    assert set(model._table) == set(reference.table)


@pytest.mark.parametrize(("order", "capacity"), [(1, 16), (3, 64), (3, 1 << 30)])
def test_the_shortcut_for_known_successors_changes_no_score(order: int, capacity: int) -> None:
    """`step` answers 0 without a lookup per order for a successor every order already knew after this very context
    (`_known`); re-learning (`learn_all`, after `reset`) and forgetting must leave that exact, the shortcut taken."""
    rnd = random.Random(capacity)
    model, reference = ContextModel(order, capacity), _Counting(order, capacity)
    taken = 0
    for block in range(40):
        if block % 10 == 9:  # the level grid moved: forget all, re-learn a batch
            model.reset()
            reference = _Counting(order, capacity)
            batch = [rnd.randrange(6) for _ in range(50)]
            model.learn_all(batch)
            for s in batch:
                reference.step(s)
        for i in range(200):
            s = i % 5 if rnd.random() < 0.9 else rnd.randrange(8)
            taken += bool(model._known.get(model._hist, 0) & (1 << s))
            assert model.step(s) == reference.step(s)
    assert taken > 2_000  # most of the 8,000 steps of a steady pattern took it


@pytest.mark.parametrize(("order", "capacity", "alphabet"), [(1, 16, 16), (3, 256, 16), (4, 64, 5)])
def test_learning_a_batch_is_learning_each_symbol(order: int, capacity: int, alphabet: int) -> None:
    """`learn_all` (the level grid's re-learning; `learn` is a batch of one) must leave the model exactly as `step`
    (scoring and learning each reading) would: the same entries in the same order (forgetting drops the older half
    by that order), so later scores are the same."""
    rnd = random.Random(order + 7)
    symbols = [rnd.randrange(alphabet) if rnd.random() < 0.4 else i % alphabet for i in range(3_000)]
    one_by_one, batch = ContextModel(order, capacity), ContextModel(order, capacity)
    for s in symbols[:10]:  # a history already there: the batch starts mid-stream, as after a warm-up
        one_by_one.step(s)
        batch.learn(s)
    for s in symbols[10:]:
        one_by_one.step(s)
    batch.learn_all(symbols[10:])
    unbounded = ContextModel(order, 1 << 30)
    unbounded.learn_all(symbols)
    assert len(unbounded) > capacity  # the bounded ones overflowed and were thinned: forgetting is compared too
    assert list(batch._table.items()) == list(one_by_one._table.items())
    assert (batch._hist, batch._n) == (one_by_one._hist, one_by_one._n)
    tail = [rnd.randrange(alphabet) for _ in range(200)]
    assert [batch.step(s) for s in tail] == [one_by_one.step(s) for s in tail]


@settings(max_examples=60, deadline=None)
@given(order=st.integers(1, 4), capacity=st.integers(16, 80), seed=st.integers(0, 2**32 - 1),
       plan=st.lists(st.tuples(st.sampled_from(["step", "learn", "reset"]), st.integers(1, 120)), max_size=12))
def test_any_mix_of_scoring_relearning_and_forgetting_scores_as_the_plain_model(
        order: int, capacity: int, seed: int, plan: list[tuple[str, int]]) -> None:
    """The shortcut, whatever the order, the capacity (forgetting), and the mix of `step`, `learn_all` and `reset`."""
    rnd = random.Random(seed)
    model, reference = ContextModel(order, capacity), _Counting(order, capacity)
    for action, count in plan + [("step", 300)]:
        symbols = [i % 3 if rnd.random() < 0.8 else rnd.randrange(6) for i in range(count)]
        if action == "reset":
            model.reset()
            reference = _Counting(order, capacity)
        elif action == "learn":
            model.learn_all(symbols)
            for s in symbols:
                reference.step(s)
        else:
            assert [model.step(s) for s in symbols] == [reference.step(s) for s in symbols]
    assert set(model._table) == set(reference.table)
