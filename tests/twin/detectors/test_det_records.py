"""Record rarity: a new extreme by a hair is ordinary, one far beyond is as rare as the scale goes."""

import math
import random

from twin.detectors.records import RecordRarity, hold_out


def _noise(n: int, seed: int = 1) -> list[float]:
    rnd = random.Random(seed)
    return [rnd.gauss(0, 1) for _ in range(n)]


def test_a_new_maximum_by_a_hair_is_ordinary_and_one_far_beyond_is_not() -> None:
    seen = _noise(2000)
    top, bottom = max(seen), min(seen)
    hair = RecordRarity().surprise(top + 1e-6, bottom, top, 2001, [*seen, top + 1e-6], unit=1.0)
    far = RecordRarity().surprise(top + 10.0, bottom, top, 2001, [*seen, top + 10.0], unit=1.0)
    low = RecordRarity().surprise(bottom - 10.0, bottom, top, 2001, [*seen, bottom - 10.0], unit=1.0)
    assert hair < 0.4 and far == 1.0 and low == 1.0


def test_the_longer_a_record_stood_the_rarer_breaking_it() -> None:
    seen = _noise(5000)
    top, bottom = max(seen), min(seen)
    new = top + 0.5
    young = RecordRarity().surprise(new, bottom, top, 50, [*seen[:49], new], unit=1.0)
    old = RecordRarity().surprise(new, bottom, top, 5001, [*seen, new], unit=1.0)
    assert 0.0 <= young < old < 1.0


def test_a_count_breaking_its_record_by_one_step_has_not_overshot() -> None:
    """Counts cannot break a record by less than 1: that step is the "just broke it" case."""
    rnd = random.Random(2)
    seen = [float(rnd.randint(0, 8)) for _ in range(2000)]
    by_one = RecordRarity().surprise(9.0, 0.0, 8.0, 2001, [*seen, 9.0], unit=0.5)
    by_five = RecordRarity().surprise(13.0, 0.0, 8.0, 2001, [*seen, 13.0], unit=0.5)
    assert by_one < 0.4 < by_five


def test_hold_out_holds_the_first_incident_and_lets_a_recurrence_in() -> None:
    """An alarmed record is held out (the extreme stays); the next one the same way brings both in, the farther."""
    held, extreme = hold_out(math.nan, 100.0, 50.0)
    assert (held, extreme) == (100.0, 50.0)
    held, extreme = hold_out(held, 90.0, 60.0)  # the extreme grew to 60 meanwhile, unreported
    assert math.isnan(held) and extreme == 100.0
    held, extreme = hold_out(math.nan, -40.0, -10.0)  # a lower extreme, the same way down
    held, extreme = hold_out(held, -70.0, -10.0)
    assert math.isnan(held) and extreme == -70.0
