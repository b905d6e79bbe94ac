"""Create the engine's Kafka topics with the partition counts the design relies on."""

from __future__ import annotations

import asyncio
import logging

from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import TopicAlreadyExistsError

from streams.topics import Topics

log = logging.getLogger(__name__)

TELEMETRY_PARTITIONS = 8
"""Upper bound on twin workers sharing the load; changing it later re-homes devices (and their table rows)."""


COMPACTED = {"cleanup.policy": "compact"}
WINDOWED = {"cleanup.policy": "compact,delete", "retention.ms": str(2 * 24 * 3600 * 1000)}
"""Windowed changelogs expire: Faust drops old windows, the topic must not keep them forever."""


def topic_specs(topics: Topics) -> dict[str, tuple[int, dict[str, str]]]:
    """Every topic the engine uses, with partitions and configs.

    Faust's own topics (changelogs, the node re-key topic) are created here too:
    left to Faust they appear while the worker starts, and a table write that
    races their metadata fails with PartitionsMismatch.
    """
    n = TELEMETRY_PARTITIONS
    return {
        topics.telemetry: (n, {}),
        topics.telemetry_dlq: (1, {}),
        topics.twin_changes: (n, {}),
        topics.alerts: (n, {}),
        topics.node_inputs: (n, {}),
        topics.alert_inputs: (n, {}),
        topics.alert_commands: (n, {}),
        topics.alert_commands_dlq: (1, {}),
        topics.ground_truth: (1, {}),
        topics.changelog("sites"): (n, COMPACTED),
        topics.changelog("devices"): (n, COMPACTED),
        topics.changelog("nodes"): (n, COMPACTED),
        topics.changelog("aggregates"): (n, WINDOWED),
        topics.scenario_requests: (1, {}),
        topics.scenario_results: (n, {}),
        f"{topics.decisions_app_id}-results-changelog": (1, COMPACTED),
        f"{topics.decisions_app_id}-priors-changelog": (1, COMPACTED),
    }


async def ensure_topics(bootstrap: str, topics: Topics) -> None:
    """Create missing topics (idempotent); existing ones are left as they are."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        existing = set(await admin.list_topics())
        new = [NewTopic(name, partitions, 1, topic_configs=configs)
               for name, (partitions, configs) in topic_specs(topics).items() if name not in existing]
        if new:
            try:
                await admin.create_topics(new)
            except TopicAlreadyExistsError:
                pass  # created meanwhile by another process
        # metadata propagates asynchronously; wait until every topic is visible
        for _ in range(100):
            if set(topic_specs(topics)) <= set(await admin.list_topics()):
                return
            await asyncio.sleep(0.1)
    finally:
        await admin.close()


async def delete_topics(bootstrap: str, prefix: str) -> list[str]:
    """Delete every topic of one deployment prefix (`prefix.` and the apps' `prefix.…` changelogs).

    For tests and benchmarks: each run gets its own prefix, and a broker that
    keeps every run's partitions grows slower run after run. Returns the names.
    """
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        names = [t for t in await admin.list_topics() if t.startswith(prefix + ".")]
        if names:
            await admin.delete_topics(names)
        return names
    finally:
        await admin.close()
