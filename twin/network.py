"""Supply network model: nodes, lanes, devices, and graph helpers.

Pure: callers read the JSON/YAML file and pass the parsed dict to
:meth:`SupplyNetwork.from_dict`. Validation happens once at load so the stream
processors can trust every id they look up.
"""

from __future__ import annotations

from collections import Counter, deque
from enum import Enum
from functools import cached_property
from typing import Any, Iterable

from pydantic import BaseModel, ConfigDict, Field, model_validator

from twin.detectors.profile import MetricDetection
from twin.telemetry import ID_PATTERN, Position


class NodeKind(str, Enum):
    supplier = "supplier"
    factory = "factory"
    port = "port"
    warehouse = "warehouse"
    distribution_centre = "distribution_centre"
    customer = "customer"


class LaneMode(str, Enum):
    road = "road"
    rail = "rail"
    sea = "sea"
    air = "air"


class DeviceKind(str, Enum):
    reefer_temperature = "reefer_temperature"
    humidity = "humidity"
    vibration = "vibration"
    shock = "shock"
    gps_tracker = "gps_tracker"
    inventory = "inventory"
    throughput = "throughput"
    door = "door"


# Metrics each device kind is expected to send (battery is optional for all).
DEVICE_KIND_METRICS: dict[DeviceKind, tuple[str, ...]] = {
    DeviceKind.reefer_temperature: ("temperature",),
    DeviceKind.humidity: ("humidity", "temperature"),
    DeviceKind.vibration: ("vibration",),
    DeviceKind.shock: ("shock",),
    DeviceKind.gps_tracker: ("position",),
    DeviceKind.inventory: ("inventory",),
    DeviceKind.throughput: ("throughput",),
    DeviceKind.door: ("door_open",),
}

Id = str


class _Model(BaseModel):
    # Typos in the network file must fail loudly at load, not become defaults.
    model_config = ConfigDict(extra="forbid", frozen=True)


class Node(_Model):
    id: Id = Field(pattern=ID_PATTERN)
    kind: NodeKind
    name: str = Field(min_length=1, max_length=200)
    region: str = Field(min_length=1, max_length=64)
    location: Position
    capacity: float = Field(ge=0, description="Units per day the node can handle")
    inventory: float = Field(ge=0, description="Units on hand at load time")
    daily_demand: float = Field(ge=0, description="Units per day drawn from this node")
    daily_revenue_at_risk: float = Field(ge=0, description="Revenue lost per day if the node stops")
    criticality: int = Field(ge=1, le=5)

    @property
    def days_of_cover(self) -> float | None:
        """Inventory / daily demand; None when there is no demand (cover is unbounded)."""
        return days_of_cover(self.inventory, self.daily_demand)


def days_of_cover(inventory: float, daily_demand: float) -> float | None:
    """Days the stock lasts at current demand; None means 'no demand, never runs out'."""
    if daily_demand <= 0:
        return None
    return inventory / daily_demand


class Lane(_Model):
    """A transport lane. `component` and `backup` describe sourcing for the decision engine (both optional):

    * lanes into one node with different `component`s are all needed (a bill of materials: AND); lanes with
      the same component, or none, are alternatives (OR);
    * `backup: true` is a qualified lane not in use (dormant until a mitigation switches it on), `false` one
      in use (several in use for one component is dual sourcing). Where a component has no lane marked in use,
      the engine uses its shortest-lead-time lane and keeps the others as backups (docs/decisions.md)."""

    id: Id = Field(pattern=ID_PATTERN)
    src: Id
    dst: Id
    mode: LaneMode
    lead_time_days: float = Field(gt=0, le=365)
    component: str | None = Field(None, min_length=1, max_length=64)
    backup: bool | None = None

    @model_validator(mode="after")
    def _no_self_loop(self) -> "Lane":
        if self.src == self.dst:
            raise ValueError(f"lane {self.id} goes from {self.src} to itself")
        return self


class Device(_Model):
    id: Id = Field(pattern=ID_PATTERN)
    kind: DeviceKind
    node_id: Id | None = None
    lane_id: Id | None = Field(None, description="Set for trackers travelling with shipments on a lane")
    expected_interval_s: float = Field(gt=0, le=86_400)
    detection: dict[str, MetricDetection] = Field(
        default_factory=dict,
        description="Per-metric detector and sensitivity for this device (overrides the network's)",
    )

    @model_validator(mode="after")
    def _one_attachment(self) -> "Device":
        if (self.node_id is None) == (self.lane_id is None):
            raise ValueError(f"device {self.id} must be attached to exactly one of node_id or lane_id")
        return self

    @property
    def site_id(self) -> str:
        """The MQTT topic site level: the node id, or the lane id for shipment trackers."""
        return self.node_id if self.node_id is not None else self.lane_id  # type: ignore[return-value]


def _dupes(ids: Iterable[str]) -> list[str]:
    return sorted(i for i, n in Counter(ids).items() if n > 1)


