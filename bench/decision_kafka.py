"""Trigger -> top-3 latency across Kafka: `omnitrack bench decision --kafka`.

The in-process figure (`bench/decision.py`) times `pipeline.run`; this one times what an operator or a
downstream consumer sees. A real `omnitrack decider` process runs against the local stack on its own topics;
the bench

* sends scenario requests to `scenarios.requests` (10,000 trials x 8 strategies, no early stop) and times each
  until its result record is on `scenarios.results`, one request at a time;
* produces a critical alert for each of several factories to `alerts` (one per factory: the decider assesses a
  place at most once per cool-down) and times each until the `alert-<id>` result is on `scenarios.results`.

Both include the decider's Faust consume/commit path, the results table write and the produce.
``kernel="flow"`` (`omnitrack bench decision --kafka --flow`) starts the decider with
``OMNITRACK_DECISION_KERNEL=flow`` (the bench's own OMNITRACK_* environment is not passed on, so the kernel is
set here explicitly). The factories given alerts are those whose answer on the interval kernel has a top 3;
``n_alerts=0`` times requests only.
"""

from __future__ import annotations

import asyncio
import json
import statistics
import tempfile
import time
import uuid
from datetime import datetime, timezone
from pathlib import Path

import orjson
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer

from bench.decision import _pct
from bench.ingest import _engine_env, _free_port_pair, _spawn, _stop
from omnitrack import stack
from omnitrack.settings import get_settings
from streams.admin import delete_topics, ensure_topics
from streams.decider import follow_from_end
from streams.network_file import load_network
from streams.topics import Topics
from twin.alerts.catalogue import health_condition
from twin.alerts.contract import encode_event
from twin.alerts.severity import risk_table
from twin.alerts.site import evaluate
from twin.node_twin import assess_node

WARM_UP_DEADLINE_S = 180.0
"""The first request waits for the decider's group to form and its kernels to load (cold numba cache: ~10 s)."""
ANSWER_DEADLINE_S = 60.0


def _critical_alert_records(network, node_id: str) -> tuple[str, list[tuple[bytes, bytes]]]:
    """The alert id and the `alerts` records of a critical out-of-stock alert on `node_id`."""
    node = network.node_by_id[node_id]
    health, _ = assess_node(node_id, 0.0, node.daily_demand, [], None)
    _, events = evaluate(None, health_condition(health), risk_table(network).get(node_id), datetime.now(timezone.utc))
    created = [e for e in events if e.transition.kind.value == "created" and e.alert.severity.value == "critical"]
    if not created:
        raise RuntimeError(f"no critical alert for {node_id}")
    return created[0].alert.id, [encode_event(e) for e in events]


async def _measure(bootstrap: str, topics: Topics, network, runs: int, trials: int, node: str,
                   factories: list[str]) -> dict:
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False, group_id=None)
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all", linger_ms=0)
    await consumer.start()
    await producer.start()
    try:
        await follow_from_end(consumer, topics.scenario_results)

        async def answer(key: bytes, deadline_s: float) -> tuple[float, dict]:
            end = time.monotonic() + deadline_s
            while time.monotonic() < end:
                for records in (await consumer.getmany(timeout_ms=100)).values():
                    for r in records:
                        if r.key == key:
                            return time.perf_counter(), orjson.loads(r.value)
            raise TimeoutError(f"no result for {key!r} within {deadline_s}s")

        async def ask(request_id: str, seed: int, deadline_s: float) -> tuple[float, dict]:
            body = {"request_id": request_id, "nodes": [node], "duration_days": 21.0, "trials": trials,
                    "rel_tol": 0.0, "seed": seed}
            t0 = time.perf_counter()
            await producer.send_and_wait(topics.scenario_requests, key=request_id.encode(), value=orjson.dumps(body))
            t1, result = await answer(request_id.encode(), deadline_s)
            if result.get("status") != "ok":
                raise RuntimeError(f"request {request_id} answered {result.get('status')}: {result.get('reason')}")
            return t1 - t0, result

        await ask("warm-up", 0, WARM_UP_DEADLINE_S)
        requests: list[float] = []
        last: dict = {}
        for i in range(runs):
            dt, last = await ask(f"bench-{i}", i + 1, ANSWER_DEADLINE_S)
            requests.append(dt)
        alerts: list[float] = []
        alert_trials: list[int] = []
        alert_strategies: list[int] = []
        for node_id in factories:
            aid, records = _critical_alert_records(network, node_id)
            t0 = time.perf_counter()
            for key, value in records:
                await producer.send_and_wait(topics.alerts, key=key, value=value)
            t1, result = await answer(f"alert-{aid}".encode(), ANSWER_DEADLINE_S)
            if result.get("status") != "ok":
                raise RuntimeError(f"alert on {node_id}: {result.get('status')} {result.get('reason')}")
            alerts.append(t1 - t0)
            alert_trials.append(result["impact"]["n_trials"])
            alert_strategies.append(len(result["strategies"]))
        return {"requests": requests, "alerts": alerts, "alert_trials": alert_trials,
                "alert_strategies": alert_strategies, "last": last}
    finally:
        await producer.stop()
        await consumer.stop()


