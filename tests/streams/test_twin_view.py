"""The decider's view of the live twin (streams/twin_view.TableTwinView) over node rows as the twin worker writes
them: a lane's trackers read stalled from the rows of the lane's ends (``row["stalled"]``: tracker -> lane), so
the flow kernel's stall rule sees what the lanes API shows. No Kafka: the rows' format is the worker's, tested
across processes in tests/streams/api (the console's stalled lanes)."""

from __future__ import annotations

import orjson

from engine.agents.flow_stages import stalled_lanes
from engine.agents.info import take_snapshot
from omnitrack.settings import Settings
from streams.network_file import load_network
from streams.twin_view import TableTwinView

NETWORK = load_network(Settings().network_file)
TRACKED = [lane for lane in NETWORK.lanes if NETWORK.devices_of(lane.id)]
LANE = TRACKED[0]
OTHER = next(lane for lane in TRACKED if lane.id != LANE.id)


def row(stalled: dict[str, str], devices: dict[str, str] | None = None) -> bytes:
    return orjson.dumps({"level": "ok", "devices": devices or {}, "stalled": stalled})


def test_a_tracker_stalled_at_either_end_reads_stalled_on_its_lane_only() -> None:
    trackers = [d.id for d in NETWORK.devices_of(LANE.id)]
    elsewhere = NETWORK.devices_of(OTHER.id)[0].id
    rows = {LANE.dst.encode(): row({trackers[0]: LANE.id, elsewhere: OTHER.id})}  # one end knows it
    view = TableTwinView(NETWORK, rows)
    states = {d["device_id"]: d for d in view.device_states(LANE.id)}
    assert set(states) == set(trackers)
    assert states[trackers[0]]["stalled"] is True and states[trackers[0]]["status"] == "stalled"
    assert all(states[t]["stalled"] is False for t in trackers[1:])
    assert elsewhere not in states          # stalled on another lane through the same node: not this lane's


def test_without_rows_no_tracker_reads_stalled_and_node_devices_keep_their_status() -> None:
    view = TableTwinView(NETWORK, {})
    assert all(d["stalled"] is False for d in view.device_states(LANE.id))
    node = next(n.id for n in NETWORK.nodes if NETWORK.devices_of(n.id))
    dev = NETWORK.devices_of(node)[0].id
    view = TableTwinView(NETWORK, {node.encode(): row({}, {dev: "silent"})})
    assert {d["device_id"]: d["status"] for d in view.device_states(node)}[dev] == "silent"


def test_the_decision_snapshot_sees_the_stalled_lane() -> None:
    tracker = NETWORK.devices_of(LANE.id)[0].id
    view = TableTwinView(NETWORK, {LANE.src.encode(): row({tracker: LANE.id})})
    snap = take_snapshot(NETWORK, view, [LANE.src], [])       # LANE leaves LANE.src: in the snapshot's scope
    assert stalled_lanes(snap) == [LANE.id]
    assert stalled_lanes(take_snapshot(NETWORK, TableTwinView(NETWORK, {}), [LANE.src], [])) == []
