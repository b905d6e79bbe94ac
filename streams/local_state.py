"""A process's tables on disk belong to one Kafka cluster: a data folder filled from another is emptied first.

WHY: a Faust app's RocksDB tables are a local copy of their changelog topics, and each partition's copy records the
changelog offset it has reached. Against a different cluster - the local broker's data wiped (`make clean` once
removed `.omnitrack/stack` and kept `.omnitrack/workers`), `KAFKA_BOOTSTRAP` pointed at a new cluster under the same
data folder - those offsets lie beyond the new changelogs' ends, and Faust refuses to start ("ConsistencyError: the
persisted offset for changelog topic partition ... is higher than the last offset"). The supervisor restarted each
worker into the same error for ever: `make run` after `make clean` applied nothing. Nothing in that copy belongs to
the new cluster, so it is discarded and the tables are rebuilt from the new cluster's changelogs.

Each data folder records the id of the cluster its tables came from (`CLUSTER_FILE`). A folder without that record
(new, or from before this check) is taken as the current cluster's.
"""

from __future__ import annotations

import logging
import shutil
from pathlib import Path

from aiokafka.admin import AIOKafkaAdminClient

__all__ = ["CLUSTER_FILE", "claim", "cluster_id"]

log = logging.getLogger(__name__)

CLUSTER_FILE = "kafka-cluster-id"
"""In the app's data folder: the id of the Kafka cluster whose changelogs its tables were filled from."""


def claim(datadir: Path, tabledir: Path, cluster: str) -> bool:
    """Make `datadir` (holding the tables' folder `tabledir`) the data folder of cluster `cluster`. Returns True
    when it held another cluster's tables, which are removed (the folder is recreated empty)."""
    marker = datadir / CLUSTER_FILE
    try:
        recorded = marker.read_text(encoding="utf-8").strip()
    except FileNotFoundError:
        recorded = ""
    discarded = bool(recorded) and recorded != cluster
    if discarded:
        log.warning("local tables in %s were filled from Kafka cluster %s, not from %s (this one): discarded, "
                    "to be rebuilt from this cluster's changelogs", tabledir, recorded, cluster)
        shutil.rmtree(tabledir, ignore_errors=True)
        tabledir.mkdir(parents=True, exist_ok=True)
    if recorded != cluster:
        datadir.mkdir(parents=True, exist_ok=True)
        temporary = marker.with_suffix(".tmp")
        temporary.write_text(cluster + "\n", encoding="utf-8")
        temporary.replace(marker)  # atomic: a crash leaves the old record or the new one, never half of one
    return discarded


async def cluster_id(bootstrap: str) -> str:
    """The id of the Kafka cluster at `bootstrap` (KRaft's, as `kafka-storage format -t` set it)."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        found = (await admin.describe_cluster()).get("cluster_id")
    finally:
        await admin.close()
    if not found:
        raise RuntimeError(f"the cluster at {bootstrap} did not say its id")
    return str(found)
