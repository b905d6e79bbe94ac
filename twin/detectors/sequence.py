"""Sequence surprise: do this series' recent coarse levels, and its recent volatility, predict what came?

WHY this design: NAB's strongest streaming detectors (HTM, CAD OSE, ARTime) share one idea - learn which
coarse patterns follow which and raise an anomaly when the input stops being predictable - whereas magnitude
baselines with per-series calibration (what this package did before) were tuned to a sample and did not
generalise. Each reading becomes two symbols, each fed to its own `ContextModel`:

* its **level**: one of 8 bins of the range seen so far. Catches spikes, level shifts, a value wrong for the
  phase of a cycle, a new shape made of ordinary values.
* its **volatility**: the recent mean absolute change against the series' usual one, in octaves. Catches what
  levels cannot: a stuck sensor (flat line), noise that doubles, oscillation that starts or stops.

A third view asks *when*: a common level at an hour of the day that has never had it (`twin.detectors.phase`)
is as novel as a symbol can be; and so is an hour whose mean is unlike the same hour yesterday, the day before and
a week ago (`twin.detectors.same_hour`). Both catch a daily cycle that shifts, stops mid-range or shrinks:
ordinary levels in an ordinary order, which the two streams cannot see.

The raw surprise is the larger of these. What is usual differs per series - a noisy series surprises its
context models at most readings, a clean cycle almost never - so the raw surprise is standardised against this
series' own long-run mean and spread, and the standardised excess accumulated in a CUSUM (Page's sequential
change test): one reading far beyond the usual surprise alarms at once, a run of readings each a little more
surprising than usual (a drift, a small level shift, a changed rhythm) alarms once their evidence adds up.
The score is that evidence on the package's log-tail scale (or a broken record's rarity, if larger), held at 0
for `rest_period` readings after a report (a score at or above `rest_threshold`): one incident, one alarm (its
later readings are no news to an operator, and NAB charges them) - unless a far rarer event comes within it, or
the incident's evidence, still gathering, doubles: then it is reported again, so the score says how strong the
incident is, not only where it crossed the threshold. When the rest ends the CUSUM restarts.

The level range is the history's so far (NAB hands its detectors the file's range; we cannot look ahead). A
reading outside it breaks a record, scored by how rare that is (`twin.detectors.records`); the range then grows,
the level model re-learning from a bounded buffer of recent readings, and is refitted to their bulk once a spike
has widened it far beyond, so one spike does not blind the levels for good. Until `mature` readings the context
models are young and find much new, so only records may alarm.

Two more views are scored like a record, under the same rest rules: a change beyond the largest rise or fall
seen (`twin.detectors.jumps`: an abrupt move inside the range, which the levels know as ordinary), and a run of
identical readings beyond the series' own runs (`twin.detectors.runs`: a stopped line, a stuck sensor, which the
context models soon learn as "0 follows 0").

An alarmed reading of a mature series is an incident, not the series' habit: its record, its jump and its run are
kept out of the extremes these three views judge by, until a second one the same way alarms; then the larger of the
two goes in (one recurrence is a habit: a truck parked each night, a line off each weekend). Counted in at once, one
stuck stretch made every later one ordinary.
"""

from __future__ import annotations

import math

from twin.detectors import words
from twin.detectors.context_model import SYMBOLS, ContextModel
from twin.detectors.evidence import EVIDENCE_ONE, Evidence
from twin.detectors.jumps import JumpRarity
from twin.detectors.phase import TimeOfDay
from twin.detectors.records import LOG_RAREST, RecordRarity, hold_out
from twin.detectors.ring import BULK_K, Ring
from twin.detectors.runs import RunRarity
from twin.detectors.same_hour import SameHour

__all__ = ["SequenceSurprise"]

# Which view gave a reading its score (`_view`), for an alert's words (`twin.detectors.words`): module globals here,
# read at every reading.
_BY_LEVEL, _BY_VOLATILITY, _BY_HOUR, _BY_RECORD, _BY_RUN, _BY_JUMP, _BY_SAME_HOUR = (
    words.BY_LEVEL, words.BY_VOLATILITY, words.BY_HOUR, words.BY_RECORD, words.BY_RUN, words.BY_JUMP,
    words.BY_SAME_HOUR)

