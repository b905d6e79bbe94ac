"""What the reference tests share: the shared NAB series beside the project, and NAB's TP/FP count of a detector's
scores on one of them (the figures NAB's committed `*_standard_scores.csv` give for its published runs)."""

from __future__ import annotations

import csv
import json
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from bench.nab_scoring import probation

SHARED = Path(__file__).resolve().parents[4] / "shared" / "data" / "nab"
needs_shared = pytest.mark.skipif(not SHARED.is_dir(), reason="the shared NAB series are not beside the project")


def read_shared(rel: str) -> tuple[list[str], np.ndarray]:
    """(timestamp texts, values) of one shared NAB series."""
    with (SHARED / rel).open(newline="") as f:
        rows = list(csv.DictReader(f))
    return [r["timestamp"] for r in rows], np.array([float(r["value"]) for r in rows])


def window_counts(scores: Callable[..., np.ndarray], rel: str, threshold: float) -> tuple[int, int]:
    """Readings scoring at or above `threshold` after NAB's probationary period, inside and outside the series'
    labelled windows, with `scores` given what NAB gives a detector (its min, max and probationary period)."""
    stamps, x = read_shared(rel)
    windows = json.loads((SHARED / "windows.json").read_text())[rel]
    inside = np.zeros(len(x), dtype=bool)
    for start, end in windows:
        inside[stamps.index(start.split(".")[0]): stamps.index(end.split(".")[0]) + 1] = True
    learn = probation(len(x))
    flagged = scores(x, np.zeros(len(x)), float(x.min()), float(x.max()), learn)[learn:] >= threshold
    return int((flagged & inside[learn:]).sum()), int((flagged & ~inside[learn:]).sum())
