"""Ingest benchmark: readings/s applied to the twin vs the raw transport, over the real stack.

For each message shape (single readings, gateway batches of 50):
  raw   MQTT → bridge → Kafka → a plain aiokafka consumer counting readings (the baseline);
  twin  MQTT → bridge → Kafka → Faust worker applying every reading to the device twin,
        counted from the worker's `omnitrack_twin_readings_total`.
Both use the same publisher (a separate process, QoS 1) and the same readings;
the rate is readings / (time from the first publish to the last reading seen).
Batches are also measured with two workers (one per core here). Every run is repeated
(`--repeat`, interleaved) and the medians reported.
Run: `omnitrack bench ingest [--json] [--single N] [--batched N] [--workers 2] [--repeat 3]`.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing as mp
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
import uuid
from datetime import datetime, timezone
from pathlib import Path

import orjson

from bench.mosquitto import private_mosquitto
from omnitrack import stack
from omnitrack.ports import free_port_block
from omnitrack.progress import scrape
from omnitrack.settings import Settings, get_settings
from omnitrack.supervisor import stop_group
from streams.admin import delete_topics, ensure_topics
from streams.records import decode_telemetry
from streams.topics import Topics
from streams.worker import assignments

DEVICES = 2000
"""Distinct devices: enough that per-record coalescing does not flatter the twin."""


def _payloads(n: int, batch: int, tag: str) -> list[tuple[str, bytes]]:
    now = datetime.now(timezone.utc)
    ts = now.isoformat()
    readings = [{"schema_version": 1, "device_id": f"{tag}-{i % DEVICES:05d}", "ts": ts, "seq": i // DEVICES,
                 "metrics": {"temperature": 4.0 + (i % 40) * 0.1, "humidity": 55.0, "battery": 90.0}}
                for i in range(n)]
    if batch == 1:
        return [(f"dt/site-{tag}/{r['device_id']}/telemetry", orjson.dumps(r)) for r in readings]
    out = []
    for start in range(0, n, batch):
        body = {"schema_version": 1, "gateway_id": "gw-1", "site_id": f"site-{tag}", "readings": readings[start:start + batch]}
        out.append((f"dt/site-{tag}/gateway/gw-1/batch", orjson.dumps(body)))
    return out


def _publish(port: int, items: list[tuple[str, bytes]], started: mp.Value) -> None:
    import paho.mqtt.client as mqtt

    client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=f"bench-pub-{uuid.uuid4().hex[:8]}")
    client.max_inflight_messages_set(1000)
    client.max_queued_messages_set(0)
    client.connect("127.0.0.1", port)
    client.loop_start()
    started.value = time.time()
    infos = [client.publish(topic, payload, qos=1) for topic, payload in items]
    for info in infos:
        info.wait_for_publish(120)
    client.disconnect()
    client.loop_stop()


def _free_port_pair(count: int = 2) -> int:
    """A port p with p .. p + count - 1 free (the bridge's and the workers' metrics)."""
    return free_port_block(range(count))


def _spawn(role: str, env: dict[str, str], log: Path) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "omnitrack.cli", role], env=env, stdout=open(log, "ab"),
                            stderr=subprocess.STDOUT, start_new_session=True)


_stop = stop_group


def _engine_env(settings: Settings, prefix: str, home: Path, metrics_port: int, **extra: str) -> dict[str, str]:
    """The environment of a bench's bridge and worker: their own topics, home, client id and ports."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("OMNITRACK_")}
    env.update(stack.endpoints(settings).process_env())
    env.update({"OMNITRACK_TOPIC_PREFIX": prefix, "OMNITRACK_HOME": str(home),
                "OMNITRACK_BRIDGE_CLIENT_ID": f"bridge-{prefix}", "OMNITRACK_BRIDGE_SHARE_GROUP": prefix,
                # the broker forgets the bench bridge's session (and stops queueing for it) once it is gone
                "OMNITRACK_BRIDGE_SESSION_EXPIRY_S": "0",
                "OMNITRACK_METRICS_PORT": str(metrics_port)})
    env.update(extra)
    return env


