"""The pure parts of streams/snapshot: the line codec, the compacted view, the catalog, the endpoint setting."""

from __future__ import annotations

import gzip
from datetime import datetime, timedelta, timezone

import pytest

from omnitrack.settings import Settings
from streams.snapshot.models import (CompactedView, Entry, Manifest, PartitionSnapshot, SnapshotError, TableSnapshot,
                                     decode_partition, encode_partition,
                                     new_snapshot_id)
from streams.snapshot.store import prunable
from streams.snapshot.tables import TABLES, changelog_topics, topic_configs
from streams.topics import Topics


def test_entries_round_trip_byte_for_byte_text_or_not() -> None:
    entries = [Entry(b"dev-1", b'{"seq": 3}', 1_700_000_000_000),
               Entry(b"\xff\x00bin", b"\x80\x81\xfe", 5, (("h", b"\x00\x01"), ("t", b"text"))),
               Entry(None, b"", 0)]
    blob, digest = encode_partition(entries)
    assert list(decode_partition(blob, digest)) == entries
    # text stays readable in the object (an operator can zcat it during an incident)
    assert b'"k":"dev-1"' in gzip.decompress(blob)


def test_a_changed_object_is_refused() -> None:
    blob, digest = encode_partition([Entry(b"k", b"v", 1)])
    with pytest.raises(SnapshotError):
        list(decode_partition(blob, "0" * 64))
    assert digest != "0" * 64


def test_compacted_view_keeps_latest_value_per_key_and_drops_tombstones() -> None:
    view = CompactedView()
    view.add(b"a", b"1", 1)
    view.add(b"b", b"1", 2)
    view.add(b"a", b"2", 3)
    view.add(b"c", b"1", 4)
    view.add(b"b", None, 5)  # deleted: must not come back on restore
    view.add(b"c", None, 6)
    view.add(b"c", b"3", 7)  # re-created after its tombstone
    assert view.records == 7
    assert [(e.key, e.value, e.timestamp_ms) for e in view.entries.values()] == [(b"a", b"2", 3), (b"c", b"3", 7)]


def test_snapshot_ids_sort_by_time_and_are_unique() -> None:
    t = datetime(2026, 12, 4, 21, 0, tzinfo=timezone.utc)
    ids = [new_snapshot_id(t + timedelta(milliseconds=ms)) for ms in (0, 1, 999, 1000, 60_000)]
    assert ids == sorted(ids)
    assert new_snapshot_id(t) != new_snapshot_id(t)


def test_catalog_maps_every_table_onto_another_prefix() -> None:
    old, new = changelog_topics(Topics("a")), changelog_topics(Topics("b"))
    assert set(old) == set(new) == set(TABLES)
    assert old["twin.devices"] == "a.omnitrack-twin-devices-changelog"
    assert new["twin.devices"] == "b.omnitrack-twin-devices-changelog"
    assert new["notifier.delivered"] == "b.omnitrack-notify-delivered-changelog"
    assert new["decider.priors"] == "b.omnitrack-decisions-priors-changelog"
    assert topic_configs("twin.aggregates")["cleanup.policy"] == "compact,delete"
    assert all(topic_configs(n)["cleanup.policy"].startswith("compact") for n in TABLES)


def test_manifest_round_trips_json() -> None:
    m = Manifest(id="x", source_prefix="p", created_at=datetime.now(timezone.utc))
    assert Manifest.model_validate_json(m.model_dump_json()) == m


@pytest.mark.parametrize(("env", "want"), [
    ({}, "http://127.0.0.1:4566"),
    ({"OMNITRACK_SNS_PORT": "5000"}, "http://127.0.0.1:5000"),
    ({"AWS_ENDPOINT_URL": "http://minio:9000"}, "http://minio:9000"),
    ({"OMNITRACK_SNAPSHOT_ENDPOINT_URL": "http://s3.local:9000", "AWS_ENDPOINT_URL": "http://x"},
     "http://s3.local:9000"),
    ({"OMNITRACK_SNS_MODE": "aws"}, None),
])
def test_snapshot_endpoint(monkeypatch: pytest.MonkeyPatch, env: dict[str, str], want: str | None) -> None:
    for name in ("AWS_ENDPOINT_URL", "OMNITRACK_AWS_ENDPOINT_URL", "OMNITRACK_SNS_PORT", "OMNITRACK_SNS_MODE",
                 "OMNITRACK_SNAPSHOT_ENDPOINT_URL", "OMNITRACK_NOTIFY_SNS_ENDPOINT_URL"):
        monkeypatch.delenv(name, raising=False)
    for k, v in env.items():
        monkeypatch.setenv(k, v)
    assert Settings().snapshot_endpoint == want


def _m(snapshot_id: str, keys: int, prefix: str = "p") -> Manifest:
    table = TableSnapshot(name="twin.devices", topic="t", partitions=[
        PartitionSnapshot(partition=0, start_offset=0, end_offset=keys, records_read=keys, keys=keys)])
    return Manifest(id=snapshot_id, source_prefix=prefix, created_at=datetime.now(timezone.utc), tables=[table])


def test_prune_keeps_the_newest_and_the_last_snapshot_with_state() -> None:
    ms = [_m("1", 5), _m("2", 5), _m("3", 0), _m("4", 0), _m("5", 0), _m("0", 9, prefix="other")]
    # keeps "4", "5" (newest) and "2" (the newest with keys: empty snapshots of a fresh cluster must not erase it)
    assert prunable(ms, 2, "p") == ["1", "3"]
    assert prunable(ms, 0, "p") == []
    assert prunable([_m("1", 1), _m("2", 1), _m("3", 1)], 1, "p") == ["1", "2"]
