"""Consumer lag of the engine's Faust apps, read from Kafka: records on their input topics not yet committed.

WHY from Kafka rather than from each worker: the committed offset is what survives a crash and what Kafka's own
tools report (`kafka-consumer-groups --describe`, Burrow), and one reader sees every group, stopped or dead
workers included: a twin worker that died shows as lag that grows, not as a series that vanishes.
The API process runs `export_lag` (`omnitrack run` and compose start one), so the gauge is on its metrics port.
"""

from __future__ import annotations

import asyncio
import logging
from collections import defaultdict

from aiokafka import AIOKafkaConsumer
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.errors import KafkaError
from prometheus_client import Gauge

from streams.notify.topics import notify_app_id
from streams.topics import Topics

__all__ = ["LAG", "engine_groups", "group_lag", "export_lag"]

log = logging.getLogger(__name__)

LAG = Gauge("omnitrack_consumer_lag_records",
            "Records on a topic that the engine's consumer group has not committed yet (end offset - committed)",
            ["group", "topic"])

LAG_INTERVAL_S = 10.0
"""How often the lag is read: two cheap Kafka requests per group, and Prometheus scrapes every 15 s or so."""


def engine_groups(topics: Topics) -> dict[str, str]:
    """role -> consumer group (= Faust app id) of the engine's stream processors."""
    return {"twin": topics.app_id, "decider": topics.decisions_app_id, "notifier": notify_app_id(topics)}


async def group_lag(admin: AIOKafkaAdminClient, consumer: AIOKafkaConsumer, group: str) -> dict[str, int]:
    """topic -> records not committed by `group`, summed over the partitions it has committed on (a group that
    never committed has no lag to show yet: {})."""
    committed = {tp: om.offset for tp, om in (await admin.list_consumer_group_offsets(group)).items()
                 if om.offset >= 0}
    if not committed:
        return {}
    ends = await consumer.end_offsets(list(committed))
    lag: dict[str, int] = defaultdict(int)
    for tp, offset in committed.items():
        lag[tp.topic] += max(0, ends[tp] - offset)
    return dict(lag)


async def export_lag(bootstrap: str, topics: Topics, interval_s: float = LAG_INTERVAL_S) -> None:
    """Set `LAG` for every engine group every `interval_s`, until cancelled; Kafka errors are logged and retried."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, group_id=None, enable_auto_commit=False)
    await admin.start()
    await consumer.start()
    try:
        while True:
            for group in engine_groups(topics).values():
                try:
                    for topic, records in (await group_lag(admin, consumer, group)).items():
                        LAG.labels(group, topic).set(records)
                except KafkaError as exc:
                    log.warning("consumer lag of %s not read: %r", group, exc)
            await asyncio.sleep(interval_s)
    finally:
        await consumer.stop()
        await admin.close()
