"""Why a telemetry message was rejected: one exception per reason, each with a stable `reason` code.

The code is the dead-letter topic's `reason` header and the bridge's rejection metric label
(`twin/telemetry.py` raises them; `ERROR_REASONS` lists every code). Plain classes, no I/O.
"""

from __future__ import annotations

from typing import ClassVar


class TelemetryError(ValueError):
    """A rejected message. ``reason`` is a stable machine-readable code used as
    the DLQ key and metric label; the message is for humans."""

    reason: ClassVar[str] = "invalid"

    def __init__(self, message: str, *, device_id: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.device_id = device_id


class NotJsonError(TelemetryError):
    reason = "not_json"


class SchemaError(TelemetryError):
    reason = "schema"


class UnknownMetricError(TelemetryError):
    reason = "unknown_metric"


class OutOfRangeError(TelemetryError):
    reason = "out_of_range"


class TooLargeError(TelemetryError):
    reason = "too_large"


class TopicError(TelemetryError):
    reason = "topic"


class TopicMismatchError(TelemetryError):
    reason = "topic_mismatch"


class SkewError(TelemetryError):
    reason = "skew"


class UnknownDeviceError(TelemetryError):
    reason = "unknown_device"


ERROR_REASONS: tuple[str, ...] = tuple(c.reason for c in TelemetryError.__subclasses__())
"""Every reason code, in the order the classes are defined above (a new reason needs only its class)."""