def _wait(condition, deadline_s: float, what: str, interval: float = 0.05) -> float:
    end = time.monotonic() + deadline_s
    while time.monotonic() < end:
        if condition():
            return time.time()
        time.sleep(interval)
    raise TimeoutError(f"{what} not reached within {deadline_s}s")


def _count_readings(bootstrap: str, topic: str, n: int, deadline_s: float) -> float:
    """Consume `topic` from the start until n readings were seen; returns the wall time of the last one."""
    from aiokafka import AIOKafkaConsumer

    async def run() -> float:
        consumer = AIOKafkaConsumer(topic, bootstrap_servers=bootstrap, auto_offset_reset="earliest",
                                    group_id=f"bench-{uuid.uuid4().hex[:8]}", fetch_max_bytes=50 << 20)
        await consumer.start()
        seen, end = 0, time.monotonic() + deadline_s
        try:
            while seen < n:
                if time.monotonic() > end:
                    raise TimeoutError(f"raw consumer saw {seen}/{n} readings")
                for records in (await consumer.getmany(timeout_ms=200, max_records=10000)).values():
                    seen += sum(len(decode_telemetry(r.value)) for r in records)
            return time.time()
        finally:
            await consumer.stop()

    return asyncio.run(run())


def _applied(metrics_base: int, workers: int) -> float:
    """Readings applied so far, summed over the workers' own metrics."""
    return sum(scrape(metrics_base + 1 + i, "omnitrack_twin_readings_total") or 0 for i in range(workers))


def _one(settings: Settings, mode: str, batch: int, n: int, workdir: Path, workers: int, mqtt_port: int) -> dict:
    prefix = f"bench{uuid.uuid4().hex[:6]}"
    metrics_base = _free_port_pair(2 + workers)
    env = _engine_env(settings, prefix, workdir / prefix, metrics_base, OMNITRACK_MQTT_PORT=str(mqtt_port))
    asyncio.run(ensure_topics(settings.bootstrap, Topics(prefix)))
    items = _payloads(n, batch, prefix)
    procs = [_spawn("bridge", env, workdir / f"{prefix}-bridge.log")]
    try:
        _wait(lambda: scrape(metrics_base, "omnitrack_bridge_readings_total") is not None, 60, "bridge up")
        time.sleep(1.0)  # the bridge logs "running" after its subscription is acknowledged
        if mode == "twin":
            for i in range(workers):
                procs.append(_spawn("worker", {**env, "OMNITRACK_WORKER_ID": str(i)},
                                    workdir / f"{prefix}-worker{i or ''}.log"))
            logs = [workdir / f"{prefix}-worker{i or ''}.log" for i in range(workers)]
            _wait(lambda: all(assignments(log.read_text(errors="replace")) for log in logs), 120, "workers assigned")
            # every worker must hold partitions (the group rebalances as each joins)
            _wait(lambda: all(assignments(log.read_text(errors="replace"))[-1:] != [0] for log in logs), 60,
                  "partitions spread over the workers")
            warm = _payloads(1, 1, prefix + "w")
            _publish_sync(mqtt_port, warm)
            _wait(lambda: _applied(metrics_base, workers) >= 1, 120, "worker ready")
        started = mp.Value("d", 0.0)
        pub = mp.get_context("fork").Process(target=_publish, args=(mqtt_port, items, started))
        pub.start()
        if mode == "raw":
            done = _count_readings(settings.bootstrap, Topics(prefix).telemetry, n, 300)
        else:
            done = _wait(lambda: _applied(metrics_base, workers) >= n + 1, 300, "twin applied all readings",
                         interval=0.25)
        pub.join(60)
        elapsed = done - started.value
    except TimeoutError as exc:
        tails = {log.name: log.read_text(errors="replace")[-1500:] for log in sorted(workdir.glob(f"{prefix}-*.log"))}
        raise TimeoutError(f"{mode} batch={batch}: {exc}; logs: {tails}") from exc
    finally:
        for proc in procs:
            _stop(proc)
        asyncio.run(delete_topics(settings.bootstrap, prefix))  # a broker full of old runs' partitions slows
    return {"mode": mode, "batch": batch, "workers": workers if mode == "twin" else 0, "readings": n,
            "seconds": round(elapsed, 3), "readings_per_s": round(n / elapsed)}


