"""A seeded, synthetic, labelled corpus in NAB's format, for choosing detector parameters without NAB's labels.

WHY: tuning on the few NAB series we have teaches a detector those series, not anomaly detection; its score
there then says nothing about series it has never seen. This corpus is the place to tune instead: ~65 series
covering the signal types NAB draws from (noise at several SNRs, AR(1) and random walks, daily/weekly cycles,
trends, Poisson counts with many zeros, heavy-tailed CPU-like noise, quantised sensors, latencies; 1-minute to
1-hour sampling, some jittered or with gaps) and the anomaly families NAB labels (spikes and dips, level shifts,
drifts, variance changes, broken cycles, flat lines, frequency changes), plus series with no anomaly at all,
which only cost false positives. 15 more series (`EXTRA`) follow the first 50: social-media-like counts, cloud
metrics with ordinary regime changes and spikes, road-traffic speeds with dropouts, half of them short (~1,500
rows), drawn from their own random streams so the first 50 of every seed stay as they were. The labels are exact
(we injected the anomalies) and follow NAB's windowing rule, so `nab_score.py` scores this corpus as it scores
NAB's, per anomaly family folder if wanted.

Everything is drawn from `numpy.random.default_rng([seed, series index])`: one seed gives one corpus, bit for
bit, and another seed gives a fresh corpus with the same make-up (a check that tuning did not fit one draw).
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

__all__ = ["EXTRA", "FAMILIES", "SyntheticSeries", "generate", "nab_windows", "write_corpus"]

# Series per anomaly family (folder). ~50 in all: enough that no single series decides a tuning choice, few
# enough to generate and score in seconds. "none" series carry no label and only test false positives.
FAMILIES: dict[str, int] = {
    "none": 7, "spike": 8, "level_shift": 7, "drift": 6, "variance": 6, "seasonality": 6, "flatline": 5,
    "frequency": 5,
}
# NAB's rule: all windows of a series together span 10 % of its rows, shared equally among its anomalies.
WINDOW_FRACTION = 0.10
# NAB does not score the first 15 % of a series (probationary period); an anomaly there could not count.
PROBATION_FRACTION = 0.15
# Series lengths (rows): NAB's range; shorter series leave detectors no time to learn, longer ones slow tuning.
MIN_ROWS, MAX_ROWS = 1_500, 16_000
# Cap on the corpus size (rows): keeps one bench replay per detector at a few seconds.
MAX_TOTAL_ROWS = 290_000
# Seconds in a day and a week: named so the cycle code reads in days, not in magic numbers that hide a typo.
_DAY, _WEEK = 86_400.0, 604_800.0
# Earliest start date of a series (2013-01-01 UTC), as in NAB's data; only makes the timestamps look familiar.
_EPOCH0 = 1_356_998_400

# Signal generators each family may use. Without these limits a label could be unseeable: a cycle must exist
# to be broken or re-timed, counts have no separate noise term whose variance could change, and a random walk's
# own wander would swallow a short oscillation.
_SEASONAL = ("daily", "weekly", "counts", "sensor")
_ALL = ("noise", "ar1", "walk", "daily", "weekly", "counts", "cpu", "sensor", "latency")
_BASES: dict[str, tuple[str, ...]] = {
    "none": _ALL, "spike": _ALL, "level_shift": _ALL, "drift": _ALL,
    "variance": ("noise", "ar1", "walk", "daily", "weekly", "cpu", "sensor", "latency"),
    "seasonality": _SEASONAL, "flatline": ("noise", "ar1", "walk", "daily", "weekly", "counts", "cpu", "sensor",
                                           "latency"),
    "frequency": ("daily", "weekly", "sensor", "noise", "ar1"),
}
# Anomaly kinds per family (a kind listed twice is drawn twice as often: a noisier stretch is the common
# failure, a suspiciously quiet one the rarer). Mixing families in one series would blur per-family scores.
_KINDS: dict[str, tuple[str, ...]] = {
    "spike": ("spike", "dip", "burst"), "level_shift": ("shift_up", "shift_down"),
    "drift": ("ramp_up", "ramp_down"), "variance": ("variance_up", "variance_up", "variance_down"),
    "seasonality": ("cycle_stop", "phase_shift", "amplitude"),
    "flatline": ("stuck",), "frequency": ("period_change", "oscillation"),
}

# Kinds a base cannot show: a dip on a series floored at 0 (CPU near idle, mostly-zero counts) is clipped away,
# and a label nobody could see only adds noise to every detector's score.
_INVISIBLE: dict[str, tuple[str, ...]] = {"cpu": ("dip",), "counts": ("dip",), "social": ("dip",)}

# Series added after the first 50 (2026-12-05), closer to the real streams NAB's categories describe (from what
# such systems do, not from NAB's labels): "social" event counts, heavy-tailed, with a daily cycle and ordinary
# bursts that are not anomalies; "cloud" metrics with regime changes (deployments, autoscaling) and sporadic
# spikes that are not anomalies either; "traffic" speeds with rush-hour dips and sensor dropouts (missing
# readings). Half of them are short (~1,500 rows, hourly where the signal allows), where NAB's 15 % probation and
# a detector's warm-up matter. (family, base) pairs; drawn after the first 50 from their own random streams, so
# every earlier series of a seed is what it was, bit for bit.
EXTRA: tuple[tuple[str, str], ...] = (
    ("none", "social"), ("none", "cloud"), ("none", "traffic"),
    ("spike", "social"), ("spike", "cloud"), ("spike", "traffic"),
    ("level_shift", "social"), ("level_shift", "cloud"), ("level_shift", "traffic"),
    ("drift", "cloud"), ("variance", "cloud"), ("seasonality", "social"), ("seasonality", "traffic"),
    ("flatline", "cloud"), ("flatline", "traffic"),
)
# Rows of a short extra series (NAB's shortest files are ~1,100-1,900 rows) and the range of the longer ones.
SHORT_ROWS, EXTRA_ROWS = (1_400, 1_700), (2_500, 6_000)
# Sampling of the extras (seconds): short social/cloud series are hourly; traffic sensors report every 5 minutes.
_EXTRA_INTERVAL = {"social": (3600, 300), "cloud": (3600, 300), "traffic": (300, 300)}  # (short, long)


@dataclass(frozen=True)
class SyntheticSeries:
    """One generated series: rows, the start row and kind of each injected anomaly, and its NAB windows (rows)."""

    relpath: str
    stamps: list[str]
    values: list[str]
    anomalies: tuple[int, ...]
    kinds: tuple[str, ...]
    windows: tuple[tuple[int, int], ...]
    base: str


@dataclass
class _Parts:
    """A series under construction: value = out(level + season + noise), then stuck stretches overwrite it."""

    t: np.ndarray  # seconds since the series start
    level: np.ndarray
    season: np.ndarray
    noise: np.ndarray
    sigma: float  # noise scale that anomaly magnitudes are expressed in
    out: str  # "real", "round1", "round5", "poisson", "exp", "cpu"
    season_fn: Callable[[np.ndarray, float], np.ndarray] | None = None  # (t, period multiplier) -> cycle
    stuck: list[tuple[int, int, bool]] = field(default_factory=list)  # (row, length, to_zero)


def nab_windows(rows: int, anomalies: Sequence[int]) -> list[tuple[int, int]]:
    """NAB's labelling: windows of int(10 % * rows / count) rows centred on each anomaly start, clipped."""
    if not anomalies:
        return []
    half = int(WINDOW_FRACTION * rows / len(anomalies)) // 2
    return [(max(a - half, 0), min(a + half, rows - 1)) for a in anomalies]


