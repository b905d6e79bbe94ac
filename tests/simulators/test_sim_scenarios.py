"""Disruption scenarios: every injected event is in the ground truth and visible in the readings."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone
from pathlib import Path

import numpy as np
import orjson
import pytest

from simulators.fleet import (FleetConfig, InjectedEvent, ShardEmitter, build_fleet, load_network, load_scenario,
                              resolve, run_fleet)
from simulators.fleet.config import DEFAULT_NETWORK, DEFAULT_SCENARIO
from simulators.fleet.fleet import Fleet
from simulators.fleet.scenarios import EVENT_TYPES, ScenarioFile
from twin.telemetry import SkewError, TelemetryError, decode_reading

NOW_MS = 1_795_694_340_000
NOW = datetime.fromtimestamp(NOW_MS / 1000, timezone.utc)
SEED = 5
TIME_SCALE = 3600.0  # one wall second = one simulated hour: movement and drain are visible

SCENARIO = {
    "events": [
        {"type": "cold_chain_breach", "select": {"kind": "reefer_temperature", "count": 2}, "start_s": 10, "duration_s": 10},
        {"type": "equipment_failure", "select": {"count": 1}, "start_s": 10, "duration_s": 10},
        {"type": "port_closure", "select": {"count": 1}, "start_s": 10, "duration_s": 10},
        {"type": "supplier_outage", "select": {"count": 1}, "start_s": 10, "duration_s": 10},
        {"type": "device_silent", "select": {"count": 3}, "start_s": 10, "duration_s": 10},
        {"type": "clock_skew", "select": {"count": 2}, "start_s": 10, "duration_s": 10, "skew_s": 900},
        {"type": "duplicates", "start_s": 10, "duration_s": 10, "rate": 0.05},
        {"type": "reorder", "start_s": 10, "duration_s": 10, "rate": 0.05},
        {"type": "malformed", "start_s": 10, "duration_s": 10, "rate": 0.05},
    ]
}


@pytest.fixture(scope="module")
def fleet() -> Fleet:
    return build_fleet(load_network(DEFAULT_NETWORK), scale=1, seed=SEED)


@pytest.fixture(scope="module")
def events(fleet: Fleet) -> list[InjectedEvent]:
    return resolve(ScenarioFile.model_validate(SCENARIO), fleet, SEED)


@pytest.fixture(scope="module")
def snapshots(fleet: Fleet, events: list[InjectedEvent]) -> dict[float, list]:
    """Every device's reading (and the raw messages) at run offsets before, during and after."""
    em = ShardEmitter(fleet, np.arange(len(fleet)), events, seed=SEED, batch_size=100, time_scale=TIME_SCALE)
    out = {}
    for t in (5.0, 11.0, 15.0, 19.0, 25.0):
        out[t] = em.tick(len(fleet), t, NOW_MS) + em.flush_held()
    return out


def _by_device(msgs: list) -> dict[str, dict]:
    out: dict[str, dict] = {}
    for m in msgs:
        if m.readings == 0:
            continue
        body = orjson.loads(m.payload)
        for r in body.get("readings", [body]):
            out[r["device_id"]] = r
    return out


def test_default_scenario_file_resolves(fleet: Fleet) -> None:
    events = resolve(load_scenario(DEFAULT_SCENARIO), fleet, SEED)
    assert {e.type for e in events} == set(EVENT_TYPES)
    assert all(e.devices for e in events if e.subject_type != "fleet")


def test_unknown_subject_is_an_error(fleet: Fleet) -> None:
    bad = ScenarioFile.model_validate({"events": [{"type": "device_silent", "devices": ["nope"], "start_s": 0,
                                                   "duration_s": 1}]})
    with pytest.raises(ValueError, match="unknown devices"):
        resolve(bad, fleet, SEED)


def _of(events: list[InjectedEvent], kind: str) -> list[InjectedEvent]:
    found = [e for e in events if e.type == kind]
    assert found, kind
    return found


def test_cold_chain_breach_above_8c(events, snapshots) -> None:
    for ev in _of(events, "cold_chain_breach"):
        (dev,) = ev.devices
        assert _by_device(snapshots[5.0])[dev]["metrics"]["temperature"] < 8.0
        for t in (11.0, 15.0, 19.0):
            assert _by_device(snapshots[t])[dev]["metrics"]["temperature"] > 8.0
        assert _by_device(snapshots[25.0])[dev]["metrics"]["temperature"] < 8.0


def test_equipment_failure_vibration_spike(events, snapshots) -> None:
    (ev,) = _of(events, "equipment_failure")
    (dev,) = ev.devices
    before = _by_device(snapshots[5.0])[dev]["metrics"]["vibration"]
    during = _by_device(snapshots[15.0])[dev]["metrics"]["vibration"]
    assert during > 5 * before


def test_port_closure_stops_trackers(events, snapshots) -> None:
    (ev,) = _of(events, "port_closure")
    assert ev.subject_type == "node" and ev.lanes and ev.devices
    for dev in ev.devices:
        a = _by_device(snapshots[11.0])[dev]["metrics"]["position"]
        b = _by_device(snapshots[19.0])[dev]["metrics"]["position"]
        assert abs(a["lat"] - b["lat"]) < 1e-3 and abs(a["lon"] - b["lon"]) < 1e-3  # jitter only
    a, b = _by_device(snapshots[11.0]), _by_device(snapshots[19.0])
    moving = [d for d, r in b.items() if "position" in r["metrics"] and d not in ev.devices and d in a]
    assert len(moving) > 100  # trackers elsewhere kept moving
    assert all(a[d]["metrics"]["position"] != b[d]["metrics"]["position"] for d in moving)


