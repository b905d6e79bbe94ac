"""Cut the network down to what a disruption can reach, and pack it for the kernels.

Why a subgraph: the flow kernel steps every simulated node through every day,
so its cost is nodes x days x trials. Only the downstream closure of the
disrupted elements (over lanes that carry orders in some variant) can change,
so only that part, plus the sources that feed it, is simulated:

* ``R``: nodes hit by an event, destinations of lanes hit, and everything
  reachable from them over lanes with a share > 0 in any variant;
* boundary: sources of lanes into ``R`` (in use or backup) outside ``R``.
  They are not disrupted and are simulated as sources: their capacity for ``R``
  is their capacity less their nominal flow to nodes outside ``R`` and their
  own inputs are assumed to keep up (they are outside the disruption);
* background risk is kept for simulated elements only: it adds the same loss
  elsewhere with and without the event, so the event's excess loss is
  computed on the subgraph.

Nodes outside lose nothing; fill rate is still over the whole network's demand.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from typing import Sequence

import numpy as np

from .events import BACKGROUND_RNG_BASE, FlowDisruption, event_arrays
from .network import KINDS, FlowNetwork
from .variants import FlowVariant, variant_params

# Default horizon: a quarter, as the interval kernel.
DEFAULT_HORIZON_DAYS = 90
# Extra lead-time delay is capped at this many standard deviations: a normal
# tail draw must not need a ring buffer longer than the horizon.
EXTRA_SD_CAP = 4.0


@dataclass(frozen=True, eq=False)
class FlowInputs:
    """Everything the three kernels take, in local (subgraph) numbering."""

    horizon: int
    ring: int                 # ring-buffer length (power of 2 > any lead + extra delay)
    node_gid: np.ndarray      # int32 [n], global node index
    is_cust: np.ndarray       # uint8 [n]
    is_src: np.ndarray        # uint8 [n], no input groups
    demand: np.ndarray
    demand_cv: np.ndarray     # float64 [n]
    price: np.ndarray
    base: np.ndarray          # base (target) output / shelf stock, units
    init: np.ndarray          # on hand at day 0, units
    switch_days: np.ndarray   # int32 [n]
    cap: np.ndarray           # float64 [V, n]
    extra: np.ndarray         # float64 [V, n], units released on the effect day
    group_ptr: np.ndarray     # int32 [n+1]
    qty: np.ndarray           # float64 [G]
    target: np.ndarray        # float64 [G], inventory-position target of each group
    thr: np.ndarray           # float64 [n], nominal units ordered from each node per day
    glane_ptr: np.ndarray     # int32 [G+1]
    glanes: np.ndarray        # int32 [L']
    has_alt: np.ndarray       # uint8 [G], group can reroute (>= 2 usable lanes in some variant)
    lane_gid: np.ndarray      # int32 [L]
    src: np.ndarray
    dst: np.ndarray
    lgrp: np.ndarray
    lead0: np.ndarray         # int32 [L], baseline lead (initial pipeline)
    lead: np.ndarray          # int32 [V, L]
    lead_sd: np.ndarray       # float64 [L]
    extra_cap: np.ndarray     # int32 [L], cap of the extra delay
    lcap: np.ndarray          # float64 [V, L]
    share: np.ndarray         # float64 [V, L]
    backup: np.ndarray        # uint8 [L]
    flow0: np.ndarray         # float64 [L], nominal flow
    out_ptr: np.ndarray       # int32 [n+1]
    out_lanes: np.ndarray     # int32
    el_ptr: np.ndarray        # int32 [n+L+1], events hitting each local element
    el_ev: np.ndarray         # int32
    el_sev: np.ndarray        # float64
    hit_el: np.ndarray        # int32, local elements hit by some event
    ev_p: np.ndarray
    ev_s0: np.ndarray
    ev_win: np.ndarray
    ev_mu: np.ndarray
    ev_sigma: np.ndarray
    ev_rng: np.ndarray        # int64, random-number id (global event index)
    effect_day: np.ndarray    # int32 [V]
    customers: np.ndarray     # int32, local customer indices
    demand_total: float       # customer demand of the whole network, units/day
    variant_names: tuple[str, ...]
    node_ids: tuple[str, ...]  # local node ids

    @property
    def n_nodes(self) -> int:
        return int(self.node_gid.shape[0])

    @property
    def n_variants(self) -> int:
        return int(self.cap.shape[0])


def reachable(net: FlowNetwork, elements: Sequence[int], share_any: np.ndarray) -> np.ndarray:
    """Bool [N]: downstream closure (over lanes with share > 0) of the given global elements."""
    n = net.n_nodes
    seen = np.zeros(n, dtype=bool)
    stack = [e if e < n else int(net.lane_dst[e - n]) for e in elements]
    out: list[list[int]] = [[] for _ in range(n)]
    for l in np.flatnonzero(share_any).tolist():
        out[net.lane_src[l]].append(int(net.lane_dst[l]))
    while stack:
        v = stack.pop()
        if seen[v]:
            continue
        seen[v] = True
        stack.extend(w for w in out[v] if not seen[w])
    return seen


def prepare_flow(net: FlowNetwork, disruption: FlowDisruption, variants: Sequence[FlowVariant] | None = None,
                 horizon_days: int = DEFAULT_HORIZON_DAYS, background: FlowDisruption | None = None,
                 subgraph: bool = True) -> FlowInputs:
    """Validate, cut to the reachable part (``subgraph``) and pack."""
    horizon = int(horizon_days)
    if horizon < 1:
        raise ValueError("horizon must be >= 1 day")
    vp = variant_params(net, variants)
    allev = disruption + (background or FlowDisruption(()))
    ea = event_arrays(net, allev)
    n_all, n_forced = net.n_nodes, len(disruption.events)
    rng_id = ea.rng_id.copy()                     # the background's draws do not depend on how many are forced
    rng_id[n_forced:] = BACKGROUND_RNG_BASE + np.arange(len(rng_id) - n_forced)
    ea = replace(ea, rng_id=rng_id)
    if subgraph:
        seeds = [int(e) for e, j in zip(ea.elem, ea.event) if j < n_forced]
        in_r = reachable(net, seeds, (vp.share > 0).any(axis=0))
    else:
        in_r = np.ones(n_all, dtype=bool)
    lane_in = in_r[net.lane_dst]
    local = in_r.copy()
    local[net.lane_src[lane_in]] = True
    gid = np.flatnonzero(local).astype(np.int32)
    loc = -np.ones(n_all, dtype=np.int64)
    loc[gid] = np.arange(gid.size)
    lanes = np.flatnonzero(lane_in).astype(np.int32)
    lloc = -np.ones(net.n_lanes, dtype=np.int64)
    lloc[lanes] = np.arange(lanes.size)
    n, n_l = gid.size, lanes.size
    # boundary capacity: what is left after nominal flow to nodes outside R
    cap = vp.capacity[:, gid].copy()
    outside = (~in_r[net.lane_dst]) & (net.lane_share > 0)
    used_out = np.bincount(net.lane_src[outside], weights=net.lane_flow[outside], minlength=n_all)
    cap -= used_out[gid][None, :]
    cap = np.maximum(cap, 0.0)
    # groups of nodes in R (boundary nodes are sources)
    gptr = [0]
    qty, target, glp, gl, has_alt = [], [], [0], [], []
    lgrp = np.empty(n_l, dtype=np.int32)
    cust = KINDS.index("customer")
    usable_any = (vp.share[:, lanes] > 0) | net.lane_backup[lanes][None, :]
    for i, v in enumerate(gid.tolist()):
        if in_r[v]:
            for g in range(net.group_ptr[v], net.group_ptr[v + 1]):
                mem = np.flatnonzero(net.lane_group[lanes] == g)
                if mem.size == 0:
                    continue
                lgrp[mem] = len(qty)
                qty.append(float(net.group_qty[g]))
                f = net.lane_flow[lanes[mem]]
                tgt = f.sum() + float((f * net.lane_lead[lanes[mem]]).sum())
                if net.kind[v] == cust:
                    tgt += float(net.base_stock[v])
                target.append(tgt)
                gl.extend(mem.tolist())
                glp.append(len(gl))
                has_alt.append(int(usable_any[:, mem].sum(axis=1).max() >= 2))
        gptr.append(len(qty))
    by_src = np.argsort(loc[net.lane_src[lanes]], kind="stable")
    out_ptr = np.zeros(n + 1, dtype=np.int32)
    np.cumsum(np.bincount(loc[net.lane_src[lanes]], minlength=n), out=out_ptr[1:])
    # events restricted to local elements; random ids stay global
    eloc = np.where(ea.elem < n_all, loc[np.minimum(ea.elem, n_all - 1)],
                    np.where(lloc[np.maximum(ea.elem - n_all, 0)] >= 0, n + lloc[np.maximum(ea.elem - n_all, 0)], -1))
    keep = eloc >= 0
    used_ev = np.unique(ea.event[keep])
    evloc = -np.ones(len(allev.events), dtype=np.int64)
    evloc[used_ev] = np.arange(used_ev.size)
    m_el, m_ev, m_sev = eloc[keep], evloc[ea.event[keep]], ea.severity[keep]
    order = np.lexsort((m_ev, m_el))
    el_ptr = np.zeros(n + n_l + 1, dtype=np.int32)
    np.cumsum(np.bincount(m_el, minlength=n + n_l), out=el_ptr[1:])
    lead_sd = net.lane_lead_sd[lanes]
    extra_cap = np.ceil(EXTRA_SD_CAP * lead_sd).astype(np.int32)
    max_lead = int(vp.lead[:, lanes].max(initial=1)) + int(extra_cap.max(initial=0)) + 2
    ring = 1 << max(1, math.ceil(math.log2(max_lead)))
    c = np.ascontiguousarray
    return FlowInputs(
        horizon=horizon, ring=ring, node_gid=gid,
        is_cust=c((net.kind[gid] == cust).astype(np.uint8)),
        is_src=c((np.diff(np.asarray(gptr)) == 0).astype(np.uint8)),
        demand=c(net.demand[gid]), demand_cv=c(net.demand_cv[gid]), price=c(net.price[gid]),
        base=c(net.base_stock[gid]),
        init=c(net.inventory[gid]), switch_days=c(net.switch_days[gid]), cap=c(cap), extra=c(vp.extra[:, gid]),
        group_ptr=np.asarray(gptr, dtype=np.int32), qty=np.asarray(qty, dtype=np.float64),
        target=np.asarray(target, dtype=np.float64), thr=c(net.throughput[gid]),
        glane_ptr=np.asarray(glp, dtype=np.int32),
        glanes=np.asarray(gl, dtype=np.int32), has_alt=np.asarray(has_alt, dtype=np.uint8),
        lane_gid=lanes, src=c(loc[net.lane_src[lanes]].astype(np.int32)),
        dst=c(loc[net.lane_dst[lanes]].astype(np.int32)), lgrp=lgrp, lead0=c(net.lane_lead[lanes]),
        lead=c(vp.lead[:, lanes]), lead_sd=c(lead_sd), extra_cap=extra_cap, lcap=c(vp.lane_capacity[:, lanes]),
        share=c(vp.share[:, lanes]), backup=c(net.lane_backup[lanes].astype(np.uint8)),
        flow0=c(net.lane_flow[lanes]), out_ptr=out_ptr, out_lanes=by_src.astype(np.int32),
        el_ptr=el_ptr, el_ev=c(m_ev[order].astype(np.int32)), el_sev=c(m_sev[order]),
        hit_el=np.flatnonzero(np.diff(el_ptr) > 0).astype(np.int32),
        ev_p=c(ea.p[used_ev]), ev_s0=c(ea.start0[used_ev]), ev_win=c(ea.window[used_ev]), ev_mu=c(ea.mu[used_ev]),
        ev_sigma=c(ea.sigma[used_ev]), ev_rng=c(ea.rng_id[used_ev]), effect_day=vp.effect_day,
        customers=np.flatnonzero(net.kind[gid] == cust).astype(np.int32),
        demand_total=float(net.demand.sum()), variant_names=vp.names,
        node_ids=tuple(net.node_ids[i] for i in gid.tolist()),
    )
