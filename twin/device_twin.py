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
skew check), so replaying a topic rebuilds the same twin.

Liveness (also in docs/telemetry.md): a device is judged against the interval
it is EXPECTED to keep, which is the network file's nominal interval unless the
device has been seen reporting faster. The twin learns ``interval_s``, an EWMA
of the gaps between consecutive device timestamps (one float of state), and
judges with ``min(nominal, OBSERVED_INTERVAL_FACTOR * observed)``, never below
``MIN_LIVENESS_INTERVAL_S``: a probe configured for 60 s that reports every
second has gone quiet long before 2 x 60 s have passed.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime
from enum import Enum
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
# Online while at most ~one report was missed (plus jitter); flapping to stale
# on every slightly late message would flood alerts.
STALE_AFTER_INTERVALS = 2.0
# Offline after several missed reports: long enough to ride out a short
# network blip, short enough that a dead reefer is noticed within minutes.
OFFLINE_AFTER_INTERVALS = 5.0
# Learned reporting interval: EWMA weight of each new gap (~ the last 10 gaps
# count), and how far one gap may pull it (a device resuming after a long
# silence must not teach the twin that silence is its normal rhythm).
INTERVAL_EWMA_ALPHA = 0.1
INTERVAL_SAMPLE_CAP = 10.0
# A device is expected to keep up to this multiple of its observed interval:
# reporting is bursty (gateways batch, firmware jitters), so a single gap of
# 2 x observed is no sign of silence.
OBSERVED_INTERVAL_FACTOR = 2.0
# Floor of the learned liveness interval, seconds: below it a pause of the
# whole pipeline (a gateway's batch flush, a broker hiccup) would look like
# silence; with it, stale after 10 s and offline after 25 s of silence at best.
MIN_LIVENESS_INTERVAL_S = 5.0


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


@dataclass(frozen=True, slots=True)
class ApplyOutcome:
    """What one reading did; ``accepted`` readings go on to aggregates/detectors."""

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


def fingerprint(reading: Reading) -> int:
    """Stable across processes (unlike hash()), so replicas and restarts agree.
    56 bits fit any JSON integer type."""
    body = orjson.dumps(
        [reading.ts.timestamp(), reading.metrics.model_dump(exclude_none=True)], option=orjson.OPT_SORT_KEYS
    )
    return int.from_bytes(hashlib.blake2b(body, digest_size=7).digest(), "big")


def _merge_values(
    old: dict[str, MetricSample], reading: Reading, last_seen: datetime | None = None
) -> tuple[dict[str, MetricSample], tuple[str, ...]]:
    """Per metric keep the sample with the greatest (ts, seq): order-independent.

    `last_seen` (the newest ts of any sample in `old`) allows the common case, a
    reading newer than everything, to skip the per-metric comparison."""
    if last_seen is not None and reading.ts > last_seen:
        present = reading.metrics.present()
        ts, seq = reading.ts, reading.seq
        new = dict(old)
        for name, value in present.items():
            new[name] = MetricSample(value, ts, seq)
        return new, tuple(present)
    key_new = (reading.ts, -1 if reading.seq is None else reading.seq)
    changed: list[str] = []
    new = old
    for name, value in reading.metrics.present().items():
        cur = old.get(name)
        if cur is None or key_new > (cur.ts, -1 if cur.seq is None else cur.seq):
            if new is old:
                new = dict(old)
            new[name] = MetricSample(value, reading.ts, reading.seq)
            changed.append(name)
    return new, tuple(changed)


def _first(reading: Reading) -> tuple[DeviceState, ApplyOutcome]:
    values, changed = _merge_values({}, reading)
    has_seq = reading.seq is not None
    state = DeviceState(
        device_id=reading.device_id,
        first_seen=reading.ts,
        last_seen=reading.ts,
        readings_applied=1,
        max_seq=reading.seq,
        min_seq=reading.seq,
        seen_mask=1 if has_seq else 0,
        recent_fingerprints=() if has_seq else (fingerprint(reading),),
        last_values=values,
    )
    return state, ApplyOutcome("first", 0, changed)


def observe_interval(previous: float | None, gap_s: float) -> float:
    """The learned reporting interval after one more gap between device timestamps (pure, O(1))."""
    if previous is None:
        return gap_s
    if gap_s > INTERVAL_SAMPLE_CAP * previous:
        gap_s = INTERVAL_SAMPLE_CAP * previous
    return previous + INTERVAL_EWMA_ALPHA * (gap_s - previous)


def _accept(state: DeviceState, reading: Reading, kind: OutcomeKind, new_gaps: int, **upd: object):
    values, changed = _merge_values(state.last_values, reading, state.last_seen)
    last_seen = state.last_seen
    if reading.ts > last_seen:
        upd["interval_s"] = observe_interval(state.interval_s, (reading.ts - last_seen).total_seconds())
        last_seen = reading.ts
    upd.update(
        readings_applied=state.readings_applied + 1,
        last_seen=last_seen,
        first_seen=min(state.first_seen, reading.ts),
        last_values=values,
    )
    if kind == "late":
        upd["late"] = state.late + 1
    return state.model_copy(update=upd), ApplyOutcome(kind, new_gaps, changed)


