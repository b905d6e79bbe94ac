"""Signal models of the blind corpus for the physical world: road traffic, machines and rooms, demand, clean shapes.

WHY its own module: these systems follow physics and the clock - a loop detector's occupancy and speed move
together, a bearing wears before it fails, a room follows its HVAC and the season, a city's demand follows its
week - unlike the software services (bench/nab_blind_services.py); the shared clock, incident and nuisance helpers
are in bench/nab_blind_signals.py.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from bench.nab_blind_signals import (
    DAY_S, HOUR_S, Bools, Builder, Clock, Floats, Incident, Rng, ar1, bumps, lag, per_day, pulses, quiet_rows, shape,
    smooth, snap, starts, stick, u, unknown,
)

# ---- traffic: one loop detector or probe segment, about every 5 minutes ----

def _congestion(rng: Rng, clock: Clock, quiet: Bools) -> Floats:
    """0 (free flow) to 1 (jammed): one rush hour heavy for this direction, mild weekends, rainy days worse."""
    am, pm = (0.85, 0.45) if rng.random() < 0.5 else (0.4, 0.85)
    weekday = bumps(clock.hour, [(8.0 + u(rng, -0.4, 0.4), 1.1, am), (17.5 + u(rng, -0.4, 0.4), 1.4, pm)])
    weekend = bumps(clock.hour, [(13.5, 3.0, 0.22)])
    jam = np.where(clock.dow < 5, weekday, weekend) * per_day(rng, clock, 0.2) + ar1(rng, clock.rows, 0.85, 0.04)
    jam += pulses(rng, clock, 0.3, lambda k: rng.uniform(0.15, 0.3, k), 1200.0, quiet)  # a stall cleared fast
    return np.clip(jam, 0.0, 1.0)


def road(metric: str) -> Builder:
    """Occupancy %, speed (mph) or travel time (s) of a road: all read the same congestion, each its own way."""
    def build(rng: Rng, clock: Clock, incidents: Sequence[Incident]) -> tuple[Floats, list[int]]:
        n, quiet = clock.rows, quiet_rows(clock, incidents)
        jam, free_mph, miles = _congestion(rng, clock, quiet), u(rng, 60.0, 70.0), u(rng, 1.5, 4.0)
        mph = np.maximum(free_mph - 38.0 * jam**1.6 + rng.normal(0.0, 1.8, n), 3.0)
        occ = np.maximum(1.5 + 22.0 * jam**1.3 + rng.normal(0.0, 1.0, n) * (0.4 + jam), 0.0)
        found = starts(incidents)
        for i, inc in enumerate(incidents):
            if inc.kind == "crash":  # lanes blocked: speed collapses, the queue sits on the loop
                env = shape(clock, inc, u(rng, 0.5, 1.5) * HOUR_S, rise_s=600.0, fall_s=u(rng, 1800, 2700))
                mph = mph * (1.0 - env) + env * u(rng, 5.0, 12.0)
                occ = occ * (1.0 - env) + env * u(rng, 50.0, 70.0)
            elif inc.kind == "closure":  # police close the road in daytime: no vehicles at all
                daytime = (clock.hour >= 8.0) & (clock.hour < 14.0)
                found[i] = snap(clock, inc.start, daytime, DAY_S)
                moved = Incident(found[i], inc.kind, inc.stop)
                env = shape(clock, moved, u(rng, 6.0, 12.0) * HOUR_S, fall_s=1800.0)
                mph, occ = mph * (1.0 - env), occ * (1.0 - env) + env * np.abs(rng.normal(0.0, 0.1, n))
        values = {"occupancy": occ, "speed": mph, "travel_time": 3600.0 * miles / np.maximum(mph, 2.0)}[metric]
        if metric == "travel_time":
            values *= np.exp(rng.normal(0.0, 0.05, n))  # probe vehicles differ
        for inc in incidents:
            if inc.kind == "stuck":  # the controller repeats its last reading
                stick(values, clock, inc, u(rng, 8.0, 20.0) * HOUR_S)
            elif inc.kind == "dropout":  # the detector reports zero
                values[inc.start:clock.end(inc.start, u(rng, 4.0, 12.0) * HOUR_S, inc.stop)] = 0.0
            elif inc.kind not in ("crash", "closure"):
                raise unknown(inc, f"road {metric}")
        return values, found
    return build


# ---- industrial: machines at steady state, and a room ----

def machine_temperature(rng: Rng, clock: Clock, incidents: Sequence[Incident]) -> tuple[Floats, list[int]]:
    """A bearing or casing temperature: steady with thermal drift and ambient's day; planned Sunday stops
    every other week cool it to ambient (scheduled, not incidents)."""
    n, quiet = clock.rows, quiet_rows(clock, incidents)
    ambient = 24.0 + 3.0 * bumps(clock.hour, [(15.0, 4.0, 1.0)])
    running = u(rng, 75.0, 90.0) + 1.2 * bumps(clock.hour, [(15.0, 4.0, 1.0)]) + ar1(rng, n, 0.998, 0.8)
    target = running - np.where(clock.dow >= 5, u(rng, 1.5, 3.0), 0.0)
    sundays = np.flatnonzero((clock.dow == 6) & (clock.hour >= 6.0) & (clock.hour < 6.0 + clock.step_s / HOUR_S))
    for row in sundays[int(rng.integers(0, 2))::2].tolist():
        stop = clock.end(row, u(rng, 4.0, 10.0) * HOUR_S, n)
        if quiet[row:stop].all():
            target[row:stop] = ambient[row:stop]
    noise_scale = np.ones(n)
    for inc in incidents:
        if inc.kind == "wear":  # a bearing spalls: a step hotter and rougher, then worse until it fails
            span_s = max(clock.t[inc.stop - 1] - clock.t[inc.start], 1.0)
            ramp = np.clip((clock.t - clock.t[inc.start]) / span_s, 0.0, 1.0)
            ramp[inc.stop:] = 0.0
            onset = shape(clock, inc, span_s, rise_s=HOUR_S)
            target += u(rng, 3.0, 4.5) * onset + u(rng, 7.0, 10.0) * ramp
            noise_scale += onset + 2.0 * ramp
        elif inc.kind in ("failure", "trip"):  # a failure overheats first; a trip (unplanned stop) does not
            hot = clock.end(inc.start, 1800.0, inc.stop) if inc.kind == "failure" else inc.start
            target[inc.start:hot] += 15.0
            down = clock.end(hot, u(rng, 4.0, 20.0) * HOUR_S, inc.stop)
            target[hot:down] = ambient[hot:down]
        else:
            raise unknown(inc, "machine_temperature")
    return lag(target, 2400.0, clock.step_s) + rng.normal(0.0, 0.3, n) * noise_scale, starts(incidents)


def vibration_rms(rng: Rng, clock: Clock, incidents: Sequence[Incident]) -> tuple[Floats, list[int]]:
    """Vibration velocity (mm/s RMS): one level per product run, a nightly cleaning stop, lognormal noise."""
    n = clock.rows
    levels, level, row = rng.uniform(1.8, 3.6, 3), np.empty(n), 0
    while row < n:
        end = max(clock.end(row, u(rng, 4.0, 12.0) * HOUR_S, n), row + 1)
        level[row:end] = levels[int(rng.integers(0, 3))]
        row = end
    level[(clock.hour >= 22.0) & (clock.hour < 22.33)] = 0.25  # stopped while cleaned
    vib = level * np.exp(rng.normal(0.0, 0.07, n)) + ar1(rng, n, 0.9, 0.05)
    for inc in incidents:
        if inc.kind == "bearing_fault":  # a spalled race: higher, with impacts, until the bearing is changed
            env = shape(clock, inc, u(rng, 1.0, 3.0) * DAY_S, rise_s=HOUR_S)
            vib *= 1.0 + env * u(rng, 0.7, 1.2)
            vib += env * np.where(rng.random(n) < 0.03, 2.0 * rng.pareto(2.0, n) + 1.5, 0.0)
        elif inc.kind == "stuck":
            stick(vib, clock, inc, u(rng, 3.0, 10.0) * HOUR_S)
        else:
            raise unknown(inc, "vibration_rms")
    return np.maximum(vib, 0.05), starts(incidents)


def discharge_temperature(rng: Rng, clock: Clock, incidents: Sequence[Incident]) -> tuple[Floats, list[int]]:
    """A screw compressor's discharge temperature every 5 s: loads and unloads on its pressure band (ordinary)."""
    n, target, row = clock.rows, np.empty(clock.rows), 0
    while row < n:
        loaded = clock.end(row, u(rng, 60.0, 240.0), n)
        target[row:loaded] = u(rng, 86.0, 90.0)
        unloaded = max(clock.end(loaded, u(rng, 30.0, 180.0), n), loaded + 1) if loaded < n else n
        target[loaded:unloaded] = u(rng, 70.0, 74.0)
        row = unloaded
    for inc in incidents:
        if inc.kind != "trip":  # a fault trips it: it cools toward the room until restarted
            raise unknown(inc, "discharge_temperature")
        down = clock.end(inc.start, u(rng, 20.0, 60.0) * 60.0, inc.stop)
        target[inc.start:down] = 30.0
    return lag(target, 90.0, clock.step_s) + rng.normal(0.0, 0.15, n), starts(incidents)


