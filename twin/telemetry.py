"""Telemetry contract between devices and OmniTrack: topics, payload models, decoding.

Pure: no I/O and no clock reads. Callers pass ``now`` so decoding is replayable
offline and tests are deterministic. The bridge calls :func:`decode_reading` for
every MQTT message and routes :class:`TelemetryError` to ``telemetry.dlq`` using
:func:`dlq_record`.
"""

from __future__ import annotations

import base64
import re
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from functools import lru_cache
from typing import Annotated, Any, Collection, Literal

from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    WithJsonSchema,
    model_validator,
)
from pydantic.json_schema import models_json_schema

from twin.telemetry_errors import (  # noqa: F401 - re-exported: the contract's errors are part of its API
    ERROR_REASONS,
    NotJsonError,
    OutOfRangeError,
    SchemaError,
    SkewError,
    TelemetryError,
    TooLargeError,
    TopicError,
    TopicMismatchError,
    UnknownDeviceError,
    UnknownMetricError,
)

SCHEMA_VERSION = 1

# --- Limits -----------------------------------------------------------------
# AWS IoT Core rejects larger MQTT payloads; checking first also stops a huge
# message from being parsed at all (memory/CPU exhaustion on the bridge).
MAX_PAYLOAD_BYTES = 128 * 1024
# One gateway message must stay well under MAX_PAYLOAD_BYTES and must not make
# one Kafka produce/table fold unbounded; ~250 B/reading * 500 ~ 125 KB.
MAX_BATCH_READINGS = 500
# AWS IoT topic limit; a longer topic is malformed and would bloat DLQ records.
MAX_TOPIC_BYTES = 256
# A device clock running ahead would pin "last seen" in the future and keep a
# dead device "online"; allow a little drift only.
MAX_FUTURE_SKEW = timedelta(minutes=5)
# Readings older than this (dead RTC battery, replayed junk) would corrupt
# windows long closed and the twin's history; store-and-forward is < 7 days.
MAX_PAST_AGE = timedelta(days=7)
# Ids appear as MQTT topic levels and Kafka keys: no '/', '+', '#', '$', spaces;
# bounded length so keys and table entries stay small.
ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.:-]{0,63}$"
_ID_RE = re.compile(ID_PATTERN)

# MQTT subscription filters the bridge should use.
TELEMETRY_TOPIC_FILTER = "dt/+/+/telemetry"
BATCH_TOPIC_FILTER = "dt/+/gateway/+/batch"


@dataclass(frozen=True, slots=True)
class MetricSpec:
    """One catalogue entry. Ranges are physical plausibility limits: a value
    outside them is a broken sensor or a unit mix-up (°F for °C), not data."""

    unit: str
    min: float | None
    max: float | None
    kind: Literal["number", "integer", "bool", "position"]
    description: str


# The fixed metric catalogue. Unknown metric names are REJECTED (reason
# ``unknown_metric``): silently accepting them hides typos ("temprature") and
# lets payloads grow without bound. New metrics need a catalogue change.
METRIC_CATALOGUE: dict[str, MetricSpec] = {
    "temperature": MetricSpec("°C", -80.0, 100.0, "number", "Air/product temperature (ULT freezers down to -80)"),
    "humidity": MetricSpec("%", 0.0, 100.0, "number", "Relative humidity"),
    "vibration": MetricSpec("mm/s", 0.0, 500.0, "number", "Vibration velocity RMS"),
    "shock": MetricSpec("g", 0.0, 200.0, "number", "Peak acceleration of a shock event"),
    "position": MetricSpec("deg", None, None, "position", "GPS fix, WGS84 lat [-90,90], lon [-180,180]"),
    "inventory": MetricSpec("units", 0, 100_000_000, "integer", "Units on hand"),
    "throughput": MetricSpec("units/h", 0.0, 1_000_000.0, "number", "Units processed per hour"),
    "door_open": MetricSpec("bool", None, None, "bool", "Door/container open"),
    "battery": MetricSpec("%", 0.0, 100.0, "number", "Device battery charge"),
}


