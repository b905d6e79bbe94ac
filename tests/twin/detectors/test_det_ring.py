"""The detector's memory of recent readings: order kept, bounded, and where the bulk lies."""

import random

import pytest

from twin.detectors.ring import BULK_K, Ring


def test_keeps_the_last_readings_in_order() -> None:
    ring = Ring(4)
    for v in range(1, 7):
        ring.append(float(v))
    assert list(ring) == [3.0, 4.0, 5.0, 6.0] and len(ring) == 4


def test_the_bulk_leaves_out_a_few_spikes_at_each_end() -> None:
    rnd = random.Random(1)
    ring = Ring(500)
    values = [rnd.uniform(10, 20) for _ in range(500 - 2 * (BULK_K - 1))]
    values += [1e6] * (BULK_K - 1) + [-1e6] * (BULK_K - 1)  # up to BULK_K - 1 spikes each way are left out
    rnd.shuffle(values)
    for v in values:
        ring.append(v)
    lo, hi = ring.bulk()
    assert 10 <= lo < 10.5 and 19.5 < hi <= 20
    ring.append(1e6)  # one spike more: now the spikes are the bulk's edge
    assert ring.bulk()[1] == 1e6


def test_a_young_ring_has_its_whole_range_as_bulk() -> None:
    ring = Ring(100)
    with pytest.raises(ValueError):
        ring.bulk()
    for v in (3.0, -1.0, 7.0):
        ring.append(v)
    assert ring.bulk() == (-1.0, 7.0)


def test_cleared_it_starts_again_empty() -> None:
    ring = Ring(3)
    for v in range(5):
        ring.append(float(v))
    ring.clear()
    assert len(ring) == 0 and list(ring) == []
    ring.append(9.0)
    assert list(ring) == [9.0] and ring.bulk() == (9.0, 9.0)


def test_usual_change_is_the_median_change_or_the_mean_where_most_readings_repeat() -> None:
    """For an alert's words: noise's median step; a sparse count's mean step (its median is 0, yet it changes); the
    order of the readings, oldest first, across the ring's wrap."""
    ring = Ring(5)
    assert ring.usual_change() == 0.0
    for v in (0.0, 1.0, 3.0, 6.0, 10.0, 100.0):  # the first is overwritten: 1, 3, 6, 10, 100 remain
        ring.append(v)
    assert ring.usual_change() == 4.0  # changes 2, 3, 4, 90: their median, not their mean
    wrapped = Ring(3)
    for v in (0.0, 100.0, 101.0, 103.0):  # 100, 101, 103 remain; stored as 103, 100, 101
        wrapped.append(v)
    assert wrapped.usual_change() == 2.0  # changes 1, 2 (in storage order 3, 1: 3)
    sparse = Ring(10)
    for v in (0, 0, 0, 2, 0, 0, 0, 0, 0, 0):
        sparse.append(float(v))
    assert sparse.usual_change() == 4 / 9
