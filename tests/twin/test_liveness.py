"""Device liveness: online / stale / offline against the nominal or the learned reporting interval."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from twin.device_twin import DeviceStatus, TwinState, apply_reading
from twin.liveness import MIN_LIVENESS_INTERVAL_S, liveness_interval_s, refresh_in_place, refresh_status, status_at
from twin.telemetry import Reading

T0 = datetime(2026, 11, 26, 12, 0, tzinfo=timezone.utc)


def r(seq: int, sec: float) -> Reading:
    return Reading.model_validate({"schema_version": 1, "device_id": "dev-1", "ts": T0 + timedelta(seconds=sec),
                                   "seq": seq, "metrics": {"temperature": 5.0}})


def run(readings):
    state = None
    for x in readings:
        state, _ = apply_reading(state, x)
    return state


def test_status_thresholds_and_transitions() -> None:
    s, _ = apply_reading(None, r(1, 0))
    assert status_at(None, T0, 60) is DeviceStatus.offline
    assert status_at(s, T0 + timedelta(seconds=120), 60) is DeviceStatus.online
    assert status_at(s, T0 + timedelta(seconds=121), 60) is DeviceStatus.stale
    assert status_at(s, T0 + timedelta(seconds=300), 60) is DeviceStatus.stale
    assert status_at(s, T0 + timedelta(seconds=301), 60) is DeviceStatus.offline
    s, ch = refresh_status(s, T0, 60)
    assert ch is not None and ch.previous is None and ch.current is DeviceStatus.online
    s, ch = refresh_status(s, T0 + timedelta(seconds=30), 60)
    assert ch is None
    s, ch = refresh_status(s, T0 + timedelta(hours=1), 60)
    assert ch.previous is DeviceStatus.online and ch.current is DeviceStatus.offline
    s, _ = apply_reading(s, r(2, 3600))
    s, ch = refresh_status(s, T0 + timedelta(hours=1), 60)
    assert ch.current is DeviceStatus.online


def test_fast_reporter_is_judged_against_its_observed_interval() -> None:
    """Nominal 60 s, but it reports every 2 s: stale after 2 x max(floor, 2 x 2 s) = 10 s, not 120 s."""
    s = run([r(i, 2.0 * i) for i in range(1, 30)])
    assert abs(s.interval_s - 2.0) < 1e-9
    assert liveness_interval_s(s, 60) == MIN_LIVENESS_INTERVAL_S
    last = s.last_seen
    assert status_at(s, last + timedelta(seconds=10), 60) is DeviceStatus.online
    assert status_at(s, last + timedelta(seconds=11), 60) is DeviceStatus.stale
    assert status_at(s, last + timedelta(seconds=26), 60) is DeviceStatus.offline


def test_learned_interval_never_exceeds_the_nominal_nor_goes_below_the_floor() -> None:
    slow = run([r(i, 100.0 * i) for i in range(1, 10)])  # slower than its nominal 60 s
    assert liveness_interval_s(slow, 60) == 60
    fast = run([r(i, 0.1 * i) for i in range(1, 50)])
    assert liveness_interval_s(fast, 60) == MIN_LIVENESS_INTERVAL_S
    one = run([r(1, 0)])
    assert one.interval_s is None and liveness_interval_s(one, 60) == 60  # no gap seen yet: nominal


def test_the_workers_in_place_refresh_agrees_with_the_pure_one() -> None:
    state = run([r(1, 0)])
    twin = TwinState.of(state)
    for at in (0, 30, 121, 301, 301, 3600):
        now = T0 + timedelta(seconds=at)
        state, expected = refresh_status(state, now, 60)
        change = refresh_in_place(twin, now, 60)
        assert change == expected and twin.status is state.status