def _rng(name: str) -> dict[str, Any]:
    spec = METRIC_CATALOGUE[name]
    return {"ge": spec.min, "le": spec.max, "description": f"{spec.description} [{spec.unit}]"}


class Position(BaseModel):
    """A GPS fix (WGS84 degrees)."""

    model_config = ConfigDict(extra="forbid", strict=True, allow_inf_nan=False, frozen=True)
    lat: float = Field(ge=-90.0, le=90.0)
    lon: float = Field(ge=-180.0, le=180.0)


class MetricValues(BaseModel):
    """The catalogue's metrics of one reading with their strict types and ranges, none required.

    `Metrics` (the device contract) adds "at least one"; a telemetry record's readings, which the bridge checked
    for that already, are validated without it (streams/records.py), with no Python call per reading.
    """

    model_config = ConfigDict(extra="forbid", strict=True, allow_inf_nan=False, frozen=True)
    temperature: float | None = Field(None, **_rng("temperature"))
    humidity: float | None = Field(None, **_rng("humidity"))
    vibration: float | None = Field(None, **_rng("vibration"))
    shock: float | None = Field(None, **_rng("shock"))
    position: Position | None = Field(None, description=METRIC_CATALOGUE["position"].description)
    inventory: int | None = Field(None, **_rng("inventory"))
    throughput: float | None = Field(None, **_rng("throughput"))
    door_open: bool | None = Field(None, description=METRIC_CATALOGUE["door_open"].description)
    battery: float | None = Field(None, **_rng("battery"))

    def present(self) -> dict[str, float | int | bool | Position]:
        """Only the metrics actually sent (None means 'not in this reading')."""
        return {k: v for k, v in self.__dict__.items() if v is not None}


class Metrics(MetricValues):
    """Named metrics of one reading; every field optional, at least one required.

    Strict types: a number sent as a string ("21.5") or a bool as 0/1 is a
    schema error, because lax coercion hides firmware bugs.
    """

    model_config = ConfigDict(json_schema_extra={"minProperties": 1})

    @model_validator(mode="after")
    def _not_empty(self) -> "Metrics":
        # An empty reading carries no information and usually means a firmware
        # bug; liveness is better sent as e.g. {"battery": 87}.
        if not any(v is not None for v in self.__dict__.values()):
            raise ValueError("metrics must contain at least one catalogue metric")
        return self


def _to_utc(v: datetime) -> datetime:
    # Normalise so equality, hashing and serialisation never depend on the
    # offset the device chose.
    return v.astimezone(timezone.utc)


_TS_SCHEMA = {
    "anyOf": [
        {"type": "string", "format": "date-time", "description": "ISO-8601 with offset (Z or +hh:mm)"},
        {"type": "integer", "description": "Unix epoch milliseconds"},
    ],
    "description": "Device clock time of the measurement",
}
Timestamp = Annotated[AwareDatetime, AfterValidator(_to_utc), WithJsonSchema(_TS_SCHEMA)]
DeviceId = Annotated[str, Field(pattern=ID_PATTERN)]


class Reading(BaseModel):
    """One device's measurement at one instant."""

    model_config = ConfigDict(
        extra="forbid", strict=True, frozen=True, val_temporal_unit="milliseconds", allow_inf_nan=False
    )
    schema_version: Literal[1]
    device_id: DeviceId
    ts: Timestamp = Field(strict=False)
    seq: int | None = Field(None, ge=0, le=2**63 - 1, description="Per-device counter, +1 per reading")
    metrics: Metrics


class GatewayBatch(BaseModel):
    """Many devices' readings forwarded by one site gateway in one message."""

    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)
    schema_version: Literal[1]
    gateway_id: DeviceId
    site_id: DeviceId
    readings: list[Reading] = Field(min_length=1, max_length=MAX_BATCH_READINGS)


_RANGE_ERRORS = frozenset({"greater_than_equal", "less_than_equal", "greater_than", "less_than", "finite_number"})