def _timestamps(rng: np.random.Generator, rows: int, interval: int, jitter: bool, gaps: bool) -> np.ndarray:
    steps = np.full(rows - 1, interval, dtype=np.int64)
    if jitter:
        steps += rng.integers(-(interval // 5), interval // 5 + 1, size=rows - 1)
    if gaps:
        for i in rng.choice(rows - 1, size=int(rng.integers(1, 4)), replace=False):
            steps[i] = interval * int(rng.integers(10, 200))
    start = _EPOCH0 + int(rng.integers(0, 3 * 365)) * 86_400 + int(rng.integers(0, 24)) * 3600
    return start + np.concatenate(([0], np.cumsum(np.maximum(steps, 1))))


def _ar1(rng: np.random.Generator, rows: int, phi: float, std: float) -> np.ndarray:
    eps = rng.normal(0.0, std * math.sqrt(1.0 - phi * phi), rows)
    out = np.empty(rows)
    x = rng.normal(0.0, std)
    for i, e in enumerate(eps.tolist()):
        x = phi * x + e
        out[i] = x
    return out


def _cycle(rng: np.random.Generator, amp: float, weekly: float) -> Callable[[np.ndarray, float], np.ndarray]:
    """A daily shape of 1-3 harmonics (optionally modulated by a weekday/weekend factor); `mult` scales the period."""
    harmonics = [(amp * a, rng.uniform(0, 2 * math.pi)) for a in (1.0, rng.uniform(0.1, 0.5), rng.uniform(0, 0.3))]
    week_phase = rng.uniform(0, _WEEK)

    def fn(t: np.ndarray, mult: float = 1.0) -> np.ndarray:
        day = 2 * math.pi * t / (_DAY * mult)
        y = sum(a * np.sin(k * day + p) for k, (a, p) in enumerate(harmonics, start=1))
        if weekly:
            weekend = ((t + week_phase) % (_WEEK * mult)) < 2 * _DAY * mult
            y = y * np.where(weekend, 1.0 - weekly, 1.0) - amp * weekly * weekend
        return y

    return fn


def _base(rng: np.random.Generator, kind: str, t: np.ndarray) -> _Parts:
    n = len(t)
    zeros = np.zeros(n)
    trend = rng.choice([0.0, 0.0, 1.0]) * rng.normal(0.0, 1.0) * t / max(t[-1], 1.0)
    if kind == "noise":  # white noise, signal-to-noise ratio from 3 to 100
        level = rng.uniform(10, 1000)
        sigma = level / rng.choice([3.0, 10.0, 30.0, 100.0])
        return _Parts(t, level + sigma * 3 * trend, zeros, rng.normal(0, sigma, n), sigma, "real")
    if kind == "ar1":  # autocorrelated noise: runs of high values that are not anomalies
        sigma = rng.uniform(0.5, 20)
        noise = _ar1(rng, n, rng.uniform(0.7, 0.97), sigma)
        return _Parts(t, rng.uniform(-50, 200) + zeros, zeros, noise, sigma, "real")
    # Random walk plus reading noise; anomalies are scaled to 3 steps, or a 2-sigma shift would be one ordinary
    # step of the walk.
    if kind == "walk":
        step = rng.uniform(0.1, 2.0)
        walk = np.cumsum(rng.normal(0, step, n))
        return _Parts(t, rng.uniform(0, 500) + walk, zeros, rng.normal(0, step, n), 3 * step, "real")
    if kind in ("daily", "weekly"):
        amp = rng.uniform(5, 50)
        fn = _cycle(rng, amp, rng.uniform(0.3, 0.7) if kind == "weekly" else rng.choice([0.0, 0.2]))
        sigma = amp / rng.uniform(4, 30)
        return _Parts(t, rng.uniform(2 * amp, 10 * amp) + 2 * amp * trend, fn(t), rng.normal(0, sigma, n), sigma,
                      "real", fn)
    if kind == "counts":  # Poisson counts (tweets, clicks), down to mostly-zero low rates
        rate = rng.choice([0.3, 1.0, 3.0, 10.0, 40.0])
        fn = _cycle(rng, 0.6 * rate, rng.choice([0.0, 0.4]))
        return _Parts(t, rate + zeros, fn(t), zeros, math.sqrt(rate) + 0.5, "poisson", fn)
    if kind == "cpu":  # heavy-tailed utilisation, bursty by nature, clipped to 0-100 %
        scale = rng.uniform(0.5, 4)
        noise = scale * rng.standard_t(2.5, n)
        return _Parts(t, rng.uniform(5, 60) + 2 * scale * trend, zeros, noise, scale, "cpu")
    if kind == "sensor":  # temperature reported at 0.1 or 0.5 resolution, daily cycle, slow AR noise
        fn = _cycle(rng, rng.uniform(0.5, 5), 0.0)
        sigma = rng.uniform(0.3, 1.5)
        return _Parts(t, rng.uniform(15, 80) + trend * sigma * 2, fn(t), _ar1(rng, n, 0.9, sigma), sigma,
                      str(rng.choice(["round1", "round1", "round5"])), fn)
    if kind == "latency":  # log-normal latency: everything happens in log space
        sigma = rng.uniform(0.05, 0.4)
        return _Parts(t, math.log(rng.uniform(20, 500)) + zeros, zeros, _ar1(rng, n, 0.5, sigma), sigma, "exp")
    if kind == "social":  # overdispersed counts (tweets, mentions): daily cycle, ordinary self-exciting bursts
        rate = float(rng.choice([3.0, 10.0, 30.0, 100.0]))
        fn = _cycle(rng, rng.uniform(0.3, 0.7) * rate, rng.choice([0.0, 0.3]))
        level = rate + zeros
        for b in rng.choice(n, size=max(1, n // int(rng.integers(100, 400))), replace=False):  # not anomalies
            width = int(rng.integers(2, 12))
            level[b:b + width] += rng.uniform(0.5, 2.0) * rate * np.exp(-np.arange(min(width, n - b)) / 3.0)
        return _Parts(t, level, fn(t), zeros, 0.5 * rate + math.sqrt(rate), "negbin", fn)
    if kind == "cloud":  # CPU / network of a cloud instance: regimes, sporadic spikes, AR noise, clipped at 0
        sigma = rng.uniform(0.5, 5.0)
        level = np.full(n, rng.uniform(10, 60))
        at = 0
        while at < n:  # regime changes (a deploy, a scale-out) every ~1-3 days of readings: ordinary
            at += int(rng.integers(150, 1500))
            level[at:] += rng.normal(0.0, 1.5) * sigma
        noise = _ar1(rng, n, rng.uniform(0.3, 0.8), sigma)
        for b in rng.choice(n, size=n // int(rng.integers(150, 600)), replace=False):  # not anomalies
            noise[b] += rng.uniform(2.0, 5.0) * sigma
        return _Parts(t, level, zeros, noise, sigma, "cpu")
    if kind == "traffic":  # speed of a road sensor: free flow, rush-hour dips, integer readings
        free = rng.uniform(45, 70)
        fn = _cycle(rng, rng.uniform(0.1, 0.3) * free, rng.choice([0.0, 0.5]))
        sigma = rng.uniform(2.0, 6.0)
        return _Parts(t, free + zeros, fn(t), _ar1(rng, n, 0.6, sigma), sigma, "round0", fn)
    raise ValueError(kind)


def _inject(rng: np.random.Generator, p: _Parts, kind: str, a: int, room: int) -> None:
    """Add one anomaly of `kind` starting at row `a`; its effect may last at most `room` rows."""
    n = len(p.t)
    sign = -1.0 if kind in ("dip", "shift_down", "ramp_down") or (kind == "burst" and rng.random() < 0.3) else 1.0
    seg = slice(a, a + max(1, min(room, int(n * rng.uniform(0.03, 0.12)))))
    if kind in ("spike", "dip"):
        p.level[a] += sign * rng.uniform(6, 12) * p.sigma
        p.noise[a] = 0.0  # the spike replaces the reading: heavy-tailed noise must not cancel it
    elif kind == "burst":
        width = int(rng.integers(3, 13))
        p.level[a:a + width] += sign * rng.uniform(4, 8) * p.sigma * np.hanning(width + 2)[1:-1]
    elif kind in ("shift_up", "shift_down"):
        end = n if rng.random() < 0.6 else seg.stop  # persistent, or back to normal later (like NAB's jumpsup)
        p.level[a:end] += sign * rng.uniform(2, 6) * p.sigma
    elif kind in ("ramp_up", "ramp_down"):
        height = sign * rng.uniform(4, 10) * p.sigma
        p.level[seg] += height * np.linspace(0, 1, seg.stop - a)
        if rng.random() < 0.6:  # the drift stays (a sensor that went off), else it is repaired after the ramp
            p.level[seg.stop:] += height
    elif kind == "variance_up":
        p.noise[seg] *= rng.uniform(3, 6)
    elif kind == "variance_down":
        p.noise[seg] *= rng.uniform(0.05, 0.2)
    elif kind == "cycle_stop":
        p.season[seg] = 0.0
    elif kind == "phase_shift":
        p.season[a:] = p.season_fn(p.t[a:] + rng.uniform(0.2, 0.5) * _DAY)
    elif kind == "amplitude":
        p.season[seg] *= rng.choice([0.25, 2.5])
    elif kind == "period_change":
        p.season[seg] = p.season_fn(p.t[seg], float(rng.choice([0.25, 0.5, 2.0])))
    elif kind == "oscillation":
        period = rng.uniform(8, 40)
        rows = np.arange(seg.stop - a)
        p.level[seg] += rng.uniform(1.5, 3) * p.sigma * np.sin(2 * math.pi * rows / period)
    elif kind == "stuck":
        p.stuck.append((a, seg.stop - a, p.out in ("poisson", "negbin")))
    else:
        raise ValueError(kind)


def _render(rng: np.random.Generator, p: _Parts) -> list[str]:
    x = p.level + p.season + p.noise
    if p.out == "poisson":
        x = rng.poisson(np.maximum(x, 0.0)).astype(float)
    elif p.out == "negbin":  # Poisson with a gamma-distributed rate: the heavier tail of real event counts
        x = rng.poisson(np.maximum(x, 0.0) * rng.gamma(4.0, 0.25, len(x))).astype(float)
    elif p.out == "round0":
        x = np.round(np.maximum(x, 0.0))
    elif p.out == "exp":
        x = np.exp(x)
    elif p.out == "cpu":
        x = np.clip(x, 0.0, 100.0)
    elif p.out in ("round1", "round5"):
        x = np.round(x * 10.0 if p.out == "round1" else x * 2.0) / (10.0 if p.out == "round1" else 2.0)
    for a, length, to_zero in p.stuck:
        x[a:a + length] = 0.0 if to_zero else x[a - 1]
    if p.out in ("poisson", "negbin", "round0"):
        return [str(int(v)) for v in x.tolist()]
    if p.out in ("round1", "round5"):
        return [f"{v:.1f}" for v in x.tolist()]
    return [f"{v:.6g}" for v in x.tolist()]


def _positions(rng: np.random.Generator, rows: int, count: int) -> list[int]:
    """`count` anomaly starts, all windows past the probation period, windows apart by at least half a window."""
    half = int(WINDOW_FRACTION * rows / count) // 2
    lo = math.ceil(PROBATION_FRACTION * rows) + half + 1
    hi = int(0.95 * rows)
    sep = 3 * half + 2
    free = hi - lo - (count - 1) * sep
    offsets = np.sort(rng.integers(0, free + 1, size=count))
    return [lo + int(o) + i * sep for i, o in enumerate(offsets)]


def _series(seed: int, index: int, family: str, base: str, rows: int, interval: int = 0) -> SyntheticSeries:
    rng = np.random.default_rng([seed, index])
    # A cycle must repeat several times to be learnable: short seasonal series are not sampled every minute.
    intervals = [i for i in (60, 300, 3600) if base not in _SEASONAL or i * rows >= 5 * _DAY]
    interval = interval or int(rng.choice(intervals))  # (drawn all the same: the first 50 series stay as they were)
    jitter, gaps = bool(rng.random() < 0.25), bool(rng.random() < 0.25)
    epoch = _timestamps(rng, rows, interval, jitter, gaps or base == "traffic")
    if base == "traffic":  # sensor dropouts: readings missing for minutes to hours, several times
        steps = np.diff(epoch)
        for i in rng.choice(rows - 1, size=int(rng.integers(5, 25)), replace=False):
            steps[i] += interval * int(rng.integers(1, 30))
        epoch = epoch[0] + np.concatenate(([0], np.cumsum(steps)))
    parts = _base(rng, base, (epoch - epoch[0]).astype(float))
    count = 0 if family == "none" else int(rng.choice([1, 2, 3], p=[0.45, 0.35, 0.2]))
    starts = _positions(rng, rows, count) if count else []
    windows = nab_windows(rows, starts)
    options = tuple(k for k in _KINDS.get(family, ()) if k not in _INVISIBLE.get(base, ()))
    if parts.season_fn is None:  # without a cycle, a frequency change can only be a new oscillation
        options = tuple(k for k in options if k != "period_change")
    kinds = tuple(str(rng.choice(options)) for _ in starts)
    for i, (a, kind) in enumerate(zip(starts, kinds)):
        room = (windows[i + 1][0] - a - 1) if i + 1 < len(starts) else rows - a
        _inject(rng, parts, kind, a, room)
    stamps = np.datetime_as_string(epoch.astype("datetime64[s]"), unit="s")
    return SyntheticSeries(
        relpath=f"{family}/{family}_{index:02d}_{base}.csv",
        stamps=[s.replace("T", " ") for s in stamps.tolist()],
        values=_render(rng, parts),
        anomalies=tuple(starts), kinds=kinds, windows=tuple(windows), base=base,
    )


def generate(seed: int = 20261204) -> list[SyntheticSeries]:
    """The whole corpus, in memory, in a fixed order (family by family)."""
    rng = np.random.default_rng([seed])
    total = sum(FAMILIES.values())
    lengths = np.exp(rng.uniform(math.log(MIN_ROWS), math.log(MAX_ROWS), total))
    longest = rng.choice(total, 2, replace=False)
    rest = np.ones(total, dtype=bool)
    rest[longest] = False
    budget = MAX_TOTAL_ROWS - 2 * MAX_ROWS - rest.sum() * MIN_ROWS
    excess = (lengths[rest] - MIN_ROWS).sum()
    if excess > budget:  # shrink the others towards MIN_ROWS so the corpus stays under MAX_TOTAL_ROWS
        lengths[rest] = MIN_ROWS + (lengths[rest] - MIN_ROWS) * budget / excess
    lengths[longest] = MAX_ROWS  # always a couple of series as long as NAB's longest
    out, index = [], 0
    for family, count in FAMILIES.items():
        allowed = list(_BASES[family])
        order = [allowed[int(i)] for i in rng.permutation(len(allowed))]
        for j in range(count):
            out.append(_series(seed, index, family, order[j % len(order)], int(lengths[index])))
            index += 1
    extra = np.random.default_rng([seed, 1 << 20])  # the extras' own stream: the first 50 are untouched
    for family, base in EXTRA:
        short = extra.random() < 0.5
        lo, hi = SHORT_ROWS if short else EXTRA_ROWS
        rows = int(np.exp(extra.uniform(math.log(lo), math.log(hi))))
        out.append(_series(seed, index, family, base, rows, _EXTRA_INTERVAL[base][0 if short else 1]))
        index += 1
    return out


def write_corpus(folder: Path, seed: int = 20261204) -> Path:
    """Write the corpus as `folder/<family>/<name>.csv` plus `windows.json` (and `labels.json`); return windows.json.

    CSV rows are `timestamp,value` with timestamps `YYYY-MM-DD HH:MM:SS` (UTC); windows.json maps each relative
    path to its `[[start, end], ...]` windows in the same timestamp format, as NAB's does. labels.json records
    each anomaly's start timestamp and kind, for inspection only.
    """
    folder = Path(folder)
    windows: dict[str, list[list[str]]] = {}
    labels: dict[str, dict[str, object]] = {}
    for s in generate(seed):
        path = folder / s.relpath
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("timestamp,value\n" + "".join(f"{t},{v}\n" for t, v in zip(s.stamps, s.values)))
        windows[s.relpath] = [[s.stamps[a], s.stamps[b]] for a, b in s.windows]
        labels[s.relpath] = {"base": s.base, "anomalies": [[s.stamps[a], k] for a, k in zip(s.anomalies, s.kinds)]}
    (folder / "labels.json").write_text(json.dumps(labels, indent=1) + "\n")
    out = folder / "windows.json"
    out.write_text(json.dumps(windows, indent=1) + "\n")
    return out
