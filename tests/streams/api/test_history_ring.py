"""streams/api/history.py's rings against a plain dict model of the same contract (property tests, pure).

Why: the rings replaced a dict of MetricAggregate per window (the API's memory grew with every window closed);
what GET /twin/device/{id}/history answers must not change. The model below is the old store (a dict per device,
the latest record per window start, tombstones delete, a device with no window left is forgotten) plus the
bounds the rings add: each device's newest K windows by start, at most `max_devices` devices (least recently
written evicted first).
"""

from __future__ import annotations

from collections import OrderedDict
from typing import Any

import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from streams.api.history import (DEFAULT_DEVICES, DEVICE_HEADROOM, MAX_METRICS, MAX_PER_DEVICE, MAX_WINDOWS,
                                 MIN_PER_DEVICE, WindowHistory, ring_size, window_json)
from twin.aggregates import MetricAggregate
from twin.history import window_aggregates

DEVICES = ["A", "B", "C", "D", "E"]
METRICS = ["temperature", "humidity", "battery", "shock", "door_open"]
STARTS = [0, 59, 60, 61, 120, 3_600, -60, 1_780_000_020, 1_780_000_080, 253_402_300_000]


class Model:
    """The contract, as plainly as it can be written."""

    def __init__(self, per_device: int | None = None, max_devices: int | None = None) -> None:
        self.by_device: OrderedDict[str, dict[int, dict[str, MetricAggregate]]] = OrderedDict()
        self.per_device, self.max_devices = per_device, max_devices
        self.rejected = self.evicted = 0

    def __len__(self) -> int:
        return sum(len(w) for w in self.by_device.values())

    def apply(self, key: bytes | None, value: bytes | None) -> bool:
        try:
            parsed = orjson.loads(key or b"")
            if (not isinstance(parsed, list) or len(parsed) != 2 or not isinstance(parsed[0], str)
                    or not isinstance(parsed[1], list) or not parsed[1]
                    or not isinstance(parsed[1][0], (int, float))):
                raise ValueError("key")
            device, start = parsed[0], int(parsed[1][0])
            if not -2 ** 63 < start < 2 ** 63:
                raise ValueError("start")
            stored = orjson.loads(value) if value is not None else None
            if stored is not None and not isinstance(stored, dict):
                raise ValueError("value")
            aggregates = window_aggregates(stored) if stored is not None else None
        except (ValueError, KeyError, TypeError, OverflowError):
            self.rejected += 1
            return False
        if aggregates is None:
            windows = self.by_device.get(device, {})
            windows.pop(start, None)
            if not windows:
                self.by_device.pop(device, None)
            return True
        if device not in self.by_device:
            self.by_device[device] = {}
            if self.max_devices is not None and len(self.by_device) > self.max_devices:
                self.evicted += len(self.by_device.popitem(last=False)[1])
        self.by_device.move_to_end(device)
        windows = self.by_device[device]
        windows[start] = aggregates
        if self.per_device is not None and len(windows) > self.per_device:
            del windows[min(windows)]
            self.evicted += 1
        return True

    def knows(self, device: str) -> bool:
        return device in self.by_device

    def windows(self, device: str, *, start_s: float, end_s: float, metric: str | None,
                open_window: dict[str, Any] | None) -> list[dict[str, Any]]:
        found = {s: (False, a) for s, a in self.by_device.get(device, {}).items() if start_s <= s < end_s}
        if open_window is not None:
            opened = int(open_window["start_s"]), {m: MetricAggregate.from_dict(a)
                                                    for m, a in open_window["metrics"].items()}
            if start_s <= opened[0] < end_s and opened[0] not in found:
                found[opened[0]] = (True, opened[1])
        out = []
        for s in sorted(found):
            is_open, aggs = found[s]
            if metric is not None:
                aggs = {metric: aggs[metric]} if metric in aggs else {}
            if aggs:
                out.append(window_json(s, aggs, is_open=is_open))
        return out


