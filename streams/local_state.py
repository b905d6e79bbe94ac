"""A process's tables on disk are copies of this cluster's changelogs: copies of anything else are removed first.

WHY: a Faust app's RocksDB tables are a local copy of their changelog topics, and each partition's copy records the
changelog offset it has reached. Against a different cluster - the local broker's data wiped (`make clean` once
removed `.omnitrack/stack` and kept `.omnitrack/workers`), `KAFKA_BOOTSTRAP` pointed at a new cluster under the same
data folder - those offsets lie beyond the new changelogs' ends, and Faust refuses to start ("ConsistencyError: the
persisted offset for changelog topic partition ... is higher than the last offset"). The supervisor restarted each
worker into the same error for ever: `make run` after `make clean` applied nothing. Nothing in that copy belongs to
the new cluster, so it is discarded and the tables are rebuilt from the new cluster's changelogs.

Each data folder records the id of the cluster its tables came from (`CLUSTER_FILE`). A folder without that record
(new, or from before this check) is taken as the current cluster's.

On the same cluster a changelog can be deleted and created anew under the same name (a deployment's topics reset, a
drill run again). Faust's check then does not fire while the new changelog is empty (it skips a highwater of 0), and
the old copy's rows were served as if they were the new deployment's. So each partition's copy is also compared with
its changelog before the tables open (`drop_copies_ahead`): a copy that has reached an offset the changelog has not
(Faust writes a row's changelog offset beside it, and a copy of this changelog is always behind its end) is not a copy
of it, and is removed.
"""

from __future__ import annotations

import logging
import shutil
from pathlib import Path

from aiokafka import TopicPartition
from aiokafka.admin import AIOKafkaAdminClient

from streams.admin import partition_ends

__all__ = ["CLUSTER_FILE", "OFFSET_KEY", "claim", "cluster_id", "drop_copies_ahead", "end_offsets", "partition_copies",
           "persisted_offset"]

log = logging.getLogger(__name__)

CLUSTER_FILE = "kafka-cluster-id"
"""In the app's data folder: the id of the Kafka cluster whose changelogs its tables were filled from."""

OFFSET_KEY = b"__faust\0offset__"
"""Where Faust's RocksDB store keeps the changelog offset a partition's copy has reached (faust/stores/rocksdb.py)."""


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


def partition_copies(tabledir: Path, table: str) -> dict[int, Path]:
    """partition -> the folder of this process's copy of `table` (Faust names them `<table>-<partition>.db`)."""
    copies = {}
    for path in tabledir.glob(f"{table}-*.db"):
        tail = path.name[len(table) + 1:-len(".db")]
        if tail.isdigit():
            copies[int(tail)] = path
    return copies


def persisted_offset(copy: Path) -> int | None:
    """The changelog offset Faust recorded in one partition's copy (None: none recorded)."""
    from rocksdict import AccessType, Options, Rdict

    db = Rdict(str(copy), options=Options(raw_mode=True), access_type=AccessType.read_only())
    try:
        raw = db.get(OFFSET_KEY)
    finally:
        db.close()
    return int(raw) if raw is not None else None


def drop_copies_ahead(copies: dict[int, Path], ends: dict[int, int]) -> list[Path]:
    """Remove each copy whose recorded offset lies at or past its changelog partition's end (`ends`; a partition
    missing there has none): the rows are not this changelog's. Returns the copies removed."""
    dropped = []
    for partition, copy in sorted(copies.items()):
        try:
            offset = persisted_offset(copy)
        except Exception as exc:  # noqa: BLE001 - a copy that cannot be read here is left to Faust's own checks
            log.warning("local table copy %s not checked: %r", copy, exc)
            continue
        end = ends.get(partition, 0)
        if offset is not None and offset >= end:
            log.warning("local table copy %s has reached changelog offset %d, its changelog ends at %d: not a copy "
                        "of it (the topic was created anew); removed, to be rebuilt from the changelog",
                        copy, offset, end)
            shutil.rmtree(copy, ignore_errors=True)
            dropped.append(copy)
    return dropped


async def end_offsets(bootstrap: str, wanted: dict[str, list[int]]) -> dict[str, dict[int, int]]:
    """topic -> partition -> end offset, for the partitions of `wanted` that the topic has (none: it does not
    exist)."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        # only topics that exist are described: a broker with auto.create.topics.enable creates one merely asked about
        existing = set(await admin.list_topics()).intersection(wanted)
        described = await admin.describe_topics(sorted(existing)) if existing else []
    finally:
        await admin.close()
    have = {t["topic"]: {p["partition"] for p in t["partitions"]} for t in described if not t.get("error_code")}
    tps = [TopicPartition(topic, p) for topic, parts in wanted.items() for p in parts if p in have.get(topic, ())]
    out: dict[str, dict[int, int]] = {topic: {} for topic in wanted}
    if not tps:
        return out
    for tp, offset in (await partition_ends(bootstrap, tps)).items():
        out[tp.topic][tp.partition] = offset
    return out
