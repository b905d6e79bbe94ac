"""The contract every streaming detector keeps (twin.detectors.base.Detector), checked on each of them: scores
in [0, 1] for any finite input, a constant series never alarms, deterministic, causal, and non-finite readings
ignored without touching the state."""

import math
import random
from collections.abc import Callable

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from twin.detectors import CompositeDetector, Detector, SequenceSurprise

STEP = 300.0
DETECTORS: dict[str, Callable[[], Detector]] = {"sequence": SequenceSurprise, "composite": CompositeDetector}
each = pytest.mark.parametrize("factory", list(DETECTORS.values()), ids=list(DETECTORS))
finite = st.floats(allow_nan=False, allow_infinity=False)


def noisy_cycle(n: int, seed: int = 7) -> list[float]:
    rnd = random.Random(seed)
    return [40 + 15 * math.sin(2 * math.pi * i / 288) + rnd.gauss(0, 1.5) for i in range(n)]


def run(factory: Callable[[], Detector], values: list[float]) -> list[float]:
    det = factory()
    return [det.update(i * STEP, v) for i, v in enumerate(values)]


@each
@settings(max_examples=60, deadline=None)
@given(values=st.lists(finite, min_size=1, max_size=600), step=st.floats(min_value=1.0, max_value=86400.0))
def test_scores_in_unit_interval_for_arbitrary_finite_input(factory, values: list[float], step: float) -> None:
    det = factory()
    for i, v in enumerate(values):
        assert 0.0 <= det.update(1.4e9 + i * step, v) <= 1.0


@settings(max_examples=60, deadline=None)
@given(values=st.lists(finite, min_size=1, max_size=600))
def test_any_alarm_can_be_described(values: list[float]) -> None:
    """An alert's words (`SequenceSurprise.describe`) come for any finite input, never an error instead."""
    det = SequenceSurprise()
    for i, v in enumerate(values):
        if det.update(1.4e9 + i * STEP, v) > 0.0:
            said = det.describe(v)
            assert isinstance(said, str) and said, (i, v)


@each
@settings(max_examples=60, deadline=None)
@given(stamps=st.lists(st.floats(), min_size=40, max_size=400), seed=st.integers(0, 9))
def test_any_timestamps_are_taken_without_error(factory, stamps: list[float], seed: int) -> None:
    """Timestamps are the devices' (or a CSV's): any float, NaN, infinite, backwards or repeated, must score."""
    det = factory()
    values = noisy_cycle(len(stamps), seed)
    assert all(0.0 <= det.update(t, v) <= 1.0 for t, v in zip(stamps, values))


@each
def test_timestamps_a_hair_before_midnight_are_taken(factory) -> None:
    """(-1e-20) % 86400.0 is 86400.0 in floating point: the time-of-day view once indexed past its last hour."""
    det = factory()
    values = noisy_cycle(6 * 288)
    for i, v in enumerate(values):
        t = i * STEP if i % 50 else -1e-20 - (i % 3) * 86_400.0
        assert 0.0 <= det.update(t, v) <= 1.0


@each
@settings(max_examples=30, deadline=None)
@given(value=st.floats(min_value=-1e12, max_value=1e12), n=st.integers(min_value=1, max_value=1500))
def test_constant_series_never_alarms(factory, value: float, n: int) -> None:
    det = factory()
    assert all(det.update(i * STEP, value) == 0.0 for i in range(n))


@each
@settings(max_examples=30, deadline=None)
@given(values=st.lists(st.floats(min_value=-1e6, max_value=1e6), min_size=1, max_size=800))
def test_deterministic(factory, values: list[float]) -> None:
    assert run(factory, values) == run(factory, values)


@each
def test_causal_prefix_scores_do_not_depend_on_future_data(factory) -> None:
    values = noisy_cycle(8 * 288)
    values[6 * 288] += 25
    assert run(factory, values)[:6 * 288 - 100] == run(factory, values[:6 * 288 - 100])


@each
def test_non_finite_readings_are_ignored(factory) -> None:
    values = noisy_cycle(2 * 288)
    det = factory()
    mixed = []
    for i, v in enumerate(values):
        mixed.append(det.update(i * STEP, v))
        assert det.update(i * STEP, math.nan) == 0.0
        assert det.update(i * STEP, -math.inf) == 0.0
    assert mixed == run(factory, values)