# Share of the new span added beyond a reading that broke out of the range: without it a slowly trending series
# would grow the range (and re-learn the level model) at nearly every new maximum.
_GROW_PAD = 0.1
# Relative and absolute floors on the level width: a constant warm-up would give width 0 and divide by zero. The
# relative floor sits far below any real spread so that it never binds on one: at 1e-3 it did on a metric whose
# offset is large against its spread (a pressure in Pa, 101,300 +/- 50: levels 100 wide for a span of 100), and the
# synthetic corpus moved by 1e5 scored 33 instead of 46. At 1e-9 the scores are the same whatever a metric's
# offset and unit (degrees C or K, hPa or Pa; tests/twin/detectors/test_det_sequence.py), and still ~10^7 float
# steps wide.
_REL_WIDTH_FLOOR = 1e-9
_ABS_WIDTH_FLOOR = 1e-12
# Readings are clamped to +/- this before use: beyond it a span or a difference overflows to inf and the level
# arithmetic turns into NaN (a hostile or corrupt reading must not break the detector).
_MAX_ABS = 1e300
# Readings between two re-learnings of the level model: a stream that sets a new extreme at every reading would
# otherwise re-learn the whole buffer per reading (a hostile or exploding series costing ~1 ms a reading).
_RELEARN_EVERY = 250
# The level grid is refitted to the bulk of the remembered readings (`Ring.bulk`: their range without the few most
# extreme at each end) once it has grown wider than this many times their span; checked every _RELEARN_EVERY
# readings. WHY: the grid only grew, so one early spike (a start-up transient, an anomaly) left every later reading
# in one or two of the 8 levels for good, the level stream blind to the shifts it should see. The synthetic corpus
# with one reading at twice its span above its maximum, early, scored 39.2 instead of 49.2 (5 seeds, best
# threshold); with the refit 49.1 (ratio 1.5 / 2 / 3 / 4: 46.3 / 47.9 / 49.1 / 48.4; the unperturbed four sets
# 49.7 / 51.2 / 51.8 / 50.5 against 51.5 without; docs/detection-rounds.md, eleventh round). A reading beyond a refitted
# grid but within the extremes seen is no record: it is scored as the nearest level, and grows the grid back.
_REFIT_RATIO = 3.0
# Volatility symbol of "as volatile as usual"; each step is an octave, 0 is reserved for "not moving at all".
_VOL_MID = SYMBOLS // 2
# Readings averaged into the volatility (EW mean of |change|): one jump is a level event, not a volatility one;
# a sustained change of noise shows within a few readings.
_VOL_ALPHA = 0.2
# Evidence at which offline replay starts the rest period (the default `rest_threshold` is this / EVIDENCE_ONE):
# 4.5, 6 and 7.5 deviations gave 45.0, 48.5 and 46.5 on the synthetic corpus (mean of 5 seeds), 10 was 4 points
# lower in an earlier variant (a wider band of readings above NAB's best threshold and below the rest threshold,
# each a false positive).
_REST_EVIDENCE = 6.0
# In a rest period a score beyond the alarm's own by this much still alarms (and becomes the new reference): a
# mild event (a new maximum by a hair, ~1 in 10^3, an alarm offline) must not hide the supplier stopping a
# minute later (1 in 10^10). 0.25 is 2.5 orders of magnitude, and keeps the engine's default threshold (0.75)
# at one alert per incident, as nothing scores above 1.0 (0, 0.1 and 0.25 alike on the synthetic corpus).
_BREAK_MARGIN = 0.25
# ...and so does a score at least this many times the incident's loudest so far: the incident has grown. WHY: with
# the CUSUM restarted at each alarm, every incident it found was reported once, at the score where it crossed the
# rest threshold (~0.07-0.1 offline), so a 20-sigma level shift and a noise excursion scored alike, and at any
# threshold above ~0.12 (where ONE threshold for many series lands when some of them are noisy - NAB's optimiser,
# or an operator's sensitivity) the CUSUM found nothing: the synthetic pool (5 seeds) scored 36 at 0.1 and 29 at
# 0.3 against 47 at 0.068. Letting the evidence grow through the incident and reporting each doubling (at most
# ~4 reports: 0.07, 0.14, 0.28, 0.56, 1.0) gave 44 and 37 there, for 2 points less at 0.068 (docs/detection-rounds.md,
# eighth round; 1.5 and 3 scored lower). In the engine the rest threshold is the alert threshold (0.75): twice
# that is out of reach, so one incident still raises one alert.
_ESCALATION = 2.0


