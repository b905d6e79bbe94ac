"""A Faust app's tables on disk belong to the changelogs they were filled from (streams/local_state.py): a data
folder recorded for another cluster is emptied before any table opens, one of this cluster is left alone, and a
partition's copy ahead of its changelog (the topic created anew) is removed."""

from __future__ import annotations

import asyncio
from pathlib import Path

from aiokafka.admin import AIOKafkaAdminClient

from omnitrack.settings import Settings
from omnitrack.stack.endpoints import Endpoints
from streams.admin import delete_topics, ensure_specs
from streams.app import create_app
from streams.local_state import (
    CLUSTER_FILE,
    OFFSET_KEY,
    claim,
    cluster_id,
    drop_copies_ahead,
    end_offsets,
    partition_copies,
    persisted_offset,
)
from tests.streams.conftest import Engine, read_topic, wait_for
from tests.streams.crash_helpers import N_DEVICES, items, publish_in_background, rows, start_pipeline


def _tables(tmp_path: Path) -> tuple[Path, Path]:
    datadir, tabledir = tmp_path / "0", tmp_path / "0" / "v1" / "tables"
    (tabledir / "devices-3.db").mkdir(parents=True)
    (tabledir / "devices-3.db" / "CURRENT").write_text("MANIFEST-000005\n")
    return datadir, tabledir


def test_a_folder_is_claimed_by_the_first_cluster_and_emptied_for_another(tmp_path: Path) -> None:
    datadir, tabledir = _tables(tmp_path)
    assert not claim(datadir, tabledir, "cluster-A")  # no record yet (new, or older than the check): kept
    assert (datadir / CLUSTER_FILE).read_text().strip() == "cluster-A"
    assert not claim(datadir, tabledir, "cluster-A")
    assert (tabledir / "devices-3.db" / "CURRENT").exists()
    assert claim(datadir, tabledir, "cluster-B")  # the broker was replaced: its changelogs never had these rows
    assert tabledir.is_dir() and not any(tabledir.iterdir())
    assert (datadir / CLUSTER_FILE).read_text().strip() == "cluster-B"
    assert not list(datadir.glob("*.tmp"))


def test_a_worker_started_on_another_cluster_discards_its_tables_before_opening_them(
        stack_endpoints: Endpoints, topic_prefix: str, tmp_path: Path) -> None:
    """Through the app's start (Faust's `on_first_start`, before any table opens) against the real broker: the
    cluster's id is asked, and the folder recorded for another cluster is emptied; then, recorded for this one,
    a second start keeps what the tables wrote."""
    settings = Settings(home=tmp_path, topic_prefix=topic_prefix, kafka_bootstrap=stack_endpoints.kafka_bootstrap)
    app = create_app(settings)
    datadir, tabledir = Path(app.conf.datadir), Path(app.conf.tabledir)
    (tabledir / "devices-3.db").mkdir(parents=True)
    (datadir / CLUSTER_FILE).write_text("a-cluster-since-wiped\n")
    asyncio.run(app.on_first_start())
    this_cluster = asyncio.run(cluster_id(stack_endpoints.kafka_bootstrap))
    assert (datadir / CLUSTER_FILE).read_text().strip() == this_cluster != "a-cluster-since-wiped"
    assert not (tabledir / "devices-3.db").exists()

    (tabledir / "devices-3.db").mkdir()
    asyncio.run(create_app(settings).on_first_start())
    assert (tabledir / "devices-3.db").exists()


def _copy(tabledir: Path, name: str, offset: int | None) -> Path:
    """A partition's copy as Faust's RocksDB store writes it: raw keys, the changelog offset beside the rows."""
    from rocksdict import Options, Rdict

    options = Options(raw_mode=True)
    options.create_if_missing(True)
    db = Rdict(str(tabledir / name), options=options)
    db[b"dev-1"] = b"{}"
    if offset is not None:
        db[OFFSET_KEY] = str(offset).encode()
    db.close()
    return tabledir / name


