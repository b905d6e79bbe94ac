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