def room_temperature(rng: Rng, clock: Clock, incidents: Sequence[Incident]) -> tuple[Floats, list[int]]:
    """An office's hourly temperature: held in occupied hours, drifting with the season overnight and weekends."""
    n = clock.rows
    season = np.sin(2.0 * np.pi * ((clock.t / DAY_S) % 365.25 - 110.0) / 365.25)
    outdoor = 11.0 + 12.0 * season + 5.0 * np.cos(2.0 * np.pi * (clock.hour - 15.0) / 24.0) + ar1(rng, n, 0.97, 3.0)
    occupied = (clock.dow < 5) & (clock.hour >= 7.0) & (clock.hour < 19.0)
    setpoint = u(rng, 21.0, 22.5) + np.where(np.arange(n) >= int(rng.integers(0, n)), u(rng, -1.0, 1.0), 0.0)
    target = np.where(occupied, setpoint + 0.5, setpoint + np.clip(0.35 * (outdoor - setpoint), -6.0, 6.0))
    found = starts(incidents)
    for i, inc in enumerate(incidents):
        if inc.kind != "hvac_failure":  # the unit fails: the room heads for the weather's temperature
            raise unknown(inc, "room_temperature")
        found[i] = start = snap(clock, inc.start, occupied & (clock.hour < 17.0), 3.5 * DAY_S)  # fails under load
        end = clock.end(start, u(rng, 30.0, 96.0) * HOUR_S, inc.stop)
        away = 1.0 if season[start] >= 0.0 else -1.0  # summer: it overheats; winter: it goes cold
        swing = 0.3 * (outdoor[start:end] - outdoor[start:end].mean())
        target[start:end] = setpoint[start:end] + away * u(rng, 8.0, 11.0) + swing
    return lag(target, 3 * HOUR_S, clock.step_s) + rng.normal(0.0, 0.12, n), found


