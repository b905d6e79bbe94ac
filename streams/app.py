"""The Faust application: one per worker process, configured from the settings.

Tables use RocksDB (`store='rocksdb://'`) under a folder per worker id so a
restarted worker reopens its own state and only replays the changelog tail.
"""

from __future__ import annotations

import logging
import os
import socket
from pathlib import Path
from typing import Any, Callable

import faust

from omnitrack.replication import replication_for
from omnitrack.settings import Settings
from streams.admin import TELEMETRY_PARTITIONS
from streams.kafka_transport import FETCH_MAX_WAIT_MS, Transport
from streams.local_state import claim, cluster_id, drop_copies_ahead, end_offsets, partition_copies
from streams.resilient_topic import ResilientTopic
from streams.timer_overruns import watch_timer_overruns
from streams.topics import topics_for

log = logging.getLogger(__name__)

AGENT_CRASH_EXIT_CODE = 70
"""Exit status of a worker whose agent crashed (EX_SOFTWARE); the supervisor restarts it."""


COMMIT_BY_TIME_ONLY = 1_000_000_000
"""Faust's `broker_commit_every` (acknowledged records between commits) set beyond reach: see create_app."""

PRODUCER_BUFFER_MESSAGES = 20_000
"""Table writes queued for the producer before Faust stops delivering records to every agent until 100
of them are sent (Faust's default threshold is 100). The twin writes a partition's rows in one flush
(up to `FLUSH_MAX_ROWS`) and every device closes its minute at once: at 100, each flush paused the
alert agents behind it (alert latency spikes, "producer buffer full" logged every second). Our flushes
bound the buffer, so the pause is only a last resort."""


