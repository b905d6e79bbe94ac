"""Garbage-collection pauses of a worker process as a Prometheus histogram.

Why: a stop-the-world collection delays every record behind it, so a long one
shows up as a latency tail (alerts late by the pause) without any CPU graph
saying why. prometheus-client exports collection counts but not their length.
"""

from __future__ import annotations

import gc
import time
from typing import Any

from prometheus_client import Histogram

GC_PAUSE = Histogram("omnitrack_gc_pause_seconds", "Duration of one garbage collection", ["generation"],
                     buckets=(0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0))
_started = [0.0]


def _on_gc(phase: str, info: dict[str, Any]) -> None:
    if phase == "start":
        _started[0] = time.perf_counter()
    else:
        GC_PAUSE.labels(str(info.get("generation", "?"))).observe(time.perf_counter() - _started[0])


def observe_gc_pauses() -> None:
    """Start timing every collection of this process (idempotent)."""
    if _on_gc not in gc.callbacks:
        gc.callbacks.append(_on_gc)
