"""Which way up a series is stored matters to the default detector, by design: a new low by a hair is a record, a
new high by less than one level is the level model's to judge (docs/detection.md, item 6; docs/detection-rounds.md,
twenty-fourth round: the symmetric grid was measured and lost on every corpus in its natural orientation)."""

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
