"""Multi-process orchestration: shard the fleet, start together, report progress.

WHY processes: JSON encoding and MQTT framing are CPU-bound Python; one
process per core, each owning whole publishing groups, scales with cores.
Children rebuild the fleet from the config (deterministic from the seed) rather
than receiving it pickled, so start-up cost doesn't grow with the parent.
All children wait on one shared start time so the ground truth's wall-clock
times match the readings.
"""

from __future__ import annotations

import math
import multiprocessing as mp
import queue
import sys
import time
import traceback
from collections import Counter
from collections.abc import Callable
from datetime import datetime, timezone
from typing import Any

from .config import FleetConfig, FleetReport
from .emit import ShardEmitter
from .fleet import Fleet, build_fleet, load_network
from .publisher import AwsIotPublisher, NullPublisher, PahoPublisher, Publisher
from .rate import TickSchedule
from .scenarios import GroundTruthSink, InjectedEvent, JsonlGroundTruthSink, load_scenario, resolve, stamp

# Children import numpy/pydantic and build the fleet; on a loaded 2-core box
# that can take several seconds. Past this the run fails instead of hanging.
READY_TIMEOUT_S = 120.0
# Lead time between "all ready" and the first tick, so every child sees the
# start time before it passes (no child starts with a backlog).
START_LEAD_S = 0.3
# QoS 1 messages awaiting PUBACK per process before the schedule pauses. MQTT
# packet ids are 16-bit: far more in flight would reuse ids still unacked, and an
# unbounded client queue hides a broker that can't keep up.
MAX_PENDING_MESSAGES = 20_000
# Counter slots per shard: readings, messages, acked, errors, dropped, replayed.
_SLOTS = 6

ProgressFn = Callable[[dict[str, Any]], None]


def make_fleet(cfg: FleetConfig) -> Fleet:
    return build_fleet(load_network(cfg.network_path), scale=cfg.scale, seed=cfg.seed, gateway_share=cfg.gateway_share)


def make_publisher(cfg: FleetConfig, shard_no: int) -> Publisher:
    """The configured transport for one process."""
    if cfg.transport == "null":
        return NullPublisher()
    if cfg.transport == "awsiot":
        if cfg.ca_cert is None:
            raise ValueError("awsiot transport needs ca_cert")
        return AwsIotPublisher(cfg.host, cfg.port, ca_cert=cfg.ca_cert, qos=cfg.qos, cert_dir=cfg.cert_dir,
                               client_cert=cfg.client_cert, client_key=cfg.client_key,
                               client_prefix=cfg.client_prefix, max_connections=cfg.max_connections)
    return PahoPublisher(cfg.host, cfg.port, qos=cfg.qos, client_id=f"{cfg.client_prefix}{shard_no}",
                         ca_cert=cfg.ca_cert, client_cert=cfg.client_cert, client_key=cfg.client_key)


def target_rate(cfg: FleetConfig, fleet: Fleet) -> float:
    return cfg.rate if cfg.rate is not None else fleet.natural_rate() * cfg.time_scale


def _worker(cfg: FleetConfig, shard_no: int, shards: int, events: list[InjectedEvent], counters: Any,
            buckets: Any, nsec: int, ready: Any, start: Any, stop: Any, results: Any) -> None:
    pub: Publisher | None = None
    try:
        fleet = make_fleet(cfg)
        positions = fleet.shard(shards)[shard_no]
        em = ShardEmitter(fleet, positions, events, seed=cfg.seed, batch_size=cfg.batch_size,
                          time_scale=cfg.time_scale, shard_no=shard_no)
        sched = TickSchedule(target_rate(cfg, fleet) * len(positions) / max(1, len(fleet)))
        pub = make_publisher(cfg, shard_no)
        pub.connect(em.identities())
        ready.set()
        while start.value <= 0 and not stop.is_set():
            time.sleep(0.002)
        t0, base = start.value, shard_no * _SLOTS
        readings = messages = 0

        def send(msgs: list, el: float) -> None:
            nonlocal readings, messages
            n = 0
            for m in msgs:
                pub.publish(m.topic, m.payload, m.identity)  # type: ignore[union-attr]
                n += m.readings
            readings += n
            messages += len(msgs)
            buckets[shard_no * nsec + min(nsec - 1, int(el))] += n

        while not stop.is_set():
            now = time.time()
            el = now - t0
            if el >= cfg.duration_s:
                break
            if pub.sent - pub.acked > MAX_PENDING_MESSAGES:
                sched.skip(el)
                n = 0
            else:  # readings due by the end of this tick, so each second's count is complete
                n = sched.due(min(el + sched.tick_s, cfg.duration_s))
            if n:
                send(em.tick(n, el, int(now * 1000)), el)
            counters[base:base + _SLOTS] = [readings, messages, pub.acked, pub.errors, sched.dropped, pub.replayed]
            time.sleep(max(0.0, t0 + sched.next_tick(time.time() - t0) - time.time()))
        send(em.flush_held(), min(cfg.duration_s, time.time() - t0))
        unacked = pub.flush(cfg.flush_timeout_s)
        counters[base:base + _SLOTS] = [readings, messages, pub.acked, pub.errors, sched.dropped, pub.replayed]
        results.put({"shard": shard_no, "ok": True, "injected": dict(em.injected), "unacked": unacked})
    except BaseException:  # noqa: BLE001 - report any failure to the parent instead of dying silently
        ready.set()
        results.put({"shard": shard_no, "ok": False, "error": traceback.format_exc()})
    finally:
        if pub is not None:
            pub.close()


