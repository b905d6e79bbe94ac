"""Labelled incidents of the field corpus (see bench/nab_field.py), added to a clean :class:`Signal` in place.

Every incident starts at its labelled row ``a`` and stays inside ``room`` rows (the generator keeps it clear of
the next incident's window). Sizes are physical where physics fixes them (a door left open lets the air warm
towards the ambient) and otherwise scaled from the readings just before the start, so an incident is always
visible against the series' own noise and nuisances but never bigger than it needs to be.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from bench.nab_field_signals import DAY, HOUR, Signal

KINDS = (
    "compressor_failure",
    "door_left_open",
    "conveyor_jam",
    "sensor_stuck",
    "noise_burst",
    "truck_breakdown",
    "port_strike",
    "supplier_delay",
    "stock_out",
    "energy_leak",
    "latency_incident",
    "packet_loss_burst",
    "slow_ramp",
    "spike",
    "dip",
    "pattern_change",
)


def rows_for(t: np.ndarray, seconds: float) -> int:
    """How many rows of this series span `seconds` (at least one)."""
    return max(1, int(round(seconds / float(np.median(np.diff(t))))))


def day_residual(x: np.ndarray, t: np.ndarray, lag: float = DAY) -> np.ndarray:
    """x minus the last reading at least `lag` seconds earlier (NaN where there is none)."""
    idx = np.searchsorted(t, t - lag, side="right") - 1
    out = np.full(len(x), np.nan)
    ok = idx >= 0
    out[ok] = x[ok] - x[idx[ok]]
    return out


def _mad(v: np.ndarray) -> float:
    v = v[np.isfinite(v)]
    return 1.4826 * float(np.median(np.abs(v - np.median(v)))) if len(v) > 5 else float("inf")


def scale_before(x: np.ndarray, t: np.ndarray, a: int) -> float:
    """Robust spread of the two days before row a, raw or against the day before, whichever is smaller."""
    lo = max(0, a - max(rows_for(t, 2 * DAY), 50))
    s = min(_mad(x[lo:a]), _mad(day_residual(x, t)[lo:a]))
    if not np.isfinite(s) or s <= 0:
        s = float(np.std(x[lo:a])) or 1.0
    return s


def local_jumps(x: np.ndarray, a: int, span: int = 500) -> float:
    """99th percentile of |reading - median of the 5 before| over `span` rows before a: the size of usual jumps."""
    lo = max(5, a - span)
    dev = [abs(x[i] - np.median(x[i - 5 : i])) for i in range(lo, a)]
    return float(np.quantile(dev, 0.99)) if dev else float(np.std(x[:a]))


def _decay(x: np.ndarray, end: int, stop: int, offset: float, rows: int) -> None:
    """After an incident ends at `end`, let an `offset` relax exponentially over ~`rows` rows (not past stop)."""
    k = np.arange(max(min(stop, end + 4 * rows) - end, 0))
    x[end : end + len(k)] += offset * np.exp(-(k + 1) / rows)


def inject(rng: np.random.Generator, kind: str, sig: Signal, t: np.ndarray, a: int, room: int) -> int:
    """Add incident `kind` starting at row a to sig.x; returns how many rows it affects (its labelled extent)."""
    x = sig.x
    stop = min(len(x), a + room)

    def dur(lo_h: float, hi_h: float, least: int = 1) -> int:
        return int(min(max(rows_for(t, rng.uniform(lo_h, hi_h) * HOUR), least), stop - a))

    return _KINDS[kind](rng, x, t, sig, a, stop, dur)


Dur = Callable[..., int]


def _compressor(rng, x, t, sig, a, stop, dur: Dur) -> int:
    d = dur(8, 24, 6)
    tau = rows_for(t, rng.uniform(2, 5) * HOUR)  # the box warms with the thermal mass of the cargo
    rise = (sig.params["ambient"] - sig.params["setpoint"]) * rng.uniform(0.6, 0.9)
    curve = rise * (1 - np.exp(-np.arange(1, d + 1) / tau))
    x[a : a + d] += curve
    _decay(x, a + d, stop, curve[-1], rows_for(t, HOUR))  # repaired
    return d


def _door(rng, x, t, sig, a, stop, dur: Dur) -> int:
    d = dur(2, 6, 4)
    rise = min(rng.uniform(8, 15), sig.params["ambient"] - sig.params["setpoint"])
    shape = rise * (1 - np.exp(-np.arange(1, d + 1) / 1.2)) + rng.normal(0, 0.3, d)  # fast rise, then plateau
    x[a : a + d] += shape
    _decay(x, a + d, stop, rise, rows_for(t, 0.7 * HOUR))
    return d


def _jam(rng, x, t, sig, a, stop, dur: Dur) -> int:
    d = dur(0.4, 1.5, 3)
    x[a : a + d] = 0.0
    x[a + 1 : a + d] += (rng.random(d - 1) < 0.1) * rng.uniform(0, 0.2) * sig.params["cap"]  # restart attempts
    return d


def _stuck(rng, x, t, sig, a, stop, dur: Dur) -> int:
    d = dur(3, 12, 12)
    x[a : a + d] = x[a - 1]
    return d


def _noise(rng, x, t, sig, a, stop, dur: Dur) -> int:
    d = dur(0.5, 3, 8)
    rough = float(np.mean(np.abs(np.diff(x[max(0, a - 300) : a])))) or 1.0
    x[a : a + d] += rng.normal(0, rng.uniform(3, 5) * rough, d)
    return d


def _breakdown(rng, x, t, sig, a, stop, dur: Dur) -> int:
    d = dur(1, 3, 4)
    x[a] *= rng.uniform(0.2, 0.5)  # rolls to the hard shoulder
    x[a + 1 : a + d] = 0.0
    return d


def _strike(rng, x, t, sig, a, stop, dur: Dur) -> int:
    d = dur(24, 72, 6)
    x[a : a + d] = rng.poisson(0.05 * sig.params["yard"], d)  # cranes, yard and gate stop; reefers still served
    m = min(rows_for(t, DAY), stop - a - d)
    x[a + d : a + d + m] *= 1.3  # the backlog afterwards
    return d


def _delay(rng, x, t, sig, a, stop, dur: Dur) -> int:
    d = max(int((stop - a) * rng.uniform(0.5, 1.0)), 1)  # lasts weeks: the supplier lost capacity
    x[a : a + d] += sig.params["base"] * rng.uniform(0.6, 1.2) * rng.lognormal(0, 0.1, d)
    return d


def _stockout(rng, x, t, sig, a, stop, dur: Dur) -> int:
    d = dur(24, 72, 3)
    x[a] = np.floor(x[a - 1] * rng.uniform(0.1, 0.3))  # a big unplanned pick empties the shelf
    x[a + 1 : a + d] = 0.0
    return d


def _leak(rng, x, t, sig, a, stop, dur: Dur) -> int:
    d = max(int((stop - a) * rng.uniform(0.5, 1.0)), 1)  # a stuck valve / failed door seal: until fixed
    x[a : a + d] += sig.params["base"] * rng.uniform(0.45, 0.8) * np.exp(rng.normal(0, 0.05, d))
    return d


def _latency(rng, x, t, sig, a, stop, dur: Dur) -> int:
    d = dur(0.5, 3, 8)
    x[a : a + d] *= rng.lognormal(0.4, 0.9, d)  # the tail widens: congestion, retransmits
    timeouts = rng.random(d) < 0.05
    x[a : a + d][timeouts] = rng.uniform(1000, 3000, timeouts.sum())
    return d


def _loss(rng, x, t, sig, a, stop, dur: Dur) -> int:
    d = dur(0.5, 2, 6)
    x[a : a + d] = np.minimum(rng.gamma(2.0, rng.uniform(1, 6), d) + 0.5, 100)
    return d


def _ramp(rng, x, t, sig, a, stop, dur: Dur) -> int:
    d = dur(24, 72, 10)
    amp = rng.uniform(11, 15) * scale_before(x, t, a) * rng.choice([-1, 1])
    x[a : a + d] += amp * np.linspace(0, 1, d + 1)[1:]
    hold = int(rng.integers(0, stop - a - d + 1))
    x[a + d : a + d + hold] += amp  # until someone recalibrates
    return d


def _spike(rng, x, t, sig, a, stop, dur: Dur) -> int:
    d = int(min(rng.integers(1, 3), stop - a))
    x[a : a + d] += rng.uniform(3, 5) * local_jumps(x, a) + rng.uniform(0, 1) * scale_before(x, t, a)
    return d


def _dip(rng, x, t, sig, a, stop, dur: Dur) -> int:
    d = int(min(rng.integers(3, 13), stop - a))
    x[a : a + d] -= rng.uniform(6, 9) * scale_before(x, t, a)
    return d


def _pattern(rng, x, t, sig, a, stop, dur: Dur) -> int:
    d = max(dur(48, 120, 10), int((stop - a) * rng.uniform(0.6, 1.0)))  # a new schedule stays a while
    if sig.params.get("three"):  # a 24/7 sorter drops its night shift
        hour = (t[a : a + d] / HOUR + sig.params["tz"]) % 24
        x[a : a + d][(hour < 6) | (hour >= 22)] = 0.0
        return d
    k = rows_for(t, rng.uniform(2.5, 4) * HOUR)  # the schedule moved later by a few hours
    x[a : a + d] = x[a - k : a + d - k].copy()
    return d


_KINDS = {
    "compressor_failure": _compressor,
    "door_left_open": _door,
    "conveyor_jam": _jam,
    "sensor_stuck": _stuck,
    "noise_burst": _noise,
    "truck_breakdown": _breakdown,
    "port_strike": _strike,
    "supplier_delay": _delay,
    "stock_out": _stockout,
    "energy_leak": _leak,
    "latency_incident": _latency,
    "packet_loss_burst": _loss,
    "slow_ramp": _ramp,
    "spike": _spike,
    "dip": _dip,
    "pattern_change": _pattern,
}
