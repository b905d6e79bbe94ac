"""Device twin: per-device state and the pure transition applied for each reading.

Ordering and duplicate policy (also in docs/telemetry.md):

* With ``seq``: the twin remembers which of the last ``SEQ_WINDOW`` sequence
  numbers (below the highest seen) it has applied, as a bitmask.
  - seq already seen -> ``duplicate``, ignored (MQTT QoS 1 and Kafka retries
    redeliver; counting them twice would fake throughput and hide gaps).
  - seq above the highest -> ``new``; the skipped numbers count as ``seq_gaps``.
  - seq below the highest, not seen, inside the window -> ``late``: counted, and
    it fills a gap; it updates a metric's last value only if its ts is newer
    than that value's ts (per metric, key (ts, seq)).
  - seq below the window -> ``too_old``, ignored: we can no longer tell whether
    it is a duplicate, and ignoring keeps "duplicates never change counts" true.
  - a seq that is lower (or already seen) but carries a ts NEWER than anything
    seen means the device restarted its counter -> ``reset``: a new seq epoch.
* Without ``seq``: a stable fingerprint of (ts, metrics) is kept for the last
  ``FINGERPRINT_WINDOW`` readings; a repeat is a ``duplicate``. Ties on ts with
  different values keep whichever was applied first.

``last_seen`` is the newest DEVICE timestamp applied (bounded by the decoder's
skew check), so replaying a topic rebuilds the same twin. Whether a device is online, stale or offline is
judged from this state in twin/liveness.py.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import datetime
from enum import Enum
from functools import partial
from typing import Annotated, Literal, NamedTuple

import orjson
from pydantic import BaseModel, BeforeValidator, ConfigDict, PlainSerializer

from twin.telemetry import Position, Reading

# Reorder depth we can still dedup. Bounds memory and the size of the state
# written to the table on every reading (a 256-bit mask ~ 64 hex chars).
SEQ_WINDOW = 256
_MASK = (1 << SEQ_WINDOW) - 1
# Seq-less devices: how many recent fingerprints are kept for dedup (bounded).
FINGERPRINT_WINDOW = 32
# Learned reporting interval: EWMA weight of each new gap (~ the last 10 gaps
# count), and how far one gap may pull it (a device resuming after a long
# silence must not teach the twin that silence is its normal rhythm).
INTERVAL_EWMA_ALPHA = 0.1
INTERVAL_SAMPLE_CAP = 10.0


class DeviceStatus(str, Enum):
    online = "online"
    stale = "stale"
    offline = "offline"


def _hex_in(v: object) -> object:
    return int(v, 16) if isinstance(v, str) else v


# Stored as hex in JSON: JSON libraries (orjson included) reject ints > 64 bits.
HexMask = Annotated[
    int,
    BeforeValidator(_hex_in),
    PlainSerializer(lambda v: format(v, "x"), return_type=str, when_used="json"),
]


class MetricSample(NamedTuple):
    """The last value of one metric and when (device clock) it was measured.
    A NamedTuple: built per metric per reading, so it must be cheap (stored as
    a compact JSON array)."""

    value: Position | bool | int | float
    ts: datetime
    seq: int | None = None


class DeviceState(BaseModel):
    """Everything the twin knows about one device. Serialise with
    ``model_dump(mode="json")`` / restore with ``DeviceState.model_validate``."""

    model_config = ConfigDict(frozen=True)
    device_id: str
    first_seen: datetime
    last_seen: datetime
    readings_applied: int = 0
    duplicates: int = 0
    late: int = 0
    too_old: int = 0
    seq_gaps: int = 0
    seq_resets: int = 0
    max_seq: int | None = None
    min_seq: int | None = None
    seen_mask: HexMask = 0
    recent_fingerprints: tuple[int, ...] = ()
    last_values: dict[str, MetricSample] = {}
    status: DeviceStatus | None = None
    interval_s: float | None = None  # observed reporting interval (EWMA of device-ts gaps), None until 2 readings


OutcomeKind = Literal["first", "new", "late", "reset", "duplicate", "too_old"]


class ApplyOutcome(NamedTuple):
    """What one reading did; ``accepted`` readings go on to aggregates/detectors. A NamedTuple: one is built
    per reading, and a frozen dataclass's `__init__` cost three times as much."""

    kind: OutcomeKind
    new_gaps: int = 0
    changed_metrics: tuple[str, ...] = ()

    @property
    def accepted(self) -> bool:
        return self.kind in ("first", "new", "late", "reset")


@dataclass(frozen=True, slots=True)
class StatusChange:
    device_id: str
    previous: DeviceStatus | None
    current: DeviceStatus
    at: datetime


Present = dict[str, Position | bool | int | float]
"""The metrics a reading carries (`Metrics.present()`, or a telemetry record's metrics dict)."""


def fingerprint(reading: Reading) -> int:
    """Stable across processes (unlike hash()), so replicas and restarts agree.
    56 bits fit any JSON integer type."""
    return fingerprint_of(reading.ts, reading.metrics.present())


