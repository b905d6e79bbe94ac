"""The field corpus follows NAB's rules, is deterministic, and every labelled incident is visible in the data."""

from __future__ import annotations

import json
import math
from datetime import datetime
from pathlib import Path

import numpy as np
import pytest

from bench.nab_field import CATALOGUE, DEFAULT_SEED, write_corpus
from bench.nab_synthetic import nab_windows

DAY = 86400.0

# How each kind shows itself: a shifted level, a flat run, a wider spread, a lone jump, a moved daily profile.
MEASURE = {
    "compressor_failure": "level",
    "door_left_open": "level",
    "conveyor_jam": "collapse",
    "truck_breakdown": "level",
    "port_strike": "collapse",
    "supplier_delay": "level",
    "stock_out": "level",
    "energy_leak": "level",
    "packet_loss_burst": "level",
    "slow_ramp": "ramp",
    "dip": "level",
    "sensor_stuck": "flat",
    "noise_burst": "spread",
    "latency_incident": "spread",
    "spike": "jump",
    "pattern_change": "profile",
}
THRESHOLD = {"collapse": 0.8, "level": 3.0, "ramp": 3.0, "flat": 0.4, "spread": 2.0, "jump": 1.5, "profile": 1.5}


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("field11")
    write_corpus(folder, DEFAULT_SEED)
    return folder


def _read(path: Path) -> tuple[list[str], np.ndarray, np.ndarray]:
    lines = path.read_text(encoding="utf-8").splitlines()
    assert lines[0] == "timestamp,value"
    stamps = [line.split(",")[0] for line in lines[1:]]
    values = np.array([float(line.split(",")[1]) for line in lines[1:]])
    t = np.array([datetime.strptime(s, "%Y-%m-%d %H:%M:%S").timestamp() for s in stamps])
    return stamps, t, values


def _mad(v: np.ndarray) -> float:
    v = v[np.isfinite(v)]
    return 1.4826 * float(np.median(np.abs(v - np.median(v))))


def _lagged(x: np.ndarray, t: np.ndarray, lag: float) -> np.ndarray:
    idx = np.searchsorted(t, t - lag, side="right") - 1
    out = np.full(len(x), np.nan)
    out[idx >= 0] = x[idx >= 0] - x[idx[idx >= 0]]
    return out


def _z(s: np.ndarray, r: np.ndarray) -> float:
    s, r = s[np.isfinite(s)], r[np.isfinite(r)]
    if len(s) == 0 or len(r) < 10:
        return 0.0
    scale = _mad(r) + 1e-3 * float(np.ptp(r)) + 1e-9
    return abs(float(np.median(s)) - float(np.median(r))) / scale


