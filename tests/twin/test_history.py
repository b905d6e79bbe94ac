"""Stored history windows: late readings merge once, a replay of the stream gives the same history."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from hypothesis import given
from hypothesis import strategies as st

from twin.aggregates import EMPTY, MetricAggregate, OpenWindow, add_to_window, fold
from twin.history import (LATE_READINGS, MAX_LATE_IDS, closed_window_value, late_reading_id, merge_late,
                          window_aggregates)
from twin.telemetry import Reading

T0 = datetime(2026, 11, 26, 12, 0, tzinfo=timezone.utc)


def rd(sec: float, temp: float, seq: int | None = None) -> Reading:
    body = {"schema_version": 1, "device_id": "a", "ts": T0 + timedelta(seconds=sec), "metrics": {"temperature": temp}}
    if seq is not None:
        body["seq"] = seq
    return Reading.model_validate(body)


def test_a_late_reading_merges_once() -> None:
    closed = closed_window_value({"temperature": MetricAggregate.of(1.0).add(3.0)})
    late = rd(10, 9.0, seq=7)
    once = merge_late(closed, late_reading_id(late), {"temperature": MetricAggregate.of(9.0)})
    assert once is not None
    t = window_aggregates(once)["temperature"]
    assert (t.count, t.min, t.max, t.total) == (3, 1.0, 9.0, 13.0)
    assert merge_late(once, late_reading_id(late), {"temperature": MetricAggregate.of(9.0)}) is None  # replayed


def test_identity_tells_readings_apart_with_and_without_seq() -> None:
    assert late_reading_id(rd(1, 1.0, seq=5)) != late_reading_id(rd(2, 1.0, seq=5))  # a reset counter reuses seq
    assert late_reading_id(rd(1, 1.0)) == late_reading_id(rd(1, 1.0))                # the same reading again
    assert late_reading_id(rd(1, 1.0)) != late_reading_id(rd(1, 2.0))


def test_the_late_list_is_bounded() -> None:
    stored = None
    for i in range(MAX_LATE_IDS + 20):
        stored = merge_late(stored, f"r{i}", {"temperature": MetricAggregate.of(float(i))})
    assert stored is not None and len(stored[LATE_READINGS]) == MAX_LATE_IDS
    assert window_aggregates(stored)["temperature"].count == MAX_LATE_IDS + 20


def _apply(readings: list[Reading], history: dict[int, dict], window=None):  # noqa: ANN001, ANN202
    """What the twin worker does per reading: closing windows written whole, late ones merged once."""
    for r in readings:
        opened = window.start_s if window is not None else None
        window, closed = add_to_window(window, r)
        for start_s, metrics in closed:
            if start_s == opened:
                history[start_s] = closed_window_value(metrics)
            else:
                merged = merge_late(history.get(start_s), late_reading_id(r), metrics)
                if merged is not None:
                    history[start_s] = merged
    return window


@given(st.lists(st.tuples(st.integers(0, 300), st.floats(-80, 100)), min_size=2, max_size=60, unique_by=lambda p: p[0]),
       st.data())
def test_a_crash_replay_gives_the_history_of_one_pass(points, data: st.DataObject) -> None:
    """Apply every reading, then replay a suffix from an earlier checkpoint (the open window as it was then,
    the history as it is now): the history equals `fold` over the readings, nothing counted twice."""
    readings = [rd(s, v, seq=i) for i, (s, v) in enumerate(points)]
    cut = data.draw(st.integers(0, len(readings) - 1))
    history: dict[int, dict] = {}
    checkpoint = _apply(readings[:cut], history)
    row = checkpoint.to_dict() if checkpoint is not None else None   # the device row as last flushed

    def restored():  # noqa: ANN202 - the open window read back from that row (it is updated in place)
        return OpenWindow.from_dict(row) if row is not None else None

    _apply(readings[cut:], history, restored())
    window = _apply(readings[cut:], history, restored())      # the crash: the same records again
    merged = {s: window_aggregates(v)["temperature"] for s, v in history.items()}
    assert window is not None
    merged[window.start_s] = merged.get(window.start_s, EMPTY).merge(window.aggregates()["temperature"])
    expected = {int(k[2].timestamp()): a for k, a in fold(readings).items()}
    assert set(merged) == set(expected)
    for start, agg in expected.items():
        got = merged[start]
        assert (got.count, got.min, got.max) == (agg.count, agg.min, agg.max)
