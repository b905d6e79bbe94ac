"""A supply network described by quantities: capacities, shares, bills of materials, stock, demand.

Why a second network form (beside :mod:`engine.montecarlo.network`): the
outage-interval kernel only knows whether a node is supplied; a flow kernel
needs how many units per day each node can make and ship, which share of an
input comes from which source, how many units of each component one unit of
output takes, and how much stock sits where. Those are the numbers here.

Description (plain dicts, so a JSON file can say it; see docs/decisions.md):

* node ``{"id", "kind", "capacity": units/day, "demand": units/day (customers),
  "price": revenue per unit (customers), "demand_cv": spread of the customer's demand
  level from trial to trial, "stock_days": base stock in days of the
  node's nominal flow, "inventory": units on hand now (default: the base stock),
  "switch_days": days before orders move away from a source that is down,
  "bom": {component: units per unit of output}}``;
* lane ``{"id", "src", "dst", "lead_days", "lead_sd_days", "capacity": units/day,
  "component", "share", "backup"}``. Lanes into a node with the same component
  are alternatives that split the orders by ``share``; components are ANDed in
  the proportions of ``bom``. ``backup: true`` lanes carry nothing (share 0)
  until rerouting or a strategy sends orders to them.

Nominal flows follow from customer demand: a node's nominal throughput is the
sum over its lanes in use of ``share x bom quantity x`` the destination's
throughput. Lanes in use must form a DAG (orders cannot chase themselves).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Iterable, Mapping

import numpy as np

KINDS: tuple[str, ...] = ("supplier", "factory", "port", "warehouse", "dc", "customer")
KIND_ALIASES = {"distribution_centre": "dc", "distribution_center": "dc"}
DEFAULT_COMPONENT = "default"
# Capacity of a node or lane that names none: large but finite, because an
# infinite capacity times an availability of 0 is NaN, which would poison a trial.
UNLIMITED = 1e12
# Default days before a buyer moves orders from a source that is down to its
# alternatives: a week to qualify and place orders; 0 would credit rerouting
# with clairvoyance.
DEFAULT_SWITCH_DAYS = 7
# Lead times are whole days and at least one: a shipment leaves on one day and
# arrives on a later one, so each day needs no ordering of nodes (cycles in
# dormant lanes are harmless).
MIN_LEAD_DAYS = 1


@dataclass(frozen=True, eq=False)
class FlowNetwork:
    """Array form. Node ``v``'s input groups are ``group_ptr[v]:group_ptr[v+1]``; lanes carry their group."""

    node_ids: tuple[str, ...]
    kind: np.ndarray          # int8 [N], index into KINDS
    region: tuple[str, ...]
    capacity: np.ndarray      # float64 [N], units/day (production and shipping)
    demand: np.ndarray        # float64 [N], units/day at customers, else 0
    demand_cv: np.ndarray     # float64 [N], coefficient of variation of a customer's demand level per trial
    price: np.ndarray         # float64 [N], revenue per unit at customers
    stock_days: np.ndarray    # float64 [N]
    inventory: np.ndarray     # float64 [N], units on hand at day 0
    switch_days: np.ndarray   # int32 [N]
    group_ptr: np.ndarray     # int32 [N+1]
    group_qty: np.ndarray     # float64 [G], units of the component per unit of output
    group_name: tuple[str, ...]
    lane_ids: tuple[str, ...]
    lane_src: np.ndarray      # int32 [L]
    lane_dst: np.ndarray      # int32 [L]
    lane_group: np.ndarray    # int32 [L]
    lane_lead: np.ndarray     # int32 [L], whole days >= 1
    lane_lead_sd: np.ndarray  # float64 [L], sd of the extra delay (days) drawn per trial
    lane_capacity: np.ndarray  # float64 [L], units/day
    lane_share: np.ndarray    # float64 [L], share of the group's orders (0 for backups)
    lane_backup: np.ndarray   # bool [L]
    lane_mode: tuple[str, ...]
    throughput: np.ndarray    # float64 [N], nominal units/day (derived)
    lane_flow: np.ndarray     # float64 [L], nominal units/day (derived)

    @property
    def n_nodes(self) -> int:
        return len(self.node_ids)

    @property
    def n_lanes(self) -> int:
        return len(self.lane_ids)

    @property
    def base_stock(self) -> np.ndarray:
        """Target output stock (customers: shelf stock) in units."""
        return self.stock_days * np.where(self.kind == KINDS.index("customer"), self.demand, self.throughput)

    def node_index(self, key: int | str) -> int:
        return int(key) if isinstance(key, (int, np.integer)) else self.node_ids.index(key)

    def lane_index(self, key: int | str) -> int:
        return int(key) if isinstance(key, (int, np.integer)) else self.lane_ids.index(key)

    def customers(self) -> np.ndarray:
        return np.flatnonzero(self.kind == KINDS.index("customer"))

    def flow_share(self) -> np.ndarray:
        """Each node's nominal throughput as a share of its kind's total: what a
        disruption of the node puts at risk relative to its peers."""
        out = np.zeros(self.n_nodes)
        for k in range(len(KINDS)):
            m = self.kind == k
            tot = self.throughput[m].sum()
            if tot > 0:
                out[m] = self.throughput[m] / tot
        return out


