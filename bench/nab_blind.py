"""A blind labelled corpus in NAB's file format: realistic telemetry with realistic incidents, REPORT-ONLY.

WHY: the synthetic corpus the detectors are tuned on (bench/nab_synthetic.py) was written by the people who
designed the detectors, so a detector can learn that generator's habits and score well for the wrong reason.
This corpus was written independently of it (its code, the detectors and NAB's own data unread), from how
the systems behave: autoscaling fleets, social mention counts, ad auctions, road detectors, machines and
rooms, city demand, and NAB-style artificial shapes, each with the ordinary nuisances that make real data
hard (deployments, bursts nobody pages for, missing rows, quantisation, planned stops, mid-day starts) left
unlabelled. It is a held-out check: its scores are reported, and nothing may ever be tuned on it; a change
made to score better here spends the only independent evidence there is.

The files follow NAB's rules: `timestamp,value` CSVs in category folders, `windows.json` (each anomaly's
window, together 10 % of a series' rows, by `nab_windows`), no anomaly nor window in the first 15 % (the
probationary period), windows apart, and about a fifth of the series with no anomaly at all (they only
count false positives). `labels.json` adds each anomaly's start and kind, for reading the results.
"""

from __future__ import annotations

import functools
import itertools
import json
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from bench import nab_blind_physical as phy
from bench import nab_blind_services as svc
from bench import nab_blind_signals as sig
from bench.nab_synthetic import SyntheticSeries, nab_windows

# The seed the reports use: one fixed corpus, so two reports months apart score the same data.
DEFAULT_SEED = 7
# NAB's probationary period: the first 15 % of a series trains the detector and is never scored, so a
# label (or a window) there would be an incident no detector can be credited for.
PROBATION = 0.15
# All windows of a series span this share of its rows together (NAB's rule, as nab_windows applies it);
# placing anomalies needs it to keep windows apart before nab_windows draws them.
WINDOW_SHARE = 0.10
# Rows left between one window's end and the next one's start: touching windows would let one detection
# count for two incidents, and an off-by-one in nab_windows' rounding would make them overlap.
WINDOW_GAP_ROWS = 4
# Rows of one series: shorter ones leave a detector no time to learn past probation, longer ones would
# dominate the corpus' score (NAB's own files are of this order).
MIN_ROWS, MAX_ROWS = 1_000, 16_000
# The bench replays the corpus through three pure-Python detectors: more rows make that replay too slow to
# run on every report.
MAX_TOTAL_ROWS = 200_000

# Sampling steps in seconds, so the table below reads as the real systems' intervals (a mistyped number of
# seconds would quietly resample a whole category).
S5, M1, M5, M30, H1, DAY = 5.0, 60.0, 300.0, 1_800.0, 3_600.0, 86_400.0


@dataclass(frozen=True)
class Spec:
    """One series: where it goes, its signal model, length, sampling, incidents (in order) and text format."""

    relpath: str
    base: str
    rows: int
    step_s: float
    kinds: tuple[str, ...] = ()
    decimals: int | None = 2  # None: integer counts
    jitter: float = 0.0  # share of a step a stamp may sit off its grid (road detectors' polling)
    gap_rate: float = 0.0  # chance a row is followed by missing rows (an agent restarting, a lost packet)
    snap_s: float = 0.0  # how much later an incident may move to its time of day (a holiday starts at midnight)
    utc_offset_h: float = -5.0  # where the system's users or machines live: their day drives the cycles
    spacing_s: tuple[float, float] | None = None  # incidents that follow one another (wear, then failure)


