"""Pure parts of the API's read model added for the console: lanes with stalled shipments (lanes.py), an alert's
transitions and the devices behind it (alert_detail.py), twin list paging, and the event stream writing a burst
in a few writes (live.py). No Kafka."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import orjson
import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from omnitrack.settings import Settings
from streams.api import live
from streams.api.alert_detail import MAX_TRANSITIONS, alert_devices, rule_metric
from streams.api.lanes import LaneStalls, lane_page
from streams.api.views import TWIN_KEY_SHAPES, ReadModel, decode_cursor, encode_cursor
from streams.network_file import load_network
from tests.streams.api.helpers import T0, alert_event
from twin.alerts.models import TransitionKind

NETWORK = load_network(Settings().network_file)
LANE = next(lane for lane in NETWORK.lanes if any(d.lane_id == lane.id for d in NETWORK.devices))
TRACKER = next(d.id for d in NETWORK.devices if d.lane_id == LANE.id)


def node_row(stalled: dict[str, str]) -> bytes:
    return orjson.dumps({"level": "ok", "devices": {}, "stalled": stalled})


def test_a_stall_counts_once_per_lane_until_both_ends_let_go() -> None:
    model = ReadModel()
    model.apply_twin_row("node", LANE.src.encode(), node_row({TRACKER: LANE.id, "T-2": LANE.id}))
    assert [c["lane_id"] for c in model.lanes.drain()] == [LANE.id]
    model.apply_twin_row("node", LANE.dst.encode(), node_row({TRACKER: LANE.id}))  # the other end says so too
    assert model.lanes.drain() == []  # no news: the lane already had both
    assert model.lanes.stalled() == {LANE.id: 2} and model.lanes.trackers(LANE.id) == sorted(["T-2", TRACKER])
    model.apply_twin_row("node", LANE.src.encode(), node_row({}))  # moving again, says one end
    [change] = model.lanes.drain()
    assert (change["type"], change["lane_id"], change["stalled_shipments"], change["trackers"]) == (
        "lane_stall", LANE.id, 1, [TRACKER])  # T-2 was stalled at one end only; TRACKER still at the other
    model.apply_twin_row("node", LANE.dst.encode(), None)  # a tombstone: the row is gone
    assert model.lanes.drain()[0]["stalled_shipments"] == 0 and model.lanes.stalled() == {}
    model.apply_twin_row("node", b"N-X", orjson.dumps({"stalled": {"T": 5, "U": None}}))  # not ours: ignored
    assert model.lanes.stalled() == {}


def test_lane_page_most_stalled_first_and_paged() -> None:
    stalls = LaneStalls()
    other = next(lane for lane in NETWORK.lanes if lane.id != LANE.id)
    stalls.apply_node_row(LANE.src, {"stalled": {"T1": LANE.id, "T2": LANE.id}})
    stalls.apply_node_row(other.src, {"stalled": {"T3": other.id, "T9": "L-UNKNOWN"}})
    page, total, last = lane_page(stalls, NETWORK, limit=2)
    assert total == len(NETWORK.lanes) + 1
    assert [(p["id"], p["stalled_shipments"]) for p in page] == [(LANE.id, 2), *sorted(
        [(other.id, 1), ("L-UNKNOWN", 1)])][:2]
    assert page[0]["src"] == LANE.src and page[0]["trackers"] == ["T1", "T2"]
    rest, _, last = lane_page(stalls, NETWORK, limit=1000, after=decode_cursor(encode_cursor(last), (int, str)))
    assert len(rest) == total - 2 and last is None and rest[0]["stalled_shipments"] == 1
    stalled, count, _ = lane_page(stalls, NETWORK, stalled=True)
    assert count == 3 and all(p["stalled_shipments"] > 0 for p in stalled)
    assert next(p for p in stalled if p["id"] == "L-UNKNOWN")["src"] is None
    assert lane_page(stalls, None, stalled=False)[1] == 0  # no network file: only the lanes the rows name


def test_twin_pages_follow_their_cursor_without_repeats() -> None:
    model = ReadModel()
    for i in range(7):
        model.apply_twin_row("node", f"N{i}".encode(), orjson.dumps(
            {"level": ["ok", "critical", "degraded"][i % 3], "days_of_cover": None if i == 4 else float(i)}))
    seen, after = [], None
    while True:
        page, total, last = model.twin_page("node", limit=3, after=after)
        seen += [n["id"] for n in page]
        assert total == 7
        if last is None:
            break
        after = decode_cursor(encode_cursor(last), TWIN_KEY_SHAPES["node"])
    assert seen == [n["id"] for n in model.twin_list("node", limit=100)] and len(set(seen)) == 7
    with pytest.raises(ValueError):  # a device cursor is no node cursor
        decode_cursor(encode_cursor(("2026-01-01", "D1")), TWIN_KEY_SHAPES["node"])


def test_an_alert_keeps_its_transitions_by_version() -> None:
    model = ReadModel()
    model.apply_alert(alert_event("a", 2, kind=TransitionKind.acknowledged).model_dump_json().encode())
    model.apply_alert(alert_event("a", 1).model_dump_json().encode())  # late: not the snapshot, but history
    model.apply_alert(alert_event("a", 1).model_dump_json().encode())  # redelivered: once
    assert [(t["version"], t["kind"]) for t in model.trail.transitions("a")] == [(1, "created"), (2, "acknowledged")]
    for version in range(3, MAX_TRANSITIONS + 10):
        model.apply_alert(alert_event("a", version, kind=TransitionKind.commented).model_dump_json().encode())
    kept = [t["version"] for t in model.trail.transitions("a")]
    assert len(kept) == MAX_TRANSITIONS and kept[0] == 1 and kept[-1] == MAX_TRANSITIONS + 9


def test_the_devices_behind_an_alert() -> None:
    model = ReadModel()
    reefer = next(d for d in NETWORK.devices if d.kind.value == "reefer_temperature" and d.node_id)
    start = int(T0.timestamp())
    model.apply_twin_row("device", reefer.id.encode(), orjson.dumps(
        {"status": "online", "readings_applied": 4, "last_values": {"temperature": [12.5, 3]}}))
    model.history.apply(orjson.dumps([reefer.id, [start - 120, start - 60.1]]), orjson.dumps(
        {"temperature": {"count": 2, "min": 4.0, "max": 12.5, "sum": 16.5, "mean": 8.25}}))
    alert = alert_event("c1", rule="cold_chain").alert.model_copy(update={"subject_id": reefer.id})
    [device] = alert_devices(alert, model, NETWORK, (T0 + timedelta(minutes=5)).timestamp())
    assert (device["id"], device["why"], device["kind"], device["node_id"], device["status"]) == (
        reefer.id, "subject", "reefer_temperature", reefer.node_id, "online")
    assert device["metric"] == "temperature"
    assert [w["metrics"]["temperature"]["max"] for w in device["recent"]] == [12.5]
    assert device["last_values"] == {"temperature": [12.5, 3]}
    # a node's lanes_stalled alert: the trackers stalled on its lanes
    model.apply_twin_row("node", LANE.src.encode(), node_row({TRACKER: LANE.id}))
    node_alert = alert.model_copy(update={"subject_kind": "node", "subject_id": LANE.src, "rule": "lanes_stalled"})
    [tracker] = alert_devices(node_alert, model, NETWORK, T0.timestamp())
    assert (tracker["id"], tracker["why"], tracker["metric"], tracker["status"]) == (
        TRACKER, f"stalled on lane {LANE.id}", None, None)
    # a site alert: its children's subjects
    parent = alert.model_copy(update={"id": "p1", "subject_kind": "site", "subject_id": reefer.node_id})
    model.apply_alert(alert_event("k1").model_copy(update={"alert": alert_event("k1").alert.model_copy(
        update={"parent_id": "p1"})}).model_dump_json().encode())
    assert [(d["id"], d["why"]) for d in alert_devices(parent, model, NETWORK, T0.timestamp())] == [
        ("D-k1", "child alert temperature_high")]
    assert rule_metric("anomaly_shock", "shock") == "shock" and rule_metric("cold_chain", "door") == "door_open"


def test_a_burst_goes_out_in_a_few_writes(monkeypatch: pytest.MonkeyPatch) -> None:
    """1,000 changes waiting are written in batches of BATCH_MAX, not one write each (which once fell behind
    1,000 changes/s and cut the page off)."""
    writes: list[int] = []
    original = web.StreamResponse.write

    async def counted(self: web.StreamResponse, data: bytes) -> None:
        writes.append(len(data))
        await original(self, data)

    monkeypatch.setattr(web.StreamResponse, "write", counted)
    hub = live.TwinHub()

    async def handler(request: web.Request) -> web.StreamResponse:
        return await live.stream_twin_response(request, hub, None)

    async def run() -> None:
        app = web.Application()
        app.router.add_get("/s", handler)
        async with TestClient(TestServer(app)) as client:
            response = await client.get("/s")
            assert await response.content.readline() == b"retry: 3000\n"
            while not len(hub):
                await asyncio.sleep(0.01)
            for i in range(1000):
                hub.publish({"v": 1, "type": "node_health", "node_id": f"N{i}", "current": "ok"})
            got = 0
            while got < 1000:
                line = await asyncio.wait_for(response.content.readline(), 10)
                got += line.startswith(b"data:")
                assert not line.startswith(b"event: overflow")
            response.close()

    asyncio.run(run())
    assert len(writes) <= 1 + 2 * (1000 // live.BATCH_MAX + 1), len(writes)  # the retry line, then batches
