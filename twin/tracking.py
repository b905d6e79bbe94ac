"""Shipment movement: is a tracked shipment stalled, and is a node the place where lanes stall? (pure, no I/O)

WHY: a port closure, a border hold or a strike shows in no sensor value; it shows in where the
shipments are. GPS trackers ride shipments along lanes, and the network says how fast a lane moves
(its length over its lead time). A shipment whose position stops progressing while its lane says
it should move is STALLED; several stalled lanes that meet at one node towards different places
point at that node (one stalled lane is one shipment's problem; a node where every direction stalls
is a closed port).

Per tracker (`update_tracker`, bounded memory: one anchor fix and a flag):
  * the ANCHOR is the fix the shipment was last judged at; on each newer fix the progress the lane
    predicts since then is `speed x elapsed`;
  * once that prediction reaches `JUDGE_PROGRESS_M`, the fix is judged: moved less than
    `STALL_FRACTION` of the prediction -> stalled (`stalled_since` = the last fix seen moving);
    otherwise moving; either way the anchor moves to this fix;
  * a stalled shipment is moving again as soon as it is `RESUME_M` away from where it stalled;
  * fixes within `ENDPOINT_RADIUS_M` of either end of the lane are not judged: waiting at the origin
    or at the destination is normal.
Per node (`stalled_neighbours`): the other ends of the node's stalled lanes; the node's lanes are
stalled when there are at least `MIN_STALLED_NEIGHBOURS` of them.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from typing import NamedTuple

from twin.network import SupplyNetwork

EARTH_RADIUS_M = 6_371_000.0
SECONDS_PER_DAY = 86_400.0

JUDGE_PROGRESS_M = 100.0
"""Predicted progress before a fix is judged: stalled means < 25 m, far beyond the jitter of two fixes
(simulator 2 m, consumer receivers 5-8 m: a stationary tracker drifts past 25 m ~once in 10^3 pairs at
worst). Real trackers report every few minutes, so their windows are kilometres, not 100 m."""

STALL_FRACTION = 0.25
"""A shipment covering less than a quarter of its lane's pace is stalled (a slow leg or a detour is not)."""

RESUME_M = 50.0
"""Distance from the stall's anchor at which a stalled shipment is moving again (hysteresis: twice the
stall limit of the shortest window, so jitter never flaps a stall)."""

ENDPOINT_RADIUS_M = 1_000.0
"""Within this of the lane's origin or destination a shipment may legitimately wait (loading, unloading)."""

MIN_STALLED_NEIGHBOURS = 2
"""Stalled lanes towards this many distinct other nodes make the node the common cause."""


def distance_m(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """Great-circle (haversine) distance in metres."""
    p1, p2 = math.radians(lat1), math.radians(lat2)
    h = math.sin((p2 - p1) / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(math.radians(lon2 - lon1) / 2) ** 2
    return 2 * EARTH_RADIUS_M * math.asin(min(1.0, math.sqrt(h)))


class LaneMotion(NamedTuple):
    """What a lane predicts for a shipment on it."""

    lane_id: str
    src: str
    dst: str
    src_lat: float
    src_lon: float
    dst_lat: float
    dst_lon: float
    speed_m_s: float  # great-circle length / lead time: a lower bound of the pace along any real route


class TrackerState(NamedTuple):
    """A tracker's movement state: the anchor fix (device time, seconds) and whether it is stalled."""

    anchor_ts: float
    anchor_lat: float
    anchor_lon: float
    stalled: bool = False
    stalled_since: float | None = None  # device time of the last fix judged moving, while stalled


def lane_motions(network: SupplyNetwork) -> dict[str, LaneMotion]:
    """Lane id -> its predicted motion, for every lane with a positive lead time."""
    out: dict[str, LaneMotion] = {}
    for lane in network.lanes:
        a, b = network.node(lane.src).location, network.node(lane.dst).location
        seconds = lane.lead_time_days * SECONDS_PER_DAY
        if seconds <= 0:
            continue
        out[lane.id] = LaneMotion(lane.id, lane.src, lane.dst, a.lat, a.lon, b.lat, b.lon,
                                  distance_m(a.lat, a.lon, b.lat, b.lon) / seconds)
    return out


def update_tracker(state: TrackerState | None, ts_s: float, lat: float, lon: float,
                   lane: LaneMotion) -> tuple[TrackerState, bool]:
    """Fold one fix (device time `ts_s`) into the tracker's state; returns (state, stalled flag changed).

    Fixes not newer than the anchor (late, duplicated) are ignored."""
    if state is None:
        return TrackerState(ts_s, lat, lon), False
    if ts_s <= state.anchor_ts:
        return state, False
    moved = distance_m(state.anchor_lat, state.anchor_lon, lat, lon)
    if state.stalled:
        if moved >= RESUME_M:
            return TrackerState(ts_s, lat, lon), True
        return state, False
    predicted = lane.speed_m_s * (ts_s - state.anchor_ts)
    if predicted < JUDGE_PROGRESS_M:
        return state, False
    if (distance_m(lane.src_lat, lane.src_lon, lat, lon) < ENDPOINT_RADIUS_M
            or distance_m(lane.dst_lat, lane.dst_lon, lat, lon) < ENDPOINT_RADIUS_M):
        return TrackerState(ts_s, lat, lon), False
    if moved < STALL_FRACTION * predicted:
        return TrackerState(ts_s, lat, lon, True, state.anchor_ts), True
    return TrackerState(ts_s, lat, lon), False


def stalled_neighbours(node_id: str, stalled_lanes: Iterable[str], lanes: Mapping[str, LaneMotion]) -> set[str]:
    """The other ends of the node's stalled lanes (lanes not touching the node are ignored)."""
    out: set[str] = set()
    for lane_id in stalled_lanes:
        lane = lanes.get(lane_id)
        if lane is None:
            continue
        if lane.src == node_id:
            out.add(lane.dst)
        elif lane.dst == node_id:
            out.add(lane.src)
    return out
