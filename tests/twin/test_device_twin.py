"""Device twin transitions: dedup, gaps, late/out-of-order readings, resets."""

from __future__ import annotations

import hashlib
import random
from datetime import datetime, timedelta, timezone

import orjson
from hypothesis import given, settings
from hypothesis import strategies as st

from twin.device_twin import (
    FINGERPRINT_WINDOW,
    INTERVAL_SAMPLE_CAP,
    SEQ_WINDOW,
    DeviceState,
    DeviceStatus,
    TwinState,
    apply_fields,
    apply_in_place,
    apply_reading,
    fingerprint,
    fingerprint_of,
    observe_interval,
    state_json,
)
from twin.liveness import refresh_in_place, refresh_status
from twin.telemetry import Reading

T0 = datetime(2026, 11, 26, 12, 0, tzinfo=timezone.utc)


def r(seq: int | None, sec: float, temp: float = 5.0, dev: str = "dev-1", **metrics) -> Reading:
    return Reading.model_validate({
        "schema_version": 1, "device_id": dev, "ts": T0 + timedelta(seconds=sec), "seq": seq,
        "metrics": {"temperature": temp, **metrics},
    })


def run(readings):
    state, outcomes = None, []
    for x in readings:
        state, out = apply_reading(state, x)
        outcomes.append(out)
    return state, outcomes


def summary(s: DeviceState):
    return s.readings_applied, s.seq_gaps, s.last_values, s.last_seen, s.first_seen


def test_in_order_with_gap() -> None:
    s, outs = run([r(1, 0), r(2, 10), r(5, 40, temp=7.0)])
    assert [o.kind for o in outs] == ["first", "new", "new"]
    assert outs[2].new_gaps == 2 and s.seq_gaps == 2 and s.readings_applied == 3
    assert s.last_values["temperature"].value == 7.0 and s.last_seen == T0 + timedelta(seconds=40)


def test_duplicate_ignored() -> None:
    s, outs = run([r(1, 0), r(2, 10), r(2, 10)])
    assert outs[2].kind == "duplicate" and not outs[2].accepted
    assert s.readings_applied == 2 and s.duplicates == 1


def test_late_reading_fills_gap_but_not_last_value() -> None:
    s, outs = run([r(1, 0), r(3, 20, temp=9.0), r(2, 10, temp=1.0, humidity=50.0)])
    assert outs[2].kind == "late" and outs[2].accepted
    assert s.seq_gaps == 0 and s.readings_applied == 3 and s.late == 1
    assert s.last_values["temperature"].value == 9.0  # newer value kept
    assert s.last_values["humidity"].value == 50.0  # but a metric only the late one had is taken
    assert outs[2].changed_metrics == ("humidity",)


def test_late_before_first_seen_seq_opens_gap() -> None:
    s, _ = run([r(10, 100), r(7, 70)])
    assert s.seq_gaps == 2 and s.min_seq == 7


def test_too_old_outside_window_is_ignored() -> None:
    s, outs = run([r(0, 0), r(SEQ_WINDOW + 10, 1000), r(1, 1)])
    assert outs[-1].kind == "too_old" and s.readings_applied == 2 and s.too_old == 1


def test_counter_reset_detected() -> None:
    s, outs = run([r(100, 0), r(101, 10), r(0, 20, temp=8.0), r(1, 30)])
    assert [o.kind for o in outs] == ["first", "new", "reset", "new"]
    assert s.seq_resets == 1 and s.readings_applied == 4 and s.seq_gaps == 0
    assert s.last_values["temperature"].value == 5.0 and s.max_seq == 1
    s2, outs2 = run([r(5, 0), r(5, 10)])  # same seq, newer ts: restarted and reused seq
    assert outs2[1].kind == "reset"


def test_seqless_dedup_and_late() -> None:
    s, outs = run([r(None, 0), r(None, 10), r(None, 0), r(None, 5, temp=1.0)])
    assert [o.kind for o in outs] == ["first", "new", "duplicate", "late"]
    assert s.readings_applied == 3 and s.last_values["temperature"].value == 5.0


