"""Shared by the API tests: alert events to produce, async Kafka helpers, tokens."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from datetime import datetime, timedelta, timezone
from typing import Any

import orjson
from aiokafka import AIOKafkaConsumer, TopicPartition

from streams.api.auth import mint_token
from twin.alerts.models import Alert, AlertEvent, AlertTransition, Severity, TransitionKind

SECRET = "test-secret-" + "x" * 40
T0 = datetime(2026, 1, 1, tzinfo=timezone.utc)


def token(role: str, sub: str = "alice", **kw: Any) -> str:
    return mint_token(SECRET, sub=sub, roles=[role], **kw)


def bearer(role: str, sub: str = "alice", **kw: Any) -> dict[str, str]:
    return {"Authorization": f"Bearer {token(role, sub, **kw)}"}


def alert_event(alert_id: str, version: int = 1, *, active: bool = True, site: str = "WHS-1",
                severity: Severity = Severity.warning, rule: str = "temperature_high", minute: int = 0,
                kind: TransitionKind = TransitionKind.created) -> AlertEvent:
    at = T0 + timedelta(minutes=minute)
    alert = Alert(id=alert_id, dedup_key=f"device:D-{alert_id}:{rule}", occurrence=1, version=version,
                  subject_kind="device", subject_id=f"D-{alert_id}", site_id=site, rule=rule, severity=severity,
                  active=active, created_at=T0, updated_at=at, severity_since=T0,
                  cleared_at=None if active else at, cleared_by=None if active else "condition")
    return AlertEvent(event_id=f"{alert_id}:{version}", transition=AlertTransition(kind=kind, at=at), alert=alert)


def alert_records(events: list[AlertEvent]) -> list[tuple[bytes, bytes]]:
    """(key, value) pairs as the twin worker writes them to `alerts`: keyed by alert id."""
    return [(e.alert.id.encode(), e.model_dump_json().encode()) for e in events]


async def consume_until(bootstrap: str, topic: str, until: Callable[[list[Any]], bool],
                        deadline_s: float = 30.0) -> list[Any]:
    """Records of `topic` from the beginning until `until(records)` holds; AssertionError at the deadline."""
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, group_id=None, enable_auto_commit=False,
                                auto_offset_reset="earliest")
    await consumer.start()
    records: list[Any] = []
    end = time.monotonic() + deadline_s
    try:
        while not consumer.partitions_for_topic(topic):
            assert time.monotonic() < end, f"topic {topic} never appeared"
            await consumer._client.force_metadata_update()
            await asyncio.sleep(0.2)
        consumer.assign([TopicPartition(topic, p) for p in consumer.partitions_for_topic(topic) or ()])
        await consumer.seek_to_beginning()
        while not until(records):
            assert time.monotonic() < end, f"timed out after {deadline_s}s reading {topic}: {len(records)} records"
            for batch in (await consumer.getmany(timeout_ms=300)).values():
                records.extend(batch)
    finally:
        await consumer.stop()
    return records


def json_values(records: list[Any]) -> list[dict[str, Any]]:
    return [orjson.loads(r.value) for r in records]