def _rounds(settings: Settings, runs: list[tuple[str, int, int, int]], repeat: int, workdir: Path, mqtt_port: int,
            results: list[dict]) -> None:
    for round_ in range(repeat):
        for mode, batch, n, workers in runs:
            result = _one(settings, mode, batch, n, workdir, workers, mqtt_port)
            results.append({**result, "round": round_})
            label = f"{mode} x{workers}" if mode == "twin" else mode
            print(f"{label:7s} batch={batch:<3d} {result['readings']:>7d} readings in {result['seconds']:7.2f}s "
                  f"= {result['readings_per_s']:>7d} readings/s", flush=True)


def _publish_sync(port: int, items: list[tuple[str, bytes]]) -> None:
    started = mp.Value("d", 0.0)
    _publish(port, items, started)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="omnitrack bench ingest", description=__doc__.splitlines()[0])
    ap.add_argument("--single", type=int, default=20_000, help="readings sent as single messages")
    ap.add_argument("--batched", type=int, default=200_000, help="readings sent in gateway batches of 50")
    ap.add_argument("--json", action="store_true", help="print one JSON object of the figures last")
    ap.add_argument("--workers", type=int, default=2,
                    help="also measure batches with this many twin workers (2 = one per core here); 1 = skip")
    ap.add_argument("--repeat", type=int, default=3,
                    help="rounds of every run, interleaved; figures are the medians (these machines are noisy)")
    args = ap.parse_args(argv)
    settings = get_settings()
    stack.up(settings)
    results = []
    runs = [("raw", 1, args.single, 1), ("twin", 1, args.single, 1), ("raw", 50, args.batched, 1),
            ("twin", 50, args.batched, 1)]
    if args.workers > 1:
        runs.append(("twin", 50, args.batched, args.workers))
    with tempfile.TemporaryDirectory(prefix="omnitrack-bench-") as tmp:
        mosquitto, mqtt_port = private_mosquitto(Path(tmp))  # not the stack's: see bench/mosquitto.py
        try:
            _rounds(settings, runs, args.repeat, Path(tmp), mqtt_port, results)
        finally:
            mosquitto.terminate()
            mosquitto.wait(10)
    rates: dict[tuple, list[int]] = {}
    for r in results:
        rates.setdefault((r["mode"], r["batch"], r["workers"]), []).append(r["readings_per_s"])
    by = {key: round(statistics.median(values)) for key, values in rates.items()}
    summary = {
        "benchmark": "ingest", "machine": f"{platform.node()} {os.cpu_count()} cores",
        "date": datetime.now(timezone.utc).isoformat(), "rounds": args.repeat, "statistic": "median",
        "results": results,
        "twin_single_per_s": by[("twin", 1, 1)], "twin_batched_per_s": by[("twin", 50, 1)],
        "raw_single_per_s": by[("raw", 1, 0)], "raw_batched_per_s": by[("raw", 50, 0)],
        "twin_vs_raw_single": round(by[("twin", 1, 1)] / by[("raw", 1, 0)], 3),
        "twin_vs_raw_batched": round(by[("twin", 50, 1)] / by[("raw", 50, 0)], 3),
    }
    line = f"medians of {args.repeat}: twin/raw: single {summary['twin_vs_raw_single']:.2f}, batched {summary['twin_vs_raw_batched']:.2f}"
    if args.workers > 1:
        best = by[("twin", 50, args.workers)]
        summary.update({f"twin_batched_{args.workers}_workers_per_s": best,
                        f"twin_vs_raw_batched_{args.workers}_workers": round(best / by[("raw", 50, 0)], 3)})
        line += f", batched with {args.workers} workers {best / by[('raw', 50, 0)]:.2f}"
    print(line)
    if args.json:
        print(json.dumps(summary))
    return 0
