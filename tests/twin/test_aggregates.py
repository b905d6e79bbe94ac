"""Tumbling-window aggregates: monoid laws and folding readings."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from functools import reduce

import pytest
from hypothesis import given
from hypothesis import strategies as st

from twin.aggregates import EMPTY, MetricAggregate, OpenWindow, add_to_window, fold, table_key, window_start
from twin.telemetry import Reading

T0 = datetime(2026, 11, 26, 12, 0, tzinfo=timezone.utc)
values = st.lists(st.floats(-1e6, 1e6), max_size=50)


def agg(xs) -> MetricAggregate:
    return reduce(lambda a, v: a.add(v), xs, EMPTY)


def same(a: MetricAggregate, b: MetricAggregate) -> None:
    assert (a.count, a.min, a.max) == (b.count, b.min, b.max)
    assert a.total == pytest.approx(b.total, rel=1e-9, abs=1e-6)


@given(values, st.data())
def test_merge_in_any_grouping_equals_aggregate_of_all(xs, data: st.DataObject) -> None:
    whole = agg(xs)
    shuffled = data.draw(st.permutations(xs))
    cuts = sorted(data.draw(st.lists(st.integers(0, len(xs)), max_size=6)))
    parts = [shuffled[i:j] for i, j in zip([0, *cuts], [*cuts, len(xs)])]
    partials = [agg(p) for p in parts]
    order = data.draw(st.permutations(range(len(partials))))
    same(reduce(MetricAggregate.merge, (partials[i] for i in order), EMPTY), whole)
    if xs:
        assert whole.mean == pytest.approx(sum(xs) / len(xs), rel=1e-9, abs=1e-6)


@given(values)
def test_empty_is_identity_and_dict_round_trip(xs) -> None:
    a = agg(xs)
    assert a.merge(EMPTY) == a == EMPTY.merge(a)
    assert MetricAggregate.from_dict(a.to_dict()) == a


def test_window_start() -> None:
    assert window_start(T0 + timedelta(seconds=59.9)) == T0
    assert window_start(T0 + timedelta(seconds=60)) == T0 + timedelta(minutes=1)


def test_fold_batch() -> None:
    def rd(dev, sec, **m):
        return Reading.model_validate({"schema_version": 1, "device_id": dev, "ts": T0 + timedelta(seconds=sec),
                                       "metrics": m})
    acc = fold([rd("a", 1, temperature=1.0, door_open=True), rd("a", 30, temperature=3.0, door_open=False),
                rd("a", 61, temperature=10.0), rd("b", 2, position={"lat": 1.0, "lon": 2.0}, inventory=5)])
    t = acc[("a", "temperature", T0)]
    assert (t.count, t.min, t.max, t.mean) == (2, 1.0, 3.0, 2.0)
    assert acc[("a", "door_open", T0)].mean == 0.5
    assert acc[("a", "temperature", T0 + timedelta(minutes=1))].count == 1
    assert ("b", "position", T0) not in acc and acc[("b", "inventory", T0)].max == 5.0
    assert table_key(("a", "temperature", T0)) == "a|temperature|2026-11-26T12:00:00Z"


@given(st.lists(st.tuples(st.integers(0, 300), st.floats(-80, 100)), min_size=1, max_size=60))
def test_add_to_window_in_any_order_equals_fold(points) -> None:
    """The open window plus every closed or late contribution, merged, equals `fold` over the same readings."""
    readings = [Reading.model_validate({"schema_version": 1, "device_id": "a", "ts": T0 + timedelta(seconds=s),
                                        "metrics": {"temperature": v}}) for s, v in points]
    history: dict[int, MetricAggregate] = {}
    window = None
    for r in readings:
        window, closed = add_to_window(window, r)
        for start_s, metrics in closed:
            history[start_s] = history.get(start_s, EMPTY).merge(metrics["temperature"])
    assert window is not None
    history[window.start_s] = history.get(window.start_s, EMPTY).merge(window.aggregates()["temperature"])
    expected = {int(k[2].timestamp()): a for k, a in fold(readings).items()}
    assert history.keys() == expected.keys()
    for start_s, a in expected.items():
        same(history[start_s], a)
    restored = OpenWindow.from_dict(window.to_dict()).aggregates()["temperature"]
    same(restored, window.aggregates()["temperature"])
