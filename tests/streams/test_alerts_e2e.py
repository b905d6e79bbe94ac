"""Injected anomalies over real Mosquitto and Kafka each raise exactly one alert; flapping does not storm."""

from __future__ import annotations

import json
import threading
import time
from collections import defaultdict
from datetime import datetime, timezone
from pathlib import Path

import orjson
import pytest

from tests.streams.conftest import Engine, Publisher, read_topic, wait_for
from twin.alerts.catalogue import inventory_condition, metric_conditions, silence_condition, Subject
from twin.alerts.contract import decode_event, rebuild
from twin.alerts.severity import risk_table, severity_for
from twin.device_twin import DeviceStatus
from twin.network import SupplyNetwork

pytestmark = pytest.mark.integration

INTERVAL_S = 1.0  # the test network's devices report every second, so silence shows within seconds


def _network() -> dict:
    node = lambda i, kind, inv, demand, crit: {  # noqa: E731
        "id": i, "kind": kind, "name": i, "region": "Europe", "location": {"lat": 50.0, "lon": 8.0},
        "capacity": 1000, "inventory": inv, "daily_demand": demand, "daily_revenue_at_risk": 50_000.0,
        "criticality": crit}
    device = lambda i, kind, at: {"id": i, "kind": kind, "node_id": at, "expected_interval_s": INTERVAL_S}  # noqa: E731
    return {
        "nodes": [node("T-FAC-1", "factory", 5000, 500, 4), node("T-WHS-1", "warehouse", 5000, 500, 3),
                  node("T-CUS-1", "customer", 0, 100, 5), node("T-DC-1", "distribution_centre", 5000, 500, 2)],
        "lanes": [{"id": "T-LN-1", "src": "T-FAC-1", "dst": "T-WHS-1", "mode": "road", "lead_time_days": 2},
                  {"id": "T-LN-2", "src": "T-WHS-1", "dst": "T-CUS-1", "mode": "road", "lead_time_days": 1},
                  {"id": "T-LN-3", "src": "T-WHS-1", "dst": "T-DC-1", "mode": "road", "lead_time_days": 1}],
        "devices": [device("T-REEFER-1", "reefer_temperature", "T-WHS-1"),
                    device("T-VIB-1", "vibration", "T-FAC-1"),
                    device("T-SILENT-1", "vibration", "T-DC-1"),
                    device("T-INV-1", "inventory", "T-WHS-1"),
                    device("T-FLAP-1", "reefer_temperature", "T-DC-1")],
    }


def _reading(device: str, seq: int, metrics: dict) -> dict:
    return {"schema_version": 1, "device_id": device, "ts": datetime.now(timezone.utc).isoformat(), "seq": seq,
            "metrics": metrics}


