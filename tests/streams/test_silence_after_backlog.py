"""A worker that has just read a backlog still judges silence once it is caught up.

Behind a backlog the worker judges each device on its own partition's newest reading (`streams.silence_clock`); the
lag that says it is behind was measured only as records were applied, so after a backlog's last record, read seconds
after the bridge took it, the worker counted as behind for good and a device alone on its partition was never found
silent again (the fleet bench at 5,000 readings/s found none of its 5 silent devices, 2026-12-08)."""

from __future__ import annotations

import json
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

import orjson
import pytest

from streams.silence_clock import SILENCE_MAX_LAG_S
from tests.streams.conftest import Engine, Publisher, read_topic, wait_for
from twin.alerts.contract import decode_event

pytestmark = pytest.mark.integration

LIVE, GONE = "T-LIVE-1", "T-GONE-1"


def _network() -> dict:
    node = lambda i, kind: {  # noqa: E731
        "id": i, "kind": kind, "name": i, "region": "Europe", "location": {"lat": 50.0, "lon": 8.0},
        "capacity": 1000, "inventory": 500, "daily_demand": 50, "daily_revenue_at_risk": 10_000.0, "criticality": 3}
    device = lambda i, at: {"id": i, "kind": "vibration", "node_id": at, "expected_interval_s": 1.0}  # noqa: E731
    return {"nodes": [node("T-FAC-1", "factory"), node("T-WHS-1", "warehouse")],
            "lanes": [{"id": "T-LN-1", "src": "T-FAC-1", "dst": "T-WHS-1", "mode": "road", "lead_time_days": 1}],
            "devices": [device(LIVE, "T-FAC-1"), device(GONE, "T-WHS-1")]}


def _reading(device: str, seq: int, ts: datetime) -> bytes:
    return orjson.dumps({"schema_version": 1, "device_id": device, "ts": ts.isoformat(), "seq": seq,
                         "metrics": {"vibration": 2.0 + 0.01 * (seq % 3)}})


def test_silence_is_judged_once_a_backlog_is_read(engine: Engine, tmp_path: Path) -> None:
    path = tmp_path / "network.json"
    path.write_text(json.dumps(_network()))
    engine.env["OMNITRACK_NETWORK_FILE"] = str(path)
    engine.start("bridge")
    wait_for(lambda: "bridge running" in engine.log("bridge"), 60, "bridge subscribed")
    # 50 s of readings, sent at once before any worker runs: GONE stops after 4, LIVE reports to the end, so at the
    # newest reading's time GONE has been silent for 45 expected intervals (offline after 5)
    end = datetime.now(timezone.utc)
    start = end - timedelta(seconds=50)
    items = [(f"dt/T-WHS-1/{GONE}/telemetry", _reading(GONE, i, start + timedelta(seconds=i))) for i in range(4)]
    items += [(f"dt/T-FAC-1/{LIVE}/telemetry", _reading(LIVE, i, start + timedelta(seconds=i))) for i in range(51)]
    pub = Publisher(int(engine.env["OMNITRACK_MQTT_PORT"]))
    try:
        pub.publish_many(items)
    finally:
        pub.close()
    sent = time.time()
    # the precondition, not the outcome: every record the worker reads is older than the lag it calls "behind"
    wait_for(lambda: time.time() - sent > SILENCE_MAX_LAG_S + 1, 10, "the backlog to age")
    engine.start("worker")

    def silence_alerts(records: list) -> set[str]:
        return {a.subject_id for a in (decode_event(r.value).alert for r in records) if a.rule == "device_silence"}

    records = read_topic(engine.env["KAFKA_BOOTSTRAP"], engine.topics.alerts, deadline_s=90,
                         until=lambda recs: GONE in silence_alerts(recs))
    assert GONE in silence_alerts(records), f"no silence alert after the backlog: {engine.log('worker')[-1500:]}"
    assert LIVE not in silence_alerts(records)  # judged on the stream's time, not the wall clock: LIVE is current
