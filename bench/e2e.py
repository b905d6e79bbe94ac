"""End-to-end benchmark: fleet simulator → MQTT → bridge → Kafka → N twin workers → alerts, scored.

Brings up the stack (or uses the running one), gives the run its own topic prefix, starts the bridge and
N engine workers (`omnitrack worker`, OMNITRACK_WORKER_ID=0..N-1), then the fleet simulator with the
default disruption scenario for `--duration` seconds, and keeps watching `--grace` seconds more for
late alerts. Every second it samples the workers' `omnitrack_twin_readings_total`, the twin group's
consumer lag on `telemetry`, and CPU/RSS of each process (psutil, children included). Afterwards it
scores the alerts, dead letters and twin outcomes against the simulator's ground truth
(`simulators/scoring.py`) and writes `report.json` and `report.png` to `--out`.

WHY a whole-engine bench next to `ingest` and `latency`: those load one stage with synthetic readings;
this one runs the demo fleet's mix (gateway batches, disruptions, malformed and duplicated messages)
through every stage at once, which is what a newcomer's `omnitrack run` does, and says how much of what
was injected the engine actually found.

Run: `omnitrack bench e2e [--duration 60] [--workers 1|2] [--rate R] [--json] [--out DIR]`.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import shlex
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import datetime, timezone
from pathlib import Path

from bench import e2e_report as rep
from bench.e2e_monitor import Monitor, bucket_quantile, group_assignment, histogram_buckets, merge_buckets
from bench.ingest import _engine_env, _spawn, _stop, _wait
from bench.mosquitto import private_mosquitto
from omnitrack import stack
from omnitrack.ports import free_port_block
from omnitrack.progress import scrape
from omnitrack.settings import Settings, get_settings, project_root
from simulators.scoring import TwinOutcomes, parse_ground_truth, score
from streams.admin import delete_topics, ensure_topics
from streams.latency_metrics import READING_TO_TWIN_METRIC
from streams.network_file import load_network
from streams.topics import Topics
from streams.worker import assignments
from twin.alerts.contract import decode_event

DEFAULT_RATE = 2000.0
"""Readings/s of the fleet: the example network's 1,246 devices each report ~1.6 times a second, well
inside what one worker applies on two shared cores (docs/BENCHMARKS.md), so lag shows contention, not
a saturated worker."""

WORKER_SETTLE_S = 3.0
"""No new assignment line for this long: the group's rebalances are over."""


def _assigned(log: Path) -> list[int]:
    return assignments(log.read_text(errors="replace")) if log.exists() else []


def _wait_workers(logs: list[Path], procs: list[subprocess.Popen], deadline_s: float = 180.0) -> None:
    """Until every worker was assigned partitions and the group stopped rebalancing."""
    end, last_change, seen = time.monotonic() + deadline_s, time.monotonic(), None
    while time.monotonic() < end:
        if any(p.poll() is not None for p in procs):
            raise RuntimeError("a worker exited while starting: " + "; ".join(
                log.read_text(errors="replace")[-800:] for log in logs))
        now = [tuple(_assigned(log)) for log in logs]
        if now != seen:
            seen, last_change = now, time.monotonic()
        if all(a and a[-1] > 0 for a in now) and time.monotonic() - last_change >= WORKER_SETTLE_S:
            return
        time.sleep(0.2)
    raise TimeoutError(f"workers not assigned within {deadline_s}s: {seen}")