def test_injected_anomalies_raise_one_alert_each(engine: Engine, tmp_path: Path) -> None:
    data = _network()
    path = tmp_path / "network.json"
    path.write_text(json.dumps(data))
    engine.env["OMNITRACK_NETWORK_FILE"] = str(path)
    network = SupplyNetwork.from_dict(data)
    engine.start("bridge")
    engine.start("worker")
    wait_for(lambda: "bridge running" in engine.log("bridge"), 60, "bridge subscribed")
    wait_for(lambda: "worker assigned" in engine.log("worker"), 60, "worker assigned its partitions")
    pub = Publisher(int(engine.env["OMNITRACK_MQTT_PORT"]))
    seq: dict[str, int] = defaultdict(int)
    stop = threading.Event()

    def send(device: str, site: str, metrics: dict) -> None:
        pub.publish_many([(f"dt/{site}/{device}/telemetry", orjson.dumps(_reading(device, seq[device], metrics)))])
        seq[device] += 1

    # normal operation for a few seconds (the silent device reports too, then stops)
    inventory = 5000.0
    for _ in range(4):
        send("T-REEFER-1", "T-WHS-1", {"temperature": 4.5})
        send("T-VIB-1", "T-FAC-1", {"vibration": 2.0})
        send("T-SILENT-1", "T-DC-1", {"vibration": 1.5})
        send("T-INV-1", "T-WHS-1", {"inventory": int(inventory)})
        send("T-FLAP-1", "T-DC-1", {"temperature": 5.0})
        time.sleep(INTERVAL_S / 2)

    current = {("T-VIB-1", "T-FAC-1"): {"vibration": 2.0}, ("T-REEFER-1", "T-WHS-1"): {"temperature": 4.5},
               ("T-INV-1", "T-WHS-1"): {"inventory": int(inventory)}, ("T-FLAP-1", "T-DC-1"): {"temperature": 5.0}}
    lock = threading.Lock()

    def keep_alive() -> None:  # every device but the silent one keeps reporting its current value
        while not stop.is_set():
            with lock:
                for (device, site), metrics in current.items():
                    send(device, site, metrics)
            stop.wait(INTERVAL_S / 2)

    def set_current(device: str, site: str, metrics: dict) -> None:
        with lock:
            current[(device, site)] = metrics
            send(device, site, metrics)

    alive = threading.Thread(target=keep_alive, daemon=True)
    alive.start()
    try:
        # cold-chain breach, vibration spike, inventory draining, a flapping reefer
        set_current("T-REEFER-1", "T-WHS-1", {"temperature": 12.5})
        set_current("T-VIB-1", "T-FAC-1", {"vibration": 19.0})
        for _ in range(6):
            inventory -= 700  # 5000 -> 800: cover 10 days -> 1.6 days
            set_current("T-INV-1", "T-WHS-1", {"inventory": int(inventory)})
        for i in range(40):
            set_current("T-FLAP-1", "T-DC-1", {"temperature": 8.6 if i % 2 == 0 else 7.4})
            time.sleep(0.05)
        set_current("T-FLAP-1", "T-DC-1", {"temperature": 5.0})

        wanted = {("T-REEFER-1", "cold_chain"), ("T-VIB-1", "vibration_high"), ("T-SILENT-1", "device_silence"),
                  ("T-WHS-1", "inventory_cover"), ("T-FLAP-1", "cold_chain")}

        def by_subject(records: list) -> dict[tuple[str, str], set[str]]:
            ids: dict[tuple[str, str], set[str]] = defaultdict(set)
            for r in records:
                a = decode_event(r.value).alert
                ids[(a.subject_id, a.rule)].add(a.id)
            return ids

        def silent_offline(records: list) -> bool:
            alerts = rebuild(decode_event(r.value) for r in records)
            return any(a.subject_id == "T-SILENT-1" and a.severity.value == "major" for a in alerts.values())

        records = read_topic(engine.env["KAFKA_BOOTSTRAP"], engine.topics.alerts, deadline_s=90,
                             until=lambda recs: set(by_subject(recs)) >= wanted and silent_offline(recs))
    finally:
        stop.set()
        alive.join(5)
        pub.close()

    ids = by_subject(records)
    assert set(ids) == wanted, f"unexpected alerts: {set(ids) ^ wanted}"
    assert all(len(v) == 1 for v in ids.values()), ids  # exactly one alert (occurrence) each
    alerts = {(a.subject_id, a.rule): a for a in rebuild(decode_event(r.value) for r in records).values()}
    risks = risk_table(network)
    devices = {d.id: d for d in network.devices}
    expect = {
        ("T-REEFER-1", "cold_chain"): metric_conditions(devices["T-REEFER-1"], "temperature", 12.5)[0],
        ("T-VIB-1", "vibration_high"): metric_conditions(devices["T-VIB-1"], "vibration", 19.0)[0],
        ("T-SILENT-1", "device_silence"): silence_condition(devices["T-SILENT-1"], DeviceStatus.offline),
        ("T-WHS-1", "inventory_cover"): inventory_condition(Subject.of_node("T-WHS-1"), inventory, 500),
    }
    for key, cond in expect.items():
        alert = alerts[key]
        assert alert.active and alert.site_id == cond.site_id and alert.subject_kind == cond.subject_kind
        assert alert.severity == severity_for(cond.level, risks.get(cond.site_id)), (key, alert.severity)
    # the flapping reefer crossed its limit 20 times: a bounded handful of events, not a storm
    flap_events = [r for r in records if decode_event(r.value).alert.subject_id == "T-FLAP-1"]
    assert len(flap_events) <= 8, [decode_event(r.value).transition.kind.value for r in flap_events]
    assert engine.alive("worker") and engine.alive("bridge")