def _from_validation(exc: ValidationError) -> TelemetryError:
    """Map pydantic errors to one reason. Order matters: unparseable beats
    everything; any structural error beats range errors (fix the shape first)."""
    errors = exc.errors(include_url=False, include_input=False)
    types = {e["type"] for e in errors}
    first = errors[0]
    where = ".".join(str(p) for p in first["loc"]) or "<root>"
    text = f"{where}: {first['msg']}" + (f" (+{len(errors) - 1} more)" if len(errors) > 1 else "")
    if "json_invalid" in types or "json_type" in types:
        return NotJsonError(f"payload is not valid UTF-8 JSON: {first['msg']}")
    if types == {"too_long"} and all(e["loc"] == ("readings",) for e in errors):
        return TooLargeError(f"batch has more than {MAX_BATCH_READINGS} readings")
    unknown = [e for e in errors if e["type"] == "extra_forbidden" and e["loc"][-2:-1] == ("metrics",)]
    if unknown and len(unknown) == len(errors):
        names = sorted({str(e["loc"][-1]) for e in unknown})
        return UnknownMetricError(f"unknown metric(s) {names}; allowed: {sorted(METRIC_CATALOGUE)}")
    if types <= _RANGE_ERRORS:
        return OutOfRangeError(text)
    return SchemaError(text)


# --- Topics -----------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class DeviceTopic:
    site_id: str
    device_id: str


@dataclass(frozen=True, slots=True)
class GatewayTopic:
    site_id: str
    gateway_id: str


def _check_id(value: str, what: str) -> str:
    if not _ID_RE.match(value):
        raise TopicError(f"invalid {what} {value!r}: must match {ID_PATTERN}")
    return value


def device_topic(site_id: str, device_id: str) -> str:
    """Topic a device publishes single readings on."""
    return f"dt/{_check_id(site_id, 'site_id')}/{_check_id(device_id, 'device_id')}/telemetry"


def gateway_topic(site_id: str, gateway_id: str) -> str:
    """Topic a site gateway publishes batches on."""
    return f"dt/{_check_id(site_id, 'site_id')}/gateway/{_check_id(gateway_id, 'gateway_id')}/batch"


# Topics repeat per device, so parsing is memoised; bounded so a flood of
# distinct (valid) topics cannot grow memory without limit.
TOPIC_CACHE_SIZE = 65_536


@lru_cache(maxsize=TOPIC_CACHE_SIZE)
def parse_topic(topic: str) -> DeviceTopic | GatewayTopic:
    """Split a telemetry topic; raise :class:`TopicError` for anything else so a
    misrouted message never reaches the twin under a wrong device id."""
    if len(topic.encode("utf-8", "replace")) > MAX_TOPIC_BYTES:
        raise TopicError(f"topic longer than {MAX_TOPIC_BYTES} bytes")
    parts = topic.split("/")
    if len(parts) == 4 and parts[0] == "dt" and parts[3] == "telemetry":
        return DeviceTopic(_check_id(parts[1], "site_id"), _check_id(parts[2], "device_id"))
    if len(parts) == 5 and parts[0] == "dt" and parts[2] == "gateway" and parts[4] == "batch":
        return GatewayTopic(_check_id(parts[1], "site_id"), _check_id(parts[3], "gateway_id"))
    raise TopicError(
        f"unrecognised topic {topic[:80]!r}: expected dt/<site>/<device>/telemetry or dt/<site>/gateway/<gw>/batch"
    )


# --- Decoding ---------------------------------------------------------------
def check_skew(reading: Reading, now: datetime) -> None:
    """Raise :class:`SkewError` if the device clock is implausible vs ``now``."""
    if reading.ts > now + MAX_FUTURE_SKEW:
        raise SkewError(
            f"ts {reading.ts.isoformat()} is more than {MAX_FUTURE_SKEW} ahead of {now.isoformat()}",
            device_id=reading.device_id,
        )
    if reading.ts < now - MAX_PAST_AGE:
        raise SkewError(
            f"ts {reading.ts.isoformat()} is more than {MAX_PAST_AGE.days} days before {now.isoformat()}",
            device_id=reading.device_id,
        )


