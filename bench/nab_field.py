"""The field corpus: a seeded, labelled corpus of supply-chain and IT telemetry in NAB's file format.

Why it exists
-------------
Detectors are compared on NAB's real corpus, and proxies for NAB (cheaper corpora, calibration runs) are only
useful if they rank detectors the way NAB does. A corpus written by the same hands as the detectors, or tuned on
the detectors' output, flatters them. This one is written independently by a second author, from how the real
systems behave, without looking at the detectors, NAB's data or the other synthetic corpora. It serves two jobs:
checking how well a proxy corpus ranks detectors like NAB does, and giving a corpus to tune on without spending
the blind corpus (bench/nab_blind*.py), which must stay unseen.

Themes
------
What a supply-chain digital twin sees, plus general IT metrics: reefer temperatures (defrost cycles, door
openings, compressor failures), store humidity (quantised, slow), conveyor throughput (shifts, breaks, weekends,
jams), pallet/parcel scans (sparse Poisson, cut-off peaks), truck GPS speed (city, highway, rests, GPS dropouts,
breakdowns), terminal container moves per hour (vessels on the tide, shift changes, wind stops, strikes),
building and cold-store energy (daily/weekly load, HVAC, meter catch-ups, leaks), inventory (sawtooth of picks
and deliveries, stock-outs), supplier lead times (irregular, slow), gateway CPU, latency and packet loss.
Each series carries ordinary UNLABELLED nuisances (bench/nab_field_signals.py) so that a detector alarming at
every change pays for it in false positives; most carry LABELLED incidents (bench/nab_field_incidents.py).

NAB's rules, followed exactly
-----------------------------
* one CSV per series, ``timestamp,value``, timestamps ``YYYY-MM-DD HH:MM:SS`` UTC and increasing, plain decimals;
* files in category folders, names unique; 1,000-16,000 rows a series, at most 200,000 rows a seed, ~40 series;
* ``windows.json`` maps ``category/file.csv`` to ``[[start, end], ...]`` made by ``bench.nab_synthetic.nab_windows``
  (10 % of the rows, centred on each anomaly's start); no window touches the first 15 % of rows (the
  probationary period) and windows neither overlap nor touch;
* ``labels.json`` gives each anomaly's timestamp, kind, row and extent (rows), for reading results.
About a fifth of the series have no incident. The same seed gives the same bytes; each series draws from its own
generator seeded by (seed, index), so editing one series leaves the others unchanged.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from pathlib import Path

import numpy as np

from bench import nab_field_signals as sig
from bench.nab_field_incidents import inject
from bench.nab_synthetic import nab_windows

DEFAULT_SEED = 11
PROBATION = 0.15  # NAB's probationary period: detectors are still learning, so nothing is labelled there
WINDOW_GAP = 4  # rows between the end of one window and the start of the next: windows must not touch
MAX_TOTAL_ROWS = 200_000  # keeps a full corpus run fast; NAB's real corpus is ~366k rows
ROW_FACTOR = (0.8, 0.95)  # each series' rows = nominal x this, so the sum stays under MAX_TOTAL_ROWS
PLACEMENT_TRIES = 50  # an incident must start where it can happen (a jam while the line runs)
EPOCH0 = 1_672_531_200  # 2023-01-01 00:00:00 UTC; series start somewhere in the two years after

Model = Callable[[np.random.Generator, np.ndarray, float], sig.Signal]
MODELS: dict[str, Model] = {
    "reefer": sig.reefer,
    "humidity": sig.humidity,
    "energy_cold": lambda rng, t, tz: sig.energy(rng, t, tz, cold_store=True),
    "energy_building": lambda rng, t, tz: sig.energy(rng, t, tz, cold_store=False),
    "conveyor": sig.conveyor,
    "scans": sig.scans,
    "truck": sig.truck,
    "port": sig.port,
    "inventory": sig.inventory,
    "lead_time": sig.lead_time,
    "cpu": sig.cpu,
    "latency": sig.latency,
    "packet_loss": sig.packet_loss,
}

# (relpath, model, interval s, nominal rows, timing: ""/"jitter"/"poisson", gap blocks, tz hours, incidents)
CATALOGUE: tuple[tuple[str, str, int, int, str, int, float, tuple[str, ...]], ...] = (
    ("coldchain/reefer_01.csv", "reefer", 300, 6000, "", 0, 0, ("compressor_failure",)),
    ("coldchain/reefer_02.csv", "reefer", 600, 4000, "jitter", 2, 1, ("door_left_open", "spike")),
    ("coldchain/reefer_03.csv", "reefer", 900, 3000, "", 1, 8, ()),
    ("coldchain/reefer_04.csv", "reefer", 300, 6000, "", 3, -5, ("sensor_stuck", "compressor_failure")),
    ("coldchain/reefer_05.csv", "reefer", 600, 5000, "jitter", 0, 2, ("noise_burst", "door_left_open", "slow_ramp")),
    ("coldchain/reefer_06.csv", "reefer", 300, 5000, "", 2, 0, ("door_left_open",)),
    ("coldchain/humidity_store_a.csv", "humidity", 600, 4000, "", 0, 1, ("slow_ramp",)),
    ("coldchain/humidity_store_b.csv", "humidity", 900, 3000, "jitter", 2, 1, ()),
    ("coldchain/humidity_dock.csv", "humidity", 600, 5000, "", 1, -4, ("spike", "dip")),
    ("warehouse/conveyor_sorter_1.csv", "conveyor", 300, 6000, "", 0, 1, ("conveyor_jam", "conveyor_jam")),
    ("warehouse/conveyor_sorter_2.csv", "conveyor", 300, 5000, "", 2, 1, ("pattern_change",)),
    ("warehouse/conveyor_inbound.csv", "conveyor", 600, 3000, "", 0, -5, ()),
    ("warehouse/conveyor_outbound.csv", "conveyor", 60, 9000, "jitter", 3, 1, ("conveyor_jam", "spike")),
    ("warehouse/scans_dock_a.csv", "scans", 600, 4000, "", 0, 1, ("spike",)),
    ("warehouse/scans_dock_b.csv", "scans", 600, 5000, "jitter", 1, -6, ("dip", "pattern_change")),
    ("warehouse/scans_returns.csv", "scans", 900, 3000, "", 0, 1, ()),
    ("warehouse/scans_crossdock.csv", "scans", 300, 8000, "", 2, 8, ("spike", "dip")),
    ("transport/truck_speed_nl01.csv", "truck", 60, 7000, "jitter", 4, 1, ("truck_breakdown",)),
    ("transport/truck_speed_de07.csv", "truck", 30, 10000, "jitter", 6, 1, ("sensor_stuck", "spike")),
    ("transport/truck_speed_pl03.csv", "truck", 60, 6000, "jitter", 3, 1, ()),
    ("transport/truck_speed_fr12.csv", "truck", 60, 7000, "jitter", 5, 1, ("noise_burst", "truck_breakdown")),
    ("port/moves_rotterdam.csv", "port", 3600, 3000, "", 1, 1, ("port_strike",)),
    ("port/moves_felixstowe.csv", "port", 3600, 2500, "", 0, 0, ("port_strike", "spike")),
    ("port/moves_gdansk.csv", "port", 3600, 2000, "", 2, 1, ()),
    ("energy/coldstore_1_kwh.csv", "energy_cold", 900, 7000, "", 2, 1, ("energy_leak",)),
    ("energy/coldstore_2_kwh.csv", "energy_cold", 900, 6000, "", 0, 1, ("pattern_change", "spike")),
    ("energy/office_hq_kwh.csv", "energy_building", 900, 7000, "", 1, -5, ()),
    ("energy/dc_north_kwh.csv", "energy_building", 3600, 4000, "", 2, 1, ("energy_leak", "dip")),
    ("energy/dc_south_kwh.csv", "energy_building", 900, 7000, "jitter", 0, 8, ("pattern_change",)),
    ("inventory/sku_1042_units.csv", "inventory", 3600, 3000, "", 0, 1, ("stock_out",)),
    ("inventory/sku_2210_units.csv", "inventory", 1800, 4000, "", 1, 1, ("stock_out", "spike")),
    ("inventory/sku_3307_units.csv", "inventory", 3600, 2500, "", 0, 1, ()),
    ("inventory/leadtime_supplier_a.csv", "lead_time", 14400, 1300, "poisson", 0, 8, ("supplier_delay",)),
    ("inventory/leadtime_supplier_b.csv", "lead_time", 10800, 1500, "poisson", 0, 1, ("spike", "supplier_delay")),
    ("network/gw_cpu_edge01.csv", "cpu", 10, 9000, "", 2, 0, ("slow_ramp", "spike")),
    ("network/gw_cpu_edge02.csv", "cpu", 60, 8000, "jitter", 1, 1, ("sensor_stuck",)),
    ("network/gw_latency_wan1.csv", "latency", 60, 6000, "", 2, 0, ("latency_incident",)),
    ("network/gw_latency_wan2.csv", "latency", 60, 5000, "jitter", 0, 1, ("latency_incident", "spike")),
    ("network/gw_latency_lte.csv", "latency", 300, 4000, "", 3, 1, ()),
    ("network/gw_packet_loss_wan1.csv", "packet_loss", 60, 6000, "", 1, 0, ("packet_loss_burst",)),
    ("network/gw_packet_loss_lte.csv", "packet_loss", 300, 4000, "", 2, 1, ("packet_loss_burst", "packet_loss_burst")),
)


def _stamps(rng: np.random.Generator, rows: int, interval: int, timing: str, gaps: int) -> np.ndarray:
    """Epoch seconds: regular, jittered (clock drift, polling) or event-driven, minus `gaps` outages of rows."""
    blocks = rng.integers(2, 30, gaps)
    m = rows + int(blocks.sum())
    if timing == "poisson":
        steps = np.maximum(np.round(rng.exponential(interval, m - 1)), 60)  # purchase orders, at least a minute
    elif timing == "jitter":
        steps = np.maximum(np.round(interval * (1 + rng.uniform(-0.2, 0.2, m - 1))), 1)
    else:
        steps = np.full(m - 1, interval)
    start = EPOCH0 + int(rng.integers(0, 730)) * 86400 + int(rng.integers(0, 86400 // interval + 1)) * interval
    t = start + np.concatenate([[0], np.cumsum(steps)]).astype(np.int64)
    keep = np.ones(m, dtype=bool)
    for size, at in zip(blocks, rng.integers(1, m - 40, gaps), strict=True):  # network/power outages
        keep[at : at + size] = False
    return t[keep][:rows]


def _place(rng: np.random.Generator, rows: int, count: int, active: np.ndarray | None) -> list[int]:
    """Anomaly rows whose NAB windows avoid the probation, stay inside the series and keep WINDOW_GAP apart."""
    if count == 0:
        return []
    half = int(0.10 * rows / count) // 2
    pitch = 2 * half + WINDOW_GAP + 1
    lo, hi = math.ceil(PROBATION * rows) + half + 1, rows - 1 - half
    best: list[int] = []
    for _ in range(PLACEMENT_TRIES):  # sequential draws can strand the last one in a quiet weekend: retry
        out: list[int] = []
        for j in range(count):
            first = lo if not out else out[-1] + pitch
            span = np.arange(first, hi - (count - 1 - j) * pitch + 1)
            good = span[active[span]] if active is not None else span
            out.append(int(rng.choice(good if len(good) else span)))
        if active is None or all(active[out]):
            return out
        best = best or out
    return best


def _render(s: sig.Signal) -> list[str]:
    x = np.clip(s.x, s.lo, s.hi)
    step = np.asarray(s.step, dtype=float)
    if np.any(step > 0):
        q = np.where(step > 0, step, 1.0)
        x = np.where(step > 0, np.round(x / q) * q, x)
    x = np.round(x, s.decimals) + 0.0  # + 0.0 turns -0.0 into 0.0
    fmt = f"{{:.{s.decimals}f}}".format
    return [fmt(v) for v in x]


def series(seed: int, index: int) -> tuple[str, np.ndarray, list[str], list[tuple[int, str, int]]]:
    """One series of the catalogue: relpath, timestamps, rendered values, and (row, kind, extent) per incident."""
    relpath, model, interval, nominal, timing, gaps, tz, kinds = CATALOGUE[index]
    rng = np.random.default_rng([seed, index])
    rows = int(nominal * rng.uniform(*ROW_FACTOR))
    t = _stamps(rng, rows, interval, timing, gaps).astype(float)
    s = MODELS[model](rng, t, tz)
    at = _place(rng, rows, len(kinds), s.active)
    half = int(0.10 * rows / max(len(kinds), 1)) // 2
    incidents = []
    for j, (a, kind) in enumerate(zip(at, kinds, strict=True)):
        room = (at[j + 1] - half - WINDOW_GAP - a) if j + 1 < len(at) else rows - a
        incidents.append((a, kind, inject(rng, kind, s, t, a, room)))
    return relpath, t.astype(np.int64), _render(s), incidents


def iso_stamps(t: np.ndarray) -> list[str]:
    """Seconds since the epoch as the corpus writes them (NAB's "YYYY-MM-DD HH:MM:SS")."""
    return [str(v).replace("T", " ") for v in t.astype("datetime64[s]")]


def write_corpus(folder: Path, seed: int = DEFAULT_SEED) -> Path:
    """Write every series, windows.json and labels.json under folder; returns the windows.json path."""
    folder = Path(folder)
    windows: dict[str, list[list[str]]] = {}
    labels: dict[str, list[dict[str, object]]] = {}
    total = 0
    for index in range(len(CATALOGUE)):
        relpath, t, values, incidents = series(seed, index)
        stamps = iso_stamps(t)
        total += len(stamps)
        path = folder / relpath
        path.parent.mkdir(parents=True, exist_ok=True)
        body = "".join(f"{s},{v}\n" for s, v in zip(stamps, values, strict=True))
        path.write_text("timestamp,value\n" + body, encoding="utf-8")
        rows = [a for a, _, _ in incidents]
        windows[relpath] = [[stamps[s], stamps[e]] for s, e in nab_windows(len(stamps), rows)]
        labels[relpath] = [{"timestamp": stamps[a], "kind": k, "row": a, "rows": d} for a, k, d in incidents]
    if total > MAX_TOTAL_ROWS:
        raise ValueError(f"field corpus has {total} rows, over {MAX_TOTAL_ROWS}")
    out = folder / "windows.json"
    out.write_text(json.dumps(windows, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    (folder / "labels.json").write_text(json.dumps(labels, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    return out