def test_operator_commands_over_the_commands_topic(engine: Engine, tmp_path: Path) -> None:
    """Acknowledge, assign, comment and clear arrive on `alerts.commands` and each shows on `alerts`."""
    import asyncio

    from aiokafka import AIOKafkaProducer

    data = _network()
    path = tmp_path / "network.json"
    path.write_text(json.dumps(data))
    engine.env["OMNITRACK_NETWORK_FILE"] = str(path)
    engine.start("bridge")
    engine.start("worker")
    wait_for(lambda: "bridge running" in engine.log("bridge"), 60, "bridge subscribed")
    wait_for(lambda: "worker assigned" in engine.log("worker"), 60, "worker assigned its partitions")
    pub = Publisher(int(engine.env["OMNITRACK_MQTT_PORT"]))
    for seq in range(3):
        pub.publish_many([("dt/T-WHS-1/T-REEFER-1/telemetry",
                           orjson.dumps(_reading("T-REEFER-1", seq, {"temperature": 11.0})))])
    pub.close()
    bootstrap, topics = engine.env["KAFKA_BOOTSTRAP"], engine.topics

    def alert_now(records: list):
        alerts = rebuild(decode_event(r.value) for r in records)
        return next((a for a in alerts.values() if a.subject_id == "T-REEFER-1"), None)

    records = read_topic(bootstrap, topics.alerts, until=lambda r: alert_now(r) is not None, deadline_s=90)
    alert = alert_now(records)
    assert alert.active and not alert.acknowledged

    commands = [
        {"action": "ack", "site_id": "T-WHS-1", "alert_id": alert.id, "actor": "ops@site"},
        {"action": "assign", "site_id": "T-WHS-1", "alert_id": alert.id, "actor": "ops@site", "assignee": "tech-7"},
        {"action": "comment", "site_id": "T-WHS-1", "alert_id": alert.id, "actor": "tech-7", "note": "door seal"},
        {"action": "clear", "site_id": "T-WHS-1", "alert_id": alert.id, "actor": "tech-7"},
        {"action": "ack", "site_id": "T-WHS-1", "alert_id": "no-such-alert", "actor": "ops@site"},  # rejected
        {"bogus": True},  # not a command at all: rejected, the agent keeps going
    ]

    async def send() -> None:
        producer = AIOKafkaProducer(bootstrap_servers=bootstrap)
        await producer.start()
        try:
            for command in commands:
                await producer.send_and_wait(topics.alert_commands, key=b"T-WHS-1", value=orjson.dumps(command))
        finally:
            await producer.stop()

    asyncio.run(send())

    def done(records: list) -> bool:
        a = alert_now(records)
        return a is not None and a.acknowledged and not a.active and a.assignee == "tech-7"

    records = read_topic(bootstrap, topics.alerts, until=done, deadline_s=60)
    final = alert_now(records)
    assert final.acknowledged and not final.active and final.assignee == "tech-7"
    kinds = [decode_event(r.value).transition.kind.value for r in records
             if decode_event(r.value).alert.id == alert.id]
    assert kinds[0] == "created" and {"acknowledged", "assigned", "commented", "cleared"} <= set(kinds)
    # the two that could not apply are parked as they were sent, each with its reason and origin
    parked = read_topic(bootstrap, topics.alert_commands_dlq, until=lambda r: len(r) >= 2, deadline_s=30)
    got = {dict(r.headers)["reason"].decode(): orjson.loads(r.value) for r in parked}
    assert set(got) == {"unknown_alert", "invalid"} and got["invalid"] == commands[5], got
    assert commands[4].items() <= got["unknown_alert"].items()  # the command as the worker read it
    assert all(dict(r.headers)["source"].startswith(topics.alert_commands.encode()) or
               dict(r.headers)["source"].startswith(topics.alert_inputs.encode()) for r in parked)
    assert engine.alive("worker")
