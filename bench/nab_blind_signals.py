"""What the blind corpus's signal models share (bench/nab_blind.py): the clock, the incident, the ordinary nuisances.

WHY: the corpus module says which series exist and where their incidents go; the models say what the systems
do, written from how they work (an autoscaling fleet, a road loop detector, an ad auction, a compressor cycling
on its pressure band), not from any other generator of this project: `bench/nab_blind_services.py` (cloud,
social, ad exchange) and `bench/nab_blind_physical.py` (traffic, machines and rooms, demand, clean shapes). Each
model is a baseline with the ordinary nuisances of real data (deployments that move the level, bursts nobody
pages for, planned shutdowns, quantised sensors), then the incidents an operator would call one, applied at the
rows the corpus chose. Every incident is large enough to see on a plot: nothing invisible is labelled. This
module holds what they have in common: a row's local time, an incident's span, bursts, deployments and shapes.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

Rng = np.random.Generator
Floats = npt.NDArray[np.float64]
Bools = npt.NDArray[np.bool_]

HOUR_S = 3_600.0
DAY_S = 86_400.0
# Series start somewhere in 2014-2016: a detector keyed on the calendar sees plausible dates, and no two
# series share a first weekday and hour by construction (a common start would line up every weekly cycle).
FIRST_START_S = 1_388_534_400.0  # 2014-01-01 00:00:00 UTC
START_SPREAD_DAYS = 3 * 365
# A stamp may sit at most this share of a step off its grid: more, and two jittered rows could swap order,
# breaking the strictly increasing stamps NAB's files have.
MAX_JITTER = 0.3
# Ordinary nuisances keep this share of a series' rows away from every labelled start: an unlabelled burst
# on top of an incident's onset would blur what the label points at.
NUISANCE_PAD = 0.06


@dataclass(frozen=True)
class Clock:
    """Each row's time as the models need it: UTC seconds for durations, local hour, weekday and day for cycles."""

    t: Floats
    hour: Floats
    dow: npt.NDArray[np.int64]  # Monday = 0
    day: npt.NDArray[np.int64]  # local days since the series' first day
    step_s: float

    @property
    def rows(self) -> int:
        return len(self.t)

    def end(self, start: int, dur_s: float, stop: int) -> int:
        """First row `dur_s` or more after `start`, never past `stop` (the next incident or the series end)."""
        return int(min(int(np.searchsorted(self.t, self.t[start] + dur_s)), stop))


@dataclass(frozen=True)
class Incident:
    """A labelled incident: its first row, its kind, and the row its effect must be over by (the next start)."""

    start: int
    kind: str
    stop: int


Builder = Callable[[Rng, Clock, Sequence[Incident]], tuple[Floats, list[int]]]


