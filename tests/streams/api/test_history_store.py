"""streams/api/history.py: the read model's window history from `aggregates` changelog records (pure)."""

from __future__ import annotations

import orjson

from streams.api.history import WindowHistory


def key(device: str, start: int) -> bytes:
    return orjson.dumps([device, [start, start + 59.9]])  # Faust's windowed key


def value(count: int, lo: float, hi: float, total: float, late: list[str] | None = None) -> bytes:
    stored: dict = {"temperature": {"count": count, "min": lo, "max": hi, "sum": total, "mean": total / count}}
    if late is not None:
        stored["_late"] = late
    return orjson.dumps(stored)


def test_latest_record_per_window_and_tombstones() -> None:
    h = WindowHistory()
    assert h.apply(key("D", 60), value(1, 1.0, 1.0, 1.0))
    assert h.apply(key("D", 60), value(2, 1.0, 3.0, 4.0, late=["7@1000"]))  # rewritten with a late reading
    assert h.apply(key("D", 120), value(1, 5.0, 5.0, 5.0))
    [first, second] = h.windows("D", start_s=0, end_s=10_000, metric=None, open_window=None)
    assert first == {"start": "1970-01-01T00:01:00Z", "end": "1970-01-01T00:02:00Z", "open": False,
                     "metrics": {"temperature": {"count": 2, "min": 1.0, "max": 3.0, "mean": 2.0}}}
    assert second["start"] == "1970-01-01T00:02:00Z"
    assert h.apply(key("D", 120), None)  # expired by the worker
    assert [w["start"] for w in h.windows("D", start_s=0, end_s=10_000, metric=None, open_window=None)] == [
        "1970-01-01T00:01:00Z"]
    assert len(h) == 1


def test_the_open_window_from_the_row_unless_already_closed() -> None:
    h = WindowHistory()
    h.apply(key("D", 60), value(2, 1.0, 3.0, 4.0))
    row_window = {"start_s": 120, "metrics": {"temperature": {"count": 1, "min": 9.0, "max": 9.0, "sum": 9.0,
                                                              "mean": 9.0}}}
    windows = h.windows("D", start_s=0, end_s=10_000, metric=None, open_window=row_window)
    assert [(w["start"][-9:], w["open"]) for w in windows] == [("00:01:00Z", False), ("00:02:00Z", True)]
    stale_row = {**row_window, "start_s": 60}  # the row not yet rewritten after its window closed
    windows = h.windows("D", start_s=0, end_s=10_000, metric=None, open_window=stale_row)
    assert [(w["open"], w["metrics"]["temperature"]["count"]) for w in windows] == [(False, 2)]
    assert h.windows("D", start_s=0, end_s=100, metric=None, open_window=row_window)[-1]["open"] is False
    assert h.windows("D", start_s=0, end_s=10_000, metric="humidity", open_window=row_window) == []


def test_bad_records_are_skipped_and_memory_bounded() -> None:
    h = WindowHistory(per_device=3)  # each device's newest 3 windows
    for bad_key, bad_value in ((b"nope", value(1, 1, 1, 1)), (orjson.dumps(["D"]), value(1, 1, 1, 1)),
                               (key("D", 60), b"[1]"), (key("D", 60), b'{"temperature": {"count": 1}}'),
                               (None, value(1, 1, 1, 1))):
        assert not h.apply(bad_key, bad_value)
    assert h.rejected == 5 and len(h) == 0
    for start in range(0, 600, 60):
        h.apply(key("D", start), value(1, 1.0, 1.0, 1.0))
    assert len(h) == 3 and h.evicted == 7
    assert [w["start"][-9:] for w in h.windows("D", start_s=0, end_s=10_000, metric=None, open_window=None)] == [
        "00:07:00Z", "00:08:00Z", "00:09:00Z"]
