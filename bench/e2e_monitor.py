"""What `omnitrack bench e2e` watches while the engine runs: metrics, processes and Kafka, every second.

WHY one thread with its own asyncio loop: the Kafka reads (alerts, dead letters, ground truth, the device
table's changelog) must keep up with the run while the per-second sampling (Prometheus scrapes, psutil,
consumer-group offsets) stays on a steady clock; both are I/O waits, so one loop serves them without
competing with the engine for the machine's two cores.

Twin-update latency from the device timestamp is measured here without touching the engine: every write
of a device's row reaches the `devices` changelog, whose record timestamp is the write time and whose row
carries `last_seen`, the newest reading's device timestamp (see `streams/latency_metrics.py` for the
in-worker histogram that would replace this).
"""

from __future__ import annotations

import asyncio
import threading
import time
import urllib.request
from dataclasses import dataclass, field
from datetime import datetime, timezone

import orjson
import psutil

from simulators.scoring import DlqRecord
from streams.admin import TELEMETRY_PARTITIONS
from streams.topics import Topics

SCRAPE_TIMEOUT_S = 0.8


def scrape_all(port: int) -> dict[str, list[tuple[dict[str, str], float]]] | None:
    """Every sample of a Prometheus endpoint: name -> [(labels, value)]; None when it does not answer."""
    try:
        text = urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=SCRAPE_TIMEOUT_S).read().decode()
    except OSError:
        return None
    out: dict[str, list[tuple[dict[str, str], float]]] = {}
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        head, _, value = line.rpartition(" ")
        name, _, rest = head.partition("{")
        labels = {}
        for part in rest.rstrip("}").split('",') if rest else []:
            k, _, v = part.partition("=")
            labels[k.strip(",")] = v.strip('"')
        out.setdefault(name, []).append((labels, float(value)))
    return out


def histogram_buckets(samples: dict[str, list[tuple[dict[str, str], float]]], name: str) -> list[tuple[float, float]]:
    """Cumulative (upper bound, count) buckets of histogram `name`."""
    out = []
    for labels, value in samples.get(name + "_bucket", []):
        le = labels.get("le", "+Inf")
        out.append((float("inf") if le == "+Inf" else float(le), value))
    return sorted(out)


def bucket_quantile(buckets: list[tuple[float, float]], q: float) -> float | None:
    """Upper bound (s) of the bucket holding quantile q: where the time goes, to the bucket's resolution."""
    if not buckets or buckets[-1][1] <= 0:
        return None
    total = buckets[-1][1]
    return next(le for le, count in buckets if count >= q * total)


def merge_buckets(many: list[list[tuple[float, float]]]) -> list[tuple[float, float]]:
    """Sum the same histogram from several workers (same bucket bounds)."""
    acc: dict[float, float] = {}
    for buckets in many:
        for le, count in buckets:
            acc[le] = acc.get(le, 0.0) + count
    return sorted(acc.items())


class ProcessTracker:
    """CPU % and RSS of named process trees (a role's process and all its children), one sample a call.

    Thread-safe: roles are added from the bench's thread while the monitor's thread samples. WHY: `sample` iterated
    the roles' dict as the bench added the simulator to it, and a loaded machine lost that second's sample to
    "dictionary changed size during iteration" (a warning in the e2e report, 2026-12-08)."""

    def __init__(self, roots: dict[str, int]) -> None:
        self._roots = dict(roots)
        self._lock = threading.Lock()
        self._procs: dict[int, psutil.Process] = {}  # kept so cpu_percent measures since the last call

    def add(self, role: str, pid: int) -> None:
        """Track one more process tree from the next sample on."""
        with self._lock:
            self._roots[role] = pid

    def sample(self) -> dict[str, tuple[float, float]]:
        """role -> (cpu % of one core, RSS MB) summed over the tree; roles that exited are left out."""
        out: dict[str, tuple[float, float]] = {}
        with self._lock:
            roots = list(self._roots.items())
        for role, pid in roots:
            try:
                root = self._procs.setdefault(pid, psutil.Process(pid))
                tree = [root, *root.children(recursive=True)]
            except psutil.Error:
                continue
            cpu = rss = 0.0
            for proc in tree:
                proc = self._procs.setdefault(proc.pid, proc)
                try:
                    cpu += proc.cpu_percent(None)
                    rss += proc.memory_info().rss / 2**20
                except psutil.Error:
                    continue
            out[role] = (cpu, rss)
        return out