def test_wrong_device_rejected() -> None:
    s, _ = apply_reading(None, r(1, 0))
    try:
        apply_reading(s, r(2, 1, dev="dev-2"))
    except ValueError:
        return
    raise AssertionError("expected ValueError")


def test_state_round_trips_through_json() -> None:
    s, _ = run([r(1, 0), r(300, 10, position={"lat": 1.5, "lon": 2.5}), r(None, 20, door_open=True)])
    dumped = s.model_dump_json()
    assert DeviceState.model_validate_json(dumped) == s
    assert DeviceState.model_validate(s.model_dump(mode="json")) == s


def test_worker_row_is_the_state_json() -> None:
    """The worker writes `state_json` of its working state: the same dict as pydantic's JSON dump of the state."""
    s, _ = run([r(1, 0.123), r(300, 10, position={"lat": 1.5, "lon": 2.5}), r(None, 20, door_open=True, inventory=7)])
    s, _ = refresh_status(s, T0 + timedelta(seconds=25), 60)
    for state in (s, apply_reading(None, r(None, 0))[0], apply_reading(None, r(5, 1.5))[0]):
        assert state_json(TwinState.of(state)) == state.model_dump(mode="json")
        assert DeviceState.model_validate(state_json(TwinState.of(state))) == state


def test_apply_reading_leaves_its_input_alone_and_matches_in_place() -> None:
    first, _ = run([r(1, 0), r(2, 10)])
    before = first.model_dump()
    after, out = apply_reading(first, r(3, 20, temp=9.0))
    assert first.model_dump() == before and after.last_values["temperature"].value == 9.0
    twin, out2 = apply_in_place(TwinState.of(first), r(3, 20, temp=9.0))
    assert twin.frozen() == after and out2 == out
    change = refresh_in_place(twin, T0 + timedelta(seconds=20), 60)
    assert change is not None and change.current is DeviceStatus.online and twin.status is DeviceStatus.online
    assert refresh_in_place(twin, T0 + timedelta(seconds=21), 60) is None


def test_a_reading_given_as_its_fields_is_applied_as_the_model_is() -> None:
    """The worker applies its records' plain dicts by their fields (`apply_fields`); the same readings as models
    give the same twin, seq-less fingerprints and GPS positions included."""
    readings = [r(None, 0, position={"lat": 51.9, "lon": 4.4}), r(None, 1, door_open=True), r(None, 1, door_open=True),
                r(None, 0.5), r(7, 2), r(9, 3, inventory=40), r(8, 2.5), r(8, 2.5)]
    by_model = by_fields = None
    for x in readings:
        by_model, out = apply_in_place(by_model, x)
        by_fields, out2 = apply_fields(by_fields, x.device_id, x.ts, x.seq, dict(x.metrics.present()))
        assert out2 == out
    assert by_fields == by_model
    for x in readings[:2]:  # as stored rows have them: the blake2b of the reading's canonical JSON
        body = orjson.dumps([x.ts.timestamp(), x.metrics.model_dump(exclude_none=True)], option=orjson.OPT_SORT_KEYS)
        stored = int.from_bytes(hashlib.blake2b(body, digest_size=7).digest(), "big")
        assert fingerprint_of(x.ts, x.metrics.present()) == fingerprint(x) == stored


def test_readings_of_one_instant_take_the_latest_seq_whatever_the_path() -> None:
    """A 1 s device clock at 4 readings a second: readings share a timestamp, and the highest seq's values are the
    latest, in order (the twin's same-instant fast path) or not (`_merge_older`); a reset epoch starts over."""
    same = [r(s, 5.0, temp=float(s), humidity=float(10 * s)) for s in range(1, 5)] + [r(5, 5.0, temp=99.0)]
    in_order, outs = run(same)
    assert [o.kind for o in outs] == ["first", "new", "new", "new", "new"]
    assert outs[-1].changed_metrics == ("temperature",)
    shuffled, _ = run([same[i] for i in (4, 0, 3, 1, 2)])
    for state in (in_order, shuffled):
        assert state.last_values["temperature"] == (99.0, T0 + timedelta(seconds=5), 5)
        assert state.last_values["humidity"] == (40.0, T0 + timedelta(seconds=5), 4)
    after_reset, outs = run(same + [r(1, 6.0, temp=1.5), r(2, 6.0, temp=2.5)])
    assert [o.kind for o in outs[-2:]] == ["reset", "new"]
    assert after_reset.last_values["temperature"] == (2.5, T0 + timedelta(seconds=6), 2)
    assert in_order.interval_s is None and after_reset.interval_s == 1.0  # no gap learned from one instant


