"""Impact agent: Monte Carlo of the scenario over the horizon, with adaptive stopping.

Kernel view of the twin network (built per request, shared with Strategy so
both see the same network and the same sampled scenarios):

* the twin's network file carries no sourcing shares, and the kernel treats
  every enabled inbound lane as a full alternative (OR). With all lanes on,
  no single outage ever reaches a customer, which is not how sourcing works.
  So each node's inbound lanes in use are active and the others are *dormant
  backups*: qualified but not used until a decision (with a cost) switches
  them on. That is exactly what the Strategy agent's reroute /
  alternative-supplier candidates do. The network file may say which lanes are
  in use (`backup: false`) and which components a node needs (`component`:
  different components are ANDed, a bill of materials); where it does not, a
  node's (component's) shortest-lead-time lane, ties by id, is its one lane in
  use (`active_inbound`);
* days of cover come from the Info snapshot (live twin) where it has them,
  else from the network file; no demand means infinite cover;
* lanes that would close a cycle are left out first (the kernel needs a DAG),
  so a lane in use is always one the kernel keeps; a lane the request names is
  always kept (the opposite lane of a port pair gives way instead).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from engine.montecarlo import (DisruptionModel, ForcedOutage, Network, disruption_model, network_from_dicts,
                               prepare, run_trials, simulate_adaptive, summarize)
from engine.montecarlo.network import forward_lanes
from engine.montecarlo.stats import Summary
from twin.network import Lane, SupplyNetwork

from engine.agents.info import Snapshot
from engine.agents.scenario import ScenarioSpec
from engine.models import Distribution, Estimate, ImpactSummary, ScenarioRequest

# Per-customer stock-out days need a [trials, customers] array; beyond this
# many trials it would cost hundreds of MB for a mean that is already tight,
# so that table comes from the first STOCKOUT_TRIALS trials (same seed).
STOCKOUT_TRIALS = 20_000
# Trials per adaptive batch: one batch of the 10k default is a single kernel
# call (no convergence checks in between that would add latency).
BATCH_TRIALS = 10_000
# Kernel backend; numba is the production one (numpy/python are references).
BACKEND = "numba"


class ImpactError(RuntimeError):
    """The Monte Carlo could not be run for this scenario."""


@dataclass(frozen=True, eq=False)
class KernelView:
    """The request's kernel network and disruption model (shared by Impact and Strategy)."""

    net: Network
    model: DisruptionModel
    active: dict[str, tuple[str, ...]]  # node id -> its inbound lane ids in use
    dormant: frozenset[str]            # backup lane ids (disabled in the baseline)
    horizon_days: float


@dataclass(frozen=True, eq=False)
class ImpactOutput:
    summary: ImpactSummary
    view: KernelView
    n_trials: int
    baseline_loss: np.ndarray          # per trial, for the common-random-numbers check downstream


DEFAULT_COMPONENT = "default"
"""Input group of lanes that name no component: all alternatives of one another."""


def active_inbound(lanes: Sequence[Lane]) -> dict[str, tuple[str, ...]]:
    """{node id: its inbound lanes in use}: per (node, component) the lanes marked `backup: false`, else the
    one with the shortest lead time (ties by id) among those not marked `backup: true`; a component whose every
    lane is a backup has none in use (the node is short of it until a mitigation switches one on)."""
    groups: dict[tuple[str, str], list[Lane]] = {}
    for ln in lanes:
        groups.setdefault((ln.dst, ln.component or DEFAULT_COMPONENT), []).append(ln)
    active: dict[str, list[str]] = {}
    for (dst, _component), members in sorted(groups.items()):
        marked = sorted(ln.id for ln in members if ln.backup is False)
        if not marked:
            usable = [ln for ln in members if ln.backup is not True]
            marked = [min(usable, key=lambda x: (x.lead_time_days, x.id)).id] if usable else []
        active.setdefault(dst, []).extend(marked)
    return {dst: tuple(lids) for dst, lids in active.items() if lids}