def make_clock(rng: Rng, rows: int, step_s: float, *, jitter: float = 0.0, gap_rate: float = 0.0,
               utc_offset_h: float = -5.0) -> Clock:
    """Stamps of a series: it starts at any time of day, some rows are missing, stamps wander off the grid."""
    if not 0.0 <= jitter <= MAX_JITTER:
        raise ValueError(f"jitter {jitter} would let stamps swap order (at most {MAX_JITTER})")
    day0 = FIRST_START_S + float(rng.integers(0, START_SPREAD_DAYS)) * DAY_S
    phase = float(rng.integers(0, int(DAY_S // step_s))) * step_s
    steps = np.ones(rows)
    missing = rng.random(rows) < gap_rate
    steps[missing] += rng.geometric(0.4, int(missing.sum()))  # mostly 1-3 rows lost, now and then more
    steps[0] = 0.0
    t = day0 + phase + np.cumsum(steps) * step_s + np.round(rng.uniform(-jitter, jitter, rows) * step_s)
    local = t + utc_offset_h * HOUR_S
    days = (local // DAY_S).astype(np.int64)
    return Clock(t=t, hour=(local % DAY_S) / HOUR_S, dow=(days + 3) % 7, day=days - days[0], step_s=step_s)


def ar1(rng: Rng, n: int, phi: float, sigma: float) -> Floats:
    """Mean-zero AR(1) noise of stationary deviation `sigma`: slow wander with `phi` near 1, else jitter."""
    shocks = rng.normal(0.0, sigma * np.sqrt(1.0 - phi * phi), n).tolist()
    acc = float(rng.normal(0.0, sigma))
    out = []
    for shock in shocks:
        acc = phi * acc + shock
        out.append(acc)
    return np.array(out)


def lag(target: Floats, tau_s: float, step_s: float) -> Floats:
    """First-order thermal lag: a mass follows its target with time constant `tau_s`, never jumps."""
    alpha = 1.0 - float(np.exp(-step_s / tau_s))
    acc = float(target[0])
    out = []
    for x in target.tolist():
        acc += alpha * (x - acc)
        out.append(acc)
    return np.array(out)


def bumps(hour: Floats, peaks: Sequence[tuple[float, float, float]]) -> Floats:
    """A daily profile as bumps (centre hour, width in hours, height), wrapped around midnight."""
    out = np.zeros_like(hour)
    for centre, width, height in peaks:
        dist = (hour - centre + 12.0) % 24.0 - 12.0
        out += height * np.exp(-0.5 * (dist / width) ** 2)
    return out


def smooth(values: Floats, clock: Clock, span_s: float) -> Floats:
    """A moving average over `span_s`: behaviour changes over hours around midnight, not on its stroke (a
    step there would be an artefact of the model that a detector could rightly flag)."""
    k = max(1, round(span_s / clock.step_s))
    padded = np.pad(values, (k // 2, k - 1 - k // 2), mode="edge")
    return np.convolve(padded, np.ones(k) / k, mode="valid")


def weekly(clock: Clock, weekend: float) -> Floats:
    """1 on weekdays, `weekend` on Saturdays and Sundays, eased across midnight."""
    return 1.0 + (weekend - 1.0) * smooth((clock.dow >= 5).astype(float), clock, 4 * HOUR_S)


def per_day(rng: Rng, clock: Clock, sigma: float) -> Floats:
    """One lognormal factor per local day (weather, the news cycle): days differ, a day's rows move together."""
    return smooth(np.exp(rng.normal(0.0, sigma, int(clock.day[-1]) + 1))[clock.day], clock, 6 * HOUR_S)


def quiet_rows(clock: Clock, incidents: Sequence[Incident]) -> Bools:
    """Rows where an ordinary nuisance may start: farther than NUISANCE_PAD from every labelled start."""
    pad = int(NUISANCE_PAD * clock.rows)
    ok = np.ones(clock.rows, dtype=bool)
    for inc in incidents:
        ok[max(0, inc.start - pad):inc.start + pad] = False
    return ok


def pulses(rng: Rng, clock: Clock, per_day_rate: float, amp: Callable[[int], Floats], tau_s: float,
           allowed: Bools) -> Floats:
    """Ordinary bursts nobody pages for: decaying pulses at random allowed rows (cron jobs, retweet chains)."""
    out = np.zeros(clock.rows)
    days = (clock.t[-1] - clock.t[0]) / DAY_S
    count = int(rng.poisson(per_day_rate * days))
    starts = rng.integers(0, clock.rows, count).tolist()
    for start, size in zip(starts, amp(count).tolist(), strict=True):
        if allowed[start]:
            end = clock.end(start, 6.0 * tau_s, clock.rows)
            out[start:end] += size * np.exp(-(clock.t[start:end] - clock.t[start]) / tau_s)
    return out


def deploys(rng: Rng, clock: Clock, per_day_rate: float, sigma: float, allowed: Bools) -> Floats:
    """Level of a service across its deployments: each release moves it a few per cent, and it stays there."""
    factor = np.ones(clock.rows)
    days = (clock.t[-1] - clock.t[0]) / DAY_S
    for row in sorted(rng.integers(1, clock.rows, int(rng.poisson(per_day_rate * days))).tolist()):
        shift = float(np.exp(rng.normal(0.0, sigma)))
        if allowed[row] and 9.0 <= clock.hour[row] <= 17.0:  # people deploy in office hours
            factor[row:] *= shift
    return factor


def shape(clock: Clock, inc: Incident, dur_s: float, rise_s: float = 0.0, fall_s: float = 0.0) -> Floats:
    """0 before the incident, up to 1 over `rise_s`, held for `dur_s`, down over `fall_s`; 0 from its stop on."""
    since = clock.t - clock.t[inc.start]
    up = np.clip((since + clock.step_s) / (rise_s + clock.step_s), 0.0, 1.0)
    down = np.clip(1.0 - (since - dur_s) / (fall_s + clock.step_s), 0.0, 1.0)
    env: Floats = up * down
    env[:inc.start] = 0.0
    env[inc.stop:] = 0.0
    return env


def snap(clock: Clock, start: int, mask: Bools, limit_s: float) -> int:
    """First row at or after `start` where `mask` holds (a holiday starts at midnight, a concert lets out at
    night), at most `limit_s` later: the corpus leaves that much room after every chosen start."""
    end = clock.end(start, limit_s, clock.rows)
    hits = np.flatnonzero(mask[start:end])
    if not len(hits):
        raise ValueError(f"no row for the incident within {limit_s} s of row {start}")
    return start + int(hits[0])


def stick(values: Floats, clock: Clock, inc: Incident, dur_s: float) -> None:
    """A sensor stuck: its last good reading repeated exactly, which no live signal does for hours."""
    values[inc.start:clock.end(inc.start, dur_s, inc.stop)] = values[inc.start - 1]


def unknown(inc: Incident, base: str) -> ValueError:
    """A kind the model cannot draw: refused, so a mistyped kind never labels a series with nothing in it."""
    return ValueError(f"{base} has no incident kind {inc.kind!r}")


def starts(incidents: Sequence[Incident]) -> list[int]:
    return [inc.start for inc in incidents]


def u(rng: Rng, low: float, high: float) -> float:
    return float(rng.uniform(low, high))
