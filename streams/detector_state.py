"""The twin worker's anomaly detectors, saved per device into a table and restored from it.

WHY: a detector learns a series for hundreds of readings (two days for its time-of-day view) before it can tell
a subtle incident from the series' habits, and it lived only in the worker's memory: every restart, deploy or
rebalance started the moved series from nothing, blind to all but gross records until they matured again.
Now each device's detectors are written, every `SAVE_EVERY` of its readings or `SAVE_AFTER_S` of its time, into
the `detectors` table (keyed by device id like the telemetry, so the row is on the partition that reads it), and
a detector started for a
series whose device has a row there resumes from it (twin/detectors/snapshot.py: exactly as if it had never
stopped, up to the readings after the last save). A row made under other detection settings, or damaged, is
refused and the series starts afresh: counted, never a crash.

A partition that leaves a worker may come back to it later, and the worker still holds that partition's
detectors as they were when it left, older than what the other worker saved meanwhile. So each row carries a
token of the save that wrote it, so no two saves write the same bytes; after a rebalance, a device's first reading
compares the row in the table with the one this worker last wrote or resumed from (by digest: nothing is
decoded), and if another worker has saved since, the device's detectors are dropped and resume from the row.
"""

from __future__ import annotations

import hashlib
import logging
import uuid
from typing import Any, Protocol, TypeVar

from faust.streams import current_event
from prometheus_client import Counter

from streams.table_event import as_current, stand_in
from twin.detectors import DetectorBank, MetricDetection
from twin.detectors.snapshot import SnapshotError, dumps, from_tree, loads, to_tree

__all__ = ["DetectorStore", "MemoryStore", "SAVE_AFTER_S", "SAVE_EVERY", "SavedDetectors", "TOKEN", "TableStore",
           "fingerprint"]

log = logging.getLogger(__name__)

SAVE_EVERY = 250
"""A device's readings between two saves of its detectors: what a crash can make them forget (a restore then
resumes from up to this many readings back). A row is ~3-8 kB a detector (zlib), ~0.3 ms to write: at the engine's
bench rate (2,000 readings/s) ~8 rows/s."""

SAVE_AFTER_S = 900.0
"""...or this long in device time, whichever comes first: a device reporting once a minute would otherwise go
four hours between saves, and a restart would cost it that much learning."""

RESTORES = Counter("omnitrack_twin_detector_restores_total",
                   "Anomaly detectors resumed from their device's saved state", ["metric"])
REFUSED = Counter("omnitrack_twin_detector_states_refused_total",
                  "Saved detector states not resumed (made under other settings, or damaged): started afresh",
                  ["metric"])
TOKEN = "~save"
"""The row's entry naming the save that wrote it (metric names are identifiers: no clash)."""

SAVES = Counter("omnitrack_twin_detector_saves_total",
                "Device rows of detector state written: periodic, or handover (a rebalance or a stop)", ["reason"])
_PERIODIC, _HANDOVER = SAVES.labels("periodic"), SAVES.labels("handover")
SAVED_BYTES = Counter("omnitrack_twin_detector_saved_bytes_total", "Bytes of detector state written")

D = TypeVar("D")


class DetectorStore(Protocol):
    """Where a device's detectors are kept between workers: the twin's `detectors` table in the engine."""

    def get(self, device_id: str) -> bytes | None: ...

    def put(self, device_id: str, row: bytes) -> None: ...


class MemoryStore:
    """A `DetectorStore` in a dict: for replays and benchmarks, where there is no table."""

    def __init__(self) -> None:
        self.rows: dict[str, bytes] = {}

    def get(self, device_id: str) -> bytes | None:
        return self.rows.get(device_id)

    def put(self, device_id: str, row: bytes) -> None:
        self.rows[device_id] = row


class TableStore:
    """A `DetectorStore` over a Faust table of bytes keyed by the device id's bytes, co-partitioned with the
    telemetry `topic`.

    A table write needs Faust's current event: it names the partition the row belongs to (the record's, so the
    device's). In the telemetry agent that is the reading's record; for the save at a rebalance or shutdown,
    after the last record, it is a stand-in naming the partition the device's records came from (remembered
    here)."""

    def __init__(self, table: Any, topic: str) -> None:
        self._table = table
        self._topic = topic
        self._partition: dict[str, int] = {}

    def get(self, device_id: str) -> bytes | None:
        self._note_partition(device_id)
        return self._table.get(device_id.encode())  # type: ignore[no-any-return]

    def put(self, device_id: str, row: bytes) -> None:
        if current_event() is not None:
            self._note_partition(device_id)
            self._table[device_id.encode()] = row
            return
        partition = self._partition.get(device_id)
        if partition is None:  # never read or written in a record of its partition: no detector to save
            raise LookupError(f"no partition known for {device_id}")
        record = stand_in(self._table.app, self._topic, partition)
        with as_current(record):
            self._table[device_id.encode()] = row

    def _note_partition(self, device_id: str) -> None:
        event = current_event()
        if event is not None:
            self._partition[device_id] = event.message.partition


def _digest(row: bytes) -> bytes:
    """A row's identity: ~10 µs for a 6 kB row, where decoding it takes ~300 µs."""
    return hashlib.blake2b(row, digest_size=16).digest()


def fingerprint(settings: MetricDetection, **limits: int) -> str:
    """What a saved detector must have been made under to be resumed: the metric's settings and the limits."""
    return settings.model_dump_json() + "|" + ",".join(f"{k}={v}" for k, v in sorted(limits.items()))


