"""Clean signal models of the field corpus (see bench/nab_field.py): one function per sensor kind.

Each model turns timestamps (epoch seconds, UTC) into a :class:`Signal`: float values with the series' ordinary,
UNLABELLED nuisances already in them (defrost cycles, shift changes, weekends, holidays, GPS dropouts, firmware
updates, recalibration offsets ...), how to render the values (precision, quantisation, physical bounds), and the
rows where an incident may start (``active``: e.g. a conveyor jam only while the line runs). Incidents are
added afterwards by bench/nab_field_incidents.py.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

DAY = 86400.0
HOUR = 3600.0


@dataclass
class Signal:
    """Values before rendering, how to render them, and where incidents may start."""

    x: np.ndarray
    decimals: int
    lo: float
    hi: float
    step: np.ndarray | float = 0.0  # quantisation step per row (0: only rounding to `decimals`)
    active: np.ndarray | None = None  # rows where an incident may start; None: anywhere
    params: dict[str, float] = field(default_factory=dict)


def clock(t: np.ndarray, tz: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Local hour of day (float), weekday (0 = Monday) and day number of each timestamp, `tz` hours from UTC."""
    local = t + tz * HOUR
    day = np.floor(local / DAY).astype(np.int64)
    return (local - day * DAY) / HOUR, (day + 3) % 7, day  # 1970-01-01 was a Thursday


def ar1(rng: np.random.Generator, n: int, phi: float, std: float) -> np.ndarray:
    """Stationary AR(1) noise with marginal standard deviation `std`."""
    e = rng.normal(0.0, std * np.sqrt(1 - phi * phi), n)
    out = np.empty(n)
    acc = rng.normal(0.0, std)
    for i in range(n):  # plain loop: series are <= 16k rows
        acc = phi * acc + e[i]
        out[i] = acc
    return out


def holidays(rng: np.random.Generator, day: np.ndarray, count: int) -> np.ndarray:
    """Rows falling on `count` random whole days (public holidays, site closures): an unlabelled nuisance."""
    days = np.unique(day)
    inner = days[2:-2] if len(days) > 6 else days
    picked = rng.choice(inner, size=min(count, len(inner)), replace=False)
    return np.isin(day, picked)


def held(mask: np.ndarray, rows: int) -> np.ndarray:
    """True where `mask` has held for the last `rows` rows: an incident interrupts a state already under way."""
    cs = np.concatenate([[0], np.cumsum(mask)])
    i = np.arange(len(mask))
    return mask & (cs[i + 1] - cs[np.maximum(i + 1 - rows, 0)] == np.minimum(i + 1, rows))


def smooth_box(h: np.ndarray, start: float, end: float, edge: float = 0.4) -> np.ndarray:
    """~1 between local hours start and end, ~0 outside, with soft edges (people do not all arrive at once)."""
    return 1 / (1 + np.exp(-(h - start) / edge)) * (1 / (1 + np.exp((h - end) / edge)))


