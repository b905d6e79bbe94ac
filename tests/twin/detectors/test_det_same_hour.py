"""twin.detectors.same_hour: an hour's mean against the same hour 1, 2 and 7 days before."""

import math

import numpy as np

from twin.detectors.same_hour import SameHour

STEP = 300.0  # 5-minute readings
DAY = 86_400.0
T0 = 1_600_000_000.0 - 1_600_000_000.0 % DAY  # a midnight, UTC


def _counts(seed: int, days: int, rate=None) -> tuple[np.ndarray, np.ndarray]:
    """Poisson counts with a daily cycle (5 to 45 an interval), or `rate(t)` instead."""
    rng = np.random.default_rng(seed)
    t = T0 + STEP * np.arange(int(days * DAY / STEP))
    lam = 25 + 20 * np.sin(2 * math.pi * t / DAY) if rate is None else rate(t)
    return t, rng.poisson(lam).astype(float)


def _reports(t: np.ndarray, x: np.ndarray) -> list[float]:
    """Days (since the start) of the readings at which the view reported the hour before."""
    view = SameHour()
    return [(ti - T0) / DAY for ti, xi in zip(t.tolist(), x.tolist(), strict=True) if view.update(ti, xi)]


def test_a_daily_cycle_of_counts_that_stops_is_reported_within_hours_and_not_before() -> None:
    """Day 11 onwards the cycle stops at its mean rate: each reading is an ordinary count (the time-of-day view's
    extremes hold it), but the peak hours' means fall by ~20 and the trough's rise."""
    for seed in range(5):
        t, x = _counts(seed, 14, lambda t: np.where(t < T0 + 11 * DAY, 25 + 20 * np.sin(2 * math.pi * t / DAY), 25.0))
        days = _reports(t, x)
        assert days and 11.0 < days[0] < 11.5, (seed, days)  # within 12 hours of the stop
        assert not [d for d in days if d < 11.0], (seed, days)


def test_a_cycle_that_shrinks_to_half_is_reported() -> None:
    for seed in range(5):
        t, x = _counts(seed, 14, lambda t: 25 + np.where(t < T0 + 10 * DAY, 20.0, 10.0) * np.sin(2 * math.pi * t / DAY))
        days = _reports(t, x)
        assert days and 10.0 < days[0] < 10.75, (seed, days)


def test_a_weekly_habit_is_not_news() -> None:
    """Weekends at a third of the weekdays' rate: a Saturday is unlike Friday and Thursday, but like last Saturday,
    and Monday like last Monday (without the week-ago comparison every weekend's start and end reported)."""
    def rate(t: np.ndarray) -> np.ndarray:
        weekend = ((t - T0) // DAY) % 7 >= 5
        return np.where(weekend, 1 / 3, 1.0) * (25 + 20 * np.sin(2 * math.pi * t / DAY))

    for seed in range(5):
        t, x = _counts(seed, 35, rate)
        assert len(_reports(t, x)) <= 1, seed


def test_plain_noise_and_an_honest_cycle_are_quiet() -> None:
    rng = np.random.default_rng(7)
    t = T0 + STEP * np.arange(int(40 * DAY / STEP))
    assert len(_reports(t, rng.normal(100.0, 5.0, len(t)))) <= 1
    for seed in range(5):
        assert len(_reports(*_counts(seed, 40))) <= 1, seed


def test_nothing_is_scored_before_the_same_hour_a_week_ago_is_known() -> None:
    """The first week has no week-ago hour: a cycle that stops on day 4 is not this view's to report (the others'
    are), and a series sampled once a day never has a same hour to compare."""
    t, x = _counts(1, 7.9, lambda t: np.where(t < T0 + 4 * DAY, 25 + 20 * np.sin(2 * math.pi * t / DAY), 25.0))
    assert _reports(t, x) == []
    daily = T0 + DAY * np.arange(400) + 1234.0
    assert _reports(daily, np.random.default_rng(3).normal(0, 1, 400)) == []


def test_a_perfect_cycle_reports_its_first_difference() -> None:
    """A noiseless cycle's hours never differ from their comparison hours: once one does, it is news at once."""
    t = T0 + STEP * np.arange(int(14 * DAY / STEP))
    x = np.where(((t - T0) % DAY) < DAY / 2, 20.0, 80.0)
    x[(t >= T0 + 12 * DAY + 3 * 3600) & (t < T0 + 12 * DAY + 4 * 3600)] = 50.0
    assert _reports(t, x) == [12 + (4 * 3600) / DAY]


def test_hostile_timestamps_and_values_are_taken_without_error() -> None:
    view = SameHour()
    t, x = _counts(2, 12)
    hostile = [math.nan, math.inf, -math.inf, 1e13, -1e13]
    for i, (ti, xi) in enumerate(zip(t.tolist(), x.tolist(), strict=True)):
        assert view.update(hostile[i % 5] if i % 97 == 0 else ti, xi) in (True, False)
        if i % 101 == 0:
            view.update(ti - 5 * DAY, 1e300)  # backwards, and a sum near overflow
    assert isinstance(view.news(), str)


def test_recent_bulk_is_where_the_last_eight_days_hour_means_lie_without_their_extremes() -> None:
    """What the sequence detector refits its level grid to: a weekly series' weekdays are in it after a weekend, a
    few odd hours are not, and hours older than eight days are forgotten."""
    view = SameHour()
    assert view.recent_bulk(5) is None
    hour = 3600.0
    for h in range(10 * 24):  # ten days, hourly: the day's number, and the first four hours of day 9 at 1000
        view.update(T0 + h * hour, 1000.0 if h // 24 == 9 and h % 24 < 4 else float(h // 24))
    view.update(T0 + 240 * hour, 0.0)  # closes the last hour
    lo, hi = view.recent_bulk(5)
    assert lo == 2.0 and hi == 9.0  # days 0-1 are over eight days old; day 9's odd hours are among the 5 highest
    assert view.recent_bulk(60) is None  # fewer than 4 x 60 hours known