def test_supplier_outage_drains_downstream_inventory(events, snapshots) -> None:
    (ev,) = _of(events, "supplier_outage")
    inv = [d for d in ev.devices if "inventory" in _by_device(snapshots[11.0]).get(d, {"metrics": {}})["metrics"]]
    assert inv
    for dev in inv:
        series = [_by_device(snapshots[t])[dev]["metrics"]["inventory"] for t in (11.0, 15.0, 19.0)]
        assert series == sorted(series, reverse=True) and series[0] > series[-1] >= 0
    thr = [d for d in ev.devices if d not in inv]
    for dev in thr:
        assert _by_device(snapshots[15.0])[dev]["metrics"]["throughput"] == 0.0


def test_device_silent(events, snapshots) -> None:
    for ev in _of(events, "device_silent"):
        (dev,) = ev.devices
        assert dev in _by_device(snapshots[5.0]) and dev in _by_device(snapshots[25.0])
        assert dev not in _by_device(snapshots[15.0])
        # The device kept counting while silent: the twin sees a sequence gap.
        assert _by_device(snapshots[25.0])[dev]["seq"] == 4


def test_clock_skew_rejected_by_contract(events, snapshots) -> None:
    for ev in _of(events, "clock_skew"):
        (dev,) = ev.devices
        r = _by_device(snapshots[15.0])[dev]
        assert r["ts"] == NOW_MS + 900_000
        with pytest.raises(SkewError):
            decode_reading(orjson.dumps(r), f"dt/x/{dev}/telemetry", NOW)


def test_message_faults_only_inside_their_window(snapshots) -> None:
    for t, msgs in snapshots.items():
        payloads = [m.payload for m in msgs]
        bad = [m for m in msgs if m.readings == 0]
        dupes = len(payloads) - len(set(payloads))
        inside = 10.0 <= t < 20.0
        assert (len(bad) > 0) == inside and (dupes > 0) == inside, t
        for m in bad:
            with pytest.raises(TelemetryError):
                decode_reading(m.payload, m.topic, NOW)


def test_everything_else_is_valid(events, snapshots) -> None:
    skewed = {d for e in events if e.type == "clock_skew" for d in e.devices}
    for t, msgs in snapshots.items():
        for m in msgs:
            if m.readings == 0 or (10.0 <= t < 20.0 and any(d.encode() in m.payload for d in skewed)):
                continue
            assert len(decode_reading(m.payload, m.topic, NOW)) == m.readings


def test_run_writes_every_event_to_ground_truth(tmp_path: Path) -> None:
    scenario = tmp_path / "s.json"
    scenario.write_text(json.dumps({"events": [{**e, "start_s": 0.5, "duration_s": 1.0} for e in SCENARIO["events"]]}))
    truth = tmp_path / "truth.jsonl"
    cfg = FleetConfig(scale=1, seed=SEED, rate=4000, duration_s=2.0, transport="null", processes=2,
                      scenario_path=scenario, ground_truth_path=truth, progress=False)
    report = run_fleet(cfg)
    lines = [InjectedEvent.model_validate_json(x) for x in truth.read_text().splitlines()]
    expected = resolve(load_scenario(scenario), build_fleet(load_network(DEFAULT_NETWORK), seed=SEED), SEED)
    assert report.ground_truth_events == len(lines) == len(expected)
    assert [(e.event_id, e.type, e.subject_type, e.subject_id, e.devices) for e in lines] == \
           [(e.event_id, e.type, e.subject_type, e.subject_id, e.devices) for e in expected]
    t0 = datetime.fromisoformat(report.started_at)
    for e in lines:
        assert e.start is not None and e.end is not None
        assert abs((e.start - t0).total_seconds() - 0.5) < 1e-3 and abs((e.end - t0).total_seconds() - 1.5) < 1e-3
    assert set(report.injected) == {"duplicates", "reorder", "malformed"}
    assert report.readings_sent > 0.9 * 4000 * 2


def test_reordered_message_goes_out_after_its_publishers_next_and_the_twin_sees_it_late(fleet: Fleet) -> None:
    """A held message overtakes nobody else's: its own gateway's/device's next message goes first, so the
    devices in it have a newer reading applied already and the twin counts the held one as `late`."""
    from twin.device_twin import apply_reading

    scenario = ScenarioFile.model_validate({"events": [{"type": "reorder", "start_s": 0, "duration_s": 100, "rate": 0.05}]})
    em = ShardEmitter(fleet, np.arange(len(fleet)), resolve(scenario, fleet, SEED), seed=SEED, batch_size=100)
    msgs = []
    for k in range(4):
        msgs += em.tick(len(fleet), 1.0 + k, NOW_MS + 1000 * k)
    released_in_run = em.injected["reorder"] - len(em._held)
    msgs += em.flush_held()
    assert released_in_run > 0
    states: dict = {}
    kinds: dict[str, int] = {}
    for m in msgs:
        if m.readings == 0:
            continue
        for reading in decode_reading(m.payload, m.topic, NOW + timedelta(seconds=10)):
            states[reading.device_id], out = apply_reading(states.get(reading.device_id), reading)
            kinds[out.kind] = kinds.get(out.kind, 0) + 1
    assert kinds.get("late", 0) >= released_in_run  # every reading of a held message released in the run
