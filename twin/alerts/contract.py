"""Helpers for consumers of the public `alerts` topic: decode, rebuild state, JSON Schema.

WHY `rebuild` lives next to the models: it is the proof that the topic alone is enough. Each event carries the
full snapshot with a per-alert version, so rebuilding is "keep the highest version per alert id" - idempotent
under Kafka redelivery and independent of how much history was compacted away.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from pydantic.json_schema import models_json_schema

from twin.alerts.models import SCHEMA_VERSION, Alert, AlertCommand, AlertEvent

__all__ = ["encode_event", "decode_event", "rebuild", "alerts_json_schema"]


def encode_event(event: AlertEvent) -> tuple[bytes, bytes]:
    """(key, value) for the `alerts` topic: keyed by alert id so one alert's events stay ordered."""
    return event.alert.id.encode(), event.model_dump_json().encode()


def decode_event(value: bytes | str) -> AlertEvent:
    """Parse and validate one record (raises pydantic.ValidationError on a contract violation)."""
    return AlertEvent.model_validate_json(value)


def rebuild(events: Iterable[AlertEvent]) -> dict[str, Alert]:
    """Current snapshot of every alert seen, by id: the highest version wins (order and duplicates don't
    matter)."""
    out: dict[str, Alert] = {}
    for ev in events:
        cur = out.get(ev.alert.id)
        if cur is None or ev.alert.version > cur.version:
            out[ev.alert.id] = ev.alert
    return out


def alerts_json_schema() -> dict[str, Any]:
    """JSON Schema (2020-12) of the `alerts` topic records and of operator commands."""
    _, defs = models_json_schema([(AlertEvent, "validation"), (AlertCommand, "validation")])
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": f"https://omnitrack.example/schemas/alerts-v{SCHEMA_VERSION}.json",
        "title": f"OmniTrack alerts v{SCHEMA_VERSION}",
        "description": (
            "AlertEvent: a record on the `alerts` topic, keyed by alert.id (transition + full snapshot). "
            "AlertCommand: a record on the alert commands topic, keyed by site_id."
        ),
        "oneOf": [{"$ref": "#/$defs/AlertEvent"}, {"$ref": "#/$defs/AlertCommand"}],
        "$defs": defs["$defs"],
    }