BUILDERS: dict[str, sig.Builder] = {
    "cpu_autoscaled": svc.cpu_autoscaled,
    "cpu_idle": svc.cpu_idle,
    "memory_utilization": svc.memory_utilization,
    "network_in_bytes": svc.network_bytes(nightly_hour=3.0),
    "network_out_bytes": svc.network_bytes(nightly_hour=2.0),
    "disk_write_bytes": svc.disk_write_bytes,
    "request_latency_ms": svc.request_latency_ms,
    "request_count": svc.request_count,
    "mention_count": svc.mention_count,
    "cpc": svc.ad_price(0.3, 1.2),
    "cpm": svc.ad_price(1.5, 5.0),
    "occupancy": phy.road("occupancy"),
    "speed": phy.road("speed"),
    "travel_time": phy.road("travel_time"),
    "machine_temperature": phy.machine_temperature,
    "vibration_rms": phy.vibration_rms,
    "discharge_temperature": phy.discharge_temperature,
    "room_temperature": phy.room_temperature,
    "taxi_demand": phy.demand(4_000.0, 15_000.0),
    "order_demand": phy.demand(40.0, 200.0),
    "square_wave": phy.wave("square"),
    "sine_wave": phy.wave("sine"),
    "sawtooth_wave": phy.wave("sawtooth"),
    "flat_line": phy.wave("flat"),
}

# Road detectors (Pacific time) poll with jitter and drop polls; ad exchanges skip hours with no auction.
_road = functools.partial(Spec, jitter=0.15, gap_rate=0.01, utc_offset_h=-8.0)
_ad = functools.partial(Spec, gap_rate=0.03)
SPECS: tuple[Spec, ...] = (
    Spec("cloud/cpu_autoscaled_01.csv", "cpu_autoscaled", 4032, M5, ("saturation",), 3, gap_rate=0.002),
    Spec("cloud/cpu_autoscaled_02.csv", "cpu_autoscaled", 4032, M5, ("misconfig", "saturation"), 3, gap_rate=0.002),
    Spec("cloud/cpu_host_03.csv", "cpu_idle", 4032, M5, ("misconfig",), 1),
    Spec("cloud/cpu_host_04.csv", "cpu_idle", 3024, M5, (), 1),
    Spec("cloud/memory_util_05.csv", "memory_utilization", 4032, M5, ("leak",), 2),
    Spec("cloud/network_in_06.csv", "network_in_bytes", 4032, M5, ("outage", "surge"), None, gap_rate=0.002),
    Spec("cloud/network_out_07.csv", "network_out_bytes", 4032, M5, (), None),
    Spec("cloud/disk_write_08.csv", "disk_write_bytes", 4032, M5, ("misconfig",), None),
    Spec("cloud/latency_p95_09.csv", "request_latency_ms", 4032, M5, ("degradation",), 1),
    Spec("cloud/latency_p95_10.csv", "request_latency_ms", 6048, M5, ("degradation",) * 2, 1, gap_rate=0.002),
    Spec("cloud/requests_11.csv", "request_count", 4032, M5, ("outage", "surge", "outage"), None),
    Spec("cloud/requests_12.csv", "request_count", 6048, M5, ("misconfig", "outage"), None),
    Spec("social/mentions_01.csv", "mention_count", 4032, M5, ("news_burst",), None),
    Spec("social/mentions_02.csv", "mention_count", 6048, M5, ("news_burst", "elevated", "news_burst"), None),
    Spec("social/mentions_03.csv", "mention_count", 4032, M5, ("elevated",), None),
    Spec("social/mentions_04.csv", "mention_count", 4032, M5, (), None),
    Spec("social/mentions_05.csv", "mention_count", 5040, M5, ("news_burst",) * 2, None),
    _ad("adexchange/cpc_01.csv", "cpc", 1600, H1, ("price_spike",), 4),
    _ad("adexchange/cpc_02.csv", "cpc", 1800, H1, ("level_drop", "price_spike"), 4),
    _ad("adexchange/cpm_03.csv", "cpm", 1600, H1, ("variance",), 3),
    _ad("adexchange/cpm_04.csv", "cpm", 1400, H1, (), 3),
    _ad("adexchange/cpc_05.csv", "cpc", 1200, H1, ("price_spike",) * 2, 4),
    _road("traffic/occupancy_01.csv", "occupancy", 3500, M5, ("crash",), 1),
    _road("traffic/speed_02.csv", "speed", 3500, M5, ("crash", "dropout"), None),
    _road("traffic/travel_time_03.csv", "travel_time", 3000, M5, ("crash", "stuck"), None),
    _road("traffic/occupancy_04.csv", "occupancy", 3500, M5, ("closure", "stuck"), 1, snap_s=DAY),
    _road("traffic/speed_05.csv", "speed", 2500, M5, (), None),
    Spec("industrial/machine_temp_01.csv", "machine_temperature", 7000, M5, ("wear", "failure"), 2, gap_rate=0.001,
         spacing_s=(3.0 * DAY, 6.0 * DAY)),
    Spec("industrial/machine_temp_02.csv", "machine_temperature", 6000, M5, ("trip",), 2),
    Spec("industrial/machine_temp_03.csv", "machine_temperature", 5000, M5, (), 2),
    Spec("industrial/vibration_04.csv", "vibration_rms", 8000, M1, ("stuck", "bearing_fault"), 3),
    Spec("industrial/compressor_temp_05.csv", "discharge_temperature", 6000, S5, ("trip",) * 2, 1),
    Spec("industrial/room_temp_06.csv", "room_temperature", 5000, H1, ("hvac_failure",), 1, snap_s=3.5 * DAY),
    Spec("demand/taxi_01.csv", "taxi_demand", 10320, M30, ("holiday", "storm", "event", "holiday"), None,
         snap_s=3.5 * DAY),
    Spec("demand/taxi_02.csv", "taxi_demand", 5000, M30, ("event",), None, snap_s=3.5 * DAY),
    Spec("demand/orders_03.csv", "order_demand", 6000, M30, ("storm", "holiday"), None, snap_s=3.5 * DAY),
    Spec("artificial/square_01.csv", "square_wave", 4032, M5, ("jump",)),
    Spec("artificial/sine_02.csv", "sine_wave", 4032, M5, ("flatten",)),
    Spec("artificial/sawtooth_03.csv", "sawtooth_wave", 4032, M5, ("spike_density",)),
    Spec("artificial/flat_04.csv", "flat_line", 4032, M5, ()),
    Spec("artificial/sine_05.csv", "sine_wave", 4032, M5, ()),
    Spec("artificial/square_06.csv", "square_wave", 4032, M5, ("jump", "flatten")),
)


