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
    assert [r.model_dump() for r in decoded] == [r.model_dump() for r in readings]
    assert all(r.ts.utcoffset().total_seconds() == 0 for r in decoded)
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


def test_a_records_metrics_run_no_python_validator_per_reading() -> None:
    """The worker's validation stays inside pydantic-core: no model validator on a record's metrics (a shadowed
    one still ran, a Python call per reading); the device contract keeps its "at least one metric"."""
    from pydantic import ValidationError

    from streams.records import RecordMetrics
    from twin.telemetry import Metrics

    assert RecordMetrics.__pydantic_decorators__.model_validators == {}
    assert set(RecordMetrics.model_fields) == set(Metrics.model_fields)
    with pytest.raises(ValidationError, match="at least one"):
        Metrics.model_validate({})
    assert Metrics.model_json_schema()["minProperties"] == 1