class OmniTrackApp(faust.App):
    """A Faust app whose worker exits when an agent crashes.

    Faust's default leaves the process running with the crashed agent no longer
    consuming: the twin would silently stop. Exiting hard commits nothing more,
    so the records after the last commit are processed again on restart and
    the twin recognises them as duplicates.
    """

    def __init__(self, *args: Any, fetch_max_wait_ms: int | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fetch_max_wait_ms = fetch_max_wait_ms
        """The consumer's fetch wait (None: Faust's 1,500 ms); see streams/kafka_transport.py."""
        self.before_revoke: list[Callable[[], None]] = []
        """Called before Faust revokes partitions (rebalance or shutdown).

        Faust waits for every delivered record to be acknowledged before it gives
        partitions up; agents that hold records back (coalesced writes) settle them
        here, or a rebalance waits on them and shutdown outlasts its grace period.
        """
        self.on_drained: list[Callable[[], object]] = []
        """Called whenever the worker gives its partitions up (a rebalance, or shutdown), once every record
        delivered to an agent is acknowledged and committed, while the tables are still open: the last moment to
        write rows that describe exactly what was processed (the twin saves its anomaly detectors here). Their
        writes are delivered before the partitions go, so their next owner's recovery reads them."""

    async def on_first_start(self) -> None:
        await super().on_first_start()  # Faust makes the data folders here, before any table opens its RocksDB
        bootstrap = ",".join(f"{url.host}:{url.port}" for url in self.conf.broker)
        try:
            await self._check_local_tables(bootstrap)
        except Exception as exc:  # noqa: BLE001 - unreachable now: Faust's own start will say so, and retry
            log.warning("local tables not checked against the Kafka cluster (%r): kept as they are", exc)

    async def _check_local_tables(self, bootstrap: str) -> None:
        """Remove local table copies that are not copies of this cluster's changelogs (streams/local_state.py):
        a folder filled from another cluster, or a partition's copy ahead of a changelog created anew."""
        tabledir = Path(self.conf.tabledir)
        claim(Path(self.conf.datadir), tabledir, await cluster_id(bootstrap))
        copies = {table.changelog_topic.get_topic_name(): partition_copies(tabledir, table.name)
                  for table in self.tables.values()}
        copies = {topic: found for topic, found in copies.items() if found}
        if copies:
            ends = await end_offsets(bootstrap, {topic: list(found) for topic, found in copies.items()})
            for topic, found in copies.items():
                drop_copies_ahead(found, ends[topic])

    def _new_producer(self) -> Any:
        producer = super()._new_producer()
        producer.buffer.max_messages = PRODUCER_BUFFER_MESSAGES
        return producer

    def _new_transport(self) -> Any:
        return Transport(self.conf.broker_consumer, self)

    def on_rebalance_start(self) -> None:
        self._settle()
        super().on_rebalance_start()

    async def _stop_consumer(self) -> None:
        self._settle()
        await super()._stop_consumer()

    async def _consumer_wait_empty(self, consumer: Any, logger: Any) -> None:
        # Faust calls this in a rebalance's revoke and in shutdown, each time before the tables let go
        await super()._consumer_wait_empty(consumer, logger)
        if not self.on_drained:
            return
        for hook in self.on_drained:
            try:
                hook()
            except Exception as exc:  # noqa: BLE001 - a failed save must not stop a rebalance or a shutdown
                log.error("drained hook %r failed: %r", hook, exc, exc_info=exc)
        # delivered now, while the stores are open (Faust records each write's changelog offset in its store) and
        # before the partitions' next owners start reading the changelogs
        await self._producer_flush(logger)

    def _settle(self) -> None:
        for hook in self.before_revoke:
            hook()

    async def _on_agent_error(self, agent: Any, exc: BaseException) -> None:
        log.critical("agent %s crashed: %r; exiting for a restart", agent, exc, exc_info=exc)
        logging.shutdown()
        os._exit(AGENT_CRASH_EXIT_CODE)


def make_worker(app: faust.App, loglevel: str = "warning") -> Any:
    """A Faust worker for `app` that logs at `loglevel` and nothing below.

    Faust's terminal spinner sets the root logger to DEBUG so that every log
    call turns it; aiokafka and Faust then build a LogRecord for every message
    sent (the record's bytes included), which cost a worker ~5 % of its time.
    Standard output stays standard output: Faust would turn each `print` into a
    WARNING log record, so the worker's one ready line read as a warning.
    A timer tick (the offset commit) that overran its interval is observed, and
    logged only when long (`streams.timer_overruns`).
    """
    from faust.worker import Worker

    watch_timer_overruns()

    class _Worker(Worker):
        def on_setup_root_logger(self, logger: logging.Logger, level: int) -> None:
            self.spinner = None
            logger.setLevel(level or logging.WARNING)

    return _Worker(app, loglevel=loglevel, quiet=True, redirect_stdouts=False)


STORE_OPTIONS: dict[str, int] = {
    "write_buffer_size": 4 << 20,
    "max_write_buffer_number": 2,
    "block_cache_size": 8 << 20,
}
"""RocksDB options of every table partition (`app.Table(..., options=STORE_OPTIONS)`). Faust's defaults are
a 64 MB memtable (up to 3) and a 2 GiB block cache for EACH partition's database: a worker with 3 tables x 8
partitions grew ~500 bytes per reading (each reading rewrites a device row and a window) for as long as the
memtables filled, towards gigabytes (`bench soak`). Here a partition holds at most 2 x 4 MB of memtables and 8 MB
of cache: the twin's rows are read from the worker's own cache, RocksDB is its durable copy, not its read path.
"""


def restoring(app: faust.App) -> bool:
    """Whether the worker is between a rebalance's start and the end of its tables' recovery.

    WHY: timers run through a rebalance. A partition that comes back to this worker is restored from its changelog
    on top of the local RocksDB copy it left behind; rows read before the restore has caught up are that old copy.
    The silence check once loaded them into the row cache mid-restore, and the agent then applied new readings on
    top of a stale row: the device's twin lost every reading another worker had applied meanwhile (the rebalance
    storm, tests/faults/test_rebalance_storm.py, 2 failures in 17 runs). The silence check (streams/twin_agents.py)
    and the alert agents' first scan for sites to tick (streams/alert_agents.py) wait while this holds."""
    return app.rebalancing or app.in_recovery


def create_app(settings: Settings, *, app_id: str | None = None, role: str = "worker",
               **overrides: Any) -> faust.App:
    """A Faust app for this deployment (topic prefix) and this process (data folder per role and worker id).

    `overrides` replace single Faust settings for a role (e.g. the notifier commits more often). The topics
    Faust creates itself (its assignor's leader topic, any changelog not made by streams/admin.py) get the
    replication of the engine's: `topic_replication_factor` from `ensure_topics` (the worker mains pass it), else
    the local stack's size (`kafka_brokers`): left at 1, they would die with one broker of a cluster.
    """
    topics = topics_for(settings)
    folder = str(settings.worker_id) if role == "worker" else f"{role}-{settings.worker_id}"
    datadir = settings.home / "workers" / (settings.topic_prefix or "default") / folder
    datadir.mkdir(parents=True, exist_ok=True)
    config: dict[str, Any] = dict(
        broker=f"kafka://{settings.bootstrap}",
        store="rocksdb://",
        datadir=str(datadir),
        Topic=ResilientTopic,  # a broker outage must not crash the conductor (streams/resilient_topic.py)
        topic_partitions=TELEMETRY_PARTITIONS,
        topic_replication_factor=replication_for(settings.kafka_brokers),
        table_standby_replicas=settings.worker_standby_replicas if role == "worker" else 0,
        web_enabled=False,
        processing_guarantee="at_least_once",
        consumer_auto_offset_reset="earliest",
        # A SIGKILLed worker's partitions move on after this, not after Faust's default 60 s.
        broker_session_timeout=10.0,
        broker_heartbeat_interval=2.0,
        # Static membership (KIP-345): a process restarted after a crash rejoins as the member it was and gets its
        # partitions back at once, instead of waiting out the dead member's session (10 s, above) in a rebalance.
        # The host name keeps replicas apart that share a worker id (`docker compose up --scale worker=N` gives
        # each the same OMNITRACK_WORKER_ID): two members of one instance id fence each other out of the group.
        consumer_group_instance_id=f"{app_id or topics.app_id}-{folder}-{socket.gethostname()}",
        # A consumer rejoins its group when its topics' metadata changes, and only sees a change when it refreshes
        # metadata: every 5 min by default. After a broker restart that first answered without the topics, a worker
        # sat with 0 partitions for minutes (docs/operations.md); 30 s bounds that, at one small request per 30 s.
        consumer_metadata_max_age_ms=30_000,
        # Offsets are committed by time only (below). Faust's count-based commit runs inside the loop that hands
        # records to the agents and holds it for the producer's flush and the commit's round trip: at 1,000 it fired
        # every ~1.4 s at 5,000 readings/s, and alerts behind it waited (`bench latency` p99 55-61 -> 42-49 ms).
        broker_commit_every=COMMIT_BY_TIME_ONLY,
        broker_commit_interval=1.0,
        stream_buffer_maxsize=8192,
        producer_linger_ms=settings.stream_producer_linger_ms,
        producer_max_batch_size=1 << 20,
    )
    config.update(overrides)
    fetch_wait = FETCH_MAX_WAIT_MS if role == "worker" else None
    return OmniTrackApp(app_id or topics.app_id, fetch_max_wait_ms=fetch_wait, **config)