def place(rng: np.random.Generator, spec: Spec) -> list[int]:
    """Anomaly starts: each in its own slot after probation, far enough apart that the windows (and the
    forward snap to a time of day) never overlap, and far enough from the end that the last window fits."""
    count = len(spec.kinds)
    if not count:
        return []
    half = int(WINDOW_SHARE * spec.rows / count) // 2 + 1
    snap_rows = math.ceil(spec.snap_s / spec.step_s) + 1 if spec.snap_s else 0
    low = math.ceil(PROBATION * spec.rows) + half
    if spec.spacing_s:  # chained: each so long after the one before, the first anywhere the chain fits
        apart = 2 * half + snap_rows + WINDOW_GAP_ROWS
        gaps = [max(apart, round(rng.uniform(*spec.spacing_s) / spec.step_s)) for _ in range(count - 1)]
        high = spec.rows - 1 - half - snap_rows - sum(gaps)
        if high < low:
            raise ValueError(f"{spec.relpath}: {count} chained anomalies do not fit in {spec.rows} rows")
        return list(itertools.accumulate([int(rng.uniform(low, high)), *gaps]))
    slot = (spec.rows - 1 - half - snap_rows - low) / count
    free = slot - 2 * half - snap_rows - WINDOW_GAP_ROWS
    if free <= 0:
        raise ValueError(f"{spec.relpath}: {count} anomalies do not fit in {spec.rows} rows")
    return [int(low + i * slot + rng.uniform(0.0, free)) for i in range(count)]


