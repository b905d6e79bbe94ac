"""Score helpers: log-tail scaling and Fisher pooling keep one meaning of a score across detectors."""

import math
import pickle
import random

import pytest
from hypothesis import given
from hypothesis import strategies as st

from twin.detectors import CompositeDetector, Detector
from twin.detectors.base import clamp01, fisher_pool, log_tail_score, two_sided_surprise

unit = st.floats(min_value=0.0, max_value=1.0)


def test_log_tail_scale_anchors() -> None:
    assert log_tail_score(1e-5) == pytest.approx(0.5, abs=1e-4)
    assert log_tail_score(1e-10) == pytest.approx(1.0, abs=0.04)
    assert log_tail_score(0.0) == 1.0
    assert log_tail_score(0.5) == 0.0 and log_tail_score(math.nan) == 0.0
    assert clamp01(math.nan) == 0.0 and clamp01(2.0) == 1.0
    assert two_sided_surprise(0.0) == 0.0 and two_sided_surprise(-10.0) == pytest.approx(1.0)


@given(unit, unit, st.floats(min_value=0.0, max_value=0.5))
def test_fisher_pool_is_symmetric_bounded_and_monotone(a: float, b: float, more: float) -> None:
    p = fisher_pool(a, b)
    assert 0.0 <= p <= 1.0
    assert p == pytest.approx(fisher_pool(b, a))
    assert fisher_pool(min(1.0, a + more), b) >= p - 1e-12  # more evidence never lowers the pooled score


def test_fisher_pool_single_strong_view_still_scores_high() -> None:
    assert fisher_pool(0.0, 0.0) == 0.0
    assert fisher_pool(1.0, 0.0) > 0.85
    assert fisher_pool(0.3, 0.3) > fisher_pool(0.3, 0.0)


def test_composite_is_a_detector_and_survives_pickling_mid_stream() -> None:
    """Engine workers may checkpoint detector state; a restored detector must continue identically."""
    det = CompositeDetector()
    assert isinstance(det, Detector)
    rnd = random.Random(3)
    values = [rnd.gauss(0, 1) for _ in range(2000)]
    for i, v in enumerate(values[:1000]):
        det.update(i * 60.0, v)
    clone = pickle.loads(pickle.dumps(det))
    a = [det.update(i * 60.0, v) for i, v in enumerate(values[1000:], 1000)]
    b = [clone.update(i * 60.0, v) for i, v in enumerate(values[1000:], 1000)]
    assert a == b
