"""What a snapshot is made of: a manifest (pydantic) and one gzipped JSON-lines object per changelog partition.

Why JSON lines with text keys/values where possible: the engine's table rows are JSON already, so a snapshot
stays readable with `zcat | head` during an incident; bytes that are not UTF-8 (none today) go base64 (`k64`,
`v64`), so any changelog round-trips byte for byte. The manifest is written last: a snapshot without one was
interrupted and is ignored by `list` and `restore`.
"""

from __future__ import annotations

import base64
import gzip
import hashlib
import secrets
from collections.abc import Iterable, Iterator
from datetime import datetime, timezone
from typing import NamedTuple

import orjson
from pydantic import BaseModel, Field

FORMAT_VERSION = 1


class SnapshotError(Exception):
    """A snapshot cannot be taken or restored as asked (reported by the CLI, no traceback)."""


class Entry(NamedTuple):
    """One key's latest record in a changelog partition."""

    key: bytes | None
    value: bytes
    timestamp_ms: int
    headers: tuple[tuple[str, bytes], ...] = ()


class PartitionSnapshot(BaseModel):
    partition: int
    start_offset: int
    """First offset in the partition when the dump began (earlier ones were deleted by retention)."""
    end_offset: int
    """The partition was read up to here (exclusive): the snapshot is exactly the compacted view of [0, end)."""
    records_read: int
    keys: int
    """Entries written: the latest value per key, keys whose latest record is a tombstone left out."""
    object_key: str | None = None
    """S3 key of the gzipped JSON lines; None for an empty partition (nothing stored)."""
    bytes: int = 0
    sha256: str | None = None


class TableSnapshot(BaseModel):
    name: str
    """Logical name (`twin.devices`, ...; streams/snapshot/tables.py): restore maps it to the target prefix."""
    topic: str
    """The changelog it was read from."""
    partitions: list[PartitionSnapshot] = Field(default_factory=list)

    @property
    def keys(self) -> int:
        return sum(p.keys for p in self.partitions)

    @property
    def bytes(self) -> int:
        return sum(p.bytes for p in self.partitions)


class Manifest(BaseModel):
    """Everything a restore needs besides the objects; `manifest.json` of one snapshot."""

    format: int = FORMAT_VERSION
    id: str
    source_prefix: str
    created_at: datetime
    """When the dump began (end offsets were taken right after): the snapshot's recovery point."""
    finished_at: datetime | None = None
    dump_s: float = 0.0
    tables: list[TableSnapshot] = Field(default_factory=list)
    missing: list[str] = Field(default_factory=list)
    """Tables whose changelog did not exist (that process never ran on this deployment)."""

    @property
    def keys(self) -> int:
        return sum(t.keys for t in self.tables)

    @property
    def bytes(self) -> int:
        return sum(t.bytes for t in self.tables)

    def describe(self) -> str:
        tables = ", ".join(f"{t.name} {t.keys}" for t in self.tables)
        return (f"{self.id}  prefix={self.source_prefix or '(none)'}  {self.keys} keys  {self.bytes:,} bytes  "
                f"dump {self.dump_s:.2f}s  [{tables}]")


def new_snapshot_id(now: datetime | None = None) -> str:
    """Sortable by time (`list` and `latest` rely on it), unique with a random suffix."""
    now = now or datetime.now(timezone.utc)
    return now.strftime("%Y%m%dT%H%M%S") + f"{now.microsecond // 1000:03d}Z-{secrets.token_hex(3)}"


def _put(out: dict, name: str, data: bytes) -> None:
    try:
        out[name] = data.decode("utf-8")
    except UnicodeDecodeError:
        out[name + "64"] = base64.b64encode(data).decode()


def _get(line: dict, name: str) -> bytes | None:
    if name in line:
        return line[name].encode("utf-8")
    if name + "64" in line:
        return base64.b64decode(line[name + "64"])
    return None


def encode_entry(entry: Entry) -> bytes:
    out: dict = {"ts": entry.timestamp_ms}
    if entry.key is not None:
        _put(out, "k", entry.key)
    _put(out, "v", entry.value)
    if entry.headers:
        out["h"] = [[k, base64.b64encode(v).decode()] for k, v in entry.headers]
    return orjson.dumps(out) + b"\n"


def decode_entry(line: bytes) -> Entry:
    d = orjson.loads(line)
    value = _get(d, "v")
    if value is None:
        raise SnapshotError(f"snapshot line without a value: {line[:80]!r}")
    headers = tuple((k, base64.b64decode(v)) for k, v in d.get("h", ()))
    return Entry(_get(d, "k"), value, int(d["ts"]), headers)


def encode_partition(entries: Iterable[Entry]) -> tuple[bytes, str]:
    """The gzipped JSON lines of one partition and their sha256 (of the compressed bytes, as stored)."""
    blob = gzip.compress(b"".join(encode_entry(e) for e in entries), compresslevel=6, mtime=0)
    return blob, hashlib.sha256(blob).hexdigest()


def decode_partition(blob: bytes, sha256: str | None = None) -> Iterator[Entry]:
    if sha256 is not None and hashlib.sha256(blob).hexdigest() != sha256:
        raise SnapshotError("snapshot object does not match its manifest's sha256 (corrupt or replaced)")
    for line in gzip.decompress(blob).splitlines():
        if line:
            yield decode_entry(line)


class CompactedView:
    """The latest record per key of one partition, read in offset order: what log compaction keeps.

    A tombstone (value None) drops its key: the table deleted it, and a restore must not bring it back."""

    def __init__(self) -> None:
        self.entries: dict[bytes | None, Entry] = {}
        self.records = 0

    def add(self, key: bytes | None, value: bytes | None, timestamp_ms: int,
            headers: Iterable[tuple[str, bytes]] = ()) -> None:
        self.records += 1
        self.entries.pop(key, None)  # keep offset order of each key's last write
        if value is not None:
            self.entries[key] = Entry(key, value, timestamp_ms, tuple(headers))