def test_a_copy_ahead_of_its_changelog_is_removed_and_one_behind_kept(tmp_path: Path) -> None:
    kept, ahead, empty_log, unrecorded = (_copy(tmp_path, "devices-0.db", 41), _copy(tmp_path, "devices-1.db", 9),
                                          _copy(tmp_path, "devices-2.db", 0), _copy(tmp_path, "devices-3.db", None))
    _copy(tmp_path, "devices-x-0.db", 5)  # another table whose name begins alike: not a copy of `devices`
    copies = partition_copies(tmp_path, "devices")
    assert copies == {0: kept, 1: ahead, 2: empty_log, 3: unrecorded}
    assert persisted_offset(kept) == 41 and persisted_offset(unrecorded) is None
    # partition 0's changelog ends past the copy; 1's ends before it; 2's is empty (Faust's own check skips that)
    assert drop_copies_ahead(copies, {0: 42, 1: 5, 2: 0, 3: 0}) == [ahead, empty_log]
    assert kept.exists() and unrecorded.exists() and not ahead.exists() and not empty_log.exists()


def test_a_worker_whose_topics_were_created_anew_does_not_serve_the_old_rows(engine: Engine) -> None:
    """The deployment's topics deleted and created again on the same cluster, the worker's folder kept: the old
    copy's rows were served as the new deployment's (Faust's consistency check skips an empty changelog). A device
    that reports again must start from nothing: 3 readings applied, not its old 5 and none (seq 0-2 were seen
    before, so an old row would take them as duplicates)."""
    start_pipeline(engine)
    bootstrap, changelog = engine.env["KAFKA_BOOTSTRAP"], f"{engine.topics.app_id}-devices-changelog"
    port = int(engine.env["OMNITRACK_MQTT_PORT"])
    thread, _ = publish_in_background(port, items(5 * N_DEVICES, "old"))
    thread.join(120)
    read_topic(bootstrap, changelog, deadline_s=120, until=lambda r: len(rows_ := rows(r)) == N_DEVICES and all(
        v["readings_applied"] == 5 for v in rows_.values()))
    engine.stop_all()

    asyncio.run(delete_topics(bootstrap, engine.prefix))
    wait_for(lambda: not [t for t in asyncio.run(_topics(bootstrap)) if t.startswith(engine.prefix + ".")], 60,
             "the deployment's topics deleted")
    start_pipeline(engine)
    thread, _ = publish_in_background(port, items(3 * N_DEVICES, "old"))
    thread.join(120)
    got = rows(read_topic(bootstrap, changelog, deadline_s=120, until=lambda r: len(rows_ := rows(r)) == N_DEVICES
                          and all(v["readings_applied"] >= 3 for v in rows_.values())))
    assert {v["readings_applied"] for v in got.values()} == {3}
    assert "not a copy of it (the topic was created anew)" in engine.log("worker")


async def _topics(bootstrap: str) -> list[str]:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        return await admin.list_topics()
    finally:
        await admin.close()


def test_end_offsets_are_read_for_existing_partitions_and_no_topic_is_created(
        stack_endpoints: Endpoints, topic_prefix: str) -> None:
    """A copy is judged against its changelog partition's end; a partition or topic that is not there has none. The
    broker creates a topic merely described (auto.create.topics.enable): asking must not make one."""
    from aiokafka import AIOKafkaProducer

    bootstrap, topic, missing = stack_endpoints.kafka_bootstrap, f"{topic_prefix}.log", f"{topic_prefix}.none"

    async def go() -> dict[str, dict[int, int]]:
        await ensure_specs(bootstrap, {topic: (3, {})})
        producer = AIOKafkaProducer(bootstrap_servers=bootstrap)
        await producer.start()
        try:
            for _ in range(5):
                await producer.send_and_wait(topic, b"row", partition=1)
        finally:
            await producer.stop()
        return await end_offsets(bootstrap, {topic: [0, 1, 7], missing: [0]})

    assert asyncio.run(go()) == {topic: {0: 0, 1: 5}, missing: {}}
    assert missing not in asyncio.run(_topics(bootstrap))
