"""bench/nab_blind.py: the blind corpus keeps NAB's labelling rules (windows by `nab_windows`, none in the
probationary 15 %, none overlapping), is the same bit for bit from one seed, samples the way the real
systems do, leaves a share of series unlabelled, and labels only incidents that show in the data."""

from __future__ import annotations

import itertools
import json
import math
import re
from collections import Counter
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from bench.nab_blind import (
    DEFAULT_SEED,
    MAX_ROWS,
    MAX_TOTAL_ROWS,
    MIN_ROWS,
    PROBATION,
    SPECS,
    Spec,
    check,
    generate,
    series,
    write_corpus,
)
from bench.nab_synthetic import SyntheticSeries, nab_windows
from omnitrack.detect import parse_timestamp

CATEGORIES = {"cloud", "social", "adexchange", "traffic", "industrial", "demand", "artificial"}
STAMP = re.compile(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d")
COUNT_BASES = {"mention_count", "request_count", "network_in_bytes", "network_out_bytes", "disk_write_bytes",
               "taxi_demand", "order_demand"}
PERCENT_BASES = {"cpu_autoscaled", "cpu_idle", "memory_utilization", "occupancy"}


@pytest.fixture(scope="module")
def corpus() -> list[SyntheticSeries]:
    return generate(DEFAULT_SEED)


def _seconds(one: SyntheticSeries) -> np.ndarray:
    return np.array([parse_timestamp(stamp) for stamp in one.stamps])


def _tree(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def test_one_seed_gives_the_same_bytes_and_another_seed_other_ones(tmp_path: Path) -> None:
    first, again, other = (_tree(write_corpus(tmp_path / name, seed).parent)
                           for name, seed in (("a", 7), ("b", 7), ("c", 8)))
    assert first == again
    assert set(first) == set(other) and len(first) == len(SPECS) + 2
    changed = [name for name in first if first[name] != other[name]]
    assert len(changed) == len(first)  # every series, and both label files, move with the seed


def test_each_series_comes_from_its_own_stream(corpus: list[SyntheticSeries]) -> None:
    # rebuilding one series alone gives it bit for bit: adding or changing another series never moves it
    for index in (0, 17, len(SPECS) - 1):
        assert series(DEFAULT_SEED, index, SPECS[index]) == corpus[index]
    assert series(DEFAULT_SEED, 1, SPECS[0]).values != corpus[0].values


def test_windows_are_nab_windows_after_probation_and_apart(corpus: list[SyntheticSeries]) -> None:
    for one in corpus:
        rows, first = len(one.values), math.ceil(PROBATION * len(one.values))
        assert one.windows == tuple(nab_windows(rows, one.anomalies)), one.relpath
        assert list(one.anomalies) == sorted(set(one.anomalies)) and len(one.kinds) == len(one.anomalies)
        assert all(a >= first for a in one.anomalies), one.relpath
        for (start, end), anomaly in zip(one.windows, one.anomalies, strict=True):
            assert first <= start < anomaly < end <= rows - 1, one.relpath
        assert all(a[1] < b[0] for a, b in itertools.pairwise(one.windows)), one.relpath
        spans = sum(end - start for start, end in one.windows)
        assert not one.windows or abs(spans - 0.1 * rows) <= 2 * len(one.windows), one.relpath


def test_stamps_strictly_increase_and_parse_and_values_are_finite(corpus: list[SyntheticSeries]) -> None:
    for one in corpus:
        assert len(one.stamps) == len(one.values)
        assert all(STAMP.fullmatch(stamp) for stamp in one.stamps), one.relpath
        assert (np.diff(_seconds(one)) > 0).all(), one.relpath
        values = np.array([float(v) for v in one.values])
        assert np.isfinite(values).all(), one.relpath
        assert "-0.0" not in one.values and "nan" not in one.values
        if one.base in COUNT_BASES:
            assert all(v.isdigit() for v in one.values), one.relpath
        if one.base in PERCENT_BASES:
            assert values.min() >= 0.0 and values.max() <= 100.0, one.relpath


def test_sizes_fit_the_bench(corpus: list[SyntheticSeries]) -> None:
    rows = [len(one.values) for one in corpus]
    assert 35 <= len(corpus) <= 45
    assert all(MIN_ROWS <= n <= MAX_ROWS for n in rows)
    assert sum(rows) <= MAX_TOTAL_ROWS
    assert len({one.relpath.rsplit("/", 1)[1] for one in corpus}) == len(corpus)


def test_categories_and_the_unlabelled_share(corpus: list[SyntheticSeries]) -> None:
    assert {one.relpath.split("/")[0] for one in corpus} == CATEGORIES
    unlabelled = [one for one in corpus if not one.anomalies]
    assert 0.15 <= len(unlabelled) / len(corpus) <= 0.20
    assert all(1 <= len(one.anomalies) <= 4 for one in corpus if one.anomalies)
    assert len({one.relpath.split("/")[0] for one in unlabelled}) >= 5  # false positives measured widely
    assert len(Counter(kind for one in corpus for kind in one.kinds)) >= 20


def test_sampling_follows_the_real_systems(corpus: list[SyntheticSeries]) -> None:
    steps = {one.relpath: np.diff(_seconds(one)) for one in corpus}
    median = {path: float(np.median(d)) for path, d in steps.items()}
    for path, step in median.items():
        category = path.split("/")[0]
        expected = {"cloud": {300.0}, "social": {300.0}, "adexchange": {3600.0}, "demand": {1800.0},
                    "artificial": {300.0}, "industrial": {5.0, 60.0, 300.0, 3600.0}}.get(category)
        if expected is None:  # traffic: polled about every 5 minutes, jittered
            assert 240.0 <= step <= 360.0 and len(set(steps[path].tolist())) > 20, path
        else:
            assert step in expected, path
    assert all((steps[p] >= 2 * median[p]).any() for p in steps if p.startswith(("traffic/", "adexchange/")))
    assert sum(one.stamps[0][11:] != "00:00:00" for one in corpus) >= 0.8 * len(corpus)  # mid-day starts
    mentions = np.concatenate([[float(v) for v in one.values] for one in corpus if one.base == "mention_count"])
    assert np.median(mentions) <= 10.0 and (mentions == 0.0).mean() > 0.05  # small counts, many zeros


def _longest_run(values: np.ndarray) -> int:
    same = np.flatnonzero(np.diff(values) != 0.0)
    edges = np.concatenate([[-1], same, [len(values) - 1]])
    return int(np.diff(edges).max())


def _departure(values: np.ndarray, seconds: np.ndarray, anomaly: int, window: tuple[int, int], since: int) -> float:
    """How far the incident's first day (at most its half window) is from the stretch before its window, as a
    multiple of the least that an operator would see: a mean moved by 60 %, the median by 3 IQRs, 4 % of rows
    beyond the usual 99 %, the spread tripled, a stuck run 3 times the longest, a week-on-week change of 40 %."""
    end = min(window[1], int(np.searchsorted(seconds, seconds[anomaly] + 86_400.0)))
    after, before = values[anomaly:end], values[since:window[0]]
    low, q1, mid, q3, high = np.percentile(before, [0.5, 25, 50, 75, 99.5])
    iqr = max(q3 - q1, 1e-9)
    after_iqr = max(float(np.subtract(*np.percentile(after, [75, 25]))), 1e-9)
    ratio = after.mean() / before.mean() if after.mean() > 0 and before.mean() > 0 else math.inf
    scores = [max(ratio, 1 / ratio) / 1.6, abs(np.median(after) - mid) / iqr / 3.0,
              np.mean((after < low) | (after > high)) / 0.04, max(after_iqr / iqr, iqr / after_iqr) / 3.0,
              _longest_run(after) / _longest_run(before) / 3.0]
    week_ago = np.searchsorted(seconds, seconds[anomaly:end] - 7 * 86_400.0)
    usual = np.searchsorted(seconds, seconds[since:window[0]] - 7 * 86_400.0)
    if week_ago.min() > 0 and (usual > 0).sum() > 50:
        change = np.abs(after - values[week_ago]).mean()
        typical = np.abs(before[usual > 0] - values[usual[usual > 0]]).mean()
        scores.append(change / typical / 1.4 if typical > 0 else (math.inf if change > 0 else 0.0))
    return float(max(scores))


def test_every_labelled_incident_shows_in_the_data(corpus: list[SyntheticSeries]) -> None:
    faint = []
    for one in corpus:
        values, seconds = np.array([float(v) for v in one.values]), _seconds(one)
        since = math.ceil(PROBATION * len(values))
        for anomaly, kind, window in zip(one.anomalies, one.kinds, one.windows, strict=True):
            if _departure(values, seconds, anomaly, window, since) < 1.0:
                faint.append(f"{one.relpath} {kind} @ {one.stamps[anomaly]}")
            since = window[1] + 1
    assert not faint


def test_the_departure_measure_is_not_met_by_any_stretch(corpus: list[SyntheticSeries]) -> None:
    # the measure above must be able to fail: most unlabelled stretches of the quiet series stay under it
    met = total = 0
    for one in corpus:
        if one.anomalies:
            continue
        values, seconds, rows = np.array([float(v) for v in one.values]), _seconds(one), len(one.values)
        for share in (0.4, 0.55, 0.7, 0.85):
            anomaly, half = int(share * rows), int(0.05 * rows)
            since = math.ceil(PROBATION * rows)
            met += _departure(values, seconds, anomaly, (anomaly - half, anomaly + half), since) >= 1.0
            total += 1
    assert met <= 0.25 * total


def test_written_files_round_trip(tmp_path: Path, corpus: list[SyntheticSeries]) -> None:
    path = write_corpus(tmp_path)
    assert path == tmp_path / "windows.json"
    windows, labels = json.loads(path.read_text()), json.loads((tmp_path / "labels.json").read_text())
    assert set(windows) == set(labels) == {one.relpath for one in corpus}
    for one in corpus:
        assert windows[one.relpath] == [[one.stamps[start], one.stamps[end]] for start, end in one.windows]
        assert labels[one.relpath] == {"base": one.base, "anomalies": [[one.stamps[row], kind] for row, kind in
                                                                       zip(one.anomalies, one.kinds, strict=True)]}
        lines = (tmp_path / one.relpath).read_text().splitlines()
        assert lines[0] == "timestamp,value"
        assert lines[1:] == [f"{stamp},{value}" for stamp, value in zip(one.stamps, one.values, strict=True)]


def test_a_kind_the_model_cannot_draw_is_refused() -> None:
    index = next(i for i, spec in enumerate(SPECS) if spec.base == "request_count")
    with pytest.raises(ValueError, match="no incident kind 'outgae'"):
        series(DEFAULT_SEED, index, replace(SPECS[index], kinds=("outgae",)))


def test_incidents_that_cannot_fit_are_refused() -> None:
    crowded = Spec("cloud/crowded.csv", "request_count", 1_000, 300.0, ("outage",) * 4, None, snap_s=86_400.0)
    with pytest.raises(ValueError, match="do not fit"):
        series(DEFAULT_SEED, 0, crowded)


def test_the_rules_check_refuses_probation_overlap_and_bad_values() -> None:
    spec = Spec("x/y.csv", "flat_line", 1_000, 300.0, ("jump", "jump"))
    ok = np.zeros(1_000)
    check(spec, [300, 700], nab_windows(1_000, [300, 700]), ok)
    with pytest.raises(ValueError, match="probation"):
        check(spec, [100, 700], nab_windows(1_000, [100, 700]), ok)
    with pytest.raises(ValueError, match="overlap"):
        check(spec, [300, 340], nab_windows(1_000, [300, 340]), ok)
    with pytest.raises(ValueError, match="finite"):
        check(spec, [300, 700], nab_windows(1_000, [300, 700]), np.full(1_000, np.nan))