def test_one_long_silence_does_not_become_the_rhythm() -> None:
    assert observe_interval(None, 3.0) == 3.0
    assert observe_interval(1.0, 1000.0) == 1.0 + 0.1 * (INTERVAL_SAMPLE_CAP - 1.0)
    s, outs = run([r(i, float(i)) for i in range(1, 20) if i != 10] + [r(20, 60.0), r(10, 10.0)])
    assert outs[-1].kind == "late" and s.interval_s < 2.0  # late readings and one 41 s gap barely move it


# --- properties ------------------------------------------------------------------
@st.composite
def seq_readings(draw, max_n: int = 40):
    """Distinct seqs spanning < SEQ_WINDOW, ts non-decreasing with seq (as a real device)."""
    seqs = sorted(draw(st.sets(st.integers(0, SEQ_WINDOW - 1), min_size=1, max_size=max_n)))
    out, sec = [], 0.0
    for s in seqs:
        sec += draw(st.sampled_from([0.0, 1.0, 10.0]))
        out.append(r(s, sec, temp=draw(st.floats(-20, 40)),
                      **({"humidity": draw(st.floats(0, 100))} if draw(st.booleans()) else {})))
    return out


@given(seq_readings(), st.randoms(use_true_random=False))
def test_any_order_equals_sorted(readings, rnd: random.Random) -> None:
    sorted_state, _ = run(readings)
    shuffled = list(readings)
    rnd.shuffle(shuffled)
    state, _ = run(shuffled)
    twin = None
    for x in shuffled:  # the worker's path: one working state changed in place
        twin, _ = apply_in_place(twin, x)
    assert twin.frozen() == state and state_json(twin) == state.model_dump(mode="json")
    assert state.readings_applied == sorted_state.readings_applied == len(readings)
    assert summary(state) == summary(sorted_state)
    assert state.seq_gaps == readings[-1].seq - readings[0].seq + 1 - len(readings)


@given(seq_readings(), st.data())
def test_duplicates_never_change_counts(readings, data: st.DataObject) -> None:
    state, _ = run(readings)
    again = data.draw(st.lists(st.sampled_from(readings), max_size=20))
    after, outs = state, []
    for x in again:
        after, out = apply_reading(after, x)
        outs.append(out)
    assert all(not o.accepted for o in outs)
    assert summary(after) == summary(state)
    assert after.duplicates + after.too_old == state.duplicates + state.too_old + len(again)


@given(st.lists(st.tuples(st.integers(0, 20), st.floats(-20, 40)), min_size=1, max_size=60), st.data())
def test_seqless_duplicates_never_change_counts(items, data: st.DataObject) -> None:
    readings = [r(None, sec, temp=v) for sec, v in items]
    state, outs = run(readings)
    accepted = [x for x, o in zip(readings, outs) if o.accepted][-FINGERPRINT_WINDOW:]
    extra = data.draw(st.lists(st.sampled_from(accepted), max_size=10))
    after, _ = run([*readings, *extra])
    assert summary(after) == summary(state)


@settings(max_examples=50)
@given(st.lists(st.integers(0, 10**6) | st.none(), min_size=1, max_size=200))
def test_memory_is_bounded(seqs) -> None:
    state, _ = run([r(s, i) for i, s in enumerate(seqs)])
    assert state.seen_mask.bit_length() <= SEQ_WINDOW
    assert len(state.recent_fingerprints) <= FINGERPRINT_WINDOW
