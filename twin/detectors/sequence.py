"""Sequence surprise: do this series' recent coarse levels, and its recent volatility, predict what came?

WHY this design: NAB's strongest streaming detectors (HTM, CAD OSE, ARTime) share one idea - learn which
coarse patterns follow which and raise an anomaly when the input stops being predictable - whereas magnitude
baselines with per-series calibration (what this package did before) were tuned to a sample and did not
generalise. Each reading becomes two symbols, each fed to its own `ContextModel`:

* its **level**: one of 8 bins of the range seen so far. Catches spikes, level shifts, a value wrong for the
  phase of a cycle, a new shape made of ordinary values.
* its **volatility**: the recent mean absolute change against the series' usual one, in octaves. Catches what
  levels cannot: a stuck sensor (flat line), noise that doubles, oscillation that starts or stops.

The score is the larger of the two surprises, held at 0 for `rest_period` readings after one at or above
`rest_threshold`: one incident, one alarm (its later readings are no news to an operator, and NAB charges them).

The level range is the history's so far (NAB hands its detectors the file's range; we cannot look ahead). A
reading outside it breaks a record and scores how rare that is: after n readings one in n + 1 breaks the
maximum by chance, and the further beyond, the rarer - a supplier's throughput falling to zero in its first
minutes scores 1.0, the ordinary widening of a range does not. The range then grows, the level model re-learning
from a bounded buffer of recent readings so its contexts keep their meaning. Until `mature` readings the context
models are young and find much new, so only records may alarm.
"""

from __future__ import annotations

import math
from array import array
from collections.abc import Iterator

from twin.detectors.context_model import SYMBOLS, ContextModel

__all__ = ["SequenceSurprise"]

# Share of the new span added beyond a reading that broke out of the range: without it a slowly trending series
# would grow the range (and re-learn the level model) at nearly every new maximum.
_GROW_PAD = 0.1
# Relative and absolute floors on the level width: a constant warm-up would give width 0 and divide by zero.
_REL_WIDTH_FLOOR = 1e-3
_ABS_WIDTH_FLOOR = 1e-12
# Readings are clamped to +/- this before use: beyond it a span or a difference overflows to inf and the level
# arithmetic turns into NaN (a hostile or corrupt reading must not break the detector).
_MAX_ABS = 1e300
# Natural log of how much rarer a record gets per unit of overshoot (4.6: a hundredfold; the unit is the larger of
# a level and the usual change): a new extreme that only just breaks the record is ordinary - scoring it 1.0
# raised ~1 false alert per 1,000 readings of plain noise - and one far beyond it (a throughput falling to zero)
# is not.
_RECORD_DECAY = 4.6
# Log of the tail probability a record scores 1.0 at (the package's log-tail scale, twin.detectors.base).
_LOG_RAREST = math.log(1e-10)
# Readings between two re-learnings of the level model: a stream that sets a new extreme at every reading would
# otherwise re-learn the whole buffer per reading (a hostile or exploding series costing ~1 ms a reading).
_RELEARN_EVERY = 250
# Volatility symbol of "as volatile as usual"; each step is an octave, 0 is reserved for "not moving at all".
_VOL_MID = SYMBOLS // 2
# Readings averaged into the volatility (EW mean of |change|): one jump is a level event, not a volatility one;
# a sustained change of noise shows within a few readings.
_VOL_ALPHA = 0.2


class _Ring:
    """The last `size` readings as 8-byte floats: a deque of float objects costs 4x the memory per series."""

    __slots__ = ("_data", "_size", "_next", "_full")

    def __init__(self, size: int) -> None:
        self._data = array("d", bytes(8 * size))
        self._size = size
        self._next = 0
        self._full = False

    def append(self, value: float) -> None:
        i = self._next
        self._data[i] = value
        i += 1
        if i == self._size:
            i = 0
            self._full = True
        self._next = i

    def __len__(self) -> int:
        return self._size if self._full else self._next

    def __iter__(self) -> Iterator[float]:
        data, i = self._data, self._next
        if self._full:
            yield from data[i:]
        yield from data[:i]