def check(spec: Spec, anomalies: list[int], windows: list[tuple[int, int]], values: np.ndarray) -> None:
    """Refuses a series that breaks NAB's rules, so a model or spec change cannot quietly ship a bad label."""
    first = math.ceil(PROBATION * spec.rows)
    problems = []
    if len(values) != spec.rows or not np.isfinite(values).all():
        problems.append("values missing or not finite")
    if anomalies != sorted(set(anomalies)) or (anomalies and anomalies[0] < first):
        problems.append(f"anomalies {anomalies} unsorted or inside probation (< {first})")
    if windows and (windows[0][0] < first or windows[-1][1] > spec.rows - 1):
        problems.append(f"windows {windows} outside rows {first}..{spec.rows - 1}")
    if any(a[1] + WINDOW_GAP_ROWS > b[0] for a, b in itertools.pairwise(windows)):
        problems.append(f"windows {windows} overlap or touch")
    if problems:
        raise ValueError(f"{spec.relpath}: " + "; ".join(problems))


def _text(values: np.ndarray, decimals: int | None) -> list[str]:
    if decimals is None:
        return [str(int(v)) for v in np.rint(values).tolist()]
    return [repr(round(v, decimals) + 0.0) for v in values.tolist()]  # + 0.0: never "-0.0"


def _stamps(t: np.ndarray) -> list[str]:
    return [s.replace("T", " ") for s in t.astype(np.int64).astype("datetime64[s]").astype(str).tolist()]


def series(seed: int, index: int, spec: Spec) -> SyntheticSeries:
    """One series, from its own random stream: changing or adding one series never changes the others."""
    rng = np.random.default_rng([seed, index])
    planned = place(rng, spec)
    clock = sig.make_clock(rng, spec.rows, spec.step_s, jitter=spec.jitter, gap_rate=spec.gap_rate,
                           utc_offset_h=spec.utc_offset_h)
    stops = [*planned, spec.rows][1:]  # each incident must be over by the next one's start
    incidents = [sig.Incident(start, kind, stop) for start, kind, stop in zip(planned, spec.kinds, stops, strict=True)]
    values, anomalies = BUILDERS[spec.base](rng, clock, incidents)
    windows = nab_windows(spec.rows, anomalies)
    check(spec, anomalies, windows, values)
    return SyntheticSeries(relpath=spec.relpath, stamps=_stamps(clock.t), values=_text(values, spec.decimals),
                           anomalies=tuple(anomalies), kinds=spec.kinds, windows=tuple(windows), base=spec.base)


def generate(seed: int = DEFAULT_SEED) -> list[SyntheticSeries]:
    """The whole corpus; the same seed gives the same corpus, bit for bit."""
    total = sum(spec.rows for spec in SPECS)
    if total > MAX_TOTAL_ROWS or any(not MIN_ROWS <= spec.rows <= MAX_ROWS for spec in SPECS):
        raise ValueError(f"corpus of {total} rows, or a series, outside the bench's bounds")
    if len({spec.relpath.rsplit("/", 1)[-1] for spec in SPECS}) != len(SPECS):
        raise ValueError("two series share a file name")
    return [series(seed, index, spec) for index, spec in enumerate(SPECS)]


def write_corpus(folder: Path, seed: int = DEFAULT_SEED) -> Path:
    """Writes the CSVs, `windows.json` (NAB's format: relpath -> [[start, end], ...] as stamps) and
    `labels.json` (relpath -> base and [stamp, kind] per anomaly); returns the windows.json path."""
    windows: dict[str, list[list[str]]] = {}
    labels: dict[str, dict[str, object]] = {}
    for one in generate(seed):
        path = folder / one.relpath
        path.parent.mkdir(parents=True, exist_ok=True)
        rows = "".join(f"{stamp},{value}\n" for stamp, value in zip(one.stamps, one.values, strict=True))
        path.write_text("timestamp,value\n" + rows, encoding="utf-8", newline="\n")
        windows[one.relpath] = [[one.stamps[start], one.stamps[end]] for start, end in one.windows]
        labels[one.relpath] = {"base": one.base, "anomalies": [[one.stamps[row], kind] for row, kind in
                                                              zip(one.anomalies, one.kinds, strict=True)]}
    (folder / "labels.json").write_text(json.dumps(labels, indent=2) + "\n", encoding="utf-8", newline="\n")
    out = folder / "windows.json"
    out.write_text(json.dumps(windows, indent=2) + "\n", encoding="utf-8", newline="\n")
    return out