def _parse(argv: list[str] | None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(prog="omnitrack bench e2e", description=__doc__.splitlines()[0])
    ap.add_argument("--duration", type=float, default=60.0, help="seconds the simulator publishes")
    ap.add_argument("--workers", type=int, default=1, choices=range(1, 9), metavar="N", help="twin workers (1-8)")
    ap.add_argument("--rate", type=float, default=DEFAULT_RATE, help="readings/s of the simulated fleet")
    ap.add_argument("--grace", type=float, default=15.0, help="seconds to keep watching after the simulator ends")
    ap.add_argument("--scenario", default=str(project_root() / "simulators" / "scenarios" / "default.yaml"))
    ap.add_argument("--sim-processes", type=int, default=1, help="simulator publishing processes")
    ap.add_argument("--out", default=None, help="result folder (default .omnitrack/bench/e2e-<timestamp>/)")
    ap.add_argument("--shared-mqtt", action="store_true",
                    help="use the stack's Mosquitto instead of a private one (other fleets' traffic then mixes in)")
    ap.add_argument("--keep-topics", action="store_true", help="leave the run's topics on the broker")
    ap.add_argument("--json", action="store_true", help="print one JSON object of the figures last")
    return ap.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = _parse(argv)
    settings = get_settings()
    endpoints = stack.up(settings)
    stamp = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%SZ")
    out = Path(args.out) if args.out else settings.home / "bench" / f"e2e-{stamp}"
    out.mkdir(parents=True, exist_ok=True)
    prefix = f"e2e{uuid.uuid4().hex[:6]}"
    topics = Topics(prefix)
    base = free_port_block(range(args.workers + 1))
    with tempfile.TemporaryDirectory(prefix="omnitrack-e2e-") as tmp:
        env = _engine_env(settings, prefix, Path(tmp) / "home", base)
        asyncio.run(ensure_topics(settings.bootstrap, topics))
        try:
            report = _run(args, settings, env, topics, base, out, endpoints)
        finally:
            if not args.keep_topics:
                try:
                    asyncio.run(delete_topics(settings.bootstrap, prefix))
                except Exception as exc:  # noqa: BLE001 - cleanup is best effort
                    print(f"bench e2e: could not delete topics {prefix}.*: {exc}", file=sys.stderr)
    _print(report)
    if args.json:
        print(report.model_dump_json(exclude={"series"}))
    return 0


def _run(args: argparse.Namespace, settings: Settings, env: dict[str, str], topics: Topics, base: int,
         out: Path, endpoints, extra: dict[str, dict[str, str]] | None = None,
         collected: list | None = None) -> rep.E2EReport:  # noqa: ANN001 - stack Endpoints
    """Run the engine and the fleet, and score them. `extra`: more engine roles to run beside the bridge and the
    workers (role -> its own environment additions), e.g. the decider, notifier and API of `bench soak`;
    `collected` receives the monitor's raw data, then each extra role's /metrics text (role -> text or None,
    scraped before the processes stop), for a caller's own figures."""
    prefix = topics.prefix
    procs: dict[str, subprocess.Popen] = {}
    if not args.shared_mqtt:
        procs["mosquitto (bench)"], port = private_mosquitto(out)
        env = {**env, "OMNITRACK_MQTT_PORT": str(port)}
    procs["bridge"] = _spawn("bridge", env, out / "bridge.log")
    sim: subprocess.Popen | None = None
    monitor: Monitor | None = None
    try:
        _wait(lambda: scrape(base, "omnitrack_bridge_readings_total") is not None, 60, "bridge up")
        logs = [out / f"worker{i}.log" for i in range(args.workers)]
        for i in range(args.workers):
            procs[f"worker{i}"] = _spawn("worker", {**env, "OMNITRACK_WORKER_ID": str(i),
                                                    "BROKER_CLIENT_ID": f"{prefix}-w{i}"}, logs[i])
        _wait_workers(logs, [procs[f"worker{i}"] for i in range(args.workers)])
        for role, role_env in (extra or {}).items():
            procs[role] = _spawn(role, {**env, **role_env}, out / f"{role}.log")
        roots = {role: p.pid for role, p in procs.items()}
        roots.update({f"{name} (shared)": proc.pid for name, proc in endpoints.processes.items()
                      if getattr(proc, "pid", None) and proc.running})
        t0 = time.time()
        monitor = Monitor(settings.bootstrap, topics, [base + 1 + i for i in range(args.workers)], base, roots, t0)
        monitor.start()
        time.sleep(2.0)  # a baseline second or two before the first reading
        gt_file = out / "ground_truth.jsonl"
        sim_cmd = [sys.executable, "-m", "omnitrack.cli", "simulate", "fleet", "--duration", str(args.duration),
                   "--rate", str(args.rate), "--scenario", args.scenario, "--ground-truth", str(gt_file),
                   "--ground-truth-kafka", "--json", "--processes", str(args.sim_processes),
                   "--client-prefix", f"{prefix}-sim-"]
        sim = subprocess.Popen(sim_cmd, env=env, stdout=open(out / "simulator.json", "wb"),
                               stderr=open(out / "simulator.log", "wb"), start_new_session=True)
        monitor.add_process("simulator", sim.pid)
        sim_rc = sim.wait(args.duration + 240)
        sim_done = time.time() - t0
        if sim_rc != 0:
            raise RuntimeError(f"simulator failed ({sim_rc}): {(out / 'simulator.log').read_text()[-2000:]}")
        time.sleep(args.grace)
        assignment = asyncio.run(group_assignment(settings.bootstrap, topics.app_id, topics.telemetry))
        counts = [(_assigned(log) or [None])[-1] for log in logs]  # before the stop: a leaving worker rebalances
        data = monitor.stop()
        monitor = None
        if collected is not None:
            collected.append(data)
            collected.append({role: _metrics_text(settings.model_copy(update={"metrics_port": base}).metrics_port_for(role))
                              for role in (extra or {})})
    finally:
        if monitor is not None:
            monitor.stop()
        if sim is not None and sim.poll() is None:
            _stop(sim)
        for proc in reversed(list(procs.values())):  # the broker last
            _stop(proc)
    sim_report = _last_json(out / "simulator.json")
    sim_start = datetime.fromisoformat(sim_report["started_at"]).timestamp() - t0
    sim_end = sim_start + args.duration
    return _build(args, settings, out, prefix, data, sim_report, sim_start, sim_end, sim_done, assignment, t0,
                  counts, sim_cmd)


def _metrics_text(port: int) -> str | None:
    import urllib.request

    try:
        return urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5).read().decode()
    except OSError:
        return None


