"""The Faust application: one per worker process, configured from the settings.

Tables use RocksDB (`store='rocksdb://'`) under a folder per worker id so a
restarted worker reopens its own state and only replays the changelog tail.
"""

from __future__ import annotations

import faust

from omnitrack.settings import Settings
from streams.admin import TELEMETRY_PARTITIONS
from streams.topics import topics_for


def create_app(settings: Settings) -> faust.App:
    """A Faust app for this deployment (topic prefix) and this worker (data folder)."""
    topics = topics_for(settings)
    datadir = settings.home / "workers" / (settings.topic_prefix or "default") / str(settings.worker_id)
    datadir.mkdir(parents=True, exist_ok=True)
    return faust.App(
        topics.app_id,
        broker=f"kafka://{settings.bootstrap}",
        store="rocksdb://",
        datadir=str(datadir),
        topic_partitions=TELEMETRY_PARTITIONS,
        topic_replication_factor=1,
        table_standby_replicas=0,
        web_enabled=False,
        processing_guarantee="at_least_once",
        consumer_auto_offset_reset="earliest",
        broker_commit_every=1000,
        broker_commit_interval=1.0,
        stream_buffer_maxsize=8192,
        producer_linger_ms=5,
        producer_max_batch_size=1 << 20,
    )