finite = st.floats(allow_nan=False, allow_infinity=False)
number = st.one_of(finite, st.integers(-10 ** 6, 10 ** 6))
aggregate = st.fixed_dictionaries({
    "count": st.one_of(st.integers(0, 3_600), st.integers(-5, 2 ** 62), st.sampled_from([0, 1, 60])),
    "min": st.one_of(finite, st.none(), st.integers(-50, 50), st.booleans(), st.just("odd")),
    "max": st.one_of(finite, st.none(), st.integers(-50, 50)),
    "sum": st.one_of(finite, st.integers(-10 ** 6, 10 ** 6), st.sampled_from(["1.5", "nan", "-inf"])),
}, optional={"mean": number})
stored = st.dictionaries(st.sampled_from(METRICS), aggregate, max_size=4).flatmap(
    lambda w: st.one_of(st.just(w), st.just({**w, "_late": ["7@1000"]})))
good_value = stored.map(orjson.dumps)
bad_value = st.sampled_from([b"[1]", b"nope", b"", b'{"temperature": {"count": 1}}', b'{"t": 5}',
                             b'{"t": {"count": "x", "min": 1.0, "max": 1.0, "sum": 1.0}}'])
start = st.one_of(st.sampled_from(STARTS), st.integers(-10 ** 6, 10 ** 10), st.floats(0, 10 ** 9))


@st.composite
def records(draw: st.DrawFn) -> tuple[bytes | None, bytes | None]:
    kind = draw(st.sampled_from(["window"] * 6 + ["tombstone"] * 2 + ["bad key", "bad value"]))
    key = orjson.dumps([draw(st.sampled_from(DEVICES)), [draw(start), 0]])
    if kind == "bad key":
        key = draw(st.sampled_from([b"nope", orjson.dumps(["D"]), orjson.dumps([1, [60, 0]]), b"",
                                    orjson.dumps(["D", []]), orjson.dumps(["D", [2 ** 63, 0]]), None]))
    if kind == "tombstone":
        return key, None
    return key, draw(bad_value if kind == "bad value" else good_value)


open_window = st.one_of(st.none(), st.fixed_dictionaries({
    "start_s": st.one_of(st.sampled_from(STARTS), st.integers(-10 ** 6, 10 ** 10)),
    "metrics": st.dictionaries(st.sampled_from(METRICS), st.fixed_dictionaries(
        {"count": st.integers(1, 60), "min": finite, "max": finite, "sum": finite}), max_size=3)}))
query = st.tuples(st.sampled_from(DEVICES), st.one_of(st.sampled_from([-10 ** 7, 0, 60, 61, 1_780_000_000]),
                                                      st.floats(-10 ** 7, 10 ** 10)),
                  st.one_of(st.sampled_from([61, 121, 10 ** 10, 1_780_000_080]), st.floats(-10 ** 7, 10 ** 10)),
                  st.one_of(st.none(), st.sampled_from(METRICS + ["_late", "pressure"])), open_window)


def canon(answer: Any) -> bytes:
    """The answer as bytes that tell 1 from 1.0 and NaN from None (orjson writes NaN as null)."""
    def walk(x: Any) -> Any:
        if isinstance(x, float) and x != x:
            return "NaN!"
        if isinstance(x, dict):
            return {k: walk(v) for k, v in x.items()}
        if isinstance(x, list):
            return [walk(v) for v in x]
        return x
    return orjson.dumps(walk(answer))


def same(history: WindowHistory, model: Model, queries: list[Any]) -> None:
    assert (len(history), history.rejected, history.evicted) == (len(model), model.rejected, model.evicted)
    for device in DEVICES:
        assert history.knows(device) == model.knows(device)
    for device, lo, hi, metric, opened in queries:
        got = history.windows(device, start_s=lo, end_s=hi, metric=metric, open_window=opened)
        want = model.windows(device, start_s=lo, end_s=hi, metric=metric, open_window=opened)
        assert canon(got) == canon(want)
    everything = [(d, -10 ** 12, 10 ** 12, None, None) for d in DEVICES]
    for device, lo, hi, metric, opened in everything:
        assert canon(history.windows(device, start_s=lo, end_s=hi, metric=metric, open_window=opened)) == \
            canon(model.windows(device, start_s=lo, end_s=hi, metric=metric, open_window=opened))


def _replay(history: WindowHistory, model: "Model", ops: list[Any]) -> None:
    """Apply `ops` to both stores, comparing every answer, and compare the whole stores at the end."""
    for op in ops:
        if op[0] == "query":
            same(history, model, [op[1]])
        else:
            assert history.apply(*op) == model.apply(*op)
    same(history, model, [])