def _last_json(path: Path) -> dict:
    import json

    lines = [ln for ln in path.read_text().splitlines() if ln.strip().startswith("{")]
    return json.loads(lines[-1])


def _build(args, settings, out, prefix, data, sim_report, sim_start, sim_end, sim_done, assignment, t0, counts,
           sim_cmd) -> rep.E2EReport:  # noqa: ANN001
    warnings = list(dict.fromkeys(data.errors))[:10]
    alert_events, bad = [], 0
    for value in data.alert_values:
        try:
            alert_events.append(decode_event(value))
        except ValueError:
            bad += 1
    if bad:
        warnings.append(f"{bad} alert records failed the contract")
    events = parse_ground_truth(data.ground_truth_values) or parse_ground_truth(
        (out / "ground_truth.jsonl").read_text().splitlines())
    last = data.samples[-1].outcomes if data.samples else {}
    first_seen = {}
    for s in data.samples:
        for label, v in s.outcomes.items():
            if v > 0 and label not in first_seen:
                first_seen[label] = datetime.fromtimestamp(t0 + s.t, timezone.utc)
    network = load_network(settings.network_file)
    detection = score(events, alert_events, data.dlq, TwinOutcomes(last, first_seen),
                      {d.id: d.site_id for d in network.devices}, grace_s=args.grace,
                      injected_messages=sim_report.get("injected"))
    final = data.samples[-1].worker_readings if data.samples else []
    applied = sum(x or 0.0 for x in final)
    shares = []
    for i, count in enumerate(final):
        client = f"{prefix}-w{i}"
        shares.append(rep.WorkerShare(worker=i, client_id=client, readings=count or 0.0,
                                      share=round((count or 0.0) / applied, 3) if applied else None,
                                      partitions_assigned=counts[i],
                                      telemetry_partitions=assignment.get(client, [])))
    latency = _latencies(data, t0, sim_start, detection)
    sent = int(sim_report.get("readings_sent", 0))
    bridged = next((s.bridge_readings for s in reversed(data.samples) if s.bridge_readings is not None), 0.0) or 0.0
    if bridged > sent * 1.05 + 100:
        warnings.append(f"the bridge took {bridged:,.0f} readings but the simulator sent {sent:,}: another fleet "
                        "publishes on this broker (MQTT topics carry no prefix, every share group gets them); "
                        "throughput, latency and false positives include its traffic")
    files = {"json": str(out / "report.json"), "png": str(out / "report.png"), "ground_truth": str(out / "ground_truth.jsonl"),
             "logs": str(out)}
    report = rep.E2EReport(
        machine=f"{platform.node()} {os.cpu_count()} cores", date=datetime.now(timezone.utc).isoformat(),
        command="omnitrack bench e2e " + " ".join(shlex.quote(a) for a in sys.argv[3:]) if sys.argv[1:3] == ["bench", "e2e"]
        else f"omnitrack bench e2e --duration {args.duration:g} --workers {args.workers} --rate {args.rate:g}",
        duration_s=args.duration, rate=args.rate, workers=args.workers, grace_s=args.grace, topic_prefix=prefix,
        simulator={k: sim_report.get(k) for k in ("devices", "gateways", "target_rate", "achieved_rate", "readings_sent",
                                                  "messages_sent", "messages_acked", "errors", "injected", "started_at")}
        | {"command": " ".join(shlex.quote(c) for c in sim_cmd[3:]), "ended_s_after_ready": round(sim_done, 1)},
        throughput=rep.throughput(data.samples, sim_start, sim_end, int(sim_report.get("readings_sent", 0)), shares),
        lag=rep.lag(data.samples, sim_start), resources=rep.resources(data.samples, sim_start), latency=latency,
        detection=detection, out_dir=str(out), files=files, warnings=warnings, series=rep.series(data, t0))
    detections = [((a - t0), ttd, kind) for kind, a, ttd in _detections(events, alert_events, detection)]
    (out / "report.json").write_text(report.model_dump_json(indent=2))
    rep.plot(report, out / "report.png", sim_start, sim_end, detections)
    return report


