"""Telemetry contract: topics, decoding, error reasons, schema export."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone
from pathlib import Path

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from twin import telemetry as t
from twin.telemetry import (
    ERROR_REASONS,
    MAX_BATCH_READINGS,
    MAX_PAYLOAD_BYTES,
    METRIC_CATALOGUE,
    DeviceTopic,
    GatewayTopic,
    Metrics,
    Reading,
    TelemetryError,
    TopicError,
    decode_reading,
    device_topic,
    gateway_topic,
    parse_topic,
)

NOW = datetime(2026, 11, 26, 12, 0, tzinfo=timezone.utc)
DEV_TOPIC = "dt/site-1/dev-1/telemetry"
GW_TOPIC = "dt/site-1/gateway/gw-1/batch"
SCHEMA_FILE = Path(__file__).resolve().parents[2] / "docs" / "telemetry.schema.json"

ids = st.from_regex(t.ID_PATTERN, fullmatch=True)


def reading(**over) -> dict:
    base = {"schema_version": 1, "device_id": "dev-1", "ts": "2026-11-26T11:59:00Z", "seq": 7,
            "metrics": {"temperature": 4.5, "door_open": False}}
    base.update(over)
    return base


def batch(readings: list[dict], **over) -> dict:
    base = {"schema_version": 1, "gateway_id": "gw-1", "site_id": "site-1", "readings": readings}
    base.update(over)
    return base


def reason_of(payload: bytes, topic: str = DEV_TOPIC, **kw) -> str:
    with pytest.raises(TelemetryError) as exc:
        decode_reading(payload, topic, NOW, **kw)
    assert exc.value.message
    return exc.value.reason


# --- topics --------------------------------------------------------------------
@given(ids, ids)
def test_topic_round_trip(site: str, dev: str) -> None:
    assert parse_topic(device_topic(site, dev)) == DeviceTopic(site, dev)
    assert parse_topic(gateway_topic(site, dev)) == GatewayTopic(site, dev)


@pytest.mark.parametrize("topic", [
    "", "dt", "dt/site/dev", "dt/site/dev/telemetry/x", "xx/site/dev/telemetry", "dt//dev/telemetry",
    "dt/site/+/telemetry", "dt/site/#/telemetry", "dt/site/gateway/gw/telemetryx", "dt/site/gw/gw/batch",
    "dt/$aws/dev/telemetry", "dt/site/dev id/telemetry", "dt/" + "a" * 300 + "/d/telemetry",
])
def test_bad_topics(topic: str) -> None:
    with pytest.raises(TopicError) as exc:
        parse_topic(topic)
    assert exc.value.reason == "topic"


def test_build_topic_rejects_wildcards() -> None:
    with pytest.raises(TopicError):
        device_topic("site/1", "dev")


# --- happy path ------------------------------------------------------------------
def test_decode_single_iso_and_epoch_ms() -> None:
    (r,) = decode_reading(orjson.dumps(reading()), DEV_TOPIC, NOW)
    assert r.ts == datetime(2026, 11, 26, 11, 59, tzinfo=timezone.utc) and r.ts.tzinfo is timezone.utc
    assert r.metrics.present() == {"temperature": 4.5, "door_open": False}
    ms = int(datetime(2026, 11, 26, 11, 59, tzinfo=timezone.utc).timestamp() * 1000)
    (r2,) = decode_reading(orjson.dumps(reading(ts=ms)), DEV_TOPIC, NOW)
    assert r2 == r


def test_decode_offset_normalised_to_utc() -> None:
    (r,) = decode_reading(orjson.dumps(reading(ts="2026-11-26T13:59:00+02:00")), DEV_TOPIC, NOW)
    assert r.ts == datetime(2026, 11, 26, 11, 59, tzinfo=timezone.utc) and r.ts.utcoffset() == timedelta(0)


def test_decode_batch() -> None:
    rs = [reading(device_id=f"d{i}", seq=i) for i in range(50)]
    out = decode_reading(orjson.dumps(batch(rs)), GW_TOPIC, NOW)
    assert [r.device_id for r in out] == [f"d{i}" for i in range(50)]


def test_position_and_integer_inventory() -> None:
    (r,) = decode_reading(orjson.dumps(reading(metrics={"position": {"lat": 51.9, "lon": 4.5}, "inventory": 10})),
                          DEV_TOPIC, NOW)
    assert r.metrics.position.lat == 51.9 and r.metrics.inventory == 10


def test_metrics_model_matches_catalogue() -> None:
    assert set(Metrics.model_fields) == set(METRIC_CATALOGUE)
    assert len(set(ERROR_REASONS)) == len(ERROR_REASONS)


valid_metrics = st.fixed_dictionaries({}, optional={
    name: (st.booleans() if spec.kind == "bool"
           else st.builds(lambda a, b: {"lat": a, "lon": b}, st.floats(-90, 90), st.floats(-180, 180))
           if spec.kind == "position"
           else st.integers(int(spec.min), int(spec.max)) if spec.kind == "integer"
           else st.floats(spec.min, spec.max))
    for name, spec in METRIC_CATALOGUE.items()
}).filter(bool)


@given(ids, valid_metrics, st.none() | st.integers(0, 2**63 - 1),
       st.integers(-7 * 86400 * 1000, 5 * 60 * 1000))
def test_encode_decode_round_trip(dev: str, metrics: dict, seq: int | None, offset_ms: int) -> None:
    ts = NOW + timedelta(milliseconds=offset_ms)
    r = Reading.model_validate({"schema_version": 1, "device_id": dev, "ts": ts, "seq": seq, "metrics": metrics})
    (back,) = decode_reading(t.encode_reading(r), device_topic("s", dev), NOW)
    assert back == r


# --- every malformed case gets the right reason -------------------------------------
@pytest.mark.parametrize("payload, reason", [
    (b"", "not_json"),
    (b"{", "not_json"),
    (b"\xff\xfe\x00garbage", "not_json"),
    (b"not json at all", "not_json"),
    (b"[]", "schema"),
    (b"42", "schema"),
    (orjson.dumps(reading(schema_version=2)), "schema"),
    (orjson.dumps(reading(extra=1)), "schema"),
    (orjson.dumps({k: v for k, v in reading().items() if k != "ts"}), "schema"),
    (orjson.dumps(reading(ts="2026-11-26T11:59:00")), "schema"),  # naive
    (orjson.dumps(reading(ts="yesterday")), "schema"),
    (orjson.dumps(reading(metrics={})), "schema"),
    (orjson.dumps(reading(metrics={"temperature": "4.5"})), "schema"),
    (orjson.dumps(reading(metrics={"door_open": 1})), "schema"),
    (orjson.dumps(reading(metrics={"inventory": 1.5})), "schema"),
    (orjson.dumps(reading(seq=-1)), "out_of_range"),
    (orjson.dumps(reading(metrics={"temperature": 150.0})), "out_of_range"),
    (orjson.dumps(reading(metrics={"position": {"lat": 91.0, "lon": 0.0}})), "out_of_range"),
    (b'{"schema_version":1,"device_id":"dev-1","ts":1795694340000,"metrics":{"humidity":NaN}}', "out_of_range"),
    (orjson.dumps(reading(metrics={"temprature": 4.5})), "unknown_metric"),
    (orjson.dumps(reading(metrics={"position": {"lat": 1.0, "lon": 2.0, "alt": 3.0}})), "schema"),
    (orjson.dumps(reading(device_id="dev/1")), "schema"),
    (orjson.dumps(reading(device_id="other")), "topic_mismatch"),
    (orjson.dumps(reading(ts="2026-11-26T12:05:01Z")), "skew"),
    (orjson.dumps(reading(ts="2026-11-19T11:59:59Z")), "skew"),
    (orjson.dumps(reading(ts=0)), "skew"),
    (b" " * (MAX_PAYLOAD_BYTES + 1), "too_large"),
])
def test_single_reasons(payload: bytes, reason: str) -> None:
    assert reason_of(payload) == reason


def test_skew_boundaries_are_inclusive() -> None:
    for ts in ("2026-11-26T12:05:00Z", "2026-11-19T12:00:00Z"):
        decode_reading(orjson.dumps(reading(ts=ts)), DEV_TOPIC, NOW)


def test_bad_topic_reason() -> None:
    assert reason_of(orjson.dumps(reading()), topic="dt/site-1/dev-1") == "topic"


def test_unknown_device() -> None:
    assert reason_of(orjson.dumps(reading()), known_devices={"dev-2"}) == "unknown_device"
    assert decode_reading(orjson.dumps(reading()), DEV_TOPIC, NOW, known_devices={"dev-1"})


@pytest.mark.parametrize("payload, reason", [
    (orjson.dumps(batch([])), "schema"),
    (orjson.dumps(batch([{"schema_version": 1, "device_id": f"d{i}", "ts": 1795694340000,
                          "metrics": {"battery": 1.0}} for i in range(MAX_BATCH_READINGS + 1)])), "too_large"),
    (orjson.dumps(batch([reading(), reading(metrics={"shock": -1.0})])), "out_of_range"),
    (orjson.dumps(batch([reading(), reading(metrics={"bogus": 1})])), "unknown_metric"),
    (orjson.dumps(batch([reading(), reading(ts="2030-01-01T00:00:00Z")])), "skew"),
    (orjson.dumps(batch([reading()], site_id="site-2")), "topic_mismatch"),
    (orjson.dumps(batch([reading()], gateway_id="gw-2")), "topic_mismatch"),
    (orjson.dumps(reading()), "schema"),  # a single reading on the batch topic
])
def test_batch_reasons(payload: bytes, reason: str) -> None:
    assert len(payload) <= MAX_PAYLOAD_BYTES
    assert reason_of(payload, topic=GW_TOPIC) == reason


@given(st.binary(max_size=300))
def test_garbage_never_escapes_as_other_exception(blob: bytes) -> None:
    try:
        decode_reading(blob, DEV_TOPIC, NOW)
    except TelemetryError as exc:
        assert exc.reason in ERROR_REASONS
    try:
        decode_reading(b"\xff" + blob, DEV_TOPIC, NOW)
    except TelemetryError as exc:
        assert exc.reason == "not_json"
    else:
        pytest.fail("invalid UTF-8 accepted")


@given(st.sampled_from([n for n, s in METRIC_CATALOGUE.items() if s.min is not None]), st.data())
def test_out_of_range_property(name: str, data: st.DataObject) -> None:
    spec = METRIC_CATALOGUE[name]
    below = st.floats(max_value=spec.min, exclude_max=True, allow_nan=False, allow_infinity=False)
    above = st.floats(min_value=spec.max, exclude_min=True, allow_nan=False, allow_infinity=False)
    value = data.draw(below | above)
    if spec.kind == "integer":
        value = data.draw(st.integers(-(2**62), int(spec.min) - 1) | st.integers(min_value=int(spec.max) + 1,
                                                                               max_value=2**62))
    assert reason_of(orjson.dumps(reading(metrics={name: value}))) == "out_of_range"


@settings(max_examples=30)
@given(st.integers(5 * 60 * 1000 + 1, 10**9) | st.integers(-(10**11), -(7 * 86400 * 1000) - 1))
def test_skew_property(offset_ms: int) -> None:
    ts_ms = int(NOW.timestamp() * 1000) + offset_ms
    assert reason_of(orjson.dumps(reading(ts=ts_ms))) == "skew"


def test_naive_now_rejected() -> None:
    with pytest.raises(ValueError):
        decode_reading(orjson.dumps(reading()), DEV_TOPIC, NOW.replace(tzinfo=None))


def test_dlq_record_is_json_and_bounded() -> None:
    payload = b"\x00" * 10_000
    try:
        decode_reading(payload, DEV_TOPIC, NOW)
    except TelemetryError as exc:
        rec = t.dlq_record(exc, DEV_TOPIC, payload, NOW)
    assert rec["reason"] == "not_json" and rec["payload_bytes"] == 10_000 and rec["payload_truncated"]
    assert len(json.dumps(rec)) < 4 * t.DLQ_PAYLOAD_PREVIEW_BYTES


# --- JSON Schema --------------------------------------------------------------------
def test_committed_schema_matches_models() -> None:
    """Regenerate with: python -c "import json,twin.telemetry as t;
    print(json.dumps(t.telemetry_json_schema(), indent=2, sort_keys=True, ensure_ascii=False))"
    > docs/telemetry.schema.json"""
    committed = json.loads(SCHEMA_FILE.read_text(encoding="utf-8"))
    assert committed == t.telemetry_json_schema()


def test_schema_describes_catalogue() -> None:
    schema = t.telemetry_json_schema()
    props = schema["$defs"]["Metrics"]["properties"]
    assert set(props) == set(METRIC_CATALOGUE)
    assert schema["$defs"]["GatewayBatch"]["properties"]["readings"]["maxItems"] == MAX_BATCH_READINGS


# --- the contract document ------------------------------------------------------------
DOC = SCHEMA_FILE.with_name("telemetry.md")


def test_doc_lists_every_metric_and_reason() -> None:
    text = DOC.read_text(encoding="utf-8")
    for name in METRIC_CATALOGUE:
        assert f"| `{name}` |" in text
    for reason in ERROR_REASONS:
        assert f"| `{reason}` |" in text


def test_doc_examples_decode() -> None:
    import re

    blocks = [json.loads(b) for b in re.findall(r"```json\n(.*?)```", DOC.read_text(encoding="utf-8"), re.S)]
    payloads = [b for b in blocks if "schema_version" in b]
    assert len(payloads) == 2
    for p in payloads:
        topic = (gateway_topic(p["site_id"], p["gateway_id"]) if "readings" in p
                 else device_topic("EU-WHS-003", p["device_id"]))
        assert decode_reading(orjson.dumps(p), topic, NOW)
