"""The same hour on other days: is this hour's mean unlike yesterday's, the day before's and last week's?

WHY: the time-of-day view (`twin.detectors.phase`) asks whether a reading lies beyond every value its hour of the day
has had; a daily cycle that shrinks, flattens or stops in the middle of its range, or a day of counts that runs at
half its usual rate, stays inside those extremes (they only widen, and noisy hours span most of the range). What
such an incident changes is the hour's *mean*: averaging an hour's readings takes out most of the noise, and the
same hour on other days says what the mean should be. The missed windows of the synthetic corpus were mostly of
this kind (cycles that stopped or changed amplitude, in counts), and so were the field corpus' pattern changes.

The deviation of an hour is the smallest of its differences from the same hour 1, 2 and 7 days before: a weekly
habit makes a Saturday unlike Friday but like last Saturday, and one unusual yesterday makes today unlike it but
like the day before. It is measured in the series' own typical deviation (its running mean, with each hour's share
capped so that an incident does not widen it) and accumulated in a CUSUM: an hour must be more than `_SLACK`
typical deviations off to add evidence, and `_ALARM` of it reports. One hour far off reports at once; a day of
hours each somewhat off reports within a few hours. When it reports, the sequence detector treats that reading as
novel as a symbol can be (as the time-of-day view does), calibrated and accumulated like the rest.

Nothing is scored until the same hour a week before is known and `_SCALE_START` deviations have been seen (about
nine days), nor in a series sampled less than hourly at the same minutes each day (no same hour to compare), nor
within an hour's readings (an hour is judged when the next one starts). Pure and bounded: a ring of `_RING` hourly
means and a handful of numbers. Non-finite or absurd timestamps are ignored.

The hour means also tell the sequence detector where the series has been over the last eight days
(`recent_bulk`), which it refits its level grid to.
"""

from __future__ import annotations

import math

from twin.detectors.ring import bulk_of

__all__ = ["SameHour"]

_HOUR_S = 3600.0
# Hours back to the comparison hours: yesterday, the day before and a week ago (the docstring says why three).
_LAGS = (24, 48, 168)
# Hourly means kept: more than the longest lag (the ring's slot of an hour is hour % _RING).
_RING = 192
# Deviations averaged into the first typical deviation before any hour is scored (two days of hours).
_SCALE_START = 48
# Hours the typical deviation then follows (two weeks): slow enough that an incident of a day barely moves it.
_SCALE_MEMORY = 336.0
# An hour's deviation counts at most this many typical deviations into the typical one: an incident must not make
# the next one look ordinary.
_SCALE_CAP = 5.0
# CUSUM slack and alarm, in typical deviations. Chosen on the synthetic and field corpora (docs/detection-rounds.md,
# seventeenth round): slack 1.5 and alarm 4 found the most stopped and shrunk cycles but raised false alarms on the
# field corpus' working days (field 59.5 -> 56.3); 3 and 10 gained on both (4 and 8 alike).
_SLACK = 3.0
_ALARM = 10.0
# Timestamps beyond this (about year 33,658) are not seconds since the epoch: the view ignores them.
_MAX_TIMESTAMP = 1e12
_NONE = -(1 << 62)


