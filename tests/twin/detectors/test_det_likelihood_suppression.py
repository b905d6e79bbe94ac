"""Anomaly likelihood calibrates raw scores per series; the new-max filter turns an episode into one alarm."""

import random

import pytest

from twin.detectors.likelihood import AnomalyLikelihood
from twin.detectors.suppression import NewMaxFilter


@pytest.mark.parametrize("base", [0.05, 0.5])
def test_likelihood_is_relative_to_the_series_own_raw_score_level(base: float) -> None:
    """A noisy series (raw ~0.5) and a clean one (raw ~0.05) both read ~0 when ordinary, high when raw jumps."""
    rnd = random.Random(2)
    lik = AnomalyLikelihood(learning=200)
    ordinary = [lik.update(min(1.0, max(0.0, rnd.gauss(base, 0.05)))) for _ in range(2000)]
    assert sum(s > 0.3 for s in ordinary[200:]) <= 5
    burst = [lik.update(1.0) for _ in range(10)]
    assert max(burst) > 0.5


def test_likelihood_is_silent_while_learning_and_state_is_bounded() -> None:
    lik = AnomalyLikelihood(short_window=10, memory=500, learning=100)
    assert all(lik.update(1.0 if i % 7 == 0 else 0.0) == 0.0 for i in range(100))
    for i in range(10_000):
        assert 0.0 <= lik.update(random.random()) <= 1.0
    assert lik.buffer_len == 10


def test_likelihood_forgets_an_old_regime() -> None:
    """After a lasting move to a noisier raw-score level, alarms stop once the new level is learned."""
    rnd = random.Random(6)
    lik = AnomalyLikelihood(memory=500, learning=100)
    for _ in range(2000):
        lik.update(min(1.0, max(0.0, rnd.gauss(0.05, 0.02))))
    new_regime = [lik.update(min(1.0, max(0.0, rnd.gauss(0.6, 0.1)))) for _ in range(5000)]
    assert max(new_regime[:20]) > 0.5  # the change itself is an event
    assert max(new_regime[-1000:]) < 0.3  # the new normal is not


def test_new_max_filter_passes_only_the_first_of_an_episode() -> None:
    f = NewMaxFilter(window=5)
    out = [f.update(s) for s in [0.1, 0.9, 0.9, 0.8, 0.95, 0.2, 0.2, 0.2, 0.2, 0.2, 0.2, 0.9]]
    assert out == [0.1, 0.9, 0.0, 0.0, 0.95, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.9]


def test_new_max_filter_buffer_is_bounded() -> None:
    f = NewMaxFilter(window=50)
    rnd = random.Random(4)
    for _ in range(100_000):
        f.update(rnd.random())
        assert f.buffer_len <= 50
    for i in range(1000):  # strictly decreasing input is the worst case for a monotonic deque
        f.update(1.0 - i / 1000)
    assert f.buffer_len <= 50
