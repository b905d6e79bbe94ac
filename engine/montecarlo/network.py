"""The supply network in array form, as the Monte Carlo kernels consume it.

Why arrays and CSR indices: the kernel visits every node of every trial, so the
topology must be contiguous integer arrays (no dicts, no objects) that numba
can index without boxing.

Supply semantics (bill of materials):

* every lane into a node belongs to exactly one *input group* of that node;
* a node is supplied when ALL of its groups are supplied (series = AND);
* a group is supplied when ANY of its enabled lanes delivers (redundancy = OR).

Element numbering, shared with the disruption model: nodes are elements
``0..N-1`` and lane ``l`` is element ``N + l``.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from typing import Any, Iterable, Mapping, Sequence

import numpy as np

NODE_TYPES: tuple[str, ...] = ("supplier", "factory", "port", "warehouse", "dc", "customer")
SUPPLIER, FACTORY, PORT, WAREHOUSE, DC, CUSTOMER = range(len(NODE_TYPES))
# Group used when a lane dict names none: all such lanes into a node are
# alternatives; naming groups is required to express AND (bill of materials).
DEFAULT_GROUP = "default"
# Spellings used by the twin's network model.
TYPE_ALIASES = {"distribution_centre": "dc", "distribution_center": "dc"}


@dataclass(frozen=True, eq=False)
class Network:
    """Immutable array view of a supply network (see module docstring).

    Attributes are numpy arrays; ``group_ptr[v]:group_ptr[v+1]`` are the input
    groups of node ``v`` and ``group_lane_ptr[g]:group_lane_ptr[g+1]`` index
    ``group_lanes`` to give the alternative lanes of group ``g``.
    ``revenue`` is daily revenue at risk; the kernels count lost revenue at
    customers only (upstream revenue is realised through customers, so adding
    it would double count). ``capacity`` is carried for the twin but unused by
    the outage-interval model.
    """

    node_type: np.ndarray       # int8 [N], index into NODE_TYPES
    revenue: np.ndarray         # float64 [N], revenue per day
    cover: np.ndarray           # float64 [N], inventory in days of cover
    capacity: np.ndarray        # float64 [N]
    lane_src: np.ndarray        # int32 [L]
    lane_dst: np.ndarray        # int32 [L]
    lane_lead: np.ndarray       # float64 [L], lead time in days
    lane_enabled: np.ndarray    # bool [L]; disabled lanes are dormant alternatives
    group_ptr: np.ndarray       # int32 [N+1]
    group_lane_ptr: np.ndarray  # int32 [G+1]
    group_lanes: np.ndarray     # int32 [L]
    order: np.ndarray           # int32 [N], topological order (sources first)
    customers: np.ndarray       # int32 [C], nodes of type customer
    node_ids: tuple[str, ...]
    lane_ids: tuple[str, ...]
    dropped_lanes: tuple[str, ...] = ()   # lanes removed to break cycles (see network_from_dicts)

    @property
    def n_nodes(self) -> int:
        return int(self.node_type.shape[0])

    @property
    def n_lanes(self) -> int:
        return int(self.lane_src.shape[0])

    @property
    def n_elements(self) -> int:
        """Nodes plus lanes: the things that can fail."""
        return self.n_nodes + self.n_lanes

    def node_index(self, key: int | str) -> int:
        """Index of a node given its index or its id."""
        return key if isinstance(key, (int, np.integer)) else self.node_ids.index(key)

    def lane_index(self, key: int | str) -> int:
        """Index of a lane given its index or its id."""
        return key if isinstance(key, (int, np.integer)) else self.lane_ids.index(key)


def topological_order(n_nodes: int, src: np.ndarray, dst: np.ndarray) -> np.ndarray:
    """Kahn's algorithm; raises on cycles because outage propagation in one
    pass is only correct on a DAG."""
    indeg = np.bincount(dst, minlength=n_nodes).astype(np.int64)
    out: list[list[int]] = [[] for _ in range(n_nodes)]
    for s, d in zip(src.tolist(), dst.tolist()):
        out[s].append(d)
    stack = [v for v in range(n_nodes - 1, -1, -1) if indeg[v] == 0]
    order: list[int] = []
    while stack:
        v = stack.pop()
        order.append(v)
        for w in out[v]:
            indeg[w] -= 1
            if indeg[w] == 0:
                stack.append(w)
    if len(order) != n_nodes:
        raise ValueError("network has a cycle; the kernel needs a DAG")
    return np.asarray(order, dtype=np.int32)


def build_network(
    node_type: Sequence[int],
    revenue: Sequence[float],
    cover: Sequence[float],
    lanes: Sequence[tuple[int, int, float]],
    lane_group: Sequence[int] | None = None,
    lane_enabled: Sequence[bool] | None = None,
    capacity: Sequence[float] | None = None,
    node_ids: Sequence[str] | None = None,
    lane_ids: Sequence[str] | None = None,
) -> Network:
    """Build a :class:`Network` from index-based lists.

    ``lanes`` are ``(src, dst, lead_days)``; ``lane_group[l]`` is a label
    (any int) that is local to the lane's destination: lanes into the same
    node with the same label are alternatives. Default: one group per node.
    """
    n = len(node_type)
    n_l = len(lanes)
    src = np.asarray([l[0] for l in lanes], dtype=np.int32).reshape(n_l)
    dst = np.asarray([l[1] for l in lanes], dtype=np.int32).reshape(n_l)
    lead = np.asarray([l[2] for l in lanes], dtype=np.float64).reshape(n_l)
    if n_l and (src.min() < 0 or dst.min() < 0 or max(src.max(), dst.max()) >= n):
        raise ValueError("lane endpoint out of range")
    if np.any(lead < 0) or np.any(np.asarray(cover, dtype=np.float64) < 0):
        raise ValueError("lead times and cover must be >= 0 (propagation only moves later)")
    labels = np.zeros(n_l, dtype=np.int64) if lane_group is None else np.asarray(lane_group, dtype=np.int64)
    # sort lanes by (dst, group label, lane index) so each group is contiguous
    perm = np.lexsort((np.arange(n_l), labels, dst))
    group_lanes = perm.astype(np.int32)
    starts = [0]
    group_ptr = np.zeros(n + 1, dtype=np.int32)
    for k in range(1, n_l):
        a, b = perm[k - 1], perm[k]
        if dst[a] != dst[b] or labels[a] != labels[b]:
            starts.append(k)
    group_lane_ptr = np.asarray(starts + [n_l], dtype=np.int32) if n_l else np.zeros(1, dtype=np.int32)
    group_dst = dst[perm[group_lane_ptr[:-1]]] if n_l else np.zeros(0, dtype=np.int32)
    np.cumsum(np.bincount(group_dst, minlength=n), out=group_ptr[1:])
    enabled = np.ones(n_l, dtype=bool) if lane_enabled is None else np.asarray(lane_enabled, dtype=bool)
    types = np.asarray(node_type, dtype=np.int8)
    per_node = [np.asarray(x) for x in (revenue, cover) + (() if capacity is None else (capacity,))]
    if any(x.shape != (n,) for x in per_node) or labels.shape != (n_l,) or enabled.shape != (n_l,):
        raise ValueError("per-node and per-lane inputs must have one entry per node / lane")
    if types.size and (types.min() < 0 or types.max() >= len(NODE_TYPES)):
        raise ValueError("unknown node type code")
    return Network(
        node_type=types,
        revenue=np.asarray(revenue, dtype=np.float64),
        cover=np.asarray(cover, dtype=np.float64),
        capacity=np.ones(n) if capacity is None else np.asarray(capacity, dtype=np.float64),
        lane_src=src, lane_dst=dst, lane_lead=lead, lane_enabled=enabled,
        group_ptr=group_ptr, group_lane_ptr=group_lane_ptr, group_lanes=group_lanes,
        order=topological_order(n, src, dst),
        customers=np.flatnonzero(types == CUSTOMER).astype(np.int32),
        node_ids=tuple(node_ids) if node_ids is not None else tuple(f"n{i}" for i in range(n)),
        lane_ids=tuple(lane_ids) if lane_ids is not None else tuple(f"l{i}" for i in range(n_l)),
    )


def forward_lanes(node_type: Sequence[int], src: Sequence[int], dst: Sequence[int],
                  prefer: Sequence[int] = ()) -> list[bool]:
    """Which lanes to keep so the network is a DAG, dropping as few as it can.

    Nodes are ranked by (type layer, BFS distance from nodes without inbound
    lanes, index). Lanes that go up in rank are all kept (they cannot form a
    cycle); each remaining lane is then kept unless it would close a cycle.
    So of a pair of opposite port <-> port sea lanes, the one leaving the port
    nearer the sources survives, and lanes that close no cycle are never lost.

    ``prefer``: lane indices kept before any other (a what-if about a lane must
    model that lane: its opposite is dropped instead); then every other lane is
    kept unless it would close a cycle.
    """
    n = len(node_type)
    outbound: list[list[int]] = [[] for _ in range(n)]
    has_in = [False] * n
    for s, d in zip(src, dst):
        outbound[s].append(d)
        has_in[d] = True
    depth = [0 if not has_in[v] else -1 for v in range(n)]
    frontier = [v for v in range(n) if depth[v] == 0]
    while frontier:
        nxt = []
        for v in frontier:
            for w in outbound[v]:
                if depth[w] < 0:
                    depth[w] = depth[v] + 1
                    nxt.append(w)
        frontier = nxt
    rank = [(int(node_type[v]), depth[v] if depth[v] >= 0 else n, v) for v in range(n)]
    up = [rank[s] < rank[d] for s, d in zip(src, dst)]
    keep = [False] * len(up)
    kept_out: list[list[int]] = [[] for _ in range(n)]

    def reaches(a: int, b: int) -> bool:
        seen, stack = {a}, [a]
        while stack:
            v = stack.pop()
            if v == b:
                return True
            for w in kept_out[v]:
                if w not in seen:
                    seen.add(w)
                    stack.append(w)
        return False

    def keep_unless_cycle(i: int) -> None:
        s, d = src[i], dst[i]
        if not keep[i] and s != d and not reaches(d, s):
            keep[i] = True
            kept_out[s].append(d)

    for i in prefer:
        keep_unless_cycle(i)
    for i, is_up in enumerate(up):
        if is_up and not keep[i]:
            if prefer:
                keep_unless_cycle(i)
            else:  # lanes up in rank cannot close a cycle among themselves
                keep[i] = True
                kept_out[src[i]].append(dst[i])
    for i in range(len(up)):
        keep_unless_cycle(i)
    return keep


def network_from_dicts(nodes: Iterable[Mapping[str, Any]], lanes: Iterable[Mapping[str, Any]],
                       drop_cycles: bool = False) -> Network:
    """Adapter for plain-dict networks, including ``twin.network.SupplyNetwork.to_dict()``.

    nodes: ``{"id", "type" | "kind" (name or code; "distribution_centre" = dc),
    "revenue_per_day" | "daily_revenue_at_risk" = 0, "cover_days" (else
    inventory / daily_demand when daily_demand is given, no demand = never
    runs out; else 0), "capacity"=1}``;
    lanes: ``{"id"?, "src", "dst", "lead_days" | "lead_time_days" = 0,
    "group"="default", "enabled"=True}`` with src/dst node ids. Lanes into the
    same node sharing a ``group`` are alternatives (OR); groups are ANDed.
    Other keys are ignored. The kernel needs a DAG: with ``drop_cycles`` the
    lanes that :func:`forward_lanes` rejects are left out and listed in
    ``Network.dropped_lanes``; otherwise a cycle raises ``ValueError``.
    """
    nodes = list(nodes)
    lanes = list(lanes)
    ids = [str(n["id"]) for n in nodes]
    if len(set(ids)) != len(ids):
        raise ValueError("duplicate node id")
    index = {k: i for i, k in enumerate(ids)}

    def type_code(n: Mapping[str, Any]) -> int:
        t = n.get("type", n.get("kind"))
        t = getattr(t, "value", t)                       # enums from the twin model
        if isinstance(t, str):
            return NODE_TYPES.index(TYPE_ALIASES.get(t, t))
        return int(t)

    def cover_days(n: Mapping[str, Any]) -> float:
        if "cover_days" in n or "daily_demand" not in n:
            return float(n.get("cover_days", 0.0))
        demand = float(n.get("daily_demand", 0.0))
        return float(n.get("inventory", 0.0)) / demand if demand > 0 else math.inf

    types = [type_code(n) for n in nodes]
    dropped: list[str] = []
    if drop_cycles:
        ends = [(index[str(ln["src"])], index[str(ln["dst"])]) for ln in lanes]
        keep = forward_lanes(types, [e[0] for e in ends], [e[1] for e in ends])
        dropped = [lane_id(ln) for ln, k in zip(lanes, keep) if not k]
        lanes = [ln for ln, k in zip(lanes, keep) if k]
    group_labels: dict[tuple[int, str], int] = {}
    lane_tuples, labels = [], []
    for ln in lanes:
        s, d = index[str(ln["src"])], index[str(ln["dst"])]
        lane_tuples.append((s, d, float(ln.get("lead_days", ln.get("lead_time_days", 0.0)))))
        labels.append(group_labels.setdefault((d, str(ln.get("group", DEFAULT_GROUP))), len(group_labels)))
    net = build_network(
        node_type=types,
        revenue=[float(n.get("revenue_per_day", n.get("daily_revenue_at_risk", 0.0))) for n in nodes],
        cover=[cover_days(n) for n in nodes],
        capacity=[float(n.get("capacity", 1.0)) for n in nodes],
        lanes=lane_tuples,
        lane_group=labels,
        lane_enabled=[bool(ln.get("enabled", True)) for ln in lanes],
        node_ids=ids,
        lane_ids=[lane_id(ln) for ln in lanes],
    )
    return dataclasses.replace(net, dropped_lanes=tuple(dropped))


def lane_id(ln: Mapping[str, Any]) -> str:
    return str(ln.get("id", f"{ln['src']}->{ln['dst']}"))
