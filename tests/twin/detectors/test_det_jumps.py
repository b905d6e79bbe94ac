"""The jump view (twin/detectors/jumps.py): a change beyond the largest rise or fall seen, scored by how far."""

import math
import random

from twin.detectors import SequenceSurprise
from twin.detectors.jumps import JumpRarity

HOUR = 3600.0


def _sawtooth(rnd: random.Random, hours: int) -> list[float]:
    """Units on hand: a few picks an hour in working hours, a delivery of 400 when below 140."""
    level, out = 400.0, []
    for h in range(hours):
        if 8 <= h % 24 < 18:
            level = max(level - sum(rnd.random() < 0.4 for _ in range(20)), 0.0)
        if level < 140:
            level += 400
        out.append(level)
    return out


def test_an_unplanned_fall_inside_the_range_alarms_and_says_so() -> None:
    """Deliveries move the stock by hundreds (upwards) every few days; picks never take more than ~15 an hour. A
    fall of 250 in one reading stays inside the range and its levels, but is the largest fall by far."""
    found = 0
    for seed in range(10):
        rnd = random.Random(seed)
        values = _sawtooth(rnd, 2500)
        last = max(i for i, v in enumerate(values) if v >= 420)  # just after the last delivery: the fall ends in range
        values = values[:last + 1]
        det = SequenceSurprise()
        for i, v in enumerate(values):
            det.update(i * HOUR, v)
        at = len(values)
        fallen = values[-1] - 250
        score = det.update(at * HOUR, fallen)
        if score >= 0.5:  # ~1 in 10^5 on the package's scale
            found += 1
            assert " in one reading, the largest fall in " in det.describe(fallen)
    assert found >= 8, found


def test_changes_within_the_largest_seen_score_nothing() -> None:
    jumps = JumpRarity()
    readings = [0.0, 5.0, 4.0, 9.0, 1.0]  # rises up to 5, falls down to -8
    jumps.start(readings)
    history = list(readings)
    for change in (5.0, -8.0, 0.0, 3.0, -7.9):
        history.append(history[-1] + change)
        assert jumps.update(change, len(history), history, unit=1.0) == 0.0


def test_a_record_by_a_hair_is_no_news_and_one_far_beyond_is() -> None:
    """Changes of noise set records now and then by chance: only the overshoot beyond the record is scored (a record
    by a hair scored ~0.25 with the level records' chance term, and cost the synthetic corpus 3 points)."""
    rnd = random.Random(3)
    history = [rnd.gauss(0, 1) for _ in range(2000)]
    changes = [b - a for a, b in zip(history, history[1:], strict=False)]
    jumps = JumpRarity()
    jumps.start(history)
    hair = max(changes) + 1e-6
    history.append(history[-1] + hair)
    assert jumps.update(hair, len(history), history, unit=1.0) < 0.01
    far = hair + 20.0
    history.append(history[-1] + far)
    assert jumps.update(far, len(history), history, unit=1.0) == 1.0


def test_rises_and_falls_keep_their_own_records() -> None:
    """A series whose rises are large (deliveries) still has small falls: a fall as large as its rises is news."""
    jumps = JumpRarity()
    history = []
    level = 0.0
    for i in range(600):
        level = level + 100.0 if i % 50 == 0 else level - 1.0
        history.append(level)
    jumps.start(history)
    history.append(history[-1] - 100.0)
    assert jumps.update(-100.0, len(history), history, unit=5.0) == 1.0


def test_a_counter_that_only_rose_scores_its_first_fall_by_its_size() -> None:
    history = [float(i * 3) for i in range(500)]
    jumps = JumpRarity()
    jumps.start(history)
    small = jumps.update(-0.5, 501, history + [history[-1] - 0.5], unit=3.0)
    large = jumps.update(-1500.0, 502, history + [history[-1] - 0.5, history[-1] - 1500.5], unit=3.0)
    assert 0.0 <= small < 0.1 and large == 1.0 and not math.isnan(small)


def test_a_young_series_largest_changes_are_not_yet_news() -> None:
    """The fleet simulator's ambient temperature of a humidity probe (0.3 degC noise), its first 38 readings: the
    38th falls by 1.23, more than any of the 36 changes before, and once raised the e2e bench's only false alert
    (0.72 offline, past the engine's 0.75 there). Thirty-odd changes say little of how large a change can be, so,
    like the context models, the jump view waits for maturity (300 readings)."""
    values = [18.8, 19.09, 19.01, 18.81, 18.53, 18.75, 18.55, 18.39, 19.13, 19.02, 18.67, 18.27, 18.45, 18.52, 18.61,
              18.39, 19.05, 18.63, 19.01, 19.03, 18.72, 18.4, 19.0, 18.74, 18.57, 18.37, 18.41, 18.51, 18.87, 18.77,
              18.43, 18.92, 18.55, 18.51, 19.09, 18.82, 19.34, 18.11]
    det = SequenceSurprise(rest_threshold=0.75, memory=500, capacity=2000)  # the engine's, with half its memory
    scores = [det.update(i * 0.6, v) for i, v in enumerate(values)]
    assert max(scores) < 0.5 and " in one reading" not in det.describe(values[-1])


def test_a_second_unplanned_fall_alarms_as_the_first_did() -> None:
    """The fall of 250 alarmed; a delivery restores the stock, and weeks later another fall of ~250 comes. Counted as
    the series' largest fall, the first made the second ordinary; an alarmed change is an incident, not the series'
    habit, so it is kept out of the extremes until a second one alarms (one recurrence is a habit). (The engine's 1,000
    remembered readings: the first fall is forgotten by the second, as it is from the data's tail scale; before, the
    second scored ~0.09, an "unusual sequence", not a fall.)"""
    found = 0
    for seed in range(10):
        rnd = random.Random(seed)
        values = _sawtooth(rnd, 2500)
        last = max(i for i, v in enumerate(values) if v >= 420)
        values = values[:last + 1]
        det = SequenceSurprise(memory=1000)
        for i, v in enumerate(values):
            det.update(i * HOUR, v)
        at = len(values)
        first = det.update(at * HOUR, values[-1] - 250)
        after = _sawtooth(rnd, 1000)  # the stock restored, a few weeks of ordinary picks and deliveries
        for i, v in enumerate(after, at + 1):
            det.update(i * HOUR, v)
        peak = max(i for i, v in enumerate(after) if v >= 420)
        for i, v in enumerate(after[:peak + 1], at + 1 + len(after)):  # the same weeks again, to a fresh delivery
            det.update(i * HOUR, v)
        second = det.update((at + 2 + len(after) + peak) * HOUR, after[peak] - 240)
        if first >= 0.5 and second >= 0.5:
            found += 1
            assert " in one reading, the largest fall in " in det.describe(after[peak] - 240)
    assert found >= 8, found