def fingerprint_of(ts: datetime, present: Present) -> int:
    """`fingerprint` of a reading given as its timestamp and metrics."""
    metrics = {name: value.model_dump() if isinstance(value, Position) else value for name, value in present.items()}
    body = orjson.dumps([ts.timestamp(), metrics], option=orjson.OPT_SORT_KEYS)
    return int.from_bytes(hashlib.blake2b(body, digest_size=7).digest(), "big")


_sample = partial(tuple.__new__, MetricSample)
"""`MetricSample((value, ts, seq))` without the NamedTuple's Python-level `__new__` (a third of its cost):
the worker builds one per metric per reading."""
_outcome = partial(tuple.__new__, ApplyOutcome)
"""`ApplyOutcome((kind, new_gaps, changed))`, the same way: one per reading."""


def _merge_older(values: dict[str, MetricSample], ts: datetime, seq: int | None, present: Present) -> tuple[str, ...]:
    """A reading not newer than the device's newest: per metric keep the sample with the greater (ts, seq),
    so the result does not depend on arrival order. Updates `values` in place."""
    key_new = (ts, -1 if seq is None else seq)
    changed: list[str] = []
    for name, value in present.items():
        cur = values.get(name)
        if cur is None or key_new > (cur.ts, -1 if cur.seq is None else cur.seq):
            values[name] = _sample((value, ts, seq))
            changed.append(name)
    return tuple(changed)


@dataclass(slots=True)
class TwinState:
    """The mutable working copy of a `DeviceState` that a worker updates in place, reading by reading.

    WHY: a frozen pydantic `DeviceState` rebuilt with `model_copy` for every reading was a third of a
    worker's time (py-spy, issue 17). The device row has one writer (its partition's worker), so the row
    can be updated in place; `DeviceState` stays the edge: what is stored, restored and shown.
    Same fields and meaning as `DeviceState`."""

    device_id: str
    first_seen: datetime
    last_seen: datetime
    readings_applied: int = 0
    duplicates: int = 0
    late: int = 0
    too_old: int = 0
    seq_gaps: int = 0
    seq_resets: int = 0
    max_seq: int | None = None
    min_seq: int | None = None
    seen_mask: int = 0
    recent_fingerprints: tuple[int, ...] = ()
    last_values: dict[str, MetricSample] = field(default_factory=dict)
    status: DeviceStatus | None = None
    interval_s: float | None = None

    @classmethod
    def of(cls, state: DeviceState) -> "TwinState":
        """A working copy (its own `last_values`, so `state` is never changed)."""
        fields = dict(state.__dict__)
        fields["last_values"] = dict(state.last_values)
        return cls(**fields)

    def frozen(self) -> DeviceState:
        """The `DeviceState` with these values (no validation: they came from validated readings)."""
        return DeviceState.model_construct(**{name: getattr(self, name) for name in _STATE_FIELDS},
                                           last_values=dict(self.last_values))


def _iso(ts: datetime) -> str:
    """A datetime as pydantic writes it in JSON mode (UTC as `Z`)."""
    text = ts.isoformat()
    return text[:-6] + "Z" if text.endswith("+00:00") else text


def _sample_json(sample: MetricSample) -> list[object]:
    value = sample.value
    if isinstance(value, Position):
        value = {"lat": value.lat, "lon": value.lon}
    return [value, _iso(sample.ts), sample.seq]


def state_json(t: TwinState) -> dict[str, object]:
    """`t.frozen().model_dump(mode="json")`, built directly: the worker writes a row per device every flush, and
    pydantic's dump through `model_construct` cost ~25 µs a row. tests/twin/test_device_twin.py checks that both
    give the same dict."""
    return {
        "device_id": t.device_id, "first_seen": _iso(t.first_seen), "last_seen": _iso(t.last_seen),
        "readings_applied": t.readings_applied, "duplicates": t.duplicates, "late": t.late, "too_old": t.too_old,
        "seq_gaps": t.seq_gaps, "seq_resets": t.seq_resets, "max_seq": t.max_seq, "min_seq": t.min_seq,
        "seen_mask": format(t.seen_mask, "x"), "recent_fingerprints": list(t.recent_fingerprints),
        "last_values": {name: _sample_json(sample) for name, sample in t.last_values.items()},
        "status": t.status.value if t.status is not None else None, "interval_s": t.interval_s,
    }


_STATE_FIELDS = tuple(name for name in DeviceState.model_fields if name != "last_values")
_DUPLICATE = ApplyOutcome("duplicate")
_TOO_OLD = ApplyOutcome("too_old")


def observe_interval(previous: float | None, gap_s: float) -> float:
    """The learned reporting interval after one more gap between device timestamps (pure, O(1))."""
    if previous is None:
        return gap_s
    if gap_s > INTERVAL_SAMPLE_CAP * previous:
        gap_s = INTERVAL_SAMPLE_CAP * previous
    return previous + INTERVAL_EWMA_ALPHA * (gap_s - previous)