# ---- demand: trips or orders per 30 minutes ----

def demand(low: float, high: float) -> Builder:
    """Trips per half hour: commute peaks on weekdays, late nights on Fridays and Saturdays, rain lifts it."""
    def build(rng: Rng, clock: Clock, incidents: Sequence[Incident]) -> tuple[Floats, list[int]]:
        n, hour = clock.rows, clock.hour
        weekday = 0.1 + bumps(hour, [(8.5, 1.3, 0.75), (13.0, 3.0, 0.55), (19.5, 2.2, 0.9)])
        weekend = 0.15 + bumps(hour, [(1.0, 2.0, 0.55), (14.0, 4.0, 0.75), (20.0, 3.0, 0.7)])
        week_h = clock.dow * 24.0 + hour  # Friday and Saturday nights out, Friday noon to Sunday noon
        night_out = np.where((week_h >= 108.0) & (week_h < 156.0), bumps(hour, [(23.5, 1.8, 0.5)]), 0.0)
        off, less = (clock.dow >= 5).astype(float), np.ones(n)
        level = u(rng, low, high) * np.exp(ar1(rng, n, 0.9995, 0.06) + rng.normal(0.0, 0.03, n))
        rainy = rng.random(int(clock.day[-1]) + 1) < 0.15
        level *= per_day(rng, clock, 0.04) * np.where(rainy[clock.day], 1.08, 1.0)
        found = starts(incidents)
        for i, inc in enumerate(incidents):
            if inc.kind == "holiday":  # a weekday with a Sunday's shape and less of it
                found[i] = snap(clock, inc.start, (clock.dow < 5) & (hour < clock.step_s / HOUR_S), 3.5 * DAY_S)
                end = clock.end(found[i], DAY_S, inc.stop)
                off[found[i]:end], less[found[i]:end] = 1.0, 0.7
            elif inc.kind == "storm":  # a blizzard: the city stays home for a day
                env = shape(clock, inc, u(rng, 20.0, 36.0) * HOUR_S, 3 * HOUR_S, 10 * HOUR_S)
                level *= 1.0 - env * u(rng, 0.75, 0.9)
            elif inc.kind == "event":  # a concert or game lets out: the evening's peak doubles
                found[i] = snap(clock, inc.start, (hour >= 18.0) & (hour < 18.0 + clock.step_s / HOUR_S), 1.1 * DAY_S)
                env = shape(clock, Incident(found[i], inc.kind, inc.stop), u(rng, 2.5, 5.0) * HOUR_S, HOUR_S, HOUR_S)
                level *= 1.0 + env * u(rng, 1.2, 2.0)
            else:
                raise unknown(inc, "demand")
        profile = smooth(less * (off * weekend + (1.0 - off) * weekday) + night_out, clock, 2.5 * HOUR_S)
        return rng.poisson(level * profile).astype(float), found
    return build


