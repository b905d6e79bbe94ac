"""A Faust app's tables on disk belong to the Kafka cluster they were filled from (streams/local_state.py): a data
folder recorded for another cluster is emptied before any table opens, one of this cluster is left alone."""

from __future__ import annotations

import asyncio
from pathlib import Path

from omnitrack.settings import Settings
from omnitrack.stack.endpoints import Endpoints
from streams.app import create_app
from streams.local_state import CLUSTER_FILE, claim, cluster_id


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