class SavedDetectors:
    """Resumes each series' detector from its device's saved row, and saves a device's detectors regularly."""

    def __init__(self, store: DetectorStore, bank: DetectorBank) -> None:
        self._store = store
        self._bank = bank
        self._series: dict[str, dict[str, str]] = {}
        """device -> {metric: fingerprint} of the detectors it has had in this worker: what a save writes."""
        self._since_save: dict[str, list[float]] = {}
        """device -> [readings here since its last save and since the last rebalance, device time of that save (or
        of its first reading here)]: one lookup a reading. Counts are zeroed at a rebalance: the partitions held
        before it may have gone to another worker, whose rows a save from here would overwrite."""
        self._known: dict[str, bytes] = {}
        """device -> digest of the row this worker last wrote or resumed from: while the table holds that row, no
        other worker has saved the device since (each row names its save, `TOKEN`), and nothing is decoded."""
        self._checked: set[str] = set()
        """Devices whose row was compared with this worker's detectors since the last rebalance."""
        self._worker = uuid.uuid4().hex[:12]
        self._saves = 0
        self._failed: set[tuple[str, str]] = set()
        """(device, metric) whose detector failed: the next one starts from nothing, not from the saved state."""

    def failed(self, device_id: str, metric: str) -> None:
        """The series' detector raised: whatever it was resumed from is not to be resumed again."""
        self._failed.add((device_id, metric))

    def revoked(self) -> None:
        """Partitions moved: each device's detectors are checked against its row before their next reading."""
        self._checked.clear()
        for pending in self._since_save.values():  # saved at the handover, unless that failed
            pending[0] = 0

    def check(self, device_id: str) -> None:
        """Before a device's readings are scored: drop its detectors if another worker saved newer ones."""
        if device_id in self._checked:
            return
        self._checked.add(device_id)
        metrics = self._series.get(device_id)
        if not metrics:  # no detector of it here: nothing can be stale
            return
        row = self._store.get(device_id)
        if (_digest(row) if row is not None else None) != self._known.get(device_id):
            for metric in metrics:
                self._bank.drop(f"{device_id}|{metric}")

    def resume(self, device_id: str, metric: str, fresh: D, fp: str) -> D:
        """The series' saved detector, rebuilt on `fresh` (made with the current settings), or `fresh` itself
        when there is none or it cannot be resumed."""
        self._series.setdefault(device_id, {})[metric] = fp
        if (device_id, metric) in self._failed:
            self._failed.discard((device_id, metric))
            return fresh
        row = self._store.get(device_id)
        if row is None:
            return fresh
        self._known[device_id] = _digest(row)  # what this worker's detectors of the device are consistent with
        try:
            tree = loads(row).get(metric)
            if tree is None:
                return fresh
            restored = from_tree(tree, fresh, fp)
        except SnapshotError as exc:
            REFUSED.labels(metric).inc()
            log.info("detector state of %s/%s not resumed: %s", device_id, metric, exc)
            return fresh
        RESTORES.labels(metric).inc()
        return restored

    def observed(self, device_id: str, ts_s: float) -> None:
        """One more reading (at device time `ts_s`) of the device's watched metrics; saves them all every
        `SAVE_EVERY` readings or `SAVE_AFTER_S` seconds."""
        pending = self._since_save.get(device_id)
        if pending is None:
            pending = self._since_save[device_id] = [0, ts_s]
        pending[0] += 1
        if pending[0] < SAVE_EVERY and not ts_s - pending[1] >= SAVE_AFTER_S:  # `not >=`: a NaN time never saves
            return
        pending[0], pending[1] = 0, ts_s  # before the save: one that fails is tried again SAVE_EVERY later
        self.save(device_id)

    def save_unsaved(self) -> int:
        """Save every device with readings since its last save (at a rebalance or shutdown, once the last record
        is processed: whichever worker reads the device next resumes exactly where this one stopped). Returns the
        devices saved."""
        saved = 0
        for device_id in [d for d, pending in self._since_save.items() if pending[0]]:
            try:
                saved += self.save(device_id, handover=True)
            except Exception as exc:  # noqa: BLE001 - one device's row must not cost the others theirs
                log.warning("detector state of %s not saved: %r", device_id, exc)
        return saved

    def save(self, device_id: str, handover: bool = False) -> bool:
        """Write the device's live detectors (a series evicted from the bank keeps its last saved state); False
        when it has none live, or they cannot be written."""
        trees: dict[str, Any] = {}
        gone: list[str] = []
        for metric, fp in self._series.get(device_id, {}).items():
            detector = self._bank.peek(f"{device_id}|{metric}")
            if detector is not None:
                trees[metric] = to_tree(detector, fp)
            else:
                gone.append(metric)
        if not trees:
            return False
        if gone:
            saved = self._row(device_id)
            trees = {**{m: saved[m] for m in gone if m in saved}, **trees}
        self._saves += 1
        trees[TOKEN] = f"{self._worker}:{self._saves}"
        try:
            row = dumps(trees)
        except SnapshotError as exc:  # not expected of our detectors; the previous row stays
            log.warning("detector state of %s not saved: %s", device_id, exc)
            return False
        self._store.put(device_id, row)
        self._known[device_id] = _digest(row)
        pending = self._since_save.get(device_id)
        if pending is not None:
            pending[0] = 0
        (_HANDOVER if handover else _PERIODIC).inc()
        SAVED_BYTES.inc(len(row))
        return True

    def _row(self, device_id: str) -> dict[str, Any]:
        """The device's saved row, decoded ({} when there is none or it is damaged)."""
        row = self._store.get(device_id)
        try:
            return loads(row) if row is not None else {}
        except SnapshotError:
            return {}