def _apply_seq(state: DeviceState, r: Reading, s: int) -> tuple[DeviceState, ApplyOutcome]:
    top = state.max_seq
    if top is None or state.min_seq is None:  # first seq after seq-less readings
        return _accept(state, r, "new", 0, max_seq=s, min_seq=s, seen_mask=1)
    if s > top:
        shift = s - top
        mask = ((state.seen_mask << shift) | 1) & _MASK if shift < SEQ_WINDOW else 1
        gaps = shift - 1
        return _accept(state, r, "new", gaps, max_seq=s, seen_mask=mask, seq_gaps=state.seq_gaps + gaps)
    offset = top - s
    in_window = offset < SEQ_WINDOW
    seen = in_window and (state.seen_mask >> offset) & 1 == 1
    if r.ts > state.last_seen:
        # s <= max_seq yet ts is newer than anything seen: the counter went
        # backwards while time went forwards, i.e. the device restarted.
        return _accept(
            state, r, "reset", 0, max_seq=s, min_seq=s, seen_mask=1, seq_resets=state.seq_resets + 1
        )
    if seen:
        return state.model_copy(update={"duplicates": state.duplicates + 1}), ApplyOutcome("duplicate")
    if not in_window:
        return state.model_copy(update={"too_old": state.too_old + 1}), ApplyOutcome("too_old")
    mask = state.seen_mask | (1 << offset)
    if s < state.min_seq:  # before the first seq we ever saw: opens a gap, fills none
        gaps = state.min_seq - s - 1
        return _accept(state, r, "late", gaps, seen_mask=mask, min_seq=s, seq_gaps=state.seq_gaps + gaps)
    return _accept(state, r, "late", 0, seen_mask=mask, seq_gaps=state.seq_gaps - 1)


def apply_reading(state: DeviceState | None, reading: Reading) -> tuple[DeviceState, ApplyOutcome]:
    """Fold one validated reading into the device's state (pure; returns a new state).

    The caller must route a device's readings through one partition (key =
    device_id) so each state has a single writer.
    """
    if state is None:
        return _first(reading)
    if reading.device_id != state.device_id:
        raise ValueError(f"reading for {reading.device_id} applied to twin of {state.device_id}")
    if reading.seq is not None:
        return _apply_seq(state, reading, reading.seq)
    fp = fingerprint(reading)
    if fp in state.recent_fingerprints:
        return state.model_copy(update={"duplicates": state.duplicates + 1}), ApplyOutcome("duplicate")
    fps = (state.recent_fingerprints + (fp,))[-FINGERPRINT_WINDOW:]
    kind: OutcomeKind = "late" if reading.ts < state.last_seen else "new"
    return _accept(state, reading, kind, 0, recent_fingerprints=fps)


def liveness_interval_s(state: DeviceState | None, expected_interval_s: float) -> float:
    """The interval a device is judged against: its nominal `expected_interval_s`, or, when it has been
    seen reporting faster, `OBSERVED_INTERVAL_FACTOR` x its learned interval, floored at
    `MIN_LIVENESS_INTERVAL_S` (never above the nominal: a slow reporter keeps its nominal allowance)."""
    observed = state.interval_s if state is not None else None
    if observed is None:
        return expected_interval_s
    learned = OBSERVED_INTERVAL_FACTOR * observed
    if learned < MIN_LIVENESS_INTERVAL_S:
        learned = MIN_LIVENESS_INTERVAL_S
    return learned if learned < expected_interval_s else expected_interval_s


def status_at(state: DeviceState | None, now: datetime, expected_interval_s: float) -> DeviceStatus:
    """online / stale / offline from the age of the newest reading vs the device's liveness interval
    (`liveness_interval_s`: the nominal `expected_interval_s`, or less for a device seen reporting
    faster). Pure: the same state, time and nominal interval always give the same status."""
    if state is None:
        return DeviceStatus.offline
    age = (now - state.last_seen).total_seconds()
    interval = liveness_interval_s(state, expected_interval_s)
    if age <= STALE_AFTER_INTERVALS * interval:
        return DeviceStatus.online
    if age <= OFFLINE_AFTER_INTERVALS * interval:
        return DeviceStatus.stale
    return DeviceStatus.offline


def refresh_status(
    state: DeviceState, now: datetime, expected_interval_s: float
) -> tuple[DeviceState, StatusChange | None]:
    """Recompute status (call after apply_reading and from a periodic timer);
    returns the change to publish, or None. The first evaluation is reported as
    a change from ``None``. ``expected_interval_s`` is the nominal interval
    (network file); `status_at` tightens it for a device seen reporting faster."""
    current = status_at(state, now, expected_interval_s)
    if current == state.status:
        return state, None
    change = StatusChange(state.device_id, state.status, current, now)
    return state.model_copy(update={"status": current}), change