def _profile_dev(x: np.ndarray, t: np.ndarray, s: slice, r: slice) -> float:
    """Mean |value - the reference rows' median at the same hour and weekday type|, on the incident's most
    changed calendar day (of its first five) relative to the reference rows: a moved schedule shows on a working
    day, not on a quiet Sunday."""
    hour = ((t // 3600) % 24).astype(int)
    days = (t // DAY).astype(int)
    key = hour * 2 + (((days + 3) % 7) >= 5)
    ref = {k: np.median(x[r][key[r] == k]) for k in np.unique(key[r])}
    dev = np.array([abs(v - ref[k]) if k in ref else np.nan for v, k in zip(x, key, strict=True)])
    base = np.nanmean(dev[r]) + 1e-9
    per_day = [np.nanmean(dev[s][days[s] == day]) for day in np.unique(days[s])[:5]]
    return float(np.nanmax(per_day) / base)


def visibility(kind: str, x: np.ndarray, t: np.ndarray, a: int, d: int) -> float:
    """How strongly the incident at row a (extent d rows) stands out against the readings before it."""
    measure = MEASURE[kind]
    per_day = int(DAY / float(np.median(np.diff(t))))
    s = slice(a, a + max(d, 1))
    span = max(3 * d, per_day, 100)
    r = slice(max(0, a - span), a)
    if measure == "level":
        # against the long stretch before; against the same time a day / a week earlier (first day of the
        # incident only: a lasting step shows there once); against the block just before (line was running)
        m = min(max(d, 10), per_day)
        first = slice(a, a + min(max(d, 1), per_day))
        lagged = [_z(_lagged(x, t, lag)[first], _lagged(x, t, lag)[r]) for lag in (DAY, 7 * DAY)]
        return max(_z(x[s], x[r]), _z(x[a : a + min(max(d, 1), m)], x[max(0, a - m) : a]), *lagged)
    near = slice(max(0, a - min(max(d, 10), per_day)), a)
    if measure == "ramp":  # where the ramp has got to by its last quarter, raw and against a day earlier
        end = slice(a + 3 * d // 4, a + max(d, 1))
        return max(_z(x[end], x[r]), _z(x[end], x[near]), _z(_lagged(x, t, DAY)[end], _lagged(x, t, DAY)[r]))
    if measure == "collapse":  # most readings below nearly everything seen before (or just before)
        return max(float(np.mean(x[s] < np.quantile(x[ref], 0.05))) for ref in (r, near))
    if measure == "flat":
        flat_s = float(np.mean(np.diff(x[s]) == 0))
        return flat_s - float(np.mean(np.diff(x[r]) == 0)) if flat_s >= 0.95 else 0.0
    if measure == "spread":
        xs, xr = x[s], x[r]
        rough = np.mean(np.abs(np.diff(xs))) / (np.mean(np.abs(np.diff(xr))) + 1e-9)
        q50 = np.median(xr)
        tail = (np.quantile(xs, 0.9) - q50) / (np.quantile(xr, 0.9) - q50 + 1e-9)
        return float(max(rough, tail))
    if measure == "jump":
        dev = np.array([abs(x[i] - np.median(x[i - 5 : i])) for i in range(max(5, a - 500), a + min(d, 3))])
        return float(dev[-min(d, 3) :].max() / (np.quantile(dev[: -min(d, 3)], 0.99) + 1e-9))
    return _profile_dev(x, t, s, slice(max(0, a - 14 * per_day), a))


def test_nab_rules(corpus: Path) -> None:
    windows = json.loads((corpus / "windows.json").read_text())
    labels = json.loads((corpus / "labels.json").read_text())
    assert set(windows) == set(labels) == {c[0] for c in CATALOGUE}
    assert len({Path(p).name for p in windows}) == len(windows)
    total = 0
    for relpath, spans in windows.items():
        stamps, t, _ = _read(corpus / relpath)
        rows = len(stamps)
        total += rows
        assert 1000 <= rows <= 16000, relpath
        assert np.all(np.diff(t) > 0), relpath
        rows_of = {s: i for i, s in enumerate(stamps)}
        anomalies = [rows_of[lab["timestamp"]] for lab in labels[relpath]]
        assert anomalies == sorted(anomalies)
        expected = [[stamps[s], stamps[e]] for s, e in nab_windows(rows, anomalies)]
        assert spans == expected, relpath
        bounds = [(rows_of[s], rows_of[e]) for s, e in spans]
        assert all(s >= math.ceil(0.15 * rows) for s, _ in bounds), relpath
        for (_, e1), (s2, _) in zip(bounds, bounds[1:], strict=False):
            assert s2 - e1 > 2, relpath
    assert total <= 200_000
    assert 30 <= len(windows) <= 50


def test_share_without_incident(corpus: Path) -> None:
    windows = json.loads((corpus / "windows.json").read_text())
    share = sum(1 for w in windows.values() if not w) / len(windows)
    assert 0.15 <= share <= 0.3


def test_values_are_plain_decimals(corpus: Path) -> None:
    for path in corpus.rglob("*.csv"):
        for line in path.read_text(encoding="utf-8").splitlines()[1:50]:
            value = line.split(",")[1]
            assert "e" not in value.lower() and value not in ("nan", "inf", "-0.0"), path


def test_incidents_are_visible(corpus: Path) -> None:
    labels = json.loads((corpus / "labels.json").read_text())
    weak = []
    for relpath, items in labels.items():
        _, t, x = _read(corpus / relpath)
        for lab in items:
            score = visibility(lab["kind"], x, t, lab["row"], lab["rows"])
            if score < THRESHOLD[MEASURE[lab["kind"]]]:
                weak.append((relpath, lab["kind"], round(score, 2)))
    assert not weak, weak


def test_kinds_are_covered(corpus: Path) -> None:
    labels = json.loads((corpus / "labels.json").read_text())
    kinds = {lab["kind"] for items in labels.values() for lab in items}
    assert kinds == set(MEASURE)


def test_deterministic(corpus: Path, tmp_path: Path) -> None:
    again = tmp_path / "again"
    write_corpus(again, DEFAULT_SEED)
    for path in sorted(corpus.rglob("*")):
        if path.is_file():
            assert (again / path.relative_to(corpus)).read_bytes() == path.read_bytes(), path
    other = tmp_path / "other"
    write_corpus(other, DEFAULT_SEED + 1)
    same = sum((other / p.relative_to(corpus)).read_bytes() == p.read_bytes() for p in corpus.rglob("*.csv"))
    assert same == 0
