"""The bridge's two transports: awsiotsdk over the mTLS listener (as with AWS IoT Core), and two paho
bridges sharing the load through an MQTT shared subscription; a persistent session that changes between the
shared and the plain form."""

from __future__ import annotations

from datetime import datetime, timezone

import orjson
import pytest

from streams.bridge.subscriptions import DEFAULT_SHARE_GROUP
from streams.records import decode_telemetry
from omnitrack.progress import scrape
from tests.streams.conftest import Engine, Publisher, read_topic, wait_for

pytestmark = pytest.mark.integration


def _items(n: int, tag: str) -> list[tuple[str, bytes]]:
    ts = datetime.now(timezone.utc).isoformat()
    return [(f"dt/site-{tag}/{tag}-{i % 50:03d}/telemetry",
             orjson.dumps({"schema_version": 1, "device_id": f"{tag}-{i % 50:03d}", "ts": ts, "seq": i // 50,
                           "metrics": {"temperature": 4.0}})) for i in range(n)]


def _pairs(records: list) -> set[tuple[str, int]]:
    return {(w["device_id"], w["seq"]) for r in records for w in decode_telemetry(r.value)}


def test_awsiot_transport_over_mtls(engine: Engine) -> None:
    engine.start("bridge", {"OMNITRACK_BRIDGE_TRANSPORT": "awsiot", "OMNITRACK_IOT_ENDPOINT": "localhost"})
    wait_for(lambda: "bridge running" in engine.log("bridge"), 60, "awsiot bridge subscribed over mTLS")
    n = 500
    pub = Publisher(int(engine.env["OMNITRACK_MQTT_PORT"]))
    pub.publish_many(_items(n, "aws"))
    pub.close()
    expected = {(f"aws-{i % 50:03d}", i // 50) for i in range(n)}
    records = read_topic(engine.env["KAFKA_BOOTSTRAP"], engine.topics.telemetry,
                         until=lambda r: _pairs(r) >= expected, deadline_s=60)
    assert _pairs(records) == expected
    assert engine.alive("bridge")


def test_two_bridges_share_one_subscription(engine: Engine) -> None:
    first = engine.start("bridge")
    wait_for(lambda: engine.log("bridge").count("bridge running") >= 1, 60, "first bridge subscribed")
    engine.procs["bridge-a"] = first
    engine.start("bridge", {"OMNITRACK_BRIDGE_CLIENT_ID": engine.env["OMNITRACK_BRIDGE_CLIENT_ID"] + "-b",
                            "OMNITRACK_METRICS_PORT": str(int(engine.env["OMNITRACK_METRICS_PORT"]) + 2)})
    wait_for(lambda: engine.log("bridge").count("bridge running") >= 2, 60, "second bridge subscribed")
    n = 2000
    pub = Publisher(int(engine.env["OMNITRACK_MQTT_PORT"]))
    pub.publish_many(_items(n, "shr"))
    pub.close()
    expected = {(f"shr-{i % 50:03d}", i // 50) for i in range(n)}
    records = read_topic(engine.env["KAFKA_BOOTSTRAP"], engine.topics.telemetry,
                         until=lambda r: _pairs(r) >= expected, deadline_s=60)
    readings = [w for r in records for w in decode_telemetry(r.value)]
    assert _pairs(records) == expected
    assert len(readings) == n  # each message went to one bridge of the group, not to both
    base = int(engine.env["OMNITRACK_METRICS_PORT"])
    shares = [scrape(port, "omnitrack_bridge_readings_total") for port in (base, base + 2)]
    assert sum(shares) == n and min(shares) > 0, shares  # both bridges carried part of the load


def test_a_persistent_session_changing_form_delivers_each_reading_once(engine: Engine) -> None:
    """A bridge whose session held the default shared subscription restarts with a plain one (what `omnitrack run`
    does since the plain form became its default) and back: each form drops the other, so no reading comes twice
    (streams/bridge/subscriptions.py). Without that, the session holds both and the broker sends everything twice."""
    port = int(engine.env["OMNITRACK_MQTT_PORT"])
    for phase, group in enumerate([DEFAULT_SHARE_GROUP, "", DEFAULT_SHARE_GROUP]):
        name = f"bridge-{phase}"
        engine.start("bridge", {"OMNITRACK_BRIDGE_SHARE_GROUP": group}, name=name)
        wait_for(lambda: "bridge running" in engine.log(name), 60, f"{name} subscribed")
        if phase == 0:
            engine.kill(name)  # its session, and the shared subscription in it, outlive it
            continue
        tag = f"f{phase}"
        items = _items(550, tag)
        # the last reading per device goes after the rest: any copy of an earlier one precedes it in its partition
        for batch in (items[:500], items[500:]):
            pub = Publisher(port)
            pub.publish_many(batch)
            pub.close()
        expected = {(f"{tag}-{i % 50:03d}", i // 50) for i in range(550)}
        records = read_topic(engine.env["KAFKA_BOOTSTRAP"], engine.topics.telemetry,
                             until=lambda r: _pairs(r) >= expected, deadline_s=60)
        # this phase's readings only: the killed bridge's unacknowledged ones may rightly come again
        readings = [(w["device_id"], w["seq"]) for r in records for w in decode_telemetry(r.value)
                    if w["device_id"].startswith(tag)]
        assert set(readings) == expected
        assert len(readings) == len(items), f"phase {phase}: {len(readings) - len(items)} readings came twice"
        engine.kill(name)
