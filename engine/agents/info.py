"""Info agent: a consistent snapshot of the affected part of the network.

Why a snapshot: the twin keeps changing while a request is assessed (new
inventory readings every few seconds). Impact and Strategy must see one state,
so the agent reads every value it needs once, deep-copies it, and the later
stages read only the snapshot.

The twin is reached through :class:`TwinView`, a Protocol of plain-dict
getters, so ``engine`` never imports the stream processors (the Faust agent
adapts its tables to this Protocol) and tests pass a static view.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from typing import Any, Mapping, Protocol, Sequence, runtime_checkable

from twin.network import SupplyNetwork, days_of_cover


class InfoError(RuntimeError):
    """The twin could not deliver the snapshot (the stage may be retried)."""


@runtime_checkable
class TwinView(Protocol):
    """Read-only access to the live twin; every method returns plain data."""

    def node_state(self, node_id: str) -> Mapping[str, Any] | None:
        """Current node state, e.g. ``{"inventory": .., "daily_demand": .., "days_of_cover": .., "health": ..}``;
        None when the twin has no state yet (the network file's values are used)."""
        ...

    def device_states(self, site_id: str) -> Sequence[Mapping[str, Any]]:
        """States of the devices at a node, or of the trackers riding shipments on a lane."""
        ...


class StaticTwinView:
    """A TwinView over the network file (plus optional per-node overrides), for
    tests, benchmarks and a worker whose twin tables are still empty."""

    def __init__(self, network: SupplyNetwork, overrides: Mapping[str, Mapping[str, Any]] | None = None) -> None:
        self._net = network
        self._over = dict(overrides or {})

    def node_state(self, node_id: str) -> Mapping[str, Any] | None:
        n = self._net.node_by_id[node_id]
        state: dict[str, Any] = {"inventory": n.inventory, "daily_demand": n.daily_demand,
                                 "days_of_cover": n.days_of_cover}
        state.update(self._over.get(node_id, {}))
        return state

    def device_states(self, site_id: str) -> Sequence[Mapping[str, Any]]:
        return [{"device_id": d.id, "kind": d.kind.value, "status": "unknown"} for d in self._net.devices_of(site_id)]


@dataclass(frozen=True)
class NodeSnapshot:
    id: str
    kind: str
    region: str
    state: dict[str, Any]
    cover_days: float | None          # None: no demand, never runs out (kernel: infinite cover)
    devices: list[dict[str, Any]]


@dataclass(frozen=True)
class LaneSnapshot:
    id: str
    src: str
    dst: str
    mode: str
    lead_time_days: float
    in_transit: list[dict[str, Any]]  # lane tracker states: shipments currently on the lane


@dataclass(frozen=True)
class Snapshot:
    """Everything later stages may read about the affected part of the twin."""

    affected_nodes: tuple[str, ...]
    affected_lanes: tuple[str, ...]
    nodes: dict[str, NodeSnapshot] = field(default_factory=dict)
    lanes: dict[str, LaneSnapshot] = field(default_factory=dict)
    downstream_customers: tuple[str, ...] = ()

    def cover_overrides(self) -> dict[str, float | None]:
        """Live days of cover for the snapshotted nodes (kernel input)."""
        return {k: v.cover_days for k, v in self.nodes.items()}


def _cover(state: Mapping[str, Any] | None, fallback: float | None) -> float | None:
    """Days of cover from the twin state; the file value when the twin has none."""
    if not state:
        return fallback
    if "days_of_cover" in state:
        return None if state["days_of_cover"] is None else float(state["days_of_cover"])
    if "inventory" in state and "daily_demand" in state:
        return days_of_cover(float(state["inventory"]), float(state["daily_demand"]))
    return fallback


def take_snapshot(network: SupplyNetwork, twin: TwinView, nodes: Sequence[str], lanes: Sequence[str]) -> Snapshot:
    """Snapshot the affected nodes/lanes and everything downstream of them.

    Scope: the affected elements, every node downstream (their cover decides
    whether the outage reaches customers), and the lanes into and out of those
    nodes with their in-transit shipments.
    """
    roots = list(nodes) + [network.lane_by_id[i].dst for i in lanes]
    scope = dict.fromkeys(roots)
    for r in roots:
        scope.update(dict.fromkeys(network.downstream(r)))
    snap_nodes: dict[str, NodeSnapshot] = {}
    try:
        for nid in scope:
            n = network.node_by_id[nid]
            state = twin.node_state(nid)
            snap_nodes[nid] = NodeSnapshot(
                id=nid, kind=n.kind.value, region=n.region, state=copy.deepcopy(dict(state or {})),
                cover_days=_cover(state, n.days_of_cover),
                devices=[copy.deepcopy(dict(d)) for d in twin.device_states(nid)])
        lane_ids = dict.fromkeys(lanes)
        for nid in scope:
            lane_ids.update(dict.fromkeys(ln.id for ln in network.lanes_to(nid)))
        snap_lanes = {}
        for lid in lane_ids:
            ln = network.lane_by_id[lid]
            snap_lanes[lid] = LaneSnapshot(
                id=lid, src=ln.src, dst=ln.dst, mode=ln.mode.value, lead_time_days=ln.lead_time_days,
                in_transit=[copy.deepcopy(dict(d)) for d in twin.device_states(lid)])
    except (KeyError, TypeError, ValueError) as exc:
        raise InfoError(f"twin snapshot failed: {exc!r}") from exc
    customers = tuple(n for n in scope if network.node_by_id[n].kind.value == "customer")
    return Snapshot(tuple(nodes), tuple(lanes), snap_nodes, snap_lanes, customers)