class SupplyNetwork(_Model):
    """The whole network. Lookups are built lazily once and cached (the model is frozen)."""

    meta: dict[str, Any] = Field(default_factory=dict, description="Free-form provenance (generator, seed)")
    nodes: tuple[Node, ...]
    lanes: tuple[Lane, ...] = ()
    devices: tuple[Device, ...] = ()
    detection: dict[str, MetricDetection] = Field(
        default_factory=dict, description="Per-metric detector and sensitivity for every device (docs/detection.md)")

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "SupplyNetwork":
        """Validate a parsed network file; raises pydantic.ValidationError listing every problem."""
        return cls.model_validate(data)

    def to_dict(self) -> dict[str, Any]:
        return self.model_dump(mode="json")

    @model_validator(mode="after")
    def _referential_integrity(self) -> "SupplyNetwork":
        problems: list[str] = []
        # Node, lane and device ids share one namespace because they all appear as
        # the MQTT site level / Kafka keys; a clash would merge two twins.
        for what, dup in (
            ("node", _dupes(n.id for n in self.nodes)),
            ("lane", _dupes(lane.id for lane in self.lanes)),
            ("device", _dupes(d.id for d in self.devices)),
        ):
            if dup:
                problems.append(f"duplicate {what} ids: {dup[:10]}")
        node_ids = {n.id for n in self.nodes}
        lane_ids = {lane.id for lane in self.lanes}
        clash = node_ids & lane_ids
        if clash:
            problems.append(f"ids used by both a node and a lane: {sorted(clash)[:10]}")
        for lane in self.lanes:
            for end in (lane.src, lane.dst):
                if end not in node_ids:
                    problems.append(f"lane {lane.id} references unknown node {end}")
        for dev in self.devices:
            if dev.node_id is not None and dev.node_id not in node_ids:
                problems.append(f"device {dev.id} references unknown node {dev.node_id}")
            if dev.lane_id is not None and dev.lane_id not in lane_ids:
                problems.append(f"device {dev.id} references unknown lane {dev.lane_id}")
        if problems:
            raise ValueError("; ".join(problems[:50]))
        return self

    # --- lookups ---------------------------------------------------------------
    @cached_property
    def node_by_id(self) -> dict[str, Node]:
        return {n.id: n for n in self.nodes}

    @cached_property
    def lane_by_id(self) -> dict[str, Lane]:
        return {lane.id: lane for lane in self.lanes}

    @cached_property
    def device_by_id(self) -> dict[str, Device]:
        return {d.id: d for d in self.devices}

    @cached_property
    def _out(self) -> dict[str, list[Lane]]:
        out: dict[str, list[Lane]] = {n.id: [] for n in self.nodes}
        for lane in self.lanes:
            out[lane.src].append(lane)
        return out

    @cached_property
    def _in(self) -> dict[str, list[Lane]]:
        inn: dict[str, list[Lane]] = {n.id: [] for n in self.nodes}
        for lane in self.lanes:
            inn[lane.dst].append(lane)
        return inn

    @cached_property
    def _devices_at(self) -> dict[str, list[Device]]:
        at: dict[str, list[Device]] = {}
        for d in self.devices:
            at.setdefault(d.site_id, []).append(d)
        return at

    def node(self, node_id: str) -> Node:
        return self.node_by_id[node_id]

    def devices_of(self, node_or_lane_id: str) -> list[Device]:
        """Devices attached to a node, or riding shipments on a lane."""
        return list(self._devices_at.get(node_or_lane_id, ()))

    def lanes_from(self, node_id: str) -> list[Lane]:
        return list(self._out[node_id])

    def lanes_to(self, node_id: str) -> list[Lane]:
        return list(self._in[node_id])

    # --- graph helpers -----------------------------------------------------------
    def _reach(self, start: str, forward: bool) -> list[str]:
        """Breadth-first reachable node ids (excluding start); cycle-safe."""
        edges = self._out if forward else self._in
        seen = {start}
        order: list[str] = []
        queue = deque([start])
        while queue:
            cur = queue.popleft()
            for lane in edges[cur]:
                nxt = lane.dst if forward else lane.src
                if nxt not in seen:
                    seen.add(nxt)
                    order.append(nxt)
                    queue.append(nxt)
        return order

    def downstream(self, node_id: str) -> list[str]:
        """Every node a disruption at ``node_id`` can propagate to (nearest first)."""
        return self._reach(node_id, forward=True)

    def upstream(self, node_id: str) -> list[str]:
        """Every node whose supply flows into ``node_id`` (nearest first)."""
        return self._reach(node_id, forward=False)

    def downstream_customers(self, node_id: str) -> list[str]:
        """Customers that would feel a disruption at ``node_id``: the blast radius."""
        return [n for n in self.downstream(node_id) if self.node_by_id[n].kind is NodeKind.customer]

    def upstream_suppliers(self, node_id: str) -> list[str]:
        """Suppliers ``node_id`` ultimately depends on: where to look for root causes."""
        return [n for n in self.upstream(node_id) if self.node_by_id[n].kind is NodeKind.supplier]

    def lanes_through_port(self, port_id: str) -> list[Lane]:
        """Lanes arriving at or leaving a port: what a port closure cuts."""
        if self.node_by_id[port_id].kind is not NodeKind.port:
            raise ValueError(f"{port_id} is not a port")
        return self.lanes_to(port_id) + self.lanes_from(port_id)

    def revenue_at_risk(self, node_id: str) -> float:
        """Daily revenue exposed if ``node_id`` stops: itself plus downstream customers."""
        ids = [node_id, *self.downstream_customers(node_id)]
        return sum(self.node_by_id[i].daily_revenue_at_risk for i in dict.fromkeys(ids))