# ---- artificial: clean shapes ----

def wave(kind: str) -> Builder:
    """Clean periodic shapes (square, sine, sawtooth) or a flat line, with jumps, flattening, spike storms."""
    def build(rng: Rng, clock: Clock, incidents: Sequence[Incident]) -> tuple[Floats, list[int]]:
        n, low, high = clock.rows, u(rng, 0.0, 30.0), u(rng, 60.0, 100.0)
        period = {"square": 576, "sine": 288, "sawtooth": 144, "flat": 1}[kind] * u(rng, 0.8, 1.2)
        phase = (np.arange(n) / period + u(rng, 0.0, 1.0)) % 1.0
        unit = {"square": (phase < 0.5) * 1.0, "sine": 0.5 + 0.5 * np.sin(2.0 * np.pi * phase),
                "sawtooth": phase, "flat": np.full(n, 0.5)}[kind]
        values = low + (high - low) * unit + (rng.normal(0.0, 0.01 * (high - low), n) if kind != "flat" else 0.0)
        spikes = rng.random(n) < 1.0 / 288.0 if kind == "sawtooth" else np.zeros(n, dtype=bool)
        for inc in incidents:
            if inc.kind == "jump":  # the whole wave moves up or down by a third of its range, and stays
                values[inc.start:inc.stop] += (high - low) * u(rng, 0.3, 0.45) * (1.0 if rng.random() < 0.5 else -1.0)
            elif inc.kind == "flatten":  # the wave stops: flat at its middle for one to two periods
                end = min(inc.start + int(period * u(rng, 1.0, 2.0)), inc.stop)
                values[inc.start:end] = (low + high) / 2.0 + rng.normal(0.0, 0.01 * (high - low), end - inc.start)
            elif inc.kind == "spike_density":  # spikes come twenty-five times as often for a day or two
                end = min(inc.start + int(288 * u(rng, 1.0, 2.0)), inc.stop)
                spikes[inc.start:end] |= rng.random(end - inc.start) < 25.0 / 288.0
                spikes[inc.start] = True
            else:
                raise unknown(inc, f"{kind} wave")
        tops = high + (high - low) * rng.uniform(0.2, 0.5, n)  # a spike stands above the whole wave
        return np.where(spikes, tops, values), starts(incidents)
    return build