class SequenceSurprise:
    """Level and volatility context models with an alarm rest period; `update` returns a score in [0, 1].

    Memory is bounded: two context tables of at most `capacity` entries and a `memory`-reading buffer.
    """

    __slots__ = ("_levels", "_warmup", "_mature", "_rest", "_rest_thr", "_lvl", "_vol", "_buf", "_lo",
                 "_hi", "_width", "_inv_width", "_prev", "_vol_ewm", "_vol_scale", "_last_alarm", "_n", "_relearn_at",
                 "_stale", "_min", "_max")

    def __init__(
        self,
        levels: int = 8,
        max_order: int = 4,
        warmup: int = 30,
        memory: int = 2000,
        capacity: int = 20_000,
        rest_period: int = 150,
        rest_threshold: float = 0.6,
        vol_order: int = 4,
        mature: int = 300,
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
        self._buf = _Ring(memory)
        self._lo = self._hi = self._width = self._inv_width = 0.0
        self._min, self._max = math.inf, -math.inf  # extremes seen: what a record has to break
        self._prev = math.nan
        self._vol_ewm = 0.0
        self._vol_scale = 0.0
        self._last_alarm = -(1 << 62)
        self._n = 0
        self._relearn_at = 0
        self._stale = False

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
        for v in self._buf:
            x = int((v - lo) * inv + 1e-9)
            model.learn(0 if x < 0 else top if x > top else x)

    def _start(self) -> None:
        """End of warm-up: fix the range and the usual volatility, learn the warm-up readings in both models
        (an empty model would find everything new for its first readings)."""
        values = list(self._buf)
        self._set_range(min(values), max(values))
        changes = [abs(b - a) for a, b in zip(values, values[1:])]
        typical = sorted(changes)[len(changes) // 2] if changes else 0.0
        self._vol_scale = typical if typical > 0.0 else max(self._width * 0.01, _ABS_WIDTH_FLOOR)
        self._vol_ewm = typical
        vol = self._vol
        for change in changes:
            vol.learn(self._vol_symbol(change))
        self._relearn_levels()

    def _record_surprise(self, value: float, seen_min: float, seen_max: float) -> float:
        """Surprise of a reading beyond the extremes seen so far: after n readings one in n + 1 breaks the record
        by chance, and each unit it overshoots by (a level, or the usual change if larger) makes that a hundred
        times rarer. On the log-tail scale of every score here: 0.5 ~ 1 in 10^5, 1.0 ~ 1 in 10^10 or rarer."""
        over = max(seen_min - value, value - seen_max, 0.0) / max(self._vol_scale, self._width)
        log_tail = math.log(2.0 / (self._n + 1)) - _RECORD_DECAY * over
        return 1.0 if log_tail <= _LOG_RAREST else max(0.0, log_tail / _LOG_RAREST)

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
        buf = self._buf
        buf.append(value)
        if self._width == 0.0:
            if len(buf) >= self._warmup:
                self._start()
            return 0.0
        x = (value - self._lo) * self._inv_width + 1e-9
        x_outside = not 0.0 <= x < self._levels
        if not x_outside:
            score = self._lvl.step(int(x))
        else:
            score = record = self._record_surprise(value, seen_min, seen_max)
            lo, hi = min(self._lo, value), max(self._hi, value)
            pad = _GROW_PAD * (hi - lo)
            self._set_range(lo - pad if value < self._lo else lo, hi + pad if value > self._hi else hi)
            self._stale = True
        if self._stale and n >= self._relearn_at:
            self._relearn_levels()
        v = self._vol.step(self._vol_symbol(abs(value - prev)))
        if v > score:
            score = v
        if n < self._mature:
            # a young model finds much new: only a reading far outside the range may alarm yet
            score = record if x_outside else 0.0
        quiet = n - self._last_alarm > self._rest
        if score >= self._rest_thr:
            self._last_alarm = n
        return score if quiet else 0.0
