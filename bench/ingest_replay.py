"""Replayed ingest: the same telemetry records, loaded at once, through each runner in turn.

WHY a replay beside the end-to-end runs: the publisher, Mosquitto and the bridge share the two cores with
whatever consumes, so an end-to-end rate says little about what a consumer costs. Here the bridge's real
output is captured once per bench run (gateway batches of 50 through MQTT and the bridge, each device
reporting once a second of event time, so every device closes 1-minute windows during the run), and for each
runner a fresh topic receives exactly those records (same partitions, keys, values and headers):

  raw     bench/ingest_raw.py: aiokafka consumer, JSON-decodes and counts (one process);
  twin    `omnitrack worker` x 1 or x 2 (one process each): the real twin, RocksDB tables, changelogs on;
  quix    bench/ingest_quix.py in its own venv: Quix Streams doing the twin's core work (one process).

Each runner starts on its empty topic and reports ready after a warm-up reading went through; then the bench
produces the captured records at once (t0) and the runner's interval ends at its last reading applied.
Reported per runner: readings per wall second (t0 to the last reading), readings per CPU-second (the runner's
processes' user + system CPU over the same interval, all threads) and peak RSS (the kernel's high-water mark).
"""

from __future__ import annotations

import asyncio
import json
import re
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

from bench.cpu_window import process_cpu_s
from bench.ingest_quix_env import quix_python
from omnitrack.progress import scrape
from omnitrack.settings import Settings
from streams.admin import ensure_topics
from streams.records import encode_telemetry
from streams.topics import Topics
from streams.worker import assignments

ROOT = Path(__file__).resolve().parent.parent
RUNNER_RETRIES = 1
"""A runner that fails to start is run again once: on a busy broker Quix Streams has been seen to miss the
changelog topic it had just created ("TopicNotFoundError"), which ended a 15-minute bench with no figures."""
RESULT = re.compile(r"^result (\{.*\})$", re.M)


@dataclass(frozen=True)
class Rec:
    partition: int
    key: bytes | None
    value: bytes
    headers: list


def capture(settings: Settings, workdir: Path, mqtt_port: int, n: int) -> list[Rec]:
    """The bridge's records for n readings in gateway batches of 50 (event time 1 s apart per device)."""
    from bench import ingest

    prefix = f"benchcap{uuid.uuid4().hex[:6]}"
    metrics = ingest._free_port_pair(2)
    env = ingest._engine_env(settings, prefix, workdir / prefix, metrics, OMNITRACK_MQTT_PORT=str(mqtt_port))
    asyncio.run(ensure_topics(settings.bootstrap, Topics(prefix)))
    bridge = ingest._spawn("bridge", env, workdir / f"{prefix}-bridge.log")
    try:
        ingest._wait(lambda: scrape(metrics, "omnitrack_bridge_readings_total") is not None, 60, "bridge up")
        time.sleep(1.0)
        ingest._publish_sync(mqtt_port, ingest._payloads(n, 50, prefix, spread_s=1.0))
        return asyncio.run(_read_all(settings.bootstrap, Topics(prefix).telemetry, n))
    finally:
        ingest._stop(bridge)
        asyncio.run(delete_matching(settings.bootstrap, prefix))


async def _read_all(bootstrap: str, topic: str, n: int) -> list[Rec]:
    from aiokafka import AIOKafkaConsumer

    from streams.records import decode_telemetry

    consumer = AIOKafkaConsumer(topic, bootstrap_servers=bootstrap, auto_offset_reset="earliest",
                                group_id=f"benchcap-{uuid.uuid4().hex[:8]}", fetch_max_bytes=50 << 20)
    await consumer.start()
    out, seen, end = [], 0, time.monotonic() + 300
    try:
        while seen < n:
            if time.monotonic() > end:
                raise TimeoutError(f"capture saw {seen}/{n} readings")
            for tp, records in (await consumer.getmany(timeout_ms=500, max_records=10000)).items():
                for r in records:
                    seen += len(decode_telemetry(r.value))
                    out.append(Rec(tp.partition, r.key, r.value, list(r.headers or ())))
        return out
    finally:
        await consumer.stop()


