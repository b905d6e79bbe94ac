"""A detector's state as plain data and back, checked against a fresh detector of the same settings.

WHY: the twin worker keeps one detector per (device, metric) in memory, and a detector needs hundreds of readings
(days, for the time-of-day view) before it can tell a subtle incident from the series' habits. Without its state
saved, every restart, deploy or rebalance started the moved series from nothing (docs/detection.md, "In the
engine"). `streams/detector_state.py` saves each device's detectors through these functions into a table.

The state is walked slot by slot (every detector class here uses `__slots__`) into JSON-able data: no pickle, so a
damaged or foreign snapshot can only be refused, never run. `from_tree` rebuilds a detector only from what a fresh
detector made with the same settings has: the same classes, and in each slot a value of the same kind (an int where it
has an int, a list of the same length, an array of the same size, a dict of ints to ints). Anything else raises
`SnapshotError`, and the caller starts that series afresh. One exception: a slot a class lists in `_ADDED` (added
after states were saved, whose fresh value reads right beside an older state) may be missing, and takes a fresh
detector's value, so that a release that only adds such a slot does not wipe every series' learning (days, for the
time views) on deploy. A snapshot also carries the `fingerprint` of the settings it was made under: settings changed
since (a sensitivity in the network file, the engine's limits, this format) make it stale rather than silently
overriding them.
"""

from __future__ import annotations

import base64
import copy
import math
import zlib
from array import array
from collections import deque
from typing import Any, TypeVar

import orjson

from twin.detectors.context_model import ContextModel
from twin.detectors.evidence import Evidence
from twin.detectors.gaussian import WindowedGaussian
from twin.detectors.jumps import ChangeRecords, JumpRarity
from twin.detectors.phase import TimeOfDay
from twin.detectors.profile import GaussianRarity
from twin.detectors.records import RecordRarity
from twin.detectors.ring import Ring
from twin.detectors.runs import RunRarity
from twin.detectors.same_hour import SameHour
from twin.detectors.sequence import SequenceSurprise

__all__ = ["FORMAT", "SnapshotError", "dumps", "from_tree", "loads", "to_tree"]

FORMAT = 1
"""Bump when a detector's slots change meaning (not only their names, which `from_tree` checks by itself)."""

_MAX_BYTES = 64 << 20
"""Largest decompressed snapshot row accepted: stops a damaged row from exhausting memory (a device's detectors
at the engine's limits take well under 1 MB)."""

_CLASSES: dict[str, type] = {cls.__name__: cls for cls in (
    SequenceSurprise, ContextModel, Ring, RecordRarity, RunRarity, TimeOfDay, GaussianRarity, WindowedGaussian,
    JumpRarity, ChangeRecords, Evidence, SameHour)}
"""Every class a snapshot may hold, by name. A detector class made of others must list them all here."""

T = TypeVar("T")


class SnapshotError(ValueError):
    """A snapshot that cannot be restored: damaged, of another format, or made under other settings."""


def _slots(cls: type) -> list[str]:
    """The slots a snapshot holds: all but those the class calls `_TRANSIENT` (kept for an alert's words or as a
    shortcut the class rebuilds, set afresh on restore), so a class may gain such a slot without every saved state
    being refused."""
    transient = getattr(cls, "_TRANSIENT", ())
    return [name for klass in reversed(cls.__mro__) for name in getattr(klass, "__slots__", ())
            if name not in transient]


def _encode(value: Any) -> Any:
    if isinstance(value, float):
        return value if math.isfinite(value) else {"f": repr(value)}
    if value is None or isinstance(value, (bool, int, str)):
        return value
    if isinstance(value, list):
        return [_encode(v) for v in value]
    if isinstance(value, tuple):
        return {"t": [_encode(v) for v in value]}
    if isinstance(value, deque):
        return {"q": [_encode(v) for v in value]}
    if isinstance(value, dict):
        return {"d": [x for kv in value.items() for x in kv]}
    if isinstance(value, array):
        return {"a": base64.b64encode(value.tobytes()).decode("ascii")}
    cls = type(value)
    if _CLASSES.get(cls.__name__) is not cls:
        raise SnapshotError(f"cannot snapshot a {cls.__name__}")
    return {"@": cls.__name__, "s": {name: _encode(getattr(value, name)) for name in _slots(cls)}}


def to_tree(detector: object, fingerprint: str) -> dict[str, Any]:
    """The detector's whole state as JSON-able data, with the settings' fingerprint."""
    return {"v": FORMAT, "fp": fingerprint, "state": _encode(detector)}


def from_tree(tree: Any, fresh: T, fingerprint: str) -> T:
    """The detector `tree` holds, rebuilt on the shape of `fresh` (made with the current settings).

    Raises `SnapshotError` when the tree is not one `to_tree` made under `fingerprint` for such a detector."""
    if not isinstance(tree, dict) or tree.get("v") != FORMAT:
        raise SnapshotError("not a detector snapshot of this format")
    if tree.get("fp") != fingerprint:
        raise SnapshotError("made under other settings")
    return _decode(tree.get("state"), fresh, "state")  # type: ignore[no-any-return]


