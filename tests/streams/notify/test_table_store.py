"""streams.notify.app.TableStore: the worker's disk never runs ahead of the changelog.

Seen in the SIGKILL + rewind test: a worker killed between writing a `d` (done) mark to its RocksDB and
sending it to the changelog came back, trusted its disk and rightly skipped the delivery, but the changelog
still said `p` (pending). On a fresh disk (another machine, a lost volume) the delivered alert was parked as
`in_doubt`. Here the table is a stand-in that records what reached the disk and what reached Kafka, so the
crash can happen at exactly that point.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Any

from faust.streams import current_event

from streams.notify.app import TableStore


@dataclass
class _Meta:
    offset: int


@dataclass
class _Msg:
    partition: int


@dataclass
class _Event:
    message: _Msg


@dataclass
class _Table:
    """The parts of a Faust table TableStore uses: `data` (the local disk), the changelog as sent and as
    confirmed by Kafka, and the persisted changelog offset Faust restarts from."""

    data: dict[bytes, bytes] = field(default_factory=dict)
    sent: list[tuple[asyncio.Future, bytes, bytes, Any]] = field(default_factory=list)
    changelog: list[tuple[bytes, bytes]] = field(default_factory=list)
    persisted: list[tuple[bytes, int]] = field(default_factory=list)
    key_serializer: str = "raw"
    value_serializer: str = "raw"

    def __post_init__(self) -> None:
        self.changelog_topic = self
        self.data = _Disk(self)

    def send_soon(self, *, key: bytes, value: bytes, partition: int, callback: Any = None, **_: Any) -> asyncio.Future:
        fut = asyncio.get_running_loop().create_future()
        self.sent.append((fut, key, value, callback))
        return fut

    def send_changelog(self, partition: int, key: bytes, value: bytes) -> asyncio.Future:  # Faust's route
        return self.send_soon(key=key, value=value, partition=partition, callback=self._on_changelog_sent)

    def confirm(self) -> None:
        """Kafka acknowledges everything sent so far."""
        for fut, key, value, callback in self.sent:
            if not fut.done():
                self.changelog.append((key, value))
                fut.set_result(_Meta(len(self.changelog) - 1))
                if callback is not None:
                    callback(fut)

    def get(self, key: bytes) -> bytes | None:
        return self.data.get(key)

    def _on_changelog_sent(self, fut: asyncio.Future) -> None:
        offset = fut.result().offset
        key = self.changelog[offset][0]
        self.persisted.append((key, offset))

    def restored(self) -> dict[bytes, bytes]:
        """What a worker with a fresh disk rebuilds: the changelog, last value per key."""
        return dict(self.changelog)


class _Disk(dict):
    def __init__(self, table: _Table) -> None:
        super().__init__()
        self.table = table

    def __setitem__(self, key: bytes, value: bytes) -> None:
        event = current_event()
        assert event is not None and value.endswith(b":%d" % event.message.partition)  # its alert's partition DB
        super().__setitem__(key, value)


def _state(value: bytes | None) -> str:
    return "new" if value is None else {b"p": "pending", b"d": "done"}[value[:1]]


def test_a_kill_before_kafka_confirms_leaves_the_disk_saying_what_the_changelog_says() -> None:
    async def scenario() -> tuple[_Table, TableStore]:
        table = _Table()
        store = TableStore(table, retention_s=3600)
        ev = _Event(_Msg(3))
        store.begin("a1:1:sns:ops", ev)
        table.confirm()
        await store.sync()  # pending is durable: the publish may go
        store.mark("a1:1:sns:ops", ev)  # published; the mark is on its way to Kafka...
        assert store.state("a1:1:sns:ops") == "done"  # ...and the round already sees it
        return table, store  # SIGKILL here: Kafka never got the mark

    table, _ = asyncio.run(scenario())
    on_disk = _state(table.data.get(b"a1:1:sns:ops"))
    on_kafka = _state(table.restored().get(b"a1:1:sns:ops"))
    assert (on_disk, on_kafka) == ("pending", "pending")  # with the disk ahead it read ("done", "pending")


def test_a_confirmed_write_reaches_the_disk_before_its_persisted_offset() -> None:
    async def scenario() -> _Table:
        table = _Table()
        store = TableStore(table, retention_s=3600)
        for i, part in enumerate((0, 5, 0)):
            store.begin(f"k{i}", _Event(_Msg(part)))
        store.mark("k0", _Event(_Msg(0)))
        assert table.data == {}  # nothing on disk that Kafka has not confirmed
        table.confirm()
        await store.sync()
        return table

    table = asyncio.run(scenario())
    assert {k: _state(v) for k, v in table.data.items()} == {b"k0": "done", b"k1": "pending", b"k2": "pending"}
    assert table.data == table.restored()  # the disk is exactly the changelog
    assert [o for _, o in table.persisted] == [0, 1, 2, 3]  # offsets in order, each after its value


def test_state_sees_a_write_still_in_the_air_and_a_newer_one_wins() -> None:
    async def scenario() -> list[str]:
        table = _Table()
        store = TableStore(table, retention_s=3600)
        ev = _Event(_Msg(1))
        seen = [store.state("x")]
        store.begin("x", ev)
        seen.append(store.state("x"))
        table.confirm()
        store.mark("x", ev)  # sent after the confirmation: still in the air
        await asyncio.sleep(0)
        seen.append(store.state("x"))
        table.confirm()
        await store.sync()
        seen.append(store.state("x"))
        return seen

    assert asyncio.run(scenario()) == ["new", "pending", "done", "done"]
