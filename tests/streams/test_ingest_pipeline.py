"""MQTT → bridge → Kafka → twin over the real stack: valid readings reach the twin, bad ones the DLQ."""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime, timedelta, timezone

import orjson
import pytest

from streams.records import decode_telemetry
from tests.streams.conftest import Engine, Publisher, latest_by_key, read_topic, wait_for

pytestmark = pytest.mark.integration

def _network_device_ids() -> list[tuple[str, str]]:
    from omnitrack.settings import Settings
    from streams.network_file import load_network

    net = load_network(Settings().network_file)
    return [(d.id, d.site_id) for d in net.devices]


def _reading(device: str, seq: int, ts: datetime, temp: float) -> dict:
    return {"schema_version": 1, "device_id": device, "ts": ts.isoformat(), "seq": seq,
            "metrics": {"temperature": temp}}


def test_readings_reach_twin_and_bad_input_reaches_dlq(engine: Engine) -> None:
    engine.env["OMNITRACK_DEVICE_REGISTRY"] = "true"
    engine.start("bridge")
    engine.start("worker")
    wait_for(lambda: "bridge running" in engine.log("bridge"), 60, "bridge subscribed")
    port = int(engine.env["OMNITRACK_MQTT_PORT"])
    devices = _network_device_ids()
    singles, batched = devices[:3], devices[3:7]
    base = datetime.now(timezone.utc).replace(second=0, microsecond=0) - timedelta(minutes=2)

    sent: list[dict] = []
    items: list[tuple[str, bytes]] = []
    for dev, site in singles:
        for seq in range(10):
            r = _reading(dev, seq, base + timedelta(seconds=5 * seq), 2.0 + seq * 0.5)
            sent.append(r)
            items.append((f"dt/{site}/{dev}/telemetry", orjson.dumps(r)))
    items.append(items[4])  # a duplicate delivery of one reading
    gw = [_reading(dev, seq, base + timedelta(seconds=3 * seq), 20.0 + seq) for dev, _ in batched for seq in range(5)]
    sent.extend(gw)
    items.append(("dt/SITE-GW/gateway/gw-1/batch",
                  orjson.dumps({"schema_version": 1, "gateway_id": "gw-1", "site_id": "SITE-GW", "readings": gw})))

    dev0, site0 = singles[0]
    good = orjson.dumps(_reading(dev0, 99, base, 4.0))
    bad = {
        "not_json": b'{"schema_version": 1, "device_id": ',
        "schema": orjson.dumps({"schema_version": 1, "device_id": dev0, "metrics": {"temperature": 4.0}}),
        "out_of_range": orjson.dumps(_reading(dev0, 100, base, 1000.0)),
        "too_large": good[:-1] + b"," + b'"pad":"' + b"x" * 131_000 + b'"}',
        "unknown_device": orjson.dumps(_reading("NOT-A-DEVICE", 1, base, 4.0)),
        "topic_mismatch": orjson.dumps(_reading(singles[1][0], 101, base, 4.0)),
    }
    garbage = bytes(range(256)) * 4
    bad_items = [(f"dt/{site0}/{'NOT-A-DEVICE' if k == 'unknown_device' else dev0}/telemetry", v) for k, v in bad.items()]
    bad_items.append((f"dt/{site0}/{dev0}/telemetry", garbage))

    pub = Publisher(port)
    pub.publish_many(items[:15] + bad_items + items[15:])
    after_garbage = _reading(dev0, 10, base + timedelta(seconds=65), 9.5)  # next minute: closes dev0's window
    pub.publish_many([(f"dt/{site0}/{dev0}/telemetry", orjson.dumps(after_garbage))])
    sent.append(after_garbage)
    pub.close()
    assert engine.alive("bridge"), engine.log("bridge")

    topics = engine.topics
    bootstrap = engine.env["KAFKA_BOOTSTRAP"]

    # Kafka: every valid reading is in `telemetry` (the duplicate delivery may appear twice)
    def readings_in(records: list) -> list[dict]:
        return [w for r in records for w in decode_telemetry(r.value)]

    expected = {(r["device_id"], r["seq"]) for r in sent}
    records = read_topic(bootstrap, topics.telemetry,
                         until=lambda recs: {(w["device_id"], w["seq"]) for w in readings_in(recs)} >= expected)
    got = readings_in(records)
    assert {(w["device_id"], w["seq"]) for w in got} == expected
    for record in records:  # every reading in a record maps to the record's partition
        assert len({w["device_id"] for w in decode_telemetry(record.value)}) >= 1

    # DLQ: one record per malformed message, raw bytes kept, reason in headers
    dlq = read_topic(bootstrap, topics.telemetry_dlq, until=lambda recs: len(recs) >= len(bad_items))
    reasons = defaultdict(list)
    for r in dlq:
        reasons[dict(r.headers)["reason"].decode()].append(r.value)
    assert len(dlq) == len(bad_items)
    for reason, payload in bad.items():
        assert payload in reasons[reason], f"{reason} missing or altered in the DLQ: {sorted(reasons)}"
    assert garbage in reasons["not_json"]
    assert all(dict(r.headers)["mqtt_topic"].startswith(b"dt/") for r in dlq)

    # Twin: per-device counts exact (the duplicate recognised), last values, aggregates
    per_device = defaultdict(list)
    for r in sent:
        per_device[r["device_id"]].append(r)

    def twin_rows(recs: list) -> dict[str, dict]:
        return {k.decode(): orjson.loads(v) for k, v in latest_by_key(recs).items()}

    changelog = topics.changelog("devices")
    rows = twin_rows(read_topic(bootstrap, changelog, until=lambda recs: all(
        twin_rows(recs).get(d, {}).get("readings_applied") == len(rs) for d, rs in per_device.items()), deadline_s=120))
    for device, readings in per_device.items():
        row = rows[device]
        assert row["readings_applied"] == len(readings), device
        newest = max(readings, key=lambda r: r["ts"])
        assert row["last_values"]["temperature"][0] == newest["metrics"]["temperature"]
    assert rows[dev0]["duplicates"] == 1
    assert rows[dev0]["seq_gaps"] == 0 or rows[dev0]["max_seq"] == 10

    # 1-minute aggregates: closed windows in the windowed history table, the open one in the device row
    agg_records = read_topic(bootstrap, topics.changelog("aggregates"),
                             until=lambda recs: len(latest_by_key(recs)) >= 1, deadline_s=30)
    aggregates: dict[tuple[str, int], dict] = {}
    for key, value in latest_by_key(agg_records).items():
        (device, (start, _end)) = orjson.loads(key)
        aggregates[(device, int(start))] = orjson.loads(value)["temperature"]
    for device, row in rows.items():
        if row["window"]:
            aggregates[(device, row["window"]["start_s"])] = row["window"]["metrics"]["temperature"]
    assert (dev0, int(base.timestamp())) in aggregates and rows[dev0]["window"]["start_s"] == int(base.timestamp()) + 60
    for device, readings in per_device.items():
        windows = defaultdict(list)
        for r in readings:
            ts = datetime.fromisoformat(r["ts"]).timestamp()
            windows[int(ts // 60 * 60)].append(r["metrics"]["temperature"])
        for start, temps in windows.items():
            agg = aggregates[(device, start)]
            assert agg["count"] == len(temps)
            assert agg["min"] == min(temps) and agg["max"] == max(temps)
            assert agg["mean"] == pytest.approx(sum(temps) / len(temps))
    assert engine.alive("bridge") and engine.alive("worker")


def test_worker_dead_letters_records_it_cannot_decode_and_goes_on(engine: Engine) -> None:
    """A record on `telemetry` that our bridge did not write is parked with its reason; the worker keeps going."""
    import asyncio

    from aiokafka import AIOKafkaProducer

    from streams.admin import ensure_topics
    from streams.records import encode_telemetry

    bootstrap = engine.env["KAFKA_BOOTSTRAP"]
    topics = engine.topics
    asyncio.run(ensure_topics(bootstrap, topics))
    engine.start("worker")
    wait_for(lambda: "worker assigned" in engine.log("worker"), 60, "worker assigned its partitions")
    now_ms = int(datetime.now(timezone.utc).timestamp() * 1000)
    bad = [b"\x00\x01garbage", orjson.dumps({"v": 2, "readings": []}),
           encode_telemetry([{"schema_version": 1, "device_id": "dev-bad", "ts": now_ms, "seq": 1,
                              "metrics": {"temperature": 1000.0}}])]
    good = encode_telemetry([{"schema_version": 1, "device_id": "dev-good", "ts": now_ms, "seq": 1,
                              "metrics": {"temperature": 4.0}}])

    async def produce() -> None:
        producer = AIOKafkaProducer(bootstrap_servers=bootstrap)
        await producer.start()
        try:
            for value in bad:
                await producer.send_and_wait(topics.telemetry, value, key=b"dev-good")
            await producer.send_and_wait(topics.telemetry, good, key=b"dev-good")  # same partition, after them
        finally:
            await producer.stop()

    asyncio.run(produce())
    dlq = read_topic(bootstrap, topics.telemetry_dlq, until=lambda recs: len(recs) >= len(bad))
    assert sorted(r.value for r in dlq) == sorted(bad)
    assert {dict(r.headers)["reason"] for r in dlq} == {b"bad_record"}
    rows = read_topic(bootstrap, topics.changelog("devices"), until=lambda recs: b"dev-good" in latest_by_key(recs))
    assert orjson.loads(latest_by_key(rows)[b"dev-good"])["readings_applied"] == 1
    assert b"dev-bad" not in latest_by_key(rows)
    assert engine.alive("worker"), engine.log("worker")
