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
from tests.streams.conftest import Engine, Publisher, read_topic, wait_for
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
    # the decider's default kernel is the flow model: its candidates (engine/flow/strategies.py), alone or
    # combined with "+", not the interval kernel's (safety_stock_14, alt_source, ...)
    flow_kinds = {"expedite", "switch_mode", "resource", "safety_stock", "add_capacity"}
    assert all(set(s["name"].split("+")) <= flow_kinds for s in result["strategies"]), result["strategies"]

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


STALL_LANE = "LN-0083"  # AS-DC-001 -> AS-CUS-009, road: a 3-day hold of its goods adds loss to a DC outage


def _stall_fixes(lane_id: str) -> list[tuple[str, bytes]]:
    """Two GPS fixes of the lane's tracker at the middle of the lane, far enough apart in time that the lane's
    pace predicts several JUDGE_PROGRESS_M of progress: the twin judges the shipment stalled."""
    from twin.tracking import JUDGE_PROGRESS_M, SECONDS_PER_DAY, distance_m

    network = load_network(Settings().network_file)
    lane = network.lane_by_id[lane_id]
    tracker = next(d for d in network.devices_of(lane_id) if d.kind.value == "gps_tracker")
    a, b = network.node(lane.src).location, network.node(lane.dst).location
    speed = distance_m(a.lat, a.lon, b.lat, b.lon) / (lane.lead_time_days * SECONDS_PER_DAY)
    apart = max(600.0, 5 * JUDGE_PROGRESS_M / speed)
    now = datetime.now(timezone.utc).timestamp()
    fixes = []
    for k, ago in enumerate((apart, 0.0)):
        body = {"schema_version": 1, "device_id": tracker.id, "seq": k + 1,
                "ts": datetime.fromtimestamp(now - ago, timezone.utc).isoformat(),
                "metrics": {"position": {"lat": (a.lat + b.lat) / 2, "lon": (a.lon + b.lon) / 2}}}
        fixes.append((f"dt/{lane_id}/{tracker.id}/telemetry", orjson.dumps(body)))
    return fixes


def test_a_stalled_shipment_seen_by_the_twin_changes_the_flow_deciders_answer(engine: Engine) -> None:
    """Live state across processes: GPS fixes over MQTT -> bridge -> worker (the twin judges the shipment
    stalled and writes it into the lane's end nodes' rows) -> the decider on the flow kernel, whose view of the
    node rows (streams/twin_view.py) holds the lane's goods: the same what-if, same seed, loses more."""
    engine.start("bridge")
    engine.start("worker")
    engine.start("decider", {"OMNITRACK_DECISION_KERNEL": "flow"})
    wait_for(lambda: "bridge running" in engine.log("bridge"), 60, "bridge subscribed")
    _ready(engine)
    node = load_network(Settings().network_file).lane_by_id[STALL_LANE].src
    ask = {"nodes": [node], "duration_days": 7, "trials": 1000, "seed": 5}

    def loss(i: int) -> float:
        answer = _ask(engine, {"request_id": f"stall-{i}", **ask})
        assert answer["status"] == "ok", answer
        return answer["impact"]["lost_revenue"]["mean"]["value"]

    calm = loss(0)
    assert loss(1) == calm                      # same request, same seed, same twin: the same answer
    pub = Publisher(int(engine.env["OMNITRACK_MQTT_PORT"]))
    try:
        pub.publish_many(_stall_fixes(STALL_LANE))
    finally:
        pub.close()
    seen: list[float] = []
    wait_for(lambda: seen.append(loss(len(seen) + 2)) or seen[-1] != calm, 90, "the decider seeing the stall")
    assert seen[-1] > calm, (calm, seen)