@dataclass
class Sample:
    """One second of the run."""

    t: float
    worker_readings: list[float | None]
    outcomes: dict[str, float]
    bridge_readings: float | None
    lag_records: int | None
    partition_lag: dict[int, int]
    resources: dict[str, tuple[float, float]]


@dataclass
class Collected:
    """Everything the monitor gathered."""

    samples: list[Sample] = field(default_factory=list)
    alert_values: list[bytes] = field(default_factory=list)
    ground_truth_values: list[bytes] = field(default_factory=list)
    dlq: list[DlqRecord] = field(default_factory=list)
    twin_latency: list[tuple[float, float]] = field(default_factory=list)  # (write time, seconds)
    twin_rows: dict[bytes, bytes] = field(default_factory=dict)  # the latest device row per device id
    last_scrapes: list[dict | None] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)


class Monitor:
    """Runs in a background thread from `start()` to `stop()`; results in `self.data`."""

    def __init__(self, bootstrap: str, topics: Topics, worker_ports: list[int], bridge_port: int,
                 roots: dict[str, int], t0: float) -> None:
        self.bootstrap, self.topics = bootstrap, topics
        self.worker_ports, self.bridge_port = worker_ports, bridge_port
        self.tracker = ProcessTracker(roots)
        self.t0 = t0
        self.data = Collected()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=lambda: asyncio.run(self._main()), name="e2e-monitor", daemon=True)

    def add_process(self, role: str, pid: int) -> None:
        self.tracker.add(role, pid)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> Collected:
        self._stop.set()
        self._thread.join(30)
        return self.data

    async def _main(self) -> None:
        from aiokafka import AIOKafkaConsumer, TopicPartition
        from aiokafka.admin import AIOKafkaAdminClient

        consumer = AIOKafkaConsumer(bootstrap_servers=self.bootstrap, enable_auto_commit=False, group_id=None,
                                    auto_offset_reset="earliest", fetch_max_bytes=50 << 20)
        admin = AIOKafkaAdminClient(bootstrap_servers=self.bootstrap)
        await consumer.start()
        await admin.start()
        t = self.topics
        watched = [t.alerts, t.telemetry_dlq, t.ground_truth, t.changelog("devices")]
        parts = []
        for topic in watched:
            await consumer._client.force_metadata_update()
            parts += [TopicPartition(topic, p) for p in (consumer.partitions_for_topic(topic) or {0})]
        consumer.assign(parts)
        await consumer.seek_to_beginning()
        telemetry = [TopicPartition(t.telemetry, p) for p in range(TELEMETRY_PARTITIONS)]
        try:
            await asyncio.gather(self._consume(consumer), self._sample_loop(consumer, admin, telemetry))
        finally:
            await consumer.stop()
            await admin.close()

    async def _consume(self, consumer) -> None:  # noqa: ANN001 - AIOKafkaConsumer
        t = self.topics
        devices_changelog = t.changelog("devices")
        while not self._stop.is_set():
            batches = await consumer.getmany(timeout_ms=200, max_records=5000)
            for tp, records in batches.items():
                for r in records:
                    if tp.topic == t.alerts:
                        self.data.alert_values.append(r.value)
                    elif tp.topic == t.ground_truth:
                        self.data.ground_truth_values.append(r.value)
                    elif tp.topic == t.telemetry_dlq:
                        headers = dict(r.headers or ())
                        self.data.dlq.append(DlqRecord(
                            reason=headers.get("reason", b"?").decode(), key=r.key.decode(errors="replace") if r.key
                            else None, at=datetime.fromtimestamp(r.timestamp / 1000, timezone.utc)))
                    elif tp.topic == devices_changelog and r.value:
                        self.data.twin_rows[r.key] = r.value
                        self._twin_write(r.timestamp / 1000, r.value)

    def _twin_write(self, written_s: float, value: bytes) -> None:
        try:
            row = orjson.loads(value)
            seen = datetime.fromisoformat(row["last_seen"]).timestamp()
        except (ValueError, KeyError, TypeError):
            return
        self.data.twin_latency.append((written_s, max(0.0, written_s - seen)))

    async def _sample_loop(self, consumer, admin, telemetry) -> None:  # noqa: ANN001
        loop = asyncio.get_running_loop()
        self.tracker.sample()  # primes cpu_percent
        next_at = time.time() + 1.0
        while not self._stop.is_set():
            await asyncio.sleep(max(0.0, next_at - time.time()))
            next_at += 1.0
            try:
                self.data.samples.append(await self._sample(loop, consumer, admin, telemetry))
            except Exception as exc:  # noqa: BLE001 - one bad second must not end the measurement
                self.data.errors.append(repr(exc))

    async def _sample(self, loop, consumer, admin, telemetry) -> Sample:  # noqa: ANN001
        now = time.time()
        scrapes = await asyncio.gather(*(loop.run_in_executor(None, scrape_all, p)
                                         for p in [*self.worker_ports, self.bridge_port]))
        workers, bridge = scrapes[:-1], scrapes[-1]
        self.data.last_scrapes = list(workers)
        readings: list[float | None] = []
        outcomes: dict[str, float] = {}
        for s in workers:
            if s is None:
                readings.append(None)
                continue
            rows = s.get("omnitrack_twin_readings_total", [])
            readings.append(sum(v for _, v in rows))
            for labels, v in rows:
                outcomes[labels.get("outcome", "?")] = outcomes.get(labels.get("outcome", "?"), 0.0) + v
        bridged = sum(v for _, v in bridge.get("omnitrack_bridge_readings_total", [])) if bridge else None
        lag, per_part = await self._lag(consumer, admin, telemetry)
        resources = await loop.run_in_executor(None, self.tracker.sample)
        return Sample(t=now - self.t0, worker_readings=readings, outcomes=outcomes, bridge_readings=bridged,
                      lag_records=lag, partition_lag=per_part, resources=resources)

    async def _lag(self, consumer, admin, telemetry) -> tuple[int | None, dict[int, int]]:  # noqa: ANN001
        """Records of `telemetry` the twin group has not committed yet (end offset - committed offset)."""
        try:
            ends = await consumer.end_offsets(telemetry)
            committed = await admin.list_consumer_group_offsets(self.topics.app_id, partitions=telemetry)
        except Exception as exc:  # noqa: BLE001 - reported as a gap in the series
            self.data.errors.append(f"lag: {exc!r}")
            return None, {}
        per = {}
        for tp in telemetry:
            meta = committed.get(tp)
            done = meta.offset if meta is not None and meta.offset >= 0 else 0
            per[tp.partition] = max(0, ends.get(tp, 0) - done)
        return sum(per.values()), per


async def group_assignment(bootstrap: str, group: str, topic: str) -> dict[str, list[int]]:
    """client id -> partitions of `topic` assigned to that member of the consumer group (empty if unknown)."""
    from aiokafka.admin import AIOKafkaAdminClient
    from aiokafka.coordinator.protocol import ConsumerProtocolMemberAssignment

    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    out: dict[str, list[int]] = {}
    try:
        for response in await admin.describe_consumer_groups([group]):
            for g in response.groups:
                members = g[5] if isinstance(g, tuple) else g.members
                for m in members:
                    client_id, assignment = m[-4], m[-1]  # v0: (id, client, host, meta, assignment); v4+ adds instance id
                    if not assignment:
                        continue
                    decoded = ConsumerProtocolMemberAssignment.decode(assignment)
                    parts = [p for t, ps in decoded.assignment for p in ps if t == topic]
                    out[client_id] = sorted(out.get(client_id, []) + parts)
    except Exception:  # noqa: BLE001 - the assignment is a detail of the report, never fatal
        return out
    finally:
        await admin.close()
    return out
