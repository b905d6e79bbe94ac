"""The telemetry record contract between the bridge and the workers (pure: no broker)."""

from __future__ import annotations

from datetime import datetime, timezone

import orjson
import pytest
from hypothesis import given
from hypothesis import strategies as st

from streams.records import decode_readings, decode_telemetry, encode_telemetry, reading_to_wire
from twin.telemetry import Reading

T0 = datetime(2026, 11, 26, 12, 0, 0, 123000, tzinfo=timezone.utc)


def _reading(i: int, **metrics) -> Reading:
    return Reading.model_validate({"schema_version": 1, "device_id": f"dev-{i}", "ts": T0, "seq": i,
                                   "metrics": metrics or {"temperature": 4.5}})


@given(st.lists(st.tuples(st.floats(-80, 100), st.booleans(), st.integers(0, 10_000)), min_size=1, max_size=20))
def test_what_the_bridge_encodes_the_worker_decodes_unchanged(rows) -> None:
    readings = [_reading(i, temperature=t, door_open=d, inventory=n) for i, (t, d, n) in enumerate(rows)]
    readings.append(_reading(99, position={"lat": 51.9, "lon": 4.4}))
    value = encode_telemetry(reading_to_wire(r) for r in readings)
    decoded = decode_readings(value)
    assert decoded == [{**r.model_dump(exclude_none=True), "metrics": r.metrics.present()} for r in readings]
    assert [d["metrics"] for d in decoded] == [r.metrics.present() for r in readings]  # types too: Position
    assert all(d["ts"].utcoffset().total_seconds() == 0 for d in decoded)
    assert [w["device_id"] for w in decode_telemetry(value)] == [r.device_id for r in readings]


@pytest.mark.parametrize("value", [
    b"\x00\x01garbage",
    orjson.dumps({"v": 2, "readings": []}),
    orjson.dumps({"v": 1, "readings": [{"device_id": "dev-1"}]}),
    orjson.dumps({"v": 1, "readings": [{"schema_version": 1, "device_id": "dev-1", "ts": 1, "seq": 1,
                                        "metrics": {"temperature": 1000.0}}]}),
    orjson.dumps({"v": 1, "readings": [{"schema_version": 1, "device_id": "dev-1", "ts": "soon",
                                        "metrics": {"temperature": 4.0}}]}),
])
def test_a_record_the_bridge_did_not_write_is_refused(value: bytes) -> None:
    with pytest.raises(ValueError):
        decode_readings(value)


def test_a_records_readings_are_checked_as_the_device_contract_checks_them() -> None:
    """The worker's dicts carry every check of `Reading` but "at least one metric" (the bridge's): each field's
    type, strictness and range, the catalogue, the id pattern; a reading without seq is one without it."""
    from streams.records import RecordMetrics
    from twin.telemetry import METRIC_CATALOGUE

    assert set(RecordMetrics.__annotations__) == set(METRIC_CATALOGUE)
    good = {"schema_version": 1, "device_id": "dev-1", "ts": 1_764_158_400_000, "metrics": {"inventory": 3}}
    (decoded,) = decode_readings(orjson.dumps({"v": 1, "readings": [good]}))
    assert "seq" not in decoded and decoded["metrics"] == {"inventory": 3}
    assert decoded["ts"] == datetime(2025, 11, 26, 12, 0, tzinfo=timezone.utc)
    for bad in ({"metrics": {"temperature": "4.5"}}, {"metrics": {"door_open": 1}}, {"metrics": {"inventory": -1}},
                {"metrics": {"battery": 101.0}}, {"metrics": {"position": {"lat": 91.0, "lon": 0.0}}},
                {"device_id": "dev/1"}, {"seq": -1}, {"schema_version": 2}, {"extra": 1},
                {"metrics": {"temperature": None}}):
        with pytest.raises(ValueError):
            decode_readings(orjson.dumps({"v": 1, "readings": [{**good, **bad}]}))
    assert decode_readings(orjson.dumps({"v": 1, "readings": [{**good, "metrics": {}}]}))[0]["metrics"] == {}


_ANY_VALUE = (st.floats(allow_nan=False, allow_infinity=False, min_value=-1e9, max_value=1e9)
              | st.integers(-10, 200_000_000) | st.booleans() | st.text(max_size=3)
              | st.fixed_dictionaries({"lat": st.floats(-100, 100), "lon": st.floats(-200, 200)}))


@given(st.dictionaries(st.sampled_from(["temperature", "humidity", "vibration", "shock", "position", "inventory",
                                        "throughput", "door_open", "battery", "temprature"]), _ANY_VALUE))
def test_a_records_metrics_accept_and_reject_what_the_device_contract_does(metrics) -> None:
    """The same metrics JSON, validated as a record's (TypedDict) and as the device contract's `MetricValues`:
    both accept or both refuse, and what is accepted is `present()`'s values, types included."""
    from pydantic import TypeAdapter, ValidationError

    from streams.records import RecordMetrics
    from twin.telemetry import MetricValues

    body = orjson.dumps(metrics)
    try:
        expected = MetricValues.model_validate_json(body).present()
    except ValidationError:
        expected = None
    try:
        got = TypeAdapter(RecordMetrics).validate_json(body)
    except ValidationError:
        got = None
    assert got == expected
    if got is not None:
        assert {k: type(v) for k, v in got.items()} == {k: type(v) for k, v in expected.items()}