class SequenceSurprise:
    """Level and volatility context models, a standardised CUSUM of their surprise and an alarm rest period;
    `update` returns a score in [0, 1].

    Memory is bounded: two context tables of at most `capacity` entries and a `memory`-reading buffer.
    """

    __slots__ = ("_levels", "_warmup", "_mature", "_rest", "_rest_thr", "_lvl", "_vol", "_buf", "_lo",
                 "_hi", "_width", "_inv_width", "_prev", "_vol_ewm", "_vol_scale", "_last_report", "_n", "_relearn_at",
                 "_stale", "_min", "_max", "_records", "_evidence", "_loudest", "_runs", "_tod", "_refit_at", "_moved",
                 "_jumps", "_view", "_change", "_same_hour", "_held_min", "_held_max")
    # for `describe` only: not saved, so adding them kept saved states restorable
    _TRANSIENT = ("_view", "_change")

    def __init__(
        self,
        levels: int = 8,
        max_order: int = 3,
        warmup: int = 30,
        memory: int = 2000,
        capacity: int = 20_000,
        rest_period: int = 150,
        rest_threshold: float = _REST_EVIDENCE / EVIDENCE_ONE,
        vol_order: int = 3,
        mature: int = 300,
        time_of_day: bool = True,
    ) -> None:
        if not 2 <= levels <= SYMBOLS or warmup < 2 or memory < warmup:
            raise ValueError("2 <= levels <= 16, warmup >= 2 and memory >= warmup are required")
        if rest_period < 0 or not 0.0 < rest_threshold <= 1.0:
            raise ValueError("rest_period >= 0 and 0 < rest_threshold <= 1 are required")
        self._levels = levels
        self._warmup = warmup
        self._mature = mature
        self._rest = rest_period
        self._rest_thr = rest_threshold
        self._lvl = ContextModel(max_order, capacity)
        self._vol = ContextModel(vol_order, capacity)
        self._buf = Ring(memory)
        self._lo = self._hi = self._width = self._inv_width = 0.0
        self._min, self._max = math.inf, -math.inf  # extremes seen: what a record has to break
        self._held_min = self._held_max = math.nan  # an incident's record held out of the extremes (`hold_out`)
        self._prev = math.nan
        self._vol_ewm = 0.0
        self._vol_scale = 0.0
        self._last_report = -(1 << 62)
        self._n = 0
        self._relearn_at = 0
        self._refit_at = 0
        self._moved = False  # whether the series has taken a second value yet (the warm-up waits for it)
        self._stale = False
        self._evidence = Evidence()  # the series' usual raw surprise, and the CUSUM of what is beyond it
        self._loudest = 0.0  # the current incident's loudest report: what a later score must double or beat by far
        self._view = 0  # for `describe`: the view that scored the latest reading (_BY_*; 0: unknown)
        self._change = 0.0  # for `describe`: the latest reading's change from the one before, if a jump scored it
        # which levels each hour of the day has had (a daily cycle's shape); None: the metric's profile turned it off
        self._tod = TimeOfDay(levels) if time_of_day else None
        # each hour's mean against the same hour 1, 2 and 7 days before (a cycle that shrinks or stops mid-range)
        self._same_hour = SameHour() if time_of_day else None
        self._runs = RunRarity()  # how rare the current run of identical readings is (a stopped or stuck series)
        self._records = RecordRarity()  # how rare a reading beyond the extremes seen is
        self._jumps = JumpRarity()  # how rare a change beyond the largest rise or fall seen is

    # -- level ----------------------------------------------------------------------------------------------
    def _set_range(self, lo: float, hi: float) -> None:
        width = (hi - lo) / (self._levels - 1)
        floor = max(_REL_WIDTH_FLOOR * max(abs(lo), abs(hi)), _ABS_WIDTH_FLOOR)
        if not width >= floor:  # also NaN
            width = floor
        self._lo, self._hi, self._width = lo, lo + width * (self._levels - 1), width
        self._inv_width = 1.0 / width

    def _relearn_levels(self) -> None:
        self._stale = False
        self._relearn_at = self._n + _RELEARN_EVERY
        model = self._lvl
        model.reset()
        lo, inv, top = self._lo, self._inv_width, self._levels - 1
        symbols = [int((v - lo) * inv + 1e-9) for v in self._buf]
        symbols = [0 if x < 0 else top if x > top else x for x in symbols]
        model.learn_all(symbols)
        counts = [symbols.count(x) for x in range(self._levels)]
        if self._tod is not None:
            self._tod.recount(counts)

    def _refit(self) -> None:
        """Fit the level grid to where the series has been lately if it has grown far wider (_REFIT_RATIO): the bulk
        of the remembered readings and, with the time views on, of the last eight days' hour means. WHY both: the
        engine remembered 500 readings (1,000 since). At 5-minute readings they were 42 hours: on a weekly series they
        held only the weekend, the grid fitted its low counts and each Monday alerted, "above the usual range" (23
        alerts in 10 x 41 days). At one a minute, 8 hours: the evening's trough of a daily cycle, and the rise out of it
        alerted (4 x 20 days: 12 to 41 alerts by family; at 10-second readings, 4 x 6 days, 9 to 56). With the hour
        means: none at one a minute, and at 10 seconds 0 to 9, nearly all on a series' first day
        (tests/twin/detectors/test_det_sequence_refit.py; docs/detection-rounds.md, eighteenth round).
        Not when each level holds at most one of the data's values (levels no wider than its step): the bulk of 500
        sparse counts is often 0 to 1, every 2 then fell outside the refitted grid and the level model, re-learned each
        time, alerted (Poisson(0.2) at one a minute, 4 x 20 days: 8 of 10 alerts, now none of 4)."""
        self._refit_at = self._n + _RELEARN_EVERY
        if self._width <= self._records.step:
            return
        lo, hi = self._buf.bulk()
        if self._same_hour is not None:
            week = self._same_hour.recent_bulk(BULK_K)
            if week is not None:
                lo, hi = min(lo, week[0]), max(hi, week[1])
        span = hi - lo
        if span > 0.0 and self._hi - self._lo > _REFIT_RATIO * span:
            pad = _GROW_PAD * span
            self._set_range(lo - pad, hi + pad)
            self._relearn_levels()

    def _start(self) -> None:
        """End of warm-up: fix the range and the usual volatility, learn the warm-up readings in both models
        (an empty model would find everything new for its first readings)."""
        values = list(self._buf)
        self._set_range(min(values), max(values))
        changes = self._buf.changes()
        typical = sorted(changes)[len(changes) // 2] if changes else 0.0  # the median (0 where most readings repeat)
        self._vol_scale = typical if typical > 0.0 else max(self._width * 0.01, _ABS_WIDTH_FLOOR)
        self._vol_ewm = typical
        self._vol.learn_all([self._vol_symbol(change) for change in changes])
        self._jumps.start(values)
        self._relearn_levels()

    def _warm_up(self, value: float, prev: float) -> float:
        """Gather the warm-up and start once it holds `warmup` readings since the series first moved. WHY since
        it moved: a start that repeats one value (a device reporting before its line runs) fixed the range and the
        usual change at nothing, leaving the volatility stream saturated for good; the synthetic corpus with 50
        such readings first scored 36.6 instead of 49.2, 46.3 now. Those readings are forgotten, but the move out
        of them after `warmup` or more is reported as the record it was (1.0): a line stopping is news."""
        score = 0.0
        if not self._moved and value != prev and prev == prev:
            self._moved = True
            if self._n > 2:  # readings 1 .. n-1 were one value: the series starts here
                if self._n > self._warmup:
                    score = self._loudest = 1.0
                    self._last_report = 1
                self._buf.clear()
                self._n = 1
        self._buf.append(value)
        if self._moved and len(self._buf) >= self._warmup:
            self._start()
        return score

    # -- volatility -----------------------------------------------------------------------------------------
    def _vol_symbol(self, change: float) -> int:
        ewm = self._vol_ewm + _VOL_ALPHA * (change - self._vol_ewm)
        self._vol_ewm = ewm
        if ewm <= 0.0:
            return 0
        r = ewm / self._vol_scale
        if r == 0.0:  # underflow: as still as it gets short of not moving
            return 1
        # frexp's exponent is floor(log2(r)) + 1, exactly and without a log: this runs once per reading
        x = _VOL_MID - 1 + math.frexp(r)[1]
        return 1 if x < 1 else SYMBOLS - 1 if x > SYMBOLS - 1 else x

    # -- the detector -----------------------------------------------------------------------------------------
    def update(self, timestamp_s: float, value: float) -> float:
        """Score one reading (causal: this and earlier readings only), then learn it."""
        if not math.isfinite(value):
            return 0.0
        if not -_MAX_ABS <= value <= _MAX_ABS:
            value = math.copysign(_MAX_ABS, value)
        n = self._n = self._n + 1
        seen_min, seen_max = self._min, self._max
        if value < seen_min:
            self._min = value
        if value > seen_max:
            self._max = value
        prev = self._prev
        self._prev = value
        run_tail = self._runs.update(value)
        if self._width == 0.0:
            return self._warm_up(value, prev)
        buf = self._buf
        buf.append(value)
        # a record's smallest unit of overshoot: a level, or the usual change where larger
        unit = self._vol_scale if self._vol_scale > self._width else self._width
        x = (value - self._lo) * self._inv_width + 1e-9
        x_outside = not 0.0 <= x < self._levels
        level = -1  # outside the levels (int(x) of a far reading would overflow)
        view = _BY_LEVEL
        if not x_outside:
            level = int(x)
            score = self._lvl.step(level)
        else:
            # a broken record, scored as such; or, the grid having been refitted to the bulk, a reading within the
            # extremes seen: no record, scored by the level model as its nearest level. Either way the grid grows.
            broken = value > seen_max or value < seen_min
            if broken:
                view = _BY_RECORD
                score = record = self._records.surprise(value, seen_min, seen_max, n, buf, unit)
            else:
                record = 0.0
                score = self._lvl.step(0 if x < 0.0 else self._levels - 1)
            lo, hi = min(self._lo, value), max(self._hi, value)
            pad = _GROW_PAD * (hi - lo)
            self._set_range(lo - pad if value < self._lo else lo, hi + pad if value > self._hi else hi)
            self._stale = True
        if self._stale:
            if n >= self._relearn_at:
                self._relearn_levels()
        elif n >= self._refit_at:
            self._refit()
        jump = self._jumps.update(value - prev, n, buf, unit)
        v = self._vol.step(self._vol_symbol(abs(value - prev)))
        if v > score:
            score, view = v, _BY_VOLATILITY
        tod = self._tod
        if tod is not None and level >= 0 and tod.update(timestamp_s, value, level, self._width):
            score = 1.0  # a common level this hour of the day has never had: as novel as a symbol can be
            view = _BY_HOUR
        same_hour = self._same_hour
        if same_hour is not None and same_hour.update(timestamp_s, value):
            score = 1.0  # the hour just over was unlike the same hour on other days: as novel as a symbol can be
            view = _BY_SAME_HOUR
        score = self._evidence.add(score, n - self._warmup)
        if x_outside and record > score:
            score, view = record, _BY_RECORD
        if n < self._mature:
            # a young model finds much new: only a reading far outside the range may alarm yet, and its novelty
            # is no evidence to carry past maturity
            score = record if x_outside else 0.0
            view = _BY_RECORD
            self._evidence.restart(n - self._warmup)
        elif jump > score:  # (a young series' largest changes, like its contexts, say little yet)
            score, view = jump, _BY_JUMP
            self._change = value - prev
        if run_tail < 0.0:  # a run of identical readings longer than this series' own history makes plausible
            run_score = 1.0 if run_tail <= LOG_RAREST else run_tail / LOG_RAREST
            if run_score > score:
                score, view = run_score, _BY_RUN
        self._view = view
        # in the rest period only an event stronger than the incident's loudest so far is news
        since = n - self._last_report
        loudest = self._loudest
        loud = since > self._rest or score > loudest + _BREAK_MARGIN or score >= _ESCALATION * loudest
        if loud and score >= self._rest_thr:
            # a report: the rest runs from here. Only reports extend it - readings held at 0 do not, or an incident
            # of many middling records would keep its loudest report gating later events for ever
            self._last_report = n
            self._loudest = score
            mature = n >= self._mature  # (a young series' records are its range being revealed, not incidents)
            if run_tail < 0.0:  # the run is reported: its further repeats are the same incident
                self._runs.reported(incident=mature)
            if mature:  # an incident's extremes are not the series' habit (the module's docstring says why)
                if x_outside:
                    self._hold_record(value, seen_min, seen_max)
                self._jumps.reported(n)
        elif since == self._rest:
            # the incident is over: evidence gathered during it was its own (and reported as it grew); what
            # comes next must build its own
            self._evidence.restart(n - self._warmup)
            self._runs.settle()
        return score if loud else 0.0

    def _hold_record(self, value: float, seen_min: float, seen_max: float) -> None:
        """`value` was reported: if it broke a record, hold it out of the extremes (`records.hold_out`)."""
        if value > seen_max:
            self._held_max, self._max = hold_out(self._held_max, value, seen_max)
        elif value < seen_min:
            self._held_min, self._min = hold_out(self._held_min, value, seen_min)

    def describe(self, value: float) -> str:
        """In words for an alert, what made `value` (the latest reading) anomalous, as the view that gave it its score
        saw it (`twin.detectors.words`). Called only when an alert fires, never on the per-reading path."""
        return words.describe(self, value)
