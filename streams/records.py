"""The records OmniTrack writes to Kafka: telemetry batches and dead letters.

Telemetry record (topic `telemetry`, contract v1):
  key    the device id of the first reading (UTF-8); every reading in the record
         hashes to the same partition as that key, so each device's readings stay
         ordered in one partition whichever record carries them;
  value  JSON `{"v": 1, "readings": [Reading, ...]}` where a Reading is the device
         contract of docs/telemetry.md with `ts` as epoch milliseconds;
  headers `bridge_received_ms`: when the bridge took the MQTT message (latency tracing).

Why many readings per record: a Faust agent costs ~100 µs per event whatever
the event holds, so carrying a partition's worth of readings per record is what
lets one worker apply tens of thousands of readings per second.

Dead letter (topic `telemetry.dlq`): the value is the MQTT payload byte for
byte (nothing is lost, however malformed); headers say why: `reason`,
`message`, `mqtt_topic`, `received_at` (ISO-8601), `device_id` when known.

A Kafka record a stage could not use (a telemetry record no bridge wrote, an
alert command that does not apply, an `alerts` record that is no alert event)
is parked the same way, its bytes as read: headers `reason`, `message` and
`source` (topic/partition/offset it was read at), from `parked_headers`.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Annotated, Any, Literal

import orjson
from pydantic import AwareDatetime, ConfigDict, Field, TypeAdapter, with_config
from typing_extensions import NotRequired, TypedDict

from twin.telemetry import ID_PATTERN, METRIC_CATALOGUE, Position, Reading, TelemetryError

RECORD_VERSION = 1


def reading_to_wire(reading: Reading) -> dict[str, Any]:
    """A validated reading as the plain dict the workers read (ts in epoch ms)."""
    metrics: dict[str, Any] = reading.metrics.present()
    position = metrics.get("position")
    if position is not None:
        metrics["position"] = {"lat": position.lat, "lon": position.lon}
    wire: dict[str, Any] = {
        "schema_version": reading.schema_version,
        "device_id": reading.device_id,
        "ts": int(reading.ts.timestamp() * 1000),
        "metrics": metrics,
    }
    if reading.seq is not None:
        wire["seq"] = reading.seq
    return wire


def encode_telemetry(readings: Iterable[dict[str, Any]]) -> bytes:
    """The value of one telemetry record."""
    return orjson.dumps({"v": RECORD_VERSION, "readings": list(readings)})


def decode_telemetry(value: bytes) -> list[dict[str, Any]]:
    """The readings of one telemetry record; raises ValueError on a record of another version."""
    body = orjson.loads(value)
    if not isinstance(body, dict) or body.get("v") != RECORD_VERSION:
        raise ValueError(f"unsupported telemetry record: {str(body)[:80]}")
    return body["readings"]


def _metric(name: str) -> Any:
    spec = METRIC_CATALOGUE[name]
    kind = {"number": float, "integer": int, "bool": bool, "position": Position}[spec.kind]
    return Annotated[kind, Field(ge=spec.min, le=spec.max)] if spec.min is not None else kind


# The metrics of a record's reading: every check of `twin.telemetry.Metrics` (strict types, the catalogue's
# ranges, no unknown names) but "at least one", which the bridge checked already. Only the metrics sent are
# keys, so the dict is what `Metrics.present()` gives.
RecordMetrics = with_config(ConfigDict(extra="forbid", strict=True, allow_inf_nan=False))(
    TypedDict("RecordMetrics", {name: NotRequired[_metric(name)] for name in METRIC_CATALOGUE}))  # type: ignore[misc]


@with_config(ConfigDict(extra="forbid", strict=True, allow_inf_nan=False, val_temporal_unit="milliseconds"))
class RecordReading(TypedDict):
    """A reading as a telemetry record carries it (`reading_to_wire`), validated as `twin.telemetry.Reading`
    is: `ts` in epoch milliseconds (so UTC), `seq` absent for a device that sends none."""

    schema_version: Literal[1]
    device_id: Annotated[str, Field(pattern=ID_PATTERN)]
    ts: Annotated[AwareDatetime, Field(strict=False)]
    seq: NotRequired[Annotated[int, Field(ge=0, le=2**63 - 1)] | None]
    metrics: RecordMetrics  # type: ignore[valid-type]


@with_config(ConfigDict(extra="forbid", strict=True))
class TelemetryRecord(TypedDict):
    """The value of a telemetry record, as the worker validates it (contract v1)."""

    v: Literal[1]
    readings: list[RecordReading]


_RECORD = TypeAdapter(TelemetryRecord)


def decode_readings(value: bytes) -> list[RecordReading]:
    """The validated readings of one telemetry record, as plain dicts; raises ValueError on anything else.

    The bridge validated every reading already; the worker checks again (types,
    ranges, ids, catalogue) because anything with access to the topic can write
    to it. WHY dicts, not `Reading` models: parsing and validating into TypedDicts
    in one pydantic-core pass costs ~1.1 µs a reading, against ~2.7 µs for
    `Reading` models and their `Metrics.present()` (issue 17: the largest stage of
    the worker's per-reading cost). The twin's functions take the fields.
    """
    return _RECORD.validate_json(value)["readings"]


MAX_MESSAGE_BYTES = 2048
"""Bound of a dead letter's `message` header: a validation error can quote a whole payload."""


def dlq_headers(error: TelemetryError, mqtt_topic: str, received_at: datetime) -> list[tuple[str, bytes]]:
    """Kafka headers of a dead letter: why it was rejected and where it came from."""
    headers = [
        ("reason", error.reason.encode()),
        ("message", error.message.encode()[:MAX_MESSAGE_BYTES]),
        ("mqtt_topic", mqtt_topic.encode(errors="replace")[:1024]),
        ("received_at", received_at.isoformat().encode()),
    ]
    if error.device_id:
        headers.append(("device_id", error.device_id.encode()))
    return headers


def parked_headers(reason: str, message: str, event: Any) -> list[tuple[str, bytes]]:
    """Kafka headers of a record parked as it was read from Kafka: why, and where (`event`: the Faust event)."""
    msg = event.message
    return [("reason", reason.encode()), ("message", message.encode()[:MAX_MESSAGE_BYTES]),
            ("source", f"{msg.topic}/{msg.partition}/{msg.offset}".encode())]