def _warm(records: list[Rec]) -> Rec:
    """One reading of a device no capture holds, at the capture's earliest time: marks a runner ready."""
    import orjson

    first = orjson.loads(records[0].value)["readings"][0]
    reading = {"schema_version": 1, "device_id": "warm-0", "ts": first["ts"],
               "metrics": {"temperature": 4.0, "humidity": 55.0, "battery": 90.0}}
    return Rec(records[0].partition, b"warm-0", encode_telemetry([reading]), [])


async def _produce(bootstrap: str, topic: str, records: list[Rec]) -> None:
    from aiokafka import AIOKafkaProducer

    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, linger_ms=5, max_batch_size=1 << 20,
                                max_request_size=8 << 20)
    await producer.start()
    try:
        futures = [await producer.send(topic, value=r.value, key=r.key, partition=r.partition, headers=r.headers)
                   for r in records]
        await asyncio.gather(*futures)
    finally:
        await producer.stop()


async def delete_matching(bootstrap: str, prefix: str) -> None:
    """Delete every topic whose name holds the run's prefix: ours (`prefix.…`) and Quix's (`changelog__…`,
    `repartition__…`, named after its consumer group, which carries the prefix)."""
    from aiokafka.admin import AIOKafkaAdminClient

    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        names = [t for t in await admin.list_topics() if prefix in t]
        if names:
            await admin.delete_topics(names)
    finally:
        await admin.close()


def _cpu(pids: list[int]) -> float:
    return sum(process_cpu_s(pid) or 0.0 for pid in pids)


def _peak_rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return round(int(line.split()[1]) / 1024, 1)
    return 0.0


def _figures(runner: str, workers: int, n: int, wall: float, cpu: float, rss: list[float]) -> dict:
    return {"runner": runner, "workers": workers, "readings": n, "seconds": round(wall, 3),
            "readings_per_s": round(n / wall), "cpu_s": round(cpu, 3), "readings_per_cpu_s": round(n / cpu),
            "peak_rss_mb": max(rss), "peak_rss_mb_total": round(sum(rss), 1)}


def run_peer(settings: Settings, runner: str, records: list[Rec], n: int, workdir: Path) -> dict:
    """raw or quix: a self-measuring process (see bench/ingest_quix.py for the protocol)."""
    prefix = f"bench{runner}{uuid.uuid4().hex[:6]}"
    topic = Topics(prefix).telemetry
    asyncio.run(ensure_topics(settings.bootstrap, Topics(prefix)))
    common = ["--bootstrap", settings.bootstrap, "--topic", topic, "--group", f"{prefix}-group",
              "--readings", str(n)]
    if runner == "quix":
        python = quix_python()
        if python is None:
            raise RuntimeError("requirements-bench-quix.lock is missing: run scripts/lock.sh")
        cmd = [str(python), str(ROOT / "bench" / "ingest_quix.py"), *common, "--state-dir", str(workdir / prefix)]
    else:
        cmd = [sys.executable, "-m", "bench.ingest_raw", *common]
    log = workdir / f"{prefix}.log"
    asyncio.run(_produce(settings.bootstrap, topic, [_warm(records)]))
    proc = subprocess.Popen(cmd, cwd=ROOT, stdout=open(log, "ab"), stderr=subprocess.STDOUT, start_new_session=True)
    from bench import ingest

    try:
        ingest._wait(lambda: "ready" in log.read_text(errors="replace").split(), 180, f"{runner} ready")
        cpu0, t0 = _cpu([proc.pid]), time.time()
        asyncio.run(_produce(settings.bootstrap, topic, records))
        ingest._wait(lambda: RESULT.search(log.read_text(errors="replace")), 300, f"{runner} applied all",
                     interval=0.1)
        result = json.loads(RESULT.search(log.read_text(errors="replace")).group(1))
        return _figures(runner, 1, n, result["done_wall"] - t0, result["done_cpu"] - cpu0, [result["peak_rss_mb"]])
    except TimeoutError as exc:
        raise TimeoutError(f"{runner}: {exc}; log: {log.read_text(errors='replace')[-2000:]}") from exc
    finally:
        ingest._stop(proc)
        asyncio.run(delete_matching(settings.bootstrap, prefix))


