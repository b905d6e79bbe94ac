"""The time-of-day view (twin/detectors/phase.py): a common level at an hour that never had it is news; tails,
young series, recent levels and unusable timestamps are not."""

import math

from twin.detectors.phase import TimeOfDay

HOUR = 3600.0
LEVELS = 8


def _daily(days: int, det: TimeOfDay, step: float = 300.0) -> None:
    """Days of a cycle: level 1 (value ~1) at night (hours 0-11), level 6 (value ~6) by day (hours 12-23)."""
    for i in range(int(days * 86_400 / step)):
        t = i * step
        day = (t % 86_400) >= 12 * HOUR
        det.update(t, 6.0 if day else 1.0, 6 if day else 1, 1.0)


def test_a_common_level_at_an_hour_that_never_had_it_is_news() -> None:
    det = TimeOfDay(LEVELS)
    _daily(5, det)
    night = 5 * 86_400 + 3 * HOUR
    assert det.update(night, 6.0, 6, 1.0)          # the day's level at 3 a.m.: a shifted or stopped cycle
    assert not det.update(night + 300, 1.0, 1, 1.0)  # the night's own level
    assert not det.update(night + 600, 1.5, 1, 1.0)  # within a level of the hour's extremes


def test_nothing_is_news_while_the_hours_are_young() -> None:
    det = TimeOfDay(LEVELS)
    _daily(1.5, det)
    assert not det.update(1.5 * 86_400 + 3 * HOUR, 6.0, 6, 1.0)


def test_a_rare_level_is_not_news_at_any_hour() -> None:
    """A tail's extremes break an hour's far more often than the series' own: the records view judges them."""
    det = TimeOfDay(LEVELS)
    for i in range(6 * 288):
        det.update(i * 300.0, 1.0 + (i % 7) * 0.01, 1, 1.0)
        if i % 200 == 0:
            det.update(i * 300.0 + 1, 4.0, 4, 1.0)  # ~0.5 % of readings at level 4
    assert not det.update(6 * 86_400 + 3 * HOUR, 4.0, 4, 1.0)


def test_a_level_common_only_since_a_shift_is_not_news_at_the_hours_it_has_not_reached_yet() -> None:
    """After a level shift every hour lacks the new level; reporting each hour as it comes round would report
    one incident for a day."""
    det = TimeOfDay(LEVELS)
    _daily(5, det)
    start = 5 * 86_400
    for i in range(12 * 12):  # twelve hours of a new level 3 (value ~3.5)
        assert not det.update(start + i * 300.0, 3.5, 3, 1.0)
    assert not det.update(start + 14 * HOUR, 3.5, 3, 1.0)  # an hour it has not had yet, but a new level


def test_unusable_timestamps_are_ignored() -> None:
    det = TimeOfDay(LEVELS)
    _daily(5, det)
    for t in (math.nan, math.inf, -math.inf, 1e15, -1e15):
        assert not det.update(t, 6.0, 6, 1.0)
    assert det.update(5 * 86_400 + 3 * HOUR, 6.0, 6, 1.0)  # and they left the view as it was


def test_recount_establishes_the_remembered_levels_from_now() -> None:
    det = TimeOfDay(LEVELS)
    _daily(5, det)
    det.recount([0, 500, 0, 0, 0, 0, 500, 0])  # the range grew: levels counted afresh from the buffer
    assert not det.update(5 * 86_400 + 3 * HOUR, 6.0, 6, 1.0)  # established just now: not yet
    assert det.update(7 * 86_400 + 4 * HOUR, 6.0, 6, 1.0)  # two days on (at an hour still without it), it is