def _kind(n: Mapping[str, Any]) -> int:
    t = n.get("kind", n.get("type"))
    t = getattr(t, "value", t)
    return KINDS.index(KIND_ALIASES.get(str(t), str(t)))


def _num(x: Any, default: float) -> float:
    return default if x is None else float(x)


def flow_network(nodes: Iterable[Mapping[str, Any]], lanes: Iterable[Mapping[str, Any]]) -> FlowNetwork:
    """Build and validate (see module docstring for the fields); raises ValueError on bad input."""
    nodes, lanes = list(nodes), list(lanes)
    ids = [str(n["id"]) for n in nodes]
    if len(set(ids)) != len(ids):
        raise ValueError("duplicate node id")
    idx = {k: i for i, k in enumerate(ids)}
    kinds = np.array([_kind(n) for n in nodes], dtype=np.int8)
    cust = KINDS.index("customer")
    # groups: per node, the bom components plus any component a lane names
    comps: list[dict[str, float]] = []
    for n in nodes:
        bom = {str(k): float(v) for k, v in (n.get("bom") or {}).items()}
        if any(q <= 0 for q in bom.values()):
            raise ValueError(f"node {n['id']}: bom quantities must be > 0")
        comps.append(bom)
    for ln in lanes:
        for end in ("src", "dst"):
            if str(ln[end]) not in idx:
                raise ValueError(f"lane {ln.get('id')} references unknown node {ln[end]}")
        comps[idx[str(ln["dst"])]].setdefault(str(ln.get("component") or DEFAULT_COMPONENT), 1.0)
    group_ptr = np.zeros(len(nodes) + 1, dtype=np.int32)
    gq: list[float] = []
    gname: list[str] = []
    gindex: dict[tuple[int, str], int] = {}
    for v, bom in enumerate(comps):
        for c in sorted(bom):
            gindex[(v, c)] = len(gq)
            gq.append(bom[c])
            gname.append(c)
        group_ptr[v + 1] = len(gq)
    lane_ids = [str(ln.get("id", f"{ln['src']}->{ln['dst']}")) for ln in lanes]
    if len(set(lane_ids)) != len(lane_ids):
        raise ValueError("duplicate lane id")
    src = np.array([idx[str(ln["src"])] for ln in lanes], dtype=np.int32)
    dst = np.array([idx[str(ln["dst"])] for ln in lanes], dtype=np.int32)
    grp = np.array([gindex[(idx[str(ln["dst"])], str(ln.get("component") or DEFAULT_COMPONENT))] for ln in lanes],
                   dtype=np.int32)
    backup = np.array([bool(ln.get("backup", False)) for ln in lanes], dtype=bool)
    share = np.array([0.0 if b else _num(ln.get("share"), math.nan) for ln, b in zip(lanes, backup)])
    for g in range(len(gq)):                       # unspecified shares: equal split of what is left
        m = (grp == g) & ~backup
        if not m.any():
            if np.any(grp == g):
                raise ValueError(f"component {gname[g]} of a node has only backup lanes")
            continue
        given = m & ~np.isnan(share)
        rest = max(0.0, 1.0 - share[given].sum())
        free = m & np.isnan(share)
        if free.any():
            share[free] = rest / free.sum()
        tot = share[m].sum()
        if not tot > 0:
            raise ValueError(f"component {gname[g]}: shares sum to 0")
        share[m] /= tot
    if np.any(share < 0):
        raise ValueError("shares must be >= 0")
    lead = np.array([max(MIN_LEAD_DAYS, int(math.floor(float(ln.get("lead_days", ln.get("lead_time_days", 1.0)))
                                                          + 0.5))) for ln in lanes], dtype=np.int32)
    demand = np.array([_num(n.get("demand", n.get("daily_demand")), 0.0) if k == cust else 0.0
                       for n, k in zip(nodes, kinds)])
    price = np.zeros(len(nodes))
    for i, (n, k) in enumerate(zip(nodes, kinds)):
        if k == cust:
            rev = n.get("revenue_per_day", n.get("daily_revenue_at_risk"))
            price[i] = _num(n.get("price"), float(rev) / demand[i] if rev is not None and demand[i] > 0 else 0.0)
    for ln_i, ln in enumerate(lanes):
        if kinds[dst[ln_i]] == cust and len(comps[dst[ln_i]]) > 1:
            raise ValueError(f"customer {ids[dst[ln_i]]} has more than one component")
    throughput, lane_flow = nominal_flows(len(nodes), demand, src, dst, grp, np.asarray(gq), share)
    cap = np.array([_num(n.get("flow_capacity", n.get("capacity")), UNLIMITED) for n in nodes])
    lcap = np.array([_num(ln.get("capacity"), UNLIMITED) for ln in lanes])
    over = np.flatnonzero(throughput > cap * (1 + 1e-9))
    if over.size:
        raise ValueError(f"nominal flow exceeds capacity at {[ids[i] for i in over[:5]]}")
    lover = np.flatnonzero(lane_flow > lcap * (1 + 1e-9))
    if lover.size:
        raise ValueError(f"nominal flow exceeds lane capacity on {[lane_ids[i] for i in lover[:5]]}")
    stock_days = np.array([_num(n.get("stock_days"), 0.0) for n in nodes])
    base = stock_days * np.where(kinds == cust, demand, throughput)
    inventory = np.array([_num(n.get("inventory_units", n.get("on_hand")), b) for n, b in zip(nodes, base)])
    sw = np.array([int(n.get("switch_days", DEFAULT_SWITCH_DAYS)) for n in nodes], dtype=np.int32)
    if np.any(sw < 1) or np.any(stock_days < 0) or np.any(inventory < 0) or np.any(cap < 0) or np.any(lcap < 0):
        raise ValueError("switch_days must be >= 1; stock, inventory and capacities >= 0")
    return FlowNetwork(
        node_ids=tuple(ids), kind=kinds, region=tuple(str(n.get("region", "")) for n in nodes), capacity=cap,
        demand=demand, demand_cv=np.array([_num(n.get("demand_cv"), 0.0) for n in nodes]), price=price,
        stock_days=stock_days, inventory=inventory, switch_days=sw,
        group_ptr=group_ptr, group_qty=np.asarray(gq, dtype=np.float64), group_name=tuple(gname),
        lane_ids=tuple(lane_ids), lane_src=src, lane_dst=dst, lane_group=grp, lane_lead=lead,
        lane_lead_sd=np.array([_num(ln.get("lead_sd_days"), 0.0) for ln in lanes]), lane_capacity=lcap,
        lane_share=share, lane_backup=backup, lane_mode=tuple(str(ln.get("mode", "")) for ln in lanes),
        throughput=throughput, lane_flow=lane_flow,
    )


def nominal_flows(n: int, demand: np.ndarray, src: np.ndarray, dst: np.ndarray, grp: np.ndarray,
                  qty: np.ndarray, share: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Throughput per node and flow per lane in steady state (reverse topological order
    over lanes in use); raises on a cycle of lanes in use."""
    use = np.flatnonzero(share > 0)
    outdeg = np.bincount(src[use], minlength=n)
    into: list[list[int]] = [[] for _ in range(n)]
    for l in use.tolist():
        into[dst[l]].append(l)
    thr = demand.astype(np.float64).copy()
    flow = np.zeros(src.shape[0])
    stack = [v for v in range(n) if outdeg[v] == 0]
    done = 0
    while stack:
        v = stack.pop()
        done += 1
        for l in into[v]:
            flow[l] = share[l] * qty[grp[l]] * thr[v]
            u = src[l]
            thr[u] += flow[l]
            outdeg[u] -= 1
            if outdeg[u] == 0:
                stack.append(u)
    if done != n:
        raise ValueError("lanes in use form a cycle; mark one direction as backup")
    return thr, flow
