"""Lanes with stalled shipments, as the API shows them (GET /twin/lanes, `event: twin` of `/twin/stream?kind=lane`).

Why from the node rows: the twin worker keeps, in the row of each end of a lane, which of its trackers' shipments
are stalled now (`row["stalled"]`: tracker id -> lane id; streams/twin_agents.py `apply_node_inputs`, fed by
twin/tracking.py). The rows reach the API through the `nodes` table changelog it already reads, so the lane state
needs no new topic and no worker is asked. A stalled tracker is written at both ends of its lane; a lane's
stalled shipments are the union of the two (an end that has not caught up yet does not hide the stall).

Pure and bounded: one entry per stalled tracker per end node (trackers ride lanes, so at most twice the trackers).
"""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

from twin.network import SupplyNetwork

__all__ = ["LaneStalls", "LANE_CHANGE", "LANE_KEY_SHAPE", "MAX_TRACKERS_SHOWN", "lane_page"]

LANE_CHANGE = "lane_stall"
"""`type` of the `/twin/stream` record this module makes (kind `lane`)."""

LANE_KEY_SHAPE: tuple[type, ...] = (int, str)
"""The types of a GET /twin/lanes page key (minus the stalled shipments, lane id): what its cursor decodes to."""

MAX_TRACKERS_SHOWN = 50
"""Trackers listed per lane in an answer (the count is always whole): a lane's list must not grow an answer
without bound."""


class LaneStalls:
    """Stalled trackers per lane, from the node rows' `stalled` maps; `drain()` gives the lanes that changed."""

    def __init__(self) -> None:
        self._by_node: dict[str, dict[str, str]] = {}  # node id -> {tracker id: lane id}
        self._by_lane: dict[str, dict[str, set[str]]] = {}  # lane id -> {tracker id: the end nodes saying so}
        self._changed: dict[str, None] = {}  # lanes whose trackers changed since the last drain (ordered)

    def apply_node_row(self, node_id: str, row: dict[str, Any] | None) -> None:
        """A node's row as its table's changelog has it now (None: the row was deleted)."""
        raw = row.get("stalled") if isinstance(row, dict) else None
        new = {t: lane for t, lane in raw.items() if isinstance(t, str) and isinstance(lane, str)} \
            if isinstance(raw, dict) else {}
        old = self._by_node.get(node_id, {})
        if new == old:
            return
        for tracker, lane in old.items():
            if new.get(tracker) != lane:
                self._forget(lane, tracker, node_id)
        for tracker, lane in new.items():
            if old.get(tracker) != lane:
                ends = self._by_lane.setdefault(lane, {}).setdefault(tracker, set())
                if not ends:
                    self._changed[lane] = None
                ends.add(node_id)
        if new:
            self._by_node[node_id] = new
        else:
            self._by_node.pop(node_id, None)

    def _forget(self, lane: str, tracker: str, node_id: str) -> None:
        trackers = self._by_lane.get(lane, {})
        ends = trackers.get(tracker)
        if ends is None:
            return
        ends.discard(node_id)
        if not ends:
            del trackers[tracker]
            self._changed[lane] = None
            if not trackers:
                del self._by_lane[lane]

    def trackers(self, lane_id: str) -> list[str]:
        """The trackers whose shipment on this lane is stalled now, sorted."""
        return sorted(self._by_lane.get(lane_id, ()))

    def of_node(self, node_id: str) -> dict[str, str]:
        """Tracker id -> lane id of the shipments stalled on the node's lanes, as its row says."""
        return dict(self._by_node.get(node_id, {}))

    def stalled(self) -> dict[str, int]:
        """Lane id -> stalled shipments, for every lane with at least one."""
        return {lane: len(trackers) for lane, trackers in self._by_lane.items()}

    def change(self, lane_id: str) -> dict[str, Any]:
        """The `/twin/stream` record of a lane (kind `lane`): its stalled shipments now."""
        trackers = self.trackers(lane_id)
        return {"v": 1, "type": LANE_CHANGE, "lane_id": lane_id, "stalled_shipments": len(trackers),
                "trackers": trackers[:MAX_TRACKERS_SHOWN], "at": datetime.now(timezone.utc).isoformat()}

    def drain(self) -> list[dict[str, Any]]:
        """The records of the lanes that changed since the last call (then forgotten)."""
        changed, self._changed = list(self._changed), {}
        return [self.change(lane) for lane in changed]


def lane_page(stalls: LaneStalls, network: SupplyNetwork | None, *, stalled: bool | None = None, limit: int = 100,
              after: tuple[Any, ...] | None = None) -> tuple[list[dict[str, Any]], int, tuple[Any, ...] | None]:
    """GET /twin/lanes: every lane of the network (and any other a node row names), most stalled first, then by
    id; how many match in all; the page key of the last one when more follow (None on the last page)."""
    counts = stalls.stalled()
    lanes: dict[str, dict[str, Any]] = {}
    for lane in network.lanes if network is not None else ():
        lanes[lane.id] = {"id": lane.id, "src": lane.src, "dst": lane.dst, "mode": lane.mode.value}
    for lane_id in counts:
        lanes.setdefault(lane_id, {"id": lane_id, "src": None, "dst": None, "mode": None})
    keyed = sorted(((-counts.get(lane_id, 0), lane_id), entry) for lane_id, entry in lanes.items()
                   if stalled is None or (counts.get(lane_id, 0) > 0) == stalled)
    total = len(keyed)
    if after is not None:
        keyed = [entry for entry in keyed if entry[0] > after]
    page = keyed[:limit]
    last = page[-1][0] if page and len(keyed) > limit else None
    out = []
    for (negative, lane_id), entry in page:
        trackers = stalls.trackers(lane_id)
        out.append({**entry, "stalled_shipments": -negative, "trackers": trackers[:MAX_TRACKERS_SHOWN]})
    return out, total, last
