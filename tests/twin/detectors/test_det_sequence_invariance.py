"""What the default detector's scores do not depend on, and the one thing they do by design.

Not on the clock: a series' readings an hour, a day or a year later score the same (the time views see hours of the
day and days apart, never a date). Nor on a metric's offset or unit (test_det_sequence.py). But on which way up a
series is stored: a new low by a hair is a record, a new high by less than one level is the level model's to judge
(docs/detection.md, item 6; docs/detection-rounds.md, twenty-fourth round: a symmetric grid was measured and lost on
every corpus in its natural orientation)."""

import math
import random

from twin.detectors import SequenceSurprise
from twin.detectors.words import BY_RECORD

N = 1000


def history() -> list[float]:
    """Uniform noise on [0, 1] whose extremes come first, so the level grid is the warm-up's and never grows."""
    rnd = random.Random(3)
    return [0.0, 1.0] + [rnd.uniform(0.001, 0.999) for _ in range(N - 2)]


def probe(value: float) -> tuple[float, int]:
    """The score and the view that gave it of `value` after the history."""
    det = SequenceSurprise()
    for i, v in enumerate(history()):
        det.update(i * 60.0, v)
    score = det.update(N * 60.0, value)
    return score, det._view


def test_a_new_low_by_a_hair_is_a_record() -> None:
    score, view = probe(-0.001)
    assert view == BY_RECORD and score > 0.2  # one in n + 1 by chance: about 0.27 after 1,000 readings


def test_a_new_high_within_the_top_level_is_judged_by_the_level_model() -> None:
    # the grid's 8 levels are a seventh of the range wide and start at its lowest reading, so the top level reaches
    # a level above the highest: a new high inside it is that level's rare symbol, not a record
    score, view = probe(1.001)
    assert view != BY_RECORD and score < 0.2
    score, view = probe(1.0 + 1.0 / 7 + 0.001)  # beyond the top level: a record as a low is
    assert view == BY_RECORD and score > 0.2


def test_scores_do_not_depend_on_the_clock() -> None:
    # a daily cycle with a weekly habit, a shift and a spike, so the time-of-day and same-hour views have work to do
    rnd = random.Random(11)
    day = 288
    xs = [20 + 5 * math.sin(2 * math.pi * i / day) + (3.0 if (i // day) % 7 == 5 else 0.0) + rnd.gauss(0, 0.4)
          + (4.0 if i > 12 * day else 0.0) + (9.0 if i == 13 * day + 40 else 0.0) for i in range(16 * day)]

    def scores(t0: float) -> list[float]:
        det = SequenceSurprise()
        return [det.update(t0 + 300.0 * i, x) for i, x in enumerate(xs)]

    base = scores(1_700_000_000.0)
    assert sum(s >= 0.1 for s in base) >= 2  # the shift and the spike alarm
    for shift_h in (1, 7, 24, 24 * 365):
        assert scores(1_700_000_000.0 + 3600.0 * shift_h) == base