def _decode(node: Any, like: Any, path: str) -> Any:
    """`node` decoded as a value of the same kind as `like`, or SnapshotError naming where it differs."""
    if isinstance(like, bool):
        if isinstance(node, bool):
            return node
    elif isinstance(like, int):
        if isinstance(node, int) and not isinstance(node, bool):
            return node
    elif isinstance(like, float):
        if isinstance(node, float):
            return node
        if isinstance(node, dict) and node.get("f") in ("inf", "-inf", "nan"):
            return float(node["f"])
    elif like is None:
        if node is None:
            return None
    elif isinstance(like, list):
        if isinstance(node, list) and (len(node) == len(like) or not like):
            return [_decode(v, like[i] if like else _number(v), f"{path}[{i}]") for i, v in enumerate(node)]
    elif isinstance(like, tuple):
        items = node.get("t") if isinstance(node, dict) else None
        if isinstance(items, list) and len(items) == len(like):
            return tuple(_decode(v, w, f"{path}[{i}]") for i, (v, w) in enumerate(zip(items, like, strict=True)))
    elif isinstance(like, deque):
        items = node.get("q") if isinstance(node, dict) else None
        if isinstance(items, list) and (like.maxlen is None or len(items) <= like.maxlen):
            return deque((_decode(v, _number(v), f"{path}[{i}]") for i, v in enumerate(items)), maxlen=like.maxlen)
    elif isinstance(like, dict):
        flat = node.get("d") if isinstance(node, dict) else None
        if isinstance(flat, list) and len(flat) % 2 == 0 and all(
                isinstance(x, int) and not isinstance(x, bool) for x in flat):
            return dict(zip(flat[::2], flat[1::2], strict=True))
    elif isinstance(like, array):
        return _array(node, like, path)
    elif _CLASSES.get(type(like).__name__) is type(like):
        return _object(node, like, path)
    raise SnapshotError(f"{path}: expected {type(like).__name__}")


def _number(node: Any) -> float | int:
    """A template for an element of a list or deque that a fresh detector holds empty: a number."""
    return 0 if isinstance(node, int) and not isinstance(node, bool) else 0.0


def _array(node: Any, like: array, path: str) -> array:
    raw = node.get("a") if isinstance(node, dict) else None
    try:
        data = base64.b64decode(raw, validate=True) if isinstance(raw, str) else None
    except ValueError:
        data = None
    if data is None or len(data) != len(like) * like.itemsize:
        raise SnapshotError(f"{path}: expected an array of {len(like)}")
    out = array(like.typecode)
    out.frombytes(data)
    return out


def _object(node: Any, like: Any, path: str) -> Any:
    cls = type(like)
    state = node.get("s") if isinstance(node, dict) and node.get("@") == cls.__name__ else None
    if not isinstance(state, dict):
        raise SnapshotError(f"{path}: expected {cls.__name__}")
    names = _slots(cls)
    missing = set(names) - set(state)
    if set(state) - set(names) or not missing <= set(getattr(cls, "_ADDED", ())):
        raise SnapshotError(f"{path}: {cls.__name__} has other fields")
    out = object.__new__(cls)
    for name in names:
        if name in missing:  # a slot added since the state was saved: a fresh detector's value (`_ADDED`)
            setattr(out, name, copy.copy(getattr(like, name)))
        else:
            setattr(out, name, _decode(state[name], getattr(like, name), f"{path}.{name}"))
    for name in getattr(cls, "_TRANSIENT", ()):
        setattr(out, name, copy.copy(getattr(like, name)))  # a fresh detector's: a cache starts empty, unshared
    return out


def dumps(trees: dict[str, Any]) -> bytes:
    """Several detectors' trees (a device's, by metric) as one compressed row."""
    try:
        return zlib.compress(orjson.dumps(trees), 1)
    except (orjson.JSONEncodeError, TypeError) as exc:  # an int beyond 64 bits: never in our detectors
        raise SnapshotError(f"cannot encode: {exc}") from exc


def loads(data: bytes) -> dict[str, Any]:
    """The trees of a row `dumps` wrote (SnapshotError: not such a row)."""
    try:
        inflater = zlib.decompressobj()
        raw = inflater.decompress(data, _MAX_BYTES)
        if inflater.unconsumed_tail:
            raise SnapshotError("snapshot row too large")
        trees = orjson.loads(raw)
    except (zlib.error, orjson.JSONDecodeError) as exc:
        raise SnapshotError(f"not a snapshot row: {exc}") from exc
    if not isinstance(trees, dict):
        raise SnapshotError("not a snapshot row")
    return trees