@settings(max_examples=250, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.one_of(records(), query.map(lambda q: ("query", q))), max_size=60))
def test_within_capacity_the_rings_answer_as_the_dict_store(ops: list[Any]) -> None:
    history, model = WindowHistory(per_device=64), Model()
    _replay(history, model, ops)


@settings(max_examples=250, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.one_of(records(), query.map(lambda q: ("query", q))), max_size=80),
       st.integers(1, 4), st.integers(1, 4))
def test_beyond_capacity_each_device_keeps_its_newest_windows(ops: list[Any], per_device: int,
                                                              max_devices: int) -> None:
    history = WindowHistory(per_device=per_device, max_devices=max_devices)
    model = Model(per_device=per_device, max_devices=max_devices)
    _replay(history, model, ops)


def test_ring_size_from_the_window_budget() -> None:
    assert ring_size(None) == MAX_WINDOWS // DEFAULT_DEVICES == 160
    assert ring_size(1_246) == 160  # the example network
    assert ring_size(10) == MAX_PER_DEVICE and ring_size(10 ** 6) == MIN_PER_DEVICE
    h = WindowHistory(devices=1_246)
    assert h.per_device == 160 and h.max_devices == DEVICE_HEADROOM * MAX_WINDOWS // 160


def test_memory_is_preallocated_per_device_not_per_window() -> None:
    h = WindowHistory(per_device=8)
    value = orjson.dumps({"temperature": {"count": 1, "min": 1.0, "max": 1.0, "sum": 1.0}})
    h.apply(orjson.dumps(["D", [0, 59.9]]), value)
    ring = h._devices["D"]
    starts, cells = ring.starts, ring.cells
    for minute in range(1, 100):
        h.apply(orjson.dumps(["D", [60 * minute, 60 * minute + 59.9]]), value)
    assert ring.starts is starts and ring.cells is cells  # the same arrays, overwritten in place
    assert len(h) == 8 and h.evicted == 92


def test_a_flood_of_device_ids_is_bounded() -> None:
    h = WindowHistory(per_device=4, max_devices=10)
    value = orjson.dumps({"temperature": {"count": 1, "min": 1.0, "max": 1.0, "sum": 1.0}})
    for n in range(1_000):
        h.apply(orjson.dumps([f"flood-{n}", [60, 119.9]]), value)
    assert len(h._devices) == 10 and len(h) == 10 and h.evicted == 990
    assert h.knows("flood-999") and not h.knows("flood-0")


def test_metric_columns_are_bounded_and_odd_windows_kept_exactly() -> None:
    h = WindowHistory(per_device=4)
    many = {f"m{i:02d}": {"count": 1, "min": 1.0, "max": 2.0, "sum": 1.5} for i in range(MAX_METRICS + 5)}
    assert h.apply(orjson.dumps(["D", [60, 0]]), orjson.dumps(many))
    floats = {"t": {"count": 2, "min": 1.0, "max": 3.0, "sum": 4}}
    assert h.apply(orjson.dumps(["D", [120, 0]]), orjson.dumps(floats))
    assert h.apply(orjson.dumps(["D", [180, 0]]), orjson.dumps({"t": {"count": 2, "min": 1, "max": 3, "sum": 4}}))
    assert h._devices["D"].cells.shape[1] == 4  # only "t" got a column; the wide window is kept as parsed
    [wide, floats, ints] = h.windows("D", start_s=0, end_s=1_000, metric=None, open_window=None)
    assert len(wide["metrics"]) == MAX_METRICS + 5
    assert orjson.dumps(floats["metrics"]) == b'{"t":{"count":2,"min":1.0,"max":3.0,"mean":2.0}}'
    assert orjson.dumps(ints["metrics"]) == b'{"t":{"count":2,"min":1,"max":3,"mean":2.0}}'


@pytest.mark.parametrize("start", [2 ** 63, -2 ** 63])
def test_starts_beyond_int64_are_rejected(start: int) -> None:
    h = WindowHistory()
    assert not h.apply(orjson.dumps(["D", [start, 0]]), b'{}')
    assert h.rejected == 1 and len(h) == 0
