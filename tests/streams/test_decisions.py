"""The decision worker over real Kafka: alert triggers, bad requests, failed stages, feedback."""

from __future__ import annotations

import asyncio
from datetime import datetime, timezone

import orjson
import pytest
from aiokafka import AIOKafkaProducer

from omnitrack.settings import Settings
from streams.decider import submit
from streams.network_file import load_network
from tests.streams.conftest import Engine, read_topic, wait_for
from twin.alerts.catalogue import health_condition
from twin.alerts.contract import encode_event
from twin.alerts.severity import risk_table
from twin.alerts.site import evaluate
from twin.node_twin import assess_node

pytestmark = pytest.mark.integration

FACTORY = "NA-FAC-004"


def _settings(engine: Engine) -> Settings:
    return Settings(topic_prefix=engine.prefix, kafka_bootstrap=engine.env["KAFKA_BOOTSTRAP"])


def _ask(engine: Engine, body: dict, wait_s: float = 90) -> dict:
    answer = asyncio.run(submit(_settings(engine), body, wait_s=wait_s))
    assert answer is not None, engine.log("decider")[-3000:]
    return answer


def _ready(engine: Engine) -> None:
    """The decider answers (its first request may wait for the group to form)."""
    _ask(engine, {"request_id": "warm-up", "nodes": [FACTORY], "duration_days": 1, "trials": 1000}, wait_s=120)


def test_critical_factory_alert_yields_top3_and_bad_requests_are_explained(engine: Engine) -> None:
    engine.start("decider")
    _ready(engine)
    network = load_network(Settings().network_file)
    node = network.node_by_id[FACTORY]
    health, _ = assess_node(FACTORY, 0.0, node.daily_demand, [], None)  # no stock left: critical
    _, events = evaluate(None, health_condition(health), risk_table(network).get(FACTORY), datetime.now(timezone.utc))
    created = [e for e in events if e.transition.kind.value == "created"]
    assert created and created[0].alert.severity.value == "critical"
    alert_id = created[0].alert.id

    async def inject() -> None:
        producer = AIOKafkaProducer(bootstrap_servers=engine.env["KAFKA_BOOTSTRAP"])
        await producer.start()
        try:
            for event in events:
                key, value = encode_event(event)
                await producer.send_and_wait(engine.topics.alerts, key=key, value=value)
        finally:
            await producer.stop()

    asyncio.run(inject())
    key = f"alert-{alert_id}".encode()
    records = read_topic(engine.env["KAFKA_BOOTSTRAP"], engine.topics.scenario_results,
                         until=lambda recs: any(r.key == key for r in recs), deadline_s=90)
    result = orjson.loads(next(r.value for r in records if r.key == key))
    assert result["status"] == "ok", result
    assert len(result["strategies"]) == 3
    assert all(s["explanation"] for s in result["strategies"])
    assert result["impact"]["lost_revenue"]["mean"]["value"] > 0

    for body, fragment in (
        ({"request_id": "bad-node", "nodes": ["NOPE-1"], "duration_days": 5}, "unknown node"),
        ({"request_id": "bad-duration", "nodes": [FACTORY], "duration_days": -3}, "duration_days"),
        ({"request_id": "bad-trials", "nodes": [FACTORY], "duration_days": 5, "trials": 10**12}, "trials"),
    ):
        answer = _ask(engine, body)
        assert answer["status"] == "invalid" and fragment in answer["reason"], answer


def test_forced_stage_failure_gives_failed_result(engine: Engine) -> None:
    engine.start("decider", {"OMNITRACK_DECISION_FAIL_STAGE": "impact"})
    answer = _ask(engine, {"request_id": "will-fail", "nodes": [FACTORY], "duration_days": 5}, wait_s=120)
    assert answer["status"] == "failed"
    assert answer["failed_stage"] == "impact" and "injected failure" in answer["reason"]


def test_feedback_updates_priors_and_a_rerun_reflects_them(engine: Engine) -> None:
    engine.start("decider")
    _ready(engine)
    request = {"nodes": [FACTORY], "duration_days": 7, "trials": 20_000, "seed": 7, "rel_tol": 0}
    before = _ask(engine, {**request, "request_id": "before"})
    again = _ask(engine, {**request, "request_id": "before"})
    assert again == before  # a request id answered before is answered from the table
    feedback = {"kind": "feedback", "request_id": "before", "nodes": [FACTORY], "strategy": "reroute",
                "estimated_duration_days": 7, "actual_duration_days": 60, "actual_loss": 5e7}
    priors = _ask(engine, feedback)
    assert priors["kind"] == "priors" and priors["version"] == before["priors_version"] + 1
    after = _ask(engine, {**request, "request_id": "after"})
    assert after["priors_version"] == priors["version"]
    # the outage lasted far longer than feared: the same question now costs more
    assert after["impact"]["lost_revenue"]["mean"]["value"] > before["impact"]["lost_revenue"]["mean"]["value"]
    wait_for(lambda: engine.alive("decider"), 1, "decider alive")