def _latencies(data, t0: float, sim_start: float, detection) -> dict[str, rep.Quantiles]:  # noqa: ANN001
    """Device timestamp → twin write (changelog, per row), the workers' histograms, and time to detect."""
    out = {"twin_update": rep.quantiles([s for w, s in data.twin_latency if w - t0 >= sim_start],
                                        "device ts → device row written (devices changelog record time), per row")}
    scrapes = [s for s in data.last_scrapes if s]

    def hist(name: str, source: str) -> rep.Quantiles | None:
        buckets = merge_buckets([histogram_buckets(s, name) for s in scrapes])
        if not buckets or buckets[-1][1] <= 0:
            return None
        ms = lambda q: None if (v := bucket_quantile(buckets, q)) is None else v * 1000  # noqa: E731
        return rep.Quantiles(source=source + " (bucket upper bounds)", samples=int(buckets[-1][1]),
                             p50_ms=ms(0.5), p90_ms=ms(0.9), p99_ms=ms(0.99))

    twin_hist = hist(READING_TO_TWIN_METRIC, f"{READING_TO_TWIN_METRIC}: device ts → twin update") or hist(
        "omnitrack_twin_apply_latency_seconds", "omnitrack_twin_apply_latency_seconds: bridge receipt → twin update "
        "(fallback: the device-ts histogram is not observed by this worker)")
    if twin_hist:
        out["twin_update_histogram"] = twin_hist
    alert_hist = hist("omnitrack_alerts_reading_to_alert_seconds",
                      "omnitrack_alerts_reading_to_alert_seconds: offending reading's device ts → alert event")
    if alert_hist:
        out["alert_histogram"] = alert_hist
    return out


def _detections(events, alert_events, detection) -> list[tuple[str, float, float]]:  # noqa: ANN001
    """(type, wall time detected, seconds to detect) of every detected event, for the plot."""
    out = []
    for t in detection.per_type.values():
        if t.ttd_max_s is None:
            continue
        for e in events:
            if e.type == t.type and e.event_id not in t.undetected and e.start is not None:
                out.append((t.type, e.start.timestamp() + (t.ttd_p50_s or 0.0), t.ttd_p50_s or 0.0))
                break
    return out


def _print(r: rep.E2EReport) -> None:
    tp = r.throughput
    print(f"e2e: {r.workers} worker(s), {r.rate:,.0f} readings/s target for {r.duration_s:.0f}s: sent {tp.readings_sent:,}, "
          f"bridged {tp.readings_bridged or 0:,.0f}, applied {tp.readings_applied:,.0f}; sustained "
          f"{tp.sustained_per_s} /s, median second {tp.run_p50_per_s} /s; lag max {r.lag.max_records} records")
    for w in tp.workers:
        print(f"  worker {w.worker}: {w.readings:,.0f} readings ({w.share}), telemetry partitions {w.telemetry_partitions}, "
              f"{w.partitions_assigned} partitions in all")
    for role, res in r.resources.items():
        print(f"  {role:<18} CPU {res.cpu_mean_pct:5.1f}% mean {res.cpu_max_pct:5.1f}% max, RSS {res.rss_max_mb:7.1f} MB max")
    for name, q in r.latency.items():
        print(f"  latency {name}: p50 {q.p50_ms} ms, p90 {q.p90_ms} ms, p99 {q.p99_ms} ms ({q.samples} samples)")
    for w in r.warnings:
        print(f"  WARNING: {w}")
    for t in r.detection.per_type.values():
        print(f"  {t.type:<18} injected {t.injected:3d} detected {t.detected:3d} recall {t.recall} precision "
              f"{t.precision} ttd p50 {t.ttd_p50_s}s max {t.ttd_max_s}s")
    print(f"  alerts {r.detection.alerts}: {r.detection.true_positive_alerts} true, {r.detection.explained_alerts} "
          f"explained, {r.detection.false_positive_alerts} false ({r.detection.false_positive_rules})")
    print(f"  results in {r.out_dir}")