def reefer(rng: np.random.Generator, t: np.ndarray, tz: float) -> Signal:
    """Supply-air temperature of a refrigerated container: compressor cycling, defrosts, short door openings."""
    n = len(t)
    setpoint = float(rng.choice([-25.0, -18.0, -18.0, 2.0, 4.0, 13.0]))
    frozen = setpoint < 0
    period = rng.uniform(1200, 2400)  # thermostat on/off cycle
    x = setpoint + rng.uniform(0.2, 0.6) * np.sin(2 * np.pi * (t / period + rng.random()))
    x += ar1(rng, n, 0.8, 0.12)
    every = float(rng.choice([6, 8, 12])) * HOUR  # defrost timer
    dur = rng.uniform(1200, 2400)
    rise = rng.uniform(7, 12) if frozen else rng.uniform(2, 4)
    phase = (t + rng.uniform(0, every)) % every
    bump = np.where(phase < dur, rise * np.minimum(1, 2 * phase / dur), rise * np.exp(-(phase - dur) / 1200))
    x += bump
    for i in rng.integers(0, n - 5, rng.integers(3, 9)):  # loading at depots: doors open for minutes
        x[i : i + 3] += rng.uniform(3, 7) * np.array([1.0, 0.45, 0.15])[: len(x[i : i + 3])]
    if rng.random() < 0.6:  # probe recalibrated at a service: an offset that stays
        x[rng.integers(n // 5, n) :] += rng.choice([-1, 1]) * rng.uniform(0.4, 0.9)
    ambient = rng.uniform(18, 32)
    return Signal(x, 1, -40.0, 50.0, active=bump < 0.3, params={"ambient": ambient, "setpoint": setpoint})


def humidity(rng: np.random.Generator, t: np.ndarray, tz: float) -> Signal:
    """Relative humidity in a store: slow weather, a daily cycle, 1 % quantisation until a firmware update."""
    n = len(t)
    h, _, _ = clock(t, tz)
    x = rng.uniform(45, 75) + rng.uniform(3, 7) * np.cos(2 * np.pi * (h - 5) / 24) + ar1(rng, n, 0.998, 3.0)
    x += rng.normal(0, 0.3, n)
    step = np.ones(n)
    step[rng.integers(n // 4, 3 * n // 4) :] = rng.choice([0.1, 0.5])  # firmware update: finer quantisation
    return Signal(x, 1, 5.0, 100.0, step=step)


def energy(rng: np.random.Generator, t: np.ndarray, tz: float, cold_store: bool) -> Signal:
    """kWh per interval of a building or a cold store: occupancy, weekends, HVAC with weather, meter catch-ups."""
    n = len(t)
    h, dow, day = clock(t, tz)
    dt = float(np.median(np.diff(t)))
    season = 12 + 9 * np.sin(2 * np.pi * (t / DAY / 365.25 + rng.random()))
    outside = season + 5 * np.sin(2 * np.pi * (h - 9) / 24) + ar1(rng, n, 0.995, 3.0)
    off = (dow >= 5) | holidays(rng, day, int(rng.integers(1, 3)))
    occupied = smooth_box(h, rng.uniform(6, 8), rng.uniform(17, 20)) * np.where(off, 0.15, 1.0)
    base = rng.uniform(20, 60)
    if cold_store:  # compressors work against the outside air; doors and forklifts in the day shift
        load = base * (1 + 0.025 * (outside + 5)) + 0.35 * base * occupied
        load += 0.3 * base * (((t + rng.uniform(0, 6 * HOUR)) % (6 * HOUR)) < 1800)  # defrost heaters
    else:
        hvac = 0.04 * base * (np.maximum(outside - 18, 0) + 0.6 * np.maximum(12 - outside, 0))
        load = 0.45 * base + base * occupied + hvac * (0.3 + 0.7 * occupied)
    x = load * (dt / 900) * np.exp(rng.normal(0, 0.03, n))
    for i in rng.integers(n // 10, n - 10, rng.integers(1, 4)):  # meter offline: zeros, then one catch-up
        k = int(rng.integers(2, 6))
        x[i + k] += x[i : i + k].sum()
        x[i : i + k] = 0.0
    return Signal(x, 2, 0.0, 1e6, active=occupied > 0.5, params={"base": base * dt / 900})


def conveyor(rng: np.random.Generator, t: np.ndarray, tz: float) -> Signal:
    """Parcels per interval on a sorter: two or three shifts, breaks, shift changes, weekends, a holiday."""
    n = len(t)
    h, dow, day = clock(t, tz)
    dt = float(np.median(np.diff(t)))
    cap = rng.uniform(60, 160) * dt / 300  # parcels per interval at full speed
    three = rng.random() < 0.4
    on = smooth_box(h, 6, 22, 0.15) if not three else np.ones(n)
    starts = [6.0, 14.0, 22.0] if three else [6.0, 14.0]
    for s in starts:  # shift change (handover, 15-20 min) and a 30-min break four hours in
        on = on * (1 - 0.7 * smooth_box((h - s) % 24, -0.2, 0.3, 0.05))
        on = on * (1 - 0.9 * smooth_box((h - s - 4) % 24, 0, 0.5, 0.05))
    saturday = (dow == 5) & ((h > 14) if not three else (h > 14) | (h < 6))
    off = (dow == 6) | saturday | holidays(rng, day, int(rng.integers(1, 3)))
    maint = (dow == 2) & (h >= 10) & (h < 11.5) & (rng.random() < 0.7)  # planned weekly maintenance stop
    rate = cap * on * np.where(off | maint, 0.0, 1.0)
    daily = np.exp(rng.normal(0, 0.12, day.max() - day.min() + 1))[day - day.min()]
    rate = rate * daily * np.exp(ar1(rng, n, 0.95, 0.08))
    running = held(rate > 0.7 * cap, max(int(HOUR / dt), 2))
    params = {"cap": cap, "three": float(three), "tz": tz}
    return Signal(rng.poisson(rate).astype(float), 0, 0.0, 1e6, active=running, params=params)


def scans(rng: np.random.Generator, t: np.ndarray, tz: float) -> Signal:
    """Pallet/parcel scans per interval: sparse Poisson, surges before the carrier cut-off times, quiet weekends."""
    h, dow, day = clock(t, tz)
    dt = float(np.median(np.diff(t)))
    base = rng.uniform(0.3, 1.5) * dt / 600
    cutoffs = [rng.uniform(10.5, 12), rng.uniform(16, 18)]
    rate = base * smooth_box(h, 7, 19, 0.3)
    for c in cutoffs:
        rate += base * rng.uniform(6, 12) * np.exp(-0.5 * ((h - c + 0.5) / 0.6) ** 2)
    rate *= np.where((dow >= 5) | holidays(rng, day, 1), 0.1, 1.0)
    return Signal(rng.poisson(rate).astype(float), 0, 0.0, 1e6, active=rate > 5 * base, params={"base": base})


def truck(rng: np.random.Generator, t: np.ndarray, tz: float) -> Signal:
    """GPS speed (km/h) of a delivery truck: city stops, highway cruise, jams, rests, nights, GPS dropouts."""
    n = len(t)
    h, _, _ = clock(t, tz)
    x = np.zeros(n)
    highway = np.zeros(n, dtype=bool)
    dt = float(np.median(np.diff(t)))
    cruise = rng.uniform(82, 89)
    i = 0
    while i < n:
        if h[i] < 5 or h[i] > 20:  # parked overnight
            i += 1
            continue
        mode = rng.choice(["city", "highway", "stop"], p=[0.35, 0.45, 0.2])
        span = max(int(rng.uniform(15, 40 if mode != "highway" else 200) * 60 / dt), 2)
        j = min(i + span, n)
        k = j - i
        if mode == "city":
            v = np.clip(32 + ar1(rng, k, 0.9, 12), 0, 60)
            v[rng.random(k) < 0.08] = 0.0  # traffic lights
            x[i:j] = v
        elif mode == "highway":
            v = cruise + ar1(rng, k, 0.9, 2.5)
            if rng.random() < 0.3:  # a jam: crawl for a while
                a, m = int(rng.integers(0, k)), int(rng.integers(5, 30))
                v[a : a + m] = np.abs(rng.normal(15, 8, len(v[a : a + m])))
            x[i:j] = v
            highway[i:j] = True
        i = j  # "stop" leaves zeros: deliveries and driver rests
    x = np.clip(x, 0, 130)
    for a in rng.integers(0, n - 8, max(n // 400, 3)):  # GPS dropout: the tracker repeats its last fix
        x[a : a + int(rng.integers(2, 7))] = x[a]
    cruising = held(highway & (x > 60), max(int(0.5 * HOUR / dt), 2))
    return Signal(x, 1, 0.0, 250.0, active=cruising, params={"cruise": cruise})


def port(rng: np.random.Generator, t: np.ndarray, tz: float) -> Signal:
    """Container moves per hour at a terminal: vessels arriving on the tide, crane gangs, shift changes, wind stops."""
    n = len(t)
    h, _, _ = clock(t, tz)
    rate = np.full(n, rng.uniform(6, 12))  # yard and gate moves never stop
    cranes = np.zeros(n)
    tide = 12.42 * HOUR
    s = t[0] - rng.uniform(0, 40) * HOUR
    while s < t[-1]:
        s += rng.exponential(30 * HOUR)
        berth = s + (tide - (s % tide)) + HOUR  # enter at high water
        moves = rng.lognormal(np.log(1500), 0.4)
        per_hour = rng.integers(2, 5) * rng.uniform(22, 30)
        on = (t >= berth) & (t < berth + moves / per_hour * HOUR)
        cranes += on * per_hour
    for c in (7, 15, 23):  # gangs hand over the cranes
        cranes *= 1 - 0.5 * ((h >= c) & (h < c + 1))
    for a in rng.integers(0, n - 10, rng.integers(1, 4)):  # wind above the crane limit
        cranes[a : a + int(rng.integers(3, 9))] = 0
    x = rng.poisson(rate + cranes).astype(float)
    return Signal(x, 0, 0.0, 1e6, active=held(cranes > 50, 4), params={"yard": float(rate[0])})


def inventory(rng: np.random.Generator, t: np.ndarray, tz: float) -> Signal:
    """Units on hand of one SKU: picks in working hours, reorder at a reorder point, deliveries after a lead time."""
    n = len(t)
    h, dow, _ = clock(t, tz)
    q = float(rng.integers(4, 20) * 50)
    demand = q / rng.uniform(3, 8) / 10 * smooth_box(h, 8, 18) * (dow < 5)  # per hour, 10 working hours a day
    promo = rng.integers(0, n)
    demand[promo : promo + int(rng.integers(48, 168))] *= 1.8  # promotion week: an unlabelled demand bump
    picks = rng.poisson(demand * np.median(np.diff(t)) / HOUR)
    level, due = q, None
    x = np.empty(n)
    counts = set(rng.integers(n // 10, n, rng.integers(1, 4)).tolist())  # cycle counts correct the books
    for i in range(n):
        level = max(level - picks[i], 0.0)
        if due is None and level <= 0.35 * q:
            due = t[i] + rng.uniform(1.5, 3) * DAY
        if due is not None and t[i] >= due:
            level, due = level + q, None
        if i in counts:
            level = max(level + round(rng.normal(0, 0.03 * q)), 0.0)
        x[i] = level
    return Signal(x, 0, 0.0, 1e7, active=x > 0.5 * q, params={"q": q})


def lead_time(rng: np.random.Generator, t: np.ndarray, tz: float) -> Signal:
    """Supplier lead time (days) per purchase order: lognormal, some express orders, a slow holiday hump."""
    n = len(t)
    base = rng.uniform(4, 12)
    x = base * rng.lognormal(0, 0.12, n)
    express = rng.random(n) < 0.08
    x[express] = rng.uniform(1, 2, express.sum())
    mid = rng.uniform(t[0], t[-1])
    x *= 1 + 0.2 * np.exp(-0.5 * ((t - mid) / (8 * DAY)) ** 2)  # factory holidays slow everyone a little
    return Signal(x, 1, 0.5, 365.0, active=~express, params={"base": base})


def cpu(rng: np.random.Generator, t: np.ndarray, tz: float) -> Signal:
    """Gateway CPU %: daily load, cron bursts, a nightly backup, a firmware-update reboot with a new baseline."""
    n = len(t)
    h, _, _ = clock(t, tz)
    dt = float(np.median(np.diff(t)))
    x = rng.uniform(12, 30) + rng.uniform(5, 12) * smooth_box(h, 7, 19, 1.0) + ar1(rng, n, 0.9, 2.0)
    x += rng.uniform(15, 35) * ((t % (15 * 60)) < max(dt, 20))  # cron every 15 minutes
    x += rng.uniform(15, 30) * ((h >= 2) & (h < 2.5))  # nightly backup
    r = int(rng.integers(n // 5, n - 20))
    k = max(int(120 / dt), 1)
    x[r + k :] -= rng.uniform(2, 5)  # firmware update: a slimmer baseline afterwards
    x[r : r + k] = 0.0  # reboot
    x[r + k : r + 3 * k] += 40
    return Signal(x, 1, 0.0, 100.0)


def latency(rng: np.random.Generator, t: np.ndarray, tz: float) -> Signal:
    """Round-trip latency (ms): lognormal with a heavy tail, load in the day, a route change that stays."""
    n = len(t)
    h, _, _ = clock(t, tz)
    med = rng.uniform(15, 80)
    x = med * (1 + 0.25 * smooth_box(h, 8, 20, 1.0)) * rng.lognormal(0, 0.2, n)
    tail = rng.random(n) < 0.01
    x[tail] *= 1 + rng.pareto(2.5, tail.sum()) * 2  # retransmits and queueing: rare big outliers
    x[rng.integers(n // 5, n) :] *= rng.uniform(1.05, 1.15)  # carrier re-routes the link
    return Signal(x, 1, 0.1, 60000.0, params={"median": med})


def packet_loss(rng: np.random.Generator, t: np.ndarray, tz: float) -> Signal:
    """Packet loss %: almost always zero, rare single-reading blips and short link flaps."""
    n = len(t)
    x = np.zeros(n)
    blip = rng.random(n) < 0.01
    x[blip] = rng.uniform(0.05, 1.0, blip.sum())
    for a in rng.integers(0, n - 3, rng.integers(2, 6)):  # link flap: a reading or two of loss
        x[a : a + int(rng.integers(1, 3))] = rng.uniform(3, 20)
    return Signal(x, 2, 0.0, 100.0)
