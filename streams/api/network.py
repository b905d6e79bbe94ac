"""GET /network: the supply network the engine runs on (nodes, lanes, devices) with a position for each.

Why from the network file: it is the one description every engine process loads (`OMNITRACK_NETWORK_FILE`,
streams/network_file.py), so the map a screen draws is the network the twin judges. It does not change while
the engine runs, so the answer is built once, at start-up.

Positions: every node has its `location` in the file (a required field of `twin.network.Node`), so no layout
is invented. A device attached to a node is drawn at its node; a tracker riding a lane at the middle of the
lane (its live GPS fix is in its twin row, `GET /twin/device/{id}`, `last_values.position`); a lane from its
source's position to its destination's. `position_source` says which.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import orjson

from streams.network_file import load_network
from twin.network import SupplyNetwork

__all__ = ["NetworkView", "network_json"]

log = logging.getLogger(__name__)


def _point(lat: float, lon: float) -> dict[str, float]:
    return {"lat": round(lat, 6), "lon": round(lon, 6)}


def network_json(network: SupplyNetwork) -> dict[str, Any]:
    """The network as GET /network answers it."""
    at = {n.id: _point(n.location.lat, n.location.lon) for n in network.nodes}
    nodes = [{"id": n.id, "kind": n.kind.value, "name": n.name, "region": n.region, "position": at[n.id],
              "capacity": n.capacity, "inventory": n.inventory, "daily_demand": n.daily_demand,
              "days_of_cover": n.days_of_cover, "daily_revenue_at_risk": n.daily_revenue_at_risk,
              "criticality": n.criticality} for n in network.nodes]
    middle: dict[str, dict[str, float]] = {}
    lanes = []
    for lane in network.lanes:
        src, dst = at[lane.src], at[lane.dst]
        middle[lane.id] = _point((src["lat"] + dst["lat"]) / 2, (src["lon"] + dst["lon"]) / 2)
        lanes.append({"id": lane.id, "src": lane.src, "dst": lane.dst, "mode": lane.mode.value,
                      "lead_time_days": lane.lead_time_days, "component": lane.component, "backup": lane.backup,
                      "from_position": src, "to_position": dst})
    devices = [{"id": d.id, "kind": d.kind.value, "node_id": d.node_id, "lane_id": d.lane_id,
                "expected_interval_s": d.expected_interval_s,
                "position": at[d.node_id] if d.node_id is not None else middle[d.lane_id or ""],
                "position_source": "node" if d.node_id is not None else "lane_midpoint"} for d in network.devices]
    return {"nodes": nodes, "lanes": lanes, "devices": devices,
            "count": {"nodes": len(nodes), "lanes": len(lanes), "devices": len(devices)}}


class NetworkView:
    """The network file, loaded once; `body` is the JSON answer, or None with `problem` saying why not."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.body: bytes | None = None
        self.network: SupplyNetwork | None = None
        """The network itself (lanes' ends, devices' kinds), None when the file could not be read."""
        self.problem = ""
        self.device_ids: frozenset[str] = frozenset()
        try:
            network = load_network(path)
        except ValueError as exc:  # unreadable or invalid: the rest of the API still serves
            self.problem = str(exc)[:500]
            log.warning("GET /network will answer 503: %s", self.problem)
            return
        self.network = network
        self.body = orjson.dumps(network_json(network))
        self.device_ids = frozenset(d.id for d in network.devices)