class SameHour:
    """Hourly means, each compared with the same hour 1, 2 and 7 days before. `update` says whether the hour just
    completed, with the readings before `timestamp_s`, is an incident (a CUSUM of its deviation reports)."""

    __slots__ = ("_start", "_end", "_sum", "_count", "_means", "_hours", "_scale", "_scaled", "_cusum", "_news")
    # `_news` is kept for `news` (an alert's words) only, and not saved (`twin.detectors.snapshot`).
    _TRANSIENT = ("_news",)

    def __init__(self) -> None:
        self._start = self._end = math.nan  # the hour being gathered, from and until these timestamps (NaN: none yet)
        self._sum = 0.0
        self._count = 0
        self._means = [0.0] * _RING  # the mean of hour h at slot h % _RING ...
        self._hours = [_NONE] * _RING  # ... if that slot holds hour h
        self._scale = 0.0  # typical deviation of an hour
        self._scaled = 0  # deviations seen (up to _SCALE_START)
        self._cusum = 0.0
        self._news: tuple[int, float, list[float]] | None = None

    def update(self, timestamp_s: float, value: float) -> bool:
        """Gather `value` into its hour; True if the hour it closes (the one before, once a reading of a later
        hour comes) is an incident."""
        if self._start <= timestamp_s < self._end:  # the hour being gathered: most readings (False for NaN)
            self._sum += value
            self._count += 1
            return False
        if not -_MAX_TIMESTAMP < timestamp_s < _MAX_TIMESTAMP:  # also NaN
            return False
        # a reading of another hour: the one gathered (if any) is over
        news = self._close(int(self._start // _HOUR_S), self._sum / self._count) if self._count else False
        hour = timestamp_s // _HOUR_S
        self._start, self._end = hour * _HOUR_S, (hour + 1) * _HOUR_S
        self._sum, self._count = value, 1
        return news

    def recent_bulk(self, k: int) -> tuple[float, float] | None:
        """(k-th smallest, k-th largest) of the hour means of the last `_RING` hours (eight days): where the series
        has been lately, without its `k` most extreme hours at each end; None while fewer than 4k hours are known.
        WHY: the sequence detector refits its level grid to where the series has been, and its own memory of
        readings may hold less than a week (the engine's 1,000 at 5 minutes are 3.5 days, at 1 minute 17 hours)."""
        if not self._count:
            return None
        oldest = int(self._start // _HOUR_S) - _RING
        recent = [m for m, h in zip(self._means, self._hours, strict=True) if h > oldest]
        if len(recent) < 4 * k:
            return None
        return bulk_of(recent, k)

    def news(self) -> str:
        """In words for an alert, the latest hour `update` reported and the same hours it was compared with; ""
        if none was."""
        if self._news is None:
            return ""
        hour, mean, refs = self._news
        others = ", ".join(f"{r:.4g}" for r in refs)
        return (f"the mean of the hour from {hour % 24:02d}:00 UTC was {mean:.4g}, unlike the same hour yesterday, "
                f"the day before and a week ago ({others})")

    def _close(self, hour: int, mean: float) -> bool:
        """Remember the mean of `hour`; score its deviation from the same hour on other days. (Written out for the
        three lags: on hourly data this runs at every reading.)"""
        means, hours = self._means, self._hours
        slot = hour % _RING
        means[slot] = mean
        hours[slot] = hour
        h1, h2, h7 = hour - _LAGS[0], hour - _LAGS[1], hour - _LAGS[2]
        s1, s2, s7 = h1 % _RING, h2 % _RING, h7 % _RING
        if hours[s1] != h1 or hours[s2] != h2 or hours[s7] != h7:
            return False  # not seen (a gap, the series' first week, or no reading in that hour)
        dev = min(abs(mean - means[s1]), abs(mean - means[s2]), abs(mean - means[s7]))
        if not dev < math.inf:  # also NaN: readings near the clamp overflowed an hour's sum
            return False
        scale = self._scale
        if self._scaled < _SCALE_START:
            self._scaled += 1
            self._scale = scale + (dev - scale) / self._scaled
            return False
        self._scale = scale + (min(dev, _SCALE_CAP * scale) - scale) / _SCALE_MEMORY
        if scale > 0.0:
            z = dev / scale
        else:  # no hour has ever differed from its comparison hours: any difference is news
            z = 0.0 if dev == 0.0 else _ALARM + _SLACK
        cusum = self._cusum + z - _SLACK
        if cusum < _ALARM:
            self._cusum = cusum if cusum > 0.0 else 0.0
            return False
        self._cusum = 0.0
        self._news = (hour, mean, [means[s1], means[s2], means[s7]])
        return True