def run_twin(settings: Settings, records: list[Rec], n: int, workdir: Path, workers: int) -> dict:
    """Our worker(s), measured from outside: applied readings from their metrics, CPU and peak RSS from /proc."""
    from bench import ingest

    prefix = f"benchtwin{uuid.uuid4().hex[:6]}"
    topic = Topics(prefix).telemetry
    base = ingest._free_port_pair(2 + workers)
    env = ingest._engine_env(settings, prefix, workdir / prefix, base)
    asyncio.run(ensure_topics(settings.bootstrap, Topics(prefix)))
    procs, logs = [], [workdir / f"{prefix}-worker{i}.log" for i in range(workers)]
    try:
        for i in range(workers):
            procs.append(ingest._spawn("worker", {**env, "OMNITRACK_WORKER_ID": str(i)}, logs[i]))
        ingest._wait(lambda: all(assignments(log.read_text(errors="replace")) for log in logs), 120, "workers assigned")
        ingest._wait(lambda: all(assignments(log.read_text(errors="replace"))[-1:] != [0] for log in logs), 60,
                     "partitions spread over the workers")
        asyncio.run(_produce(settings.bootstrap, topic, [_warm(records)]))
        ingest._wait(lambda: ingest._applied(base, workers) >= 1, 120, "worker ready")
        pids = [p.pid for p in procs]
        cpu0, t0 = _cpu(pids), time.time()
        asyncio.run(_produce(settings.bootstrap, topic, records))
        ingest._wait(lambda: ingest._applied(base, workers) >= n + 1, 300, "twin applied all", interval=0.1)
        cpu1, done = _cpu(pids), ingest._applied_at(base, workers)
        return _figures("twin", workers, n, done - t0, cpu1 - cpu0, [_peak_rss_mb(pid) for pid in pids])
    except TimeoutError as exc:
        tails = {log.name: log.read_text(errors="replace")[-1500:] for log in logs}
        raise TimeoutError(f"twin x{workers}: {exc}; logs: {tails}") from exc
    finally:
        for proc in procs:
            ingest._stop(proc)
        asyncio.run(delete_matching(settings.bootstrap, prefix))


def replay_rounds(settings: Settings, workdir: Path, mqtt_port: int, n: int, repeat: int, workers: int,
                  quix: bool, results: list[dict]) -> None:
    """Capture once, then every runner once per round, interleaved (raw, twin x1, twin xN, quix)."""
    records = capture(settings, workdir, mqtt_port, n)
    print(f"replay: captured {len(records)} bridge records holding {n} readings", flush=True)
    plan = [("raw", 1), ("twin", 1)] + ([("twin", workers)] if workers > 1 else []) + ([("quix", 1)] if quix else [])
    for round_ in range(repeat):
        for runner, count in plan:
            for attempt in range(1 + RUNNER_RETRIES):
                try:
                    if runner == "twin":
                        result = run_twin(settings, records, n, workdir, count)
                    else:
                        result = run_peer(settings, runner, records, n, workdir)
                    break
                except TimeoutError as exc:
                    if attempt == RUNNER_RETRIES:
                        raise
                    print(f"replay {runner} x{count} failed, once more: {str(exc)[:300]}", flush=True)
            results.append({**result, "round": round_})
            print(f"replay {runner} x{count}: {n} readings in {result['seconds']:6.2f}s = "
                  f"{result['readings_per_s']:>7d} /s, {result['readings_per_cpu_s']:>7d} /CPU-s, "
                  f"peak RSS {result['peak_rss_mb']:.0f} MB", flush=True)