def decode_reading(
    payload: bytes, topic: str, now: datetime, known_devices: Collection[str] | None = None
) -> list[Reading]:
    """Validate one MQTT message into readings (one for a device topic, 1..N for a batch).

    Parsing and validation happen in one pass (``model_validate_json``, Rust),
    which is faster than orjson.loads + model_validate and never builds an
    intermediate dict. A batch is atomic: one bad reading rejects the whole
    message so the gateway gets one clear error instead of silent partial loss.
    ``known_devices`` (optional) rejects readings from unregistered devices.
    """
    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware")
    if len(payload) > MAX_PAYLOAD_BYTES:
        raise TooLargeError(f"payload {len(payload)} bytes > {MAX_PAYLOAD_BYTES}")
    where = parse_topic(topic)
    try:
        if isinstance(where, DeviceTopic):
            readings = [Reading.model_validate_json(payload)]
        else:
            batch = GatewayBatch.model_validate_json(payload)
            if batch.site_id != where.site_id or batch.gateway_id != where.gateway_id:
                raise TopicMismatchError(
                    f"batch says site={batch.site_id} gateway={batch.gateway_id}, topic says "
                    f"site={where.site_id} gateway={where.gateway_id}"
                )
            readings = batch.readings
    except ValidationError as exc:
        raise _from_validation(exc) from None
    if isinstance(where, DeviceTopic) and readings[0].device_id != where.device_id:
        raise TopicMismatchError(
            f"payload device_id={readings[0].device_id} but topic device={where.device_id}",
            device_id=readings[0].device_id,
        )
    for r in readings:
        check_skew(r, now)
        if known_devices is not None and r.device_id not in known_devices:
            raise UnknownDeviceError(f"device {r.device_id} is not registered", device_id=r.device_id)
    return readings


def encode_reading(reading: Reading) -> bytes:
    """Canonical JSON (ts as ISO-8601 UTC, absent metrics dropped) for Kafka and simulators."""
    return reading.model_dump_json(exclude_none=True).encode()


def encode_batch(batch: GatewayBatch) -> bytes:
    """Canonical JSON of a gateway batch."""
    return batch.model_dump_json(exclude_none=True).encode()


# How much of a rejected payload is kept in a DLQ record: enough to debug,
# bounded so a 128 KB garbage message doesn't get copied around in full.
DLQ_PAYLOAD_PREVIEW_BYTES = 2048


def dlq_record(error: TelemetryError, topic: str, payload: bytes, received_at: datetime) -> dict[str, Any]:
    """The JSON-able record the bridge writes to ``telemetry.dlq`` for a rejected message."""
    preview = payload[:DLQ_PAYLOAD_PREVIEW_BYTES]
    return {
        "reason": error.reason,
        "message": error.message,
        "device_id": error.device_id,
        "topic": topic[:MAX_TOPIC_BYTES],
        "received_at": received_at.astimezone(timezone.utc).isoformat(),
        "payload_bytes": len(payload),
        "payload_preview_b64": base64.b64encode(preview).decode("ascii"),
        "payload_truncated": len(payload) > DLQ_PAYLOAD_PREVIEW_BYTES,
    }


def telemetry_json_schema() -> dict[str, Any]:
    """JSON Schema (2020-12) of both payload shapes, for device makers and CI."""
    _, defs = models_json_schema([(Reading, "validation"), (GatewayBatch, "validation")])
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": "https://omnitrack.example/schemas/telemetry-v1.json",
        "title": "OmniTrack device telemetry v1",
        "description": (
            f"Single reading on dt/<site>/<device>/telemetry or GatewayBatch on "
            f"dt/<site>/gateway/<gw>/batch. Max payload {MAX_PAYLOAD_BYTES} bytes."
        ),
        "oneOf": [{"$ref": "#/$defs/Reading"}, {"$ref": "#/$defs/GatewayBatch"}],
        "$defs": defs["$defs"],
    }