def _accept(t: TwinState, ts: datetime, seq: int | None, present: Present,
            kind: OutcomeKind, new_gaps: int) -> ApplyOutcome:
    last_seen = t.last_seen
    newer = ts > last_seen
    # Every metric it carries is the latest when it is newer than everything (the common case), or of the same
    # instant as the newest with a seq above every seq applied in this epoch (a counter reset needs a newer ts,
    # so no sample has this ts and a higher seq): what `_merge_older` would find, without its comparison per
    # metric. A device whose clock ticks slower than it reports (1 s clocks at several readings a second) sends
    # the second kind all the time.
    if newer or (ts == last_seen and kind == "new" and seq is not None):
        values = t.last_values
        for name, value in present.items():
            values[name] = _sample((value, ts, seq))
        changed = tuple(present)
        if newer:
            t.interval_s = observe_interval(t.interval_s, (ts - last_seen).total_seconds())
            t.last_seen = ts
    else:
        changed = _merge_older(t.last_values, ts, seq, present)
    t.readings_applied += 1
    if ts < t.first_seen:
        t.first_seen = ts
    if kind == "late":
        t.late += 1
    return _outcome((kind, new_gaps, changed))


def _apply_seq(t: TwinState, ts: datetime, s: int, present: Present) -> ApplyOutcome:
    top = t.max_seq
    if top is None or t.min_seq is None:  # first seq after seq-less readings
        t.max_seq = t.min_seq = s
        t.seen_mask = 1
        return _accept(t, ts, s, present, "new", 0)
    if s > top:
        shift = s - top
        t.seen_mask = ((t.seen_mask << shift) | 1) & _MASK if shift < SEQ_WINDOW else 1
        gaps = shift - 1
        t.max_seq = s
        t.seq_gaps += gaps
        return _accept(t, ts, s, present, "new", gaps)
    offset = top - s
    in_window = offset < SEQ_WINDOW
    seen = in_window and (t.seen_mask >> offset) & 1 == 1
    if ts > t.last_seen:
        # s <= max_seq yet ts is newer than anything seen: the counter went
        # backwards while time went forwards, i.e. the device restarted.
        t.max_seq = t.min_seq = s
        t.seen_mask = 1
        t.seq_resets += 1
        return _accept(t, ts, s, present, "reset", 0)
    if seen:
        t.duplicates += 1
        return _DUPLICATE
    if not in_window:
        t.too_old += 1
        return _TOO_OLD
    t.seen_mask |= 1 << offset
    if s < t.min_seq:  # before the first seq we ever saw: opens a gap, fills none
        gaps = t.min_seq - s - 1
        t.min_seq = s
        t.seq_gaps += gaps
        return _accept(t, ts, s, present, "late", gaps)
    t.seq_gaps -= 1
    return _accept(t, ts, s, present, "late", 0)


def apply_in_place(twin: TwinState | None, reading: Reading) -> tuple[TwinState, ApplyOutcome]:
    """Fold one validated reading into the device's working state, changing `twin` in place (a new one for
    the device's first reading)."""
    return apply_fields(twin, reading.device_id, reading.ts, reading.seq, reading.metrics.present())


def apply_fields(twin: TwinState | None, device_id: str, ts: datetime, seq: int | None,
                 present: Present) -> tuple[TwinState, ApplyOutcome]:
    """`apply_in_place` of a reading given as its fields: the worker's records are validated into plain dicts,
    not `Reading` models (streams/records.py), so no model is built per reading.

    The caller must route a device's readings through one partition (key = device_id) so each state has a
    single writer.
    """
    if twin is None:
        twin = TwinState(device_id, ts, ts, readings_applied=1, max_seq=seq, min_seq=seq,
                         seen_mask=0 if seq is None else 1,
                         recent_fingerprints=(fingerprint_of(ts, present),) if seq is None else (),
                         last_values={name: _sample((value, ts, seq)) for name, value in present.items()})
        return twin, ApplyOutcome("first", 0, tuple(present))
    if device_id != twin.device_id:
        raise ValueError(f"reading for {device_id} applied to twin of {twin.device_id}")
    if seq is not None:
        return twin, _apply_seq(twin, ts, seq, present)
    fp = fingerprint_of(ts, present)
    if fp in twin.recent_fingerprints:
        twin.duplicates += 1
        return twin, _DUPLICATE
    twin.recent_fingerprints = (twin.recent_fingerprints + (fp,))[-FINGERPRINT_WINDOW:]
    kind: OutcomeKind = "late" if ts < twin.last_seen else "new"
    return twin, _accept(twin, ts, None, present, kind, 0)


def apply_reading(state: DeviceState | None, reading: Reading) -> tuple[DeviceState, ApplyOutcome]:
    """Fold one validated reading into the device's state (pure; returns a new state, `state` is unchanged).
    The same transition as `apply_in_place`, which the worker uses."""
    twin, outcome = apply_in_place(TwinState.of(state) if state is not None else None, reading)
    return twin.frozen(), outcome
