"""Faust agents of the decision pipeline: requests, feedback and alert triggers.

  alerts (major/critical, on a node or lane; one per place per 15 min) ─► trigger ─┐
  `omnitrack scenario run` / any producer ───────────────┴─► scenarios.requests (1 partition)
                                                              └─ decide: pipeline ─► scenarios.results + `results` table
  `omnitrack scenario feedback` ─► scenarios.requests (kind=feedback) ─► priors table (versioned) ─► scenarios.results

One partition for requests and feedback keeps them in one order, so a rerun
after feedback sees the updated priors, and lets the results and priors tables
live with the one agent that writes them. A request id seen before is answered
from the table, not recomputed (idempotent under redelivery).
"""

from __future__ import annotations

import logging
import time
import zlib
from typing import Any

import faust
import orjson
from prometheus_client import Counter, Histogram

from engine.models import Priors, ScenarioRequest
from engine.pipeline import DecisionPipeline, PipelineConfig, Stages
from engine.triggers import TriggerGate
from omnitrack.settings import Settings
from streams.topics import topics_for
from streams.twin_view import TableTwinView, follow_changelog
from streams.app import STORE_OPTIONS
from twin.alerts.contract import decode_event
from twin.network import SupplyNetwork

log = logging.getLogger(__name__)

RESULTS = Counter("omnitrack_decisions_results_total", "Decision results published", ["status"])
FEEDBACK = Counter("omnitrack_decisions_feedback_total", "Operator feedback applied to the priors")
TRIGGERS = Counter("omnitrack_decisions_alert_triggers_total", "Scenario requests started by alerts")
LATENCY = Histogram("omnitrack_decisions_latency_seconds", "Request to result, in the pipeline",
                    buckets=(0.05, 0.1, 0.25, 0.5, 1.0, 2.0, 5.0, 10.0, 30.0, 120.0))

TRIGGER_SEVERITIES = {"major", "critical"}
TRIGGER_TRANSITIONS = {"created", "severity_changed", "escalated"}
ALERT_OUTAGE_DAYS = 7.0
"""Outage duration assumed for an alert-triggered assessment; operators rerun with their own estimate."""
ALERT_TRIALS = 10_000
PRIORS_KEY = b"priors"


def alert_request(value: bytes, network: SupplyNetwork) -> dict[str, Any] | None:
    """The scenario request an alert record should start, or None (pure; tested without Kafka)."""
    event = decode_event(value)
    alert = event.alert
    if alert.severity.value not in TRIGGER_SEVERITIES or event.transition.kind.value not in TRIGGER_TRANSITIONS:
        return None
    if not alert.active or alert.parent_id is not None:
        return None  # cleared, or a child of a site alert that triggers on its own
    site = alert.site_id
    nodes = [site] if site in network.node_by_id else []
    lanes = [site] if not nodes and site in network.lane_by_id else []
    if not nodes and not lanes:
        return None
    return {"request_id": f"alert-{alert.id}", "nodes": nodes, "lanes": lanes,
            "duration_days": ALERT_OUTAGE_DAYS, "trials": ALERT_TRIALS, "seed": zlib.crc32(alert.id.encode()),
            "trigger": {"kind": "alert", "alert_id": alert.id}}


def register_decisions(app: faust.App, settings: Settings, network: SupplyNetwork,
                       stages: Stages | None = None) -> dict[str, Any]:
    """Declare the decision topics, tables and agents on `app`."""
    topics = topics_for(settings)
    raw = {"key_type": bytes, "value_type": bytes}  # tables: raw codec for changelog and RocksDB
    raw_topic = {**raw, "key_serializer": "raw", "value_serializer": "raw"}  # topics need the codec named
    requests = app.topic(topics.scenario_requests, partitions=1, **raw_topic)
    results_topic = app.topic(topics.scenario_results, **raw_topic)
    alerts = app.topic(topics.alerts, **raw_topic)
    results = app.Table("results", partitions=1, default=None, options=STORE_OPTIONS, **raw)
    priors_table = app.Table("priors", partitions=1, default=None, options=STORE_OPTIONS, **raw)
    node_rows: dict[bytes, bytes | None] = {}
    pipe = DecisionPipeline(network, TableTwinView(network, node_rows), stages=stages,
                            config=PipelineConfig(kernel=settings.decision_kernel))

    @app.task
    async def follow_twin_nodes() -> None:
        """Keep `node_rows` equal to the twin's node table, read from its changelog (all partitions).

        A plain consumer without a group: a Faust GlobalTable over another app's
        changelog stalled the partition assignment in faust-streaming 0.15.
        """
        await follow_changelog(settings.bootstrap, topics.changelog("nodes"), node_rows)

    async def publish(key: str, body: bytes) -> None:
        await results_topic.send(key=key.encode(), value=body)

    @app.agent(requests)
    async def decide(stream: faust.StreamT) -> None:
        async for event in stream.events():
            stored = priors_table.get(PRIORS_KEY)
            if stored is not None and Priors.model_validate_json(stored).version != pipe.priors.version:
                pipe.priors = Priors.model_validate_json(stored)  # recovered after a restart
            try:
                body = orjson.loads(event.value)
            except orjson.JSONDecodeError:
                body = None
            if isinstance(body, dict) and body.get("kind") == "feedback":
                await _apply_feedback(body)
                continue
            request_id = body.get("request_id") if isinstance(body, dict) else None
            if request_id and (done := results.get(str(request_id).encode())) is not None:
                await publish(str(request_id), done)  # redelivered: answer again, do not recompute
                continue
            if isinstance(body, dict):
                body.pop("kind", None)
            result = await pipe.run(body if isinstance(body, dict) else event.value)
            encoded = result.model_dump_json().encode()
            if result.request_id != "?":
                results[result.request_id.encode()] = encoded
            await publish(result.request_id, encoded)
            RESULTS.labels(result.status).inc()
            LATENCY.observe(sum(result.stage_durations_s.values()))

    async def _apply_feedback(body: dict[str, Any]) -> None:
        body.pop("kind", None)
        try:
            priors = pipe.apply_feedback(body)
        except ValueError as exc:  # pydantic's ValidationError is a ValueError
            await publish(str(body.get("request_id", "?")), orjson.dumps(
                {"kind": "feedback", "status": "invalid", "reason": str(exc)[:500]}))
            return
        priors_table[PRIORS_KEY] = priors.model_dump_json().encode()
        await publish("priors", orjson.dumps({"kind": "priors", "version": priors.version,
                                              "request_id": body.get("request_id")}))
        FEEDBACK.inc()

    gate = TriggerGate()

    @app.agent(alerts)
    async def trigger(stream: faust.StreamT) -> None:
        async for event in stream.events():
            try:
                request = alert_request(event.value, network)
            except ValueError as exc:
                log.warning("alert record not understood: %s", exc)
                continue
            if request is not None and gate.admit((request["nodes"] or request["lanes"])[0], time.time()):
                await requests.send(key=request["request_id"].encode(), value=orjson.dumps(request))
                TRIGGERS.inc()

    return {"requests": requests, "results_topic": results_topic, "results": results, "priors": priors_table,
            "pipeline": pipe}


def validate_request_dict(body: dict[str, Any]) -> ScenarioRequest:
    """Client-side check used by `omnitrack scenario run` before producing."""
    return ScenarioRequest.model_validate(body)