def _print_progress(line: dict[str, Any]) -> None:
    print(f"[fleet] t={line['t']:5.0f}s target={line['target']:>9,.0f}/s achieved={line['achieved']:>9,.0f}/s "
          f"sent={line['sent']:>11,} msgs={line['messages']:>9,} acked={line['acked']:>9,} errors={line['errors']}",
          file=sys.stderr, flush=True)


def run_fleet(config: FleetConfig, *, sink: GroundTruthSink | None = None,
              on_progress: ProgressFn | None = None) -> FleetReport:
    """Run the fleet for ``config.duration_s`` and report what was achieved.

    Ground truth goes to ``sink`` if given, else to ``config.ground_truth_path``
    (JSONL); every event is written before the first reading. ``on_progress``
    receives one dict per second (default: a line on stderr when
    ``config.progress``)."""
    fleet = make_fleet(config)
    events = resolve(load_scenario(config.scenario_path), fleet, config.seed) if config.scenario_path else []
    rate = target_rate(config, fleet)
    shards = len(fleet.shard(config.processes))
    nsec = int(math.ceil(config.duration_s)) + 1
    ctx = mp.get_context("spawn")  # fork would copy the parent's threads/sockets (the CLI may have some)
    counters = ctx.RawArray("q", shards * _SLOTS)
    buckets = ctx.RawArray("q", shards * nsec)
    start, stop, results = ctx.RawValue("d", 0.0), ctx.Event(), ctx.Queue()
    readies = [ctx.Event() for _ in range(shards)]
    procs = [ctx.Process(target=_worker, name=f"fleet-{k}", daemon=True,
                         args=(config, k, shards, events, counters, buckets, nsec, readies[k], start, stop, results))
             for k in range(shards)]
    for p in procs:
        p.start()
    progress = on_progress or (_print_progress if config.progress else None)
    own_sink = sink is None and config.ground_truth_path is not None
    sink = JsonlGroundTruthSink(config.ground_truth_path) if own_sink else sink  # type: ignore[arg-type]
    done: list[dict[str, Any]] = []
    try:
        deadline = time.monotonic() + READY_TIMEOUT_S
        for ev in readies:
            if not ev.wait(max(0.0, deadline - time.monotonic())):
                raise TimeoutError(f"fleet processes not ready within {READY_TIMEOUT_S}s")
        _raise_failures(_drain(results, done))
        t0 = time.time() + START_LEAD_S
        stamped = stamp(events, t0)
        if sink is not None:
            for e in stamped:
                sink.write(e)
        start.value = t0
        k = 1
        while any(p.is_alive() for p in procs) and k <= nsec + int(config.flush_timeout_s) + 30:
            time.sleep(max(0.0, t0 + k - time.time()))
            _raise_failures(_drain(results, done))
            if progress is not None and k <= config.duration_s:
                c = _totals(counters, shards)
                last = sum(buckets[s * nsec + k - 1] for s in range(shards))
                progress({"t": k, "target": rate, "achieved": last, "sent": c[0], "messages": c[1], "acked": c[2],
                          "errors": c[3]})
            k += 1
        for p in procs:
            p.join(timeout=5)
        _raise_failures(_drain(results, done))
    finally:
        stop.set()
        for p in procs:
            if p.is_alive():
                p.join(timeout=5)
            if p.is_alive():
                p.terminate()
        if own_sink and sink is not None:
            sink.close()
    c = _totals(counters, shards)
    full = int(config.duration_s)
    per_second = [float(sum(buckets[s * nsec + j] for s in range(shards))) for j in range(full)]
    injected: Counter[str] = Counter()
    for r in done:
        injected.update(r.get("injected", {}))
    return FleetReport(
        devices=len(fleet), gateways=len(fleet.gateways), publish_groups=len(fleet.groups), processes=shards,
        target_rate=rate, achieved_rate=c[0] / config.duration_s, per_second=per_second,
        min_per_second=min(per_second, default=0.0), mean_per_second=sum(per_second) / max(1, len(per_second)),
        readings_sent=c[0], messages_sent=c[1], messages_acked=c[2],
        unacked_at_end=sum(int(r.get("unacked", 0)) for r in done), errors=c[3], dropped_by_limiter=c[4],
        messages_replayed=c[5],
        duration_s=config.duration_s, started_at=datetime.fromtimestamp(t0, timezone.utc).isoformat(),
        injected=dict(injected), ground_truth_events=len(events),
    )


def _totals(counters: Any, shards: int) -> list[int]:
    return [sum(counters[s * _SLOTS + j] for s in range(shards)) for j in range(_SLOTS)]


def _drain(results: Any, done: list[dict[str, Any]]) -> list[dict[str, Any]]:
    while True:
        try:
            done.append(results.get_nowait())
        except queue.Empty:
            return done


def _raise_failures(done: list[dict[str, Any]]) -> None:
    bad = [r for r in done if not r.get("ok")]
    if bad:
        raise RuntimeError(f"fleet process {bad[0]['shard']} failed:\n{bad[0]['error']}")
