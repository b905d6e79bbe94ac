"""Ingest benchmark: readings/s applied to the twin vs the raw transport, over the real stack.

For each message shape (single readings, gateway batches of 50):
  raw   MQTT → bridge → Kafka → a plain aiokafka consumer counting readings (the baseline);
  twin  MQTT → bridge → Kafka → Faust worker applying every reading to the device twin,
        counted from the worker's `omnitrack_twin_readings_total`.
Both use the same publisher (a separate process, QoS 1) and the same readings;
the rate is readings / (time from the first publish to the last reading seen). Each run also reports the CPU
seconds of its publishers, bridges, workers, Kafka and the bench over that window, and the machine's busy and
idle core-seconds (bench/cpu_window.py): whether a ratio is CPU-bound or a pipeline's wait.
Batches are also measured with two workers (one per core here). Single readings are also sent by two
publisher processes through one bridge and through two bridges on the shared subscription (raw).
Then the replayed runs (bench/ingest_replay.py): the bridge's records for `--replay` readings, captured once,
replayed into a fresh topic for each runner in turn: raw consumer, twin x1, twin x`--workers`, and the Quix
Streams peer (bench/ingest_quix.py, in its own venv), each reporting readings per wall second, per CPU-second
and peak RSS. Every run is repeated (`--repeat`, interleaved) and the medians reported.
Run: `omnitrack bench ingest [--json] [--single N] [--batched N] [--replay N] [--workers 2] [--repeat 3]
[--no-quix] [--only e2e|replay]`.
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
import uuid
from datetime import datetime, timedelta, timezone
from pathlib import Path

import orjson

from bench.cpu_window import CpuWindow, kafka_pids
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


def _payloads(n: int, batch: int, tag: str, spread_s: float = 0.0) -> list[tuple[str, bytes]]:
    """n readings of DEVICES devices in turn; with `spread_s`, each device's readings are that far apart in
    event time (ending now), so their 1-minute windows close during a run."""
    now = datetime.now(timezone.utc)
    first = now - timedelta(seconds=spread_s * (n // DEVICES))
    stamps = [(first + timedelta(seconds=spread_s * k)).isoformat() for k in range(n // DEVICES + 1)]
    readings = [{"schema_version": 1, "device_id": f"{tag}-{i % DEVICES:05d}", "ts": stamps[i // DEVICES],
                 "seq": i // DEVICES,
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
    """QoS 1, in order, every message acknowledged by the broker before it returns (bench/ingest_publisher.py:
    paho's per-message cost made the publisher, not the bridge, the limit of the single-reading runs)."""
    from bench.ingest_publisher import publish_all

    publish_all(port, items, f"bench-pub-{uuid.uuid4().hex[:8]}", started)


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


def _applied_at(metrics_base: int, workers: int) -> float:
    """When the workers last applied a record (Unix time, the latest of them): the end of a twin run.

    WHY not the time the bench saw the count: it polls the workers' metrics every 0.1-0.25 s (each scrape costs a
    worker ~1-2 ms of its loop), which added 0.05-0.12 s on average to a 2.5 s run, while the raw consumer
    counts in process and stops on its last record."""
    return max(scrape(metrics_base + 1 + i, "omnitrack_twin_last_record_timestamp_seconds") or 0
               for i in range(workers))


def _one(settings: Settings, mode: str, batch: int, n: int, workdir: Path, workers: int, mqtt_port: int,
         bridges: int = 1, publishers: int = 1) -> dict:
    prefix = f"bench{uuid.uuid4().hex[:6]}"
    metrics_base = _free_port_pair(2 + workers)
    env = _engine_env(settings, prefix, workdir / prefix, metrics_base, OMNITRACK_MQTT_PORT=str(mqtt_port))
    asyncio.run(ensure_topics(settings.bootstrap, Topics(prefix)))
    items = _payloads(n, batch, prefix)
    procs = [_spawn("bridge", env, workdir / f"{prefix}-bridge.log")]
    bridge_ports = [metrics_base]
    for b in range(1, bridges):
        # more bridges on the same shared subscription ($share/<prefix>/…): own client id, own metrics port
        port = _free_port_pair(1)
        bridge_ports.append(port)
        procs.append(_spawn("bridge", {**env, "OMNITRACK_BRIDGE_CLIENT_ID": f"bridge-{prefix}-{b}",
                                       "OMNITRACK_METRICS_PORT": str(port)}, workdir / f"{prefix}-bridge{b}.log"))
    try:
        _wait(lambda: all(scrape(p, "omnitrack_bridge_readings_total") is not None for p in bridge_ports), 60,
              "bridges up")
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
        # several publishers split the devices (each device's readings stay with one publisher, in order)
        starts = [mp.Value("d", 0.0) for _ in range(publishers)]
        pubs = [mp.get_context("fork").Process(target=_publish, args=(mqtt_port, items[k::publishers], starts[k]))
                for k in range(publishers)]
        for pub in pubs:
            pub.start()
        cpu = CpuWindow({"publishers": [p.pid for p in pubs], "bridges": [p.pid for p in procs[:bridges]],
                         "workers": [p.pid for p in procs[bridges:]], "kafka": kafka_pids(), "bench": [os.getpid()]})
        if mode == "raw":
            done = _count_readings(settings.bootstrap, Topics(prefix).telemetry, n, 300)
            cpu_s = cpu.stop()
        else:
            _wait(lambda: _applied(metrics_base, workers) >= n + 1, 300, "twin applied all readings", interval=0.25)
            cpu_s = cpu.stop()  # up to one poll (0.25 s) after the end: the machine's idle share is an upper bound
            done = _applied_at(metrics_base, workers)
        for pub in pubs:
            pub.join(60)
        elapsed = done - min(s.value for s in starts)
    except TimeoutError as exc:
        tails = {log.name: log.read_text(errors="replace")[-1500:] for log in sorted(workdir.glob(f"{prefix}-*.log"))}
        raise TimeoutError(f"{mode} batch={batch}: {exc}; logs: {tails}") from exc
    finally:
        for proc in procs:
            _stop(proc)
        asyncio.run(delete_topics(settings.bootstrap, prefix))  # a broker full of old runs' partitions slows
    return {"mode": mode, "batch": batch, "workers": workers if mode == "twin" else 0, "bridges": bridges,
            "publishers": publishers, "readings": n, "seconds": round(elapsed, 3), "readings_per_s": round(n / elapsed),
            "cpu_s": cpu_s}


def _rounds(settings: Settings, runs: list[tuple[str, int, int, int, int, int]], repeat: int, workdir: Path,
            mqtt_port: int, results: list[dict]) -> None:
    for round_ in range(repeat):
        for mode, batch, n, workers, bridges, publishers in runs:
            result = _one(settings, mode, batch, n, workdir, workers, mqtt_port, bridges, publishers)
            results.append({**result, "round": round_})
            label = f"{mode} x{workers}" if mode == "twin" else mode
            if bridges > 1 or publishers > 1:
                label += f" {bridges}b/{publishers}p"
            cpu = result["cpu_s"]
            busy = cpu["machine_busy_s"] / max(1e-9, cpu["machine_busy_s"] + cpu["machine_idle_s"])
            print(f"{label:7s} batch={batch:<3d} {result['readings']:>7d} readings in {result['seconds']:7.2f}s "
                  f"= {result['readings_per_s']:>7d} readings/s; CPU-s bridge {cpu['bridges']:.2f}, worker "
                  f"{cpu['workers']:.2f}, kafka {cpu['kafka']:.2f}; machine {100 * busy:.0f} % busy", flush=True)


def _publish_sync(port: int, items: list[tuple[str, bytes]]) -> None:
    started = mp.Value("d", 0.0)
    _publish(port, items, started)


def _medians(results: list[dict], key) -> dict:
    groups: dict[tuple, list[dict]] = {}
    for r in results:
        groups.setdefault(key(r), []).append(r)
    return groups


def _replay_summary(results: list[dict]) -> dict:
    """Medians per replay runner (each figure its own median over the rounds) and the same-run ratios."""
    out: dict = {}
    for (runner, workers), rows in _medians(results, lambda r: (r["runner"], r["workers"])).items():
        name = runner if runner != "twin" else f"twin_{workers}w"
        out[name] = {k: round(statistics.median(r[k] for r in rows), 1 if "rss" in k else 0)
                     for k in ("readings_per_s", "readings_per_cpu_s", "peak_rss_mb", "peak_rss_mb_total")}
    ratios = {}
    if "raw" in out and "twin_1w" in out:
        ratios["twin_1w_vs_raw_per_s"] = round(out["twin_1w"]["readings_per_s"] / out["raw"]["readings_per_s"], 3)
    if "quix" in out:
        for name in [k for k in out if k.startswith("twin_")]:
            ratios[f"{name}_vs_quix_per_cpu_s"] = round(
                out[name]["readings_per_cpu_s"] / out["quix"]["readings_per_cpu_s"], 3)
            ratios[f"{name}_vs_quix_per_s"] = round(out[name]["readings_per_s"] / out["quix"]["readings_per_s"], 3)
    return {"runners": out, "ratios": ratios}


SINGLE_READINGS = 100_000
"""Readings of each single-reading run. WHY not 20,000 (the default until 2026-12-05): at 10-20k/s that run lasted
1-2 s, so the bridges' and the counting consumer's start-up and the counter's polling were a large part of it: the
same code gave 8.6k-16.6k/s through 2 bridges in three rounds of one run. 100,000 readings make each run 5-10 s."""


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="omnitrack bench ingest", description=__doc__.splitlines()[0])
    ap.add_argument("--single", type=int, default=SINGLE_READINGS, help="readings sent as single messages")
    ap.add_argument("--batched", type=int, default=200_000, help="readings sent in gateway batches of 50")
    ap.add_argument("--replay", type=int, default=200_000,
                    help="readings in the replayed runs (raw, twin x1/xN, Quix Streams peer); 0 = skip them")
    ap.add_argument("--no-quix", action="store_true", help="replay without the Quix Streams peer")
    ap.add_argument("--json", action="store_true", help="print one JSON object of the figures last")
    ap.add_argument("--workers", type=int, default=2,
                    help="also measure batches with this many twin workers (2 = one per core here); 1 = skip")
    ap.add_argument("--repeat", type=int, default=3,
                    help="rounds of every run, interleaved; figures are the medians (these machines are noisy)")
    ap.add_argument("--only", choices=["e2e", "replay"], help="run one part only")
    args = ap.parse_args(argv)
    settings = get_settings()
    stack.up(settings)
    results, replayed = [], []
    # (mode, batch, readings, workers, bridges, publishers)
    runs = [("raw", 1, args.single, 1, 1, 1), ("twin", 1, args.single, 1, 1, 1),
            ("raw", 1, args.single, 1, 1, 2), ("raw", 1, args.single, 1, 2, 2),
            ("raw", 50, args.batched, 1, 1, 1), ("twin", 50, args.batched, 1, 1, 1)]
    if args.workers > 1:
        runs.append(("twin", 50, args.batched, args.workers, 1, 1))
    if not args.no_quix and args.replay and args.only != "e2e":
        from bench.ingest_quix_env import quix_python

        quix_python()  # built before any timing
    with tempfile.TemporaryDirectory(prefix="omnitrack-bench-") as tmp:
        mosquitto, mqtt_port = private_mosquitto(Path(tmp))  # not the stack's: see bench/mosquitto.py
        try:
            if args.only != "replay":
                _rounds(settings, runs, args.repeat, Path(tmp), mqtt_port, results)
            if args.replay and args.only != "e2e":
                from bench.ingest_replay import replay_rounds

                replay_rounds(settings, Path(tmp), mqtt_port, args.replay, args.repeat, args.workers,
                              not args.no_quix, replayed)
        finally:
            mosquitto.terminate()
            mosquitto.wait(10)
    summary = {
        "benchmark": "ingest", "machine": f"{platform.node()} {os.cpu_count()} cores",
        "date": datetime.now(timezone.utc).isoformat(), "rounds": args.repeat, "statistic": "median",
        "results": results, "replay_results": replayed,
    }
    if results:
        by = {key: round(statistics.median(r["readings_per_s"] for r in rows)) for key, rows in
              _medians(results, lambda r: (r["mode"], r["batch"], r["workers"], r["bridges"], r["publishers"])).items()}
        summary.update({
            "twin_single_per_s": by[("twin", 1, 1, 1, 1)], "twin_batched_per_s": by[("twin", 50, 1, 1, 1)],
            "raw_single_per_s": by[("raw", 1, 0, 1, 1)], "raw_batched_per_s": by[("raw", 50, 0, 1, 1)],
            "raw_single_1_bridge_2_publishers_per_s": by[("raw", 1, 0, 1, 2)],
            "raw_single_2_bridges_2_publishers_per_s": by[("raw", 1, 0, 2, 2)],
            "twin_vs_raw_single": round(by[("twin", 1, 1, 1, 1)] / by[("raw", 1, 0, 1, 1)], 3),
            "twin_vs_raw_batched": round(by[("twin", 50, 1, 1, 1)] / by[("raw", 50, 0, 1, 1)], 3),
        })
        line = (f"medians of {args.repeat}: twin/raw: single {summary['twin_vs_raw_single']:.2f}, batched "
                f"{summary['twin_vs_raw_batched']:.2f}; single readings (2 publishers): 1 bridge "
                f"{summary['raw_single_1_bridge_2_publishers_per_s']}/s, 2 bridges "
                f"{summary['raw_single_2_bridges_2_publishers_per_s']}/s")
        if args.workers > 1:
            best = by[("twin", 50, args.workers, 1, 1)]
            summary.update({f"twin_batched_{args.workers}_workers_per_s": best,
                            f"twin_vs_raw_batched_{args.workers}_workers": round(best / by[("raw", 50, 0, 1, 1)], 3)})
            line += f", batched with {args.workers} workers {best / by[('raw', 50, 0, 1, 1)]:.2f}"
        print(line)
    if replayed:
        summary["replay"] = _replay_summary(replayed)
        for name, figures in summary["replay"]["runners"].items():
            print(f"replay medians {name:8s} {figures['readings_per_s']:>8.0f} /s {figures['readings_per_cpu_s']:>8.0f}"
                  f" /CPU-s  peak RSS {figures['peak_rss_mb']:.0f} MB")
        print("replay ratios: " + ", ".join(f"{k} {v}" for k, v in summary["replay"]["ratios"].items()))
    if args.json:
        print(json.dumps(summary))
    return 0