def _ms(xs: list[float], q: float) -> float:
    return round(_pct(xs, q) * 1000, 1)


def _factories_with_top3(network, n: int) -> list[str]:
    """Factories whose outage the pipeline answers with 3 strategies (a factory that only backs others up has
    nothing downstream to protect, so its answer is do-nothing or a single option): the alerts to time."""
    from engine.pipeline import DecisionPipeline, warm_start

    warm_start()
    pipe = DecisionPipeline(network)
    out = []
    try:
        for node_id in sorted(x.id for x in network.nodes if x.kind.value == "factory"):
            r = asyncio.run(pipe.run({"request_id": f"probe-{node_id}", "nodes": [node_id], "duration_days": 7.0,
                                      "trials": 1000}))
            if r.status == "ok" and len(r.strategies) == 3:
                out.append(node_id)
            if len(out) == n:
                break
    finally:
        pipe.close()
    return out


def run(runs: int, trials: int, n_alerts: int, node: str, kernel: str = "interval") -> dict:
    settings = get_settings()
    stack.up(settings)
    network = load_network(settings.network_file)
    factories = _factories_with_top3(network, n_alerts) if n_alerts > 0 else []
    prefix = f"dec{uuid.uuid4().hex[:6]}"
    topics = Topics(prefix)
    with tempfile.TemporaryDirectory(prefix="omnitrack-decision-") as tmp:
        env = _engine_env(settings, prefix, Path(tmp) / "home", _free_port_pair(31),
                          OMNITRACK_DECISION_KERNEL=kernel)
        asyncio.run(ensure_topics(settings.bootstrap, topics))
        proc = _spawn("decider", env, Path(tmp) / "decider.log")
        try:
            m = asyncio.run(_measure(settings.bootstrap, topics, network, runs, trials, node, factories))
        except Exception:
            print((Path(tmp) / "decider.log").read_text()[-3000:])
            raise
        finally:
            _stop(proc)
            asyncio.run(delete_topics(settings.bootstrap, prefix))
    last = m["last"]
    alerts = m["alerts"] or [0.0]
    target_s = 1.0 if kernel == "flow" else 2.0
    return {
        "bench": "decision_kafka", "kernel": kernel, "node": node, "trials": last["impact"]["n_trials"],
        "strategies_evaluated": last["candidates_evaluated"], "runs": runs,
        "request_p50_ms": _ms(m["requests"], 0.5), "request_p90_ms": _ms(m["requests"], 0.9),
        "request_max_ms": round(max(m["requests"]) * 1000, 1),
        "alerts": len(m["alerts"]), "alert_p50_ms": _ms(alerts, 0.5) if m["alerts"] else None,
        "alert_max_ms": round(max(alerts) * 1000, 1) if m["alerts"] else None,
        "alert_trials_median": int(statistics.median(m["alert_trials"])) if m["alert_trials"] else 0,
        "alert_strategies": m["alert_strategies"], "alert_factories": factories,
        "alert_ms_by_factory": {f: round(t * 1000, 1) for f, t in zip(factories, m["alerts"])},
        "target_p50_ms": target_s * 1000,
        "meets_target": statistics.median(m["requests"]) < target_s
        and (not m["alerts"] or statistics.median(m["alerts"]) < target_s),
        "top3": [s["name"] for s in last["strategies"]],
        "date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
    }


def report(out: dict) -> None:
    print(f"over Kafka ({out['kernel']} kernel, decider process): request -> result "
          f"p50 {out['request_p50_ms']:.0f} ms, "
          f"p90 {out['request_p90_ms']:.0f} ms, max {out['request_max_ms']:.0f} ms "
          f"({out['runs']} requests, {out['trials']} trials x {out['strategies_evaluated']} strategies)")
    if out["alerts"]:
        slowest = max(out["alert_ms_by_factory"].items(), key=lambda kv: kv[1])
        print(f"  critical alert -> result p50 {out['alert_p50_ms']:.0f} ms, max {out['alert_max_ms']:.0f} ms "
              f"on {slowest[0]} ({out['alerts']} factories, median {out['alert_trials_median']} trials"
              f"{': adaptive stop' if out['kernel'] == 'interval' else ''}; "
              f"strategies returned {out['alert_strategies']})")
    print(f"  target p50 < {out['target_p50_ms'] / 1000:g} s: {'met' if out['meets_target'] else 'MISSED'}; "
          f"top 3: {', '.join(out['top3'])}")
    print(json.dumps(out))
