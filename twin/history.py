"""Closed 1-minute windows as the history table stores them, and the idempotent merge of late readings.

Why this exists: a window is written whole when its device closes it, and a reading that arrives after that
(a late reading of an earlier minute) is merged into what is stored. The twin worker writes its device rows
(which remember what was applied) only every flush, so after a crash it replays the records since the last
flush. A window closed in the replay is written whole again (the same value), but a late reading's merge was
a read-merge-write: replayed, it would count that reading twice. So a stored window lists the late readings
merged into it, and a merge of a reading it already lists changes nothing.

Stored value: ``{metric: MetricAggregate.to_dict(), ..., "_late": [reading id, ...]}`` (JSON).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from twin.aggregates import MetricAggregate
from twin.device_twin import Present, fingerprint_of
from twin.telemetry import Reading

__all__ = ["LATE_READINGS", "MAX_LATE_IDS", "closed_window_value", "late_id", "late_reading_id", "merge_late",
           "window_aggregates"]

LATE_READINGS = "_late"
"""Key of the late-reading list in a stored window (metric names never start with '_')."""

MAX_LATE_IDS = 256
"""Late readings remembered per window: bounds the row. A device at 1 Hz sends 60 readings a minute, so only a
window with more late readings than this could count its oldest ones twice after a crash."""


def late_reading_id(reading: Reading) -> str:
    """What identifies a reading across a replay: its seq and timestamp, or the twin's fingerprint."""
    return late_id(reading.ts, reading.seq, reading.metrics.present())


def late_id(ts: datetime, seq: int | None, present: Present) -> str:
    """`late_reading_id` of a reading given as its fields."""
    if seq is not None:
        return f"{seq}@{int(ts.timestamp() * 1000)}"
    return f"fp{fingerprint_of(ts, present)}"


def closed_window_value(metrics: Mapping[str, MetricAggregate]) -> dict[str, Any]:
    """A window its device just closed: its aggregates, no late readings yet."""
    return {name: agg.to_dict() for name, agg in metrics.items()}


def window_aggregates(stored: Mapping[str, Any] | None) -> dict[str, MetricAggregate]:
    """The aggregates of a stored window (what readers want), without the late-reading list."""
    return {name: MetricAggregate.from_dict(a) for name, a in (stored or {}).items() if name != LATE_READINGS}


def merge_late(stored: Mapping[str, Any] | None, reading_id: str,
               contribution: Mapping[str, MetricAggregate]) -> dict[str, Any] | None:
    """`stored` with one late reading's contribution merged in; None when the window already has it."""
    late = list((stored or {}).get(LATE_READINGS, ()))
    if reading_id in late:
        return None
    merged = window_aggregates(stored)
    for name, agg in contribution.items():
        merged[name] = merged[name].merge(agg) if name in merged else agg
    out: dict[str, Any] = closed_window_value(merged)
    out[LATE_READINGS] = [*late, reading_id][-MAX_LATE_IDS:]
    return out
