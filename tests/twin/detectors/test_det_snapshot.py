"""A detector saved and restored carries on exactly as if it had never stopped; anything but a snapshot of the
same settings is refused with SnapshotError (twin/detectors/snapshot.py)."""

from __future__ import annotations

import math
import random
import zlib
from typing import Any

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from twin.detectors import DetectorKind, MetricDetection, make_detector
from twin.detectors.snapshot import FORMAT, SnapshotError, dumps, from_tree, loads, to_tree

FP = "settings-1"
T0 = 1.7e9


def _series(n: int, seed: int) -> list[tuple[float, float]]:
    """A daily cycle with noise at 5-minute readings, a stretch of stuck readings and a jump: every view works."""
    rnd = random.Random(seed)
    out = []
    for i in range(n):
        t = T0 + 300.0 * i
        v = 20.0 + 5.0 * math.sin(2 * math.pi * t / 86_400.0) + rnd.gauss(0.0, 0.5)
        if 3_000 <= i < 3_040:
            v = 17.0
        if i >= 3_500:
            v += 12.0
        out.append((t, v))
    return out


def _detector(kind: DetectorKind = DetectorKind.sequence) -> Any:
    return make_detector(MetricDetection(detector=kind), capacity=2_000, memory=500)


def _through_bytes(detector: Any, fresh: Any, fp: str = FP) -> Any:
    return from_tree(loads(dumps({"m": to_tree(detector, fp)}))["m"], fresh, fp)


@pytest.mark.parametrize("kind", [DetectorKind.sequence, DetectorKind.gaussian])
@pytest.mark.parametrize("cut", [0, 10, 400, 2_000, 3_020])
def test_a_restored_detector_scores_exactly_as_the_one_that_never_stopped(kind: DetectorKind, cut: int) -> None:
    data = _series(4_000, seed=cut)
    kept = _detector(kind)
    for t, v in data[:cut]:
        kept.update(t, v)
    restored = _through_bytes(kept, _detector(kind))
    assert restored is not kept
    ahead = [kept.update(t, v) for t, v in data[cut:]]
    assert [restored.update(t, v) for t, v in data[cut:]] == ahead
    assert max(ahead) > 0.5  # the jump is reported: the comparison covers alarms


def test_detectors_restored_on_one_fresh_detector_share_no_state() -> None:
    """A restored detector takes its unsaved slots from the fresh one (`_TRANSIENT`); the context models' shortcut
    of known successors is one, and learns as the detector goes on: restored twice on one template, the two must
    not learn into one cache (the second would skip contexts the first knew, not it)."""
    kept = _detector()
    for t, v in _series(2_000, seed=5):
        kept.update(t, v)
    template = _detector()
    first, second = _through_bytes(kept, template), _through_bytes(kept, template)
    other = [(t, v * 3.0 - 40.0) for t, v in _series(4_000, seed=6)[2_000:]]
    for t, v in _series(4_000, seed=5)[2_000:]:
        first.update(t, v)
    alone = _through_bytes(kept, _detector())
    assert [second.update(t, v) for t, v in other] == [alone.update(t, v) for t, v in other]


@settings(max_examples=40, deadline=None)
@given(st.lists(st.floats(allow_nan=True, allow_infinity=True, width=64), min_size=1, max_size=400),
       st.integers(min_value=0, max_value=400))
def test_any_series_cut_anywhere_carries_on_alike(values: list[float], cut: int) -> None:
    kept = _detector()
    for i, v in enumerate(values[:cut]):
        kept.update(T0 + 60.0 * i, v)
    restored = _through_bytes(kept, _detector())
    rest = list(enumerate(values[cut:], start=min(cut, len(values))))
    assert [restored.update(T0 + 60.0 * i, v) for i, v in rest] == [kept.update(T0 + 60.0 * i, v) for i, v in rest]


def test_a_snapshot_of_other_settings_or_format_is_stale() -> None:
    tree = to_tree(_detector(), FP)
    with pytest.raises(SnapshotError, match="other settings"):
        from_tree(tree, _detector(), "settings-2")
    with pytest.raises(SnapshotError, match="format"):
        from_tree({**tree, "v": FORMAT + 1}, _detector(), FP)
    with pytest.raises(SnapshotError):  # a gaussian's snapshot is no sequence detector
        from_tree(to_tree(_detector(DetectorKind.gaussian), FP), _detector(), FP)


def test_a_state_saved_before_a_slot_was_added_resumes_with_a_fresh_value_of_it() -> None:
    """A release that only adds a slot its class lists in `_ADDED` (the run view's held run of another value) resumes
    the states saved before it, that slot fresh, instead of starting every series from nothing; a state missing any
    other slot is still refused."""
    det, twin = _detector(), _detector()
    series = _series(4_000, seed=5)
    for t, v in series[:3_100]:
        det.update(t, v)
        twin.update(t, v)
    tree = orjson.loads(orjson.dumps(to_tree(det, FP)))
    del tree["state"]["s"]["_runs"]["s"]["_held_other"]  # as saved before the slot existed
    restored = from_tree(tree, _detector(), FP)
    assert math.isnan(restored._runs._held_other)
    assert [restored.update(t, v) for t, v in series[3_100:]] == [twin.update(t, v) for t, v in series[3_100:]]
    del tree["state"]["s"]["_runs"]["s"]["_held"]
    with pytest.raises(SnapshotError, match="other fields"):
        from_tree(tree, _detector(), FP)


def _mutations(tree: Any, path: tuple = ()) -> list[tuple]:
    """Paths to every leaf and container in a tree."""
    out = [path]
    if isinstance(tree, dict):
        for k, v in tree.items():
            out += _mutations(v, (*path, k))
    elif isinstance(tree, list):
        for i, v in enumerate(tree[:3]):
            out += _mutations(v, (*path, i))
    return out


def _replace(tree: Any, path: tuple, value: Any) -> Any:
    if not path:
        return value
    head, rest = path[0], path[1:]
    if isinstance(tree, dict):
        return {**tree, head: _replace(tree[head], rest, value)}
    return [_replace(v, rest, value) if i == head else v for i, v in enumerate(tree)]


def test_every_damage_to_a_snapshot_is_refused_or_harmless() -> None:
    """Each node of a real snapshot replaced by values of the wrong kind: SnapshotError, never another error."""
    det = _detector()
    for t, v in _series(1_000, seed=3):
        det.update(t, v)
    tree = orjson.loads(orjson.dumps(to_tree(det, FP)))
    refused = 0
    for path in _mutations(tree):
        for junk in (None, "x", 1.5, -1, True, [], {}, [1, 2], {"t": [1]}, {"a": "!!"}, {"@": "Ring", "s": {}}):
            try:
                from_tree(_replace(tree, path, junk), _detector(), FP)
            except SnapshotError:
                refused += 1
    assert refused > 1_000


@pytest.mark.parametrize("row", [b"", b"not zlib", zlib.compress(b"[1, 2]"), zlib.compress(b"{"),
                                 zlib.compress(b" " * (65 << 20))])
def test_a_row_that_is_not_a_snapshot_is_refused(row: bytes) -> None:
    with pytest.raises(SnapshotError):
        loads(row)


def test_a_foreign_class_is_never_snapshotted_nor_restored() -> None:
    class Other:
        __slots__ = ("x",)

    with pytest.raises(SnapshotError):
        to_tree(Other(), FP)
    tree = to_tree(_detector(), FP)
    tree["state"]["@"] = "Other"
    with pytest.raises(SnapshotError):
        from_tree(tree, _detector(), FP)
