"""Create the engine's Kafka topics with the partition counts the design relies on, as durable as the cluster
allows: replication min(3, brokers), and min.insync.replicas=2 from three replicas on (omnitrack/replication.py).

Why the broker count is read from the cluster, not from the settings: the same code creates the topics on the
local stack (one broker or `--brokers 3`), on a cluster given by KAFKA_BOOTSTRAP, and on MSK.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterator, Mapping
from contextlib import contextmanager

from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import TopicAlreadyExistsError

from omnitrack.replication import replication_for, topic_durability
from streams.topics import Topics

log = logging.getLogger(__name__)

TELEMETRY_PARTITIONS = 8
"""Upper bound on twin workers sharing the load; changing it later re-homes devices (and their table rows)."""


COMPACTED = {"cleanup.policy": "compact"}
WINDOWED = {"cleanup.policy": "compact,delete", "retention.ms": str(2 * 24 * 3600 * 1000)}
"""Windowed changelogs expire: Faust drops old windows, the topic must not keep them forever."""

SERVED_DEADLINE_S = 30.0
"""How long a new topic's partitions may take to answer ListOffsets before `ensure_specs` gives up waiting (and
says so): a broker under load creates them a few tenths of a second apart."""


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
        topics.changelog("detectors"): (n, COMPACTED),
        topics.changelog("aggregates"): (n, WINDOWED),
        topics.scenario_requests: (1, {}),
        topics.scenario_results: (n, {}),
        f"{topics.decisions_app_id}-results-changelog": (1, COMPACTED),
        f"{topics.decisions_app_id}-priors-changelog": (1, COMPACTED),
    }


async def ensure_topics(bootstrap: str, topics: Topics) -> int:
    """Create missing topics (idempotent); existing ones are left as they are. Returns the replication factor
    new topics get, for the Faust apps' own topics (`create_app(..., topic_replication_factor=...)`)."""
    return await ensure_specs(bootstrap, topic_specs(topics))


async def ensure_specs(bootstrap: str, specs: Mapping[str, tuple[int, Mapping[str, str]]]) -> int:
    """Create the missing topics of `specs` (name -> partitions, configs) with the cluster's replication
    factor and its min.insync.replicas; wait until every one is visible, and each new one served
    (`wait_until_served`). Returns the replication factor."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        replication = replication_for(await cluster_brokers(admin))
        durability = topic_durability(replication)
        existing = set(await admin.list_topics())
        new = [NewTopic(name, partitions, replication, topic_configs={**configs, **durability})
               for name, (partitions, configs) in specs.items() if name not in existing]
        if new:
            try:
                await admin.create_topics(new)
            except TopicAlreadyExistsError:
                pass  # created meanwhile by another process
        # metadata propagates asynchronously; wait until every topic is visible
        for _ in range(100):
            if set(specs) <= set(await admin.list_topics()):
                break
            await asyncio.sleep(0.1)
    finally:
        await admin.close()
    if new:
        await wait_until_served(bootstrap, [TopicPartition(t.name, p) for t in new for p in range(t.num_partitions)])
    return replication


async def wait_until_served(bootstrap: str, partitions: list[TopicPartition],
                            deadline_s: float = SERVED_DEADLINE_S) -> bool:
    """Wait until every partition's leader answers ListOffsets (what a consumer asks first); False if the deadline
    passed first (logged; the caller carries on, its consumers retry). WHY: the metadata names a new partition's
    leader before that broker serves it, so a process that starts consuming a topic just created (the API beside
    the worker that created it, in `omnitrack run`) had its first offset requests refused, and aiokafka logs each
    refusal at ERROR: five or six ERROR lines on a newcomer's first `make run`. Here the refusals are the question
    being asked, so they are kept out of the log."""
    try:
        with _quiet_refusals():
            await asyncio.wait_for(partition_ends(bootstrap, partitions), deadline_s)
        return True
    except asyncio.TimeoutError:
        log.warning("%d new partitions not all served after %.0f s; consumers will retry", len(partitions),
                    deadline_s)
        return False


async def partition_ends(bootstrap: str, partitions: list[TopicPartition]) -> dict[TopicPartition, int]:
    """Each partition's end offset, asked as a consumer asks it (ListOffsets to its leader; retried until served).
    The partitions are assigned first: their topics' metadata then comes in one request, where an unassigned
    consumer asks for one topic per retry (~0.1 s each: 1.8 s for the engine's 18 topics)."""
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
    await consumer.start()
    try:
        consumer.assign(partitions)
        return await consumer.end_offsets(partitions)
    finally:
        await consumer.stop()


class _NotLeaderYet(logging.Filter):
    """Drops aiokafka's report of an offset request refused with NotLeaderForPartition (it retries them)."""

    def filter(self, record: logging.LogRecord) -> bool:
        return "NotLeaderForPartitionError" not in record.getMessage()


@contextmanager
def _quiet_refusals() -> Iterator[None]:
    fetcher = logging.getLogger("aiokafka.consumer.fetcher")
    quiet = _NotLeaderYet()
    fetcher.addFilter(quiet)
    try:
        yield
    finally:
        fetcher.removeFilter(quiet)


async def cluster_brokers(admin: AIOKafkaAdminClient) -> int:
    """Brokers the cluster's metadata lists now (a broker that is down and already fenced is not among them,
    and a topic asking for more replicas than live brokers is refused)."""
    return len((await admin.describe_cluster())["brokers"])


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