def build_kernel_view(network: SupplyNetwork, snapshot: Snapshot, spec: ScenarioSpec,
                      horizon_days: float) -> KernelView:
    """Kernel network (lanes in use on, backups dormant, live cover) plus the disruption model."""
    kinds = {n.id: n.kind.value for n in network.nodes}
    order = [n.id for n in network.nodes]
    idx = {k: i for i, k in enumerate(order)}
    type_code = [("supplier", "factory", "port", "warehouse", "distribution_centre", "customer").index(kinds[k])
                 for k in order]
    srcs, dsts = [idx[ln.src] for ln in network.lanes], [idx[ln.dst] for ln in network.lanes]
    keep = forward_lanes(type_code, srcs, dsts)
    asked = {f.id for f in spec.forced if f.kind == "lane"}
    left_out = [i for i, ln in enumerate(network.lanes) if ln.id in asked and not keep[i]]
    if left_out:  # a what-if about a lane models that lane: the lanes it would cycle with give way
        keep = forward_lanes(type_code, srcs, dsts, prefer=left_out)
    lanes = [ln for ln, k in zip(network.lanes, keep) if k]
    active = active_inbound(lanes)
    in_use = {lid for lids in active.values() for lid in lids}
    live = snapshot.cover_overrides()
    node_dicts = []
    for n in network.nodes:
        cover = live[n.id] if n.id in live else n.days_of_cover
        node_dicts.append({"id": n.id, "type": n.kind.value, "revenue_per_day": n.daily_revenue_at_risk,
                           "cover_days": math.inf if cover is None else max(0.0, cover)})
    lane_dicts = [{"id": ln.id, "src": ln.src, "dst": ln.dst, "lead_days": ln.lead_time_days,
                   "group": ln.component or DEFAULT_COMPONENT, "enabled": ln.id in in_use} for ln in lanes]
    net = network_from_dicts(node_dicts, lane_dicts, drop_cycles=False)
    node_r = np.asarray([spec.node_risk[i] for i in net.node_ids], dtype=np.float64).reshape(-1, 3)
    lane_r = np.asarray([spec.lane_risk[i] for i in net.lane_ids], dtype=np.float64).reshape(-1, 3)
    kept = set(net.lane_ids)
    forced = [ForcedOutage(f.kind, f.id, f.median_days, f.start_day, f.sigma) for f in spec.forced
              if f.kind == "node" or f.id in kept]
    if not forced:
        raise ImpactError("every requested lane closes a cycle in the network and was left out of the model")
    model = disruption_model(net, node_r[:, 0], node_r[:, 1], node_r[:, 2], lane_r[:, 0], lane_r[:, 1],
                             lane_r[:, 2], forced=forced)
    dormant = frozenset(ln["id"] for ln in lane_dicts if not ln["enabled"])
    return KernelView(net, model, active, dormant, horizon_days)


def _est(e) -> Estimate:
    return Estimate(value=float(e.value), lo=float(e.lo), hi=float(e.hi))


def distribution(s: Summary) -> Distribution:
    return Distribution(n=s.n, mean=_est(s.mean), p50=_est(s.p50), p90=_est(s.p90), p99=_est(s.p99),
                        cvar95=_est(s.cvar95))


def run_impact(view: KernelView, request: ScenarioRequest) -> ImpactOutput:
    """Baseline (do nothing) distributions, sampling until the mean loss is tight or the cap is hit."""
    try:
        res = simulate_adaptive(view.net, view.model, seed=request.seed, horizon_days=view.horizon_days,
                                rel_tol=request.rel_tol, batch=min(BATCH_TRIALS, request.trials),
                                min_trials=min(1_000, request.trials), max_trials=request.trials,
                                backend=BACKEND, store_customers=False)
    except ValueError as exc:
        raise ImpactError(f"Monte Carlo rejected the scenario: {exc}") from exc
    r = res.results
    n_cust = min(STOCKOUT_TRIALS, r.n_trials)
    cust = run_trials(prepare(view.net, view.model, None, view.horizon_days), n_trials=n_cust, seed=request.seed,
                      backend=BACKEND, store_customers=True)
    per_cust = cust.stockout_days[0].mean(axis=0)
    stockout = {view.net.node_ids[int(c)]: round(float(d), 4)
                for c, d in zip(view.net.customers, per_cust) if d > 0}
    summary = ImpactSummary(
        n_trials=r.n_trials, converged=res.converged,
        lost_revenue=distribution(res.summaries[0]),
        fill_rate=distribution(summarize(r.fill_rate[0])),
        time_to_recover_days=distribution(summarize(r.ttr[0])),
        stockout_days_per_customer=stockout, customers_hit=len(stockout))
    return ImpactOutput(summary, view, r.n_trials, r.loss[0].copy())
