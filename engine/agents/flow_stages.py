"""Impact and Strategy stages on the flow kernel (``PipelineConfig(kernel="flow")``).

Why separate stages rather than a flag inside impact.py/strategy.py: the two
kernels take different networks (outage intervals vs quantities), disruptions
and mitigations; the pipeline, Info, Scenario and Negotiation stay the same.

* network: the twin's network plus its sourcing file (engine.flow.twin), built
  once per network object; live twin state from the Info snapshot (inventory in
  units, node health) is applied per request;
* disruption: the request's forced outages (median with the learned overrun,
  log-sd from the Scenario agent) and the priors' background risk of every
  element, kept on the reachable subgraph only;
* in transit: a lane whose tracked shipments the twin reports stalled holds
  its goods for a few days (a lane event from day 0);
* Impact: packs do nothing + the engine.flow.strategies candidates once (the
  reachable subgraph of every variant) and runs all requested trials of do
  nothing alone (no adaptive stopping: Strategy replays the same trials);
* Strategy: the candidates on that packing with the same seed (common random
  numbers), joined to Impact's do-nothing run: do nothing is simulated once
  per request, not twice, and the do-nothing row is Impact's by construction.
"""

from __future__ import annotations

import math
import threading
from dataclasses import dataclass

import numpy as np

from engine.agents.info import Snapshot
from engine.agents.scenario import ScenarioSpec
from engine.agents.strategy import StrategyOutput
from engine.flow import BASELINE, FlowDisruption, FlowInputs, FlowNetwork, FlowResults, prepare_flow, run_flow
from engine.flow.decide import outcome
from engine.flow.events import Event, outage
from engine.flow.strategies import MAX_CANDIDATES, FlowCandidate, evaluate, flow_candidates, scope
from engine.flow.twin import flow_from_twin, live_network
from engine.models import Distribution, Estimate, ImpactSummary
from engine.montecarlo.stats import summarize

# Per-customer stock-out days need [trials, customers] floats; 20k trials are
# plenty for a mean and keep the array small (as in the interval Impact agent).
STOCKOUT_TRIALS = 20_000
# A lane whose tracked shipments the twin reports stalled holds its in-transit
# goods for a lognormal time with this median (days) and log-sd: long enough to
# matter, short against a typical outage (a stall is a hold, not a closure).
STALL_MEDIAN_DAYS = 3.0
STALL_SIGMA = 0.8

_CACHE: dict[int, tuple[object, FlowNetwork]] = {}
_LOCK = threading.Lock()


def base_flow_network(network) -> FlowNetwork:
    """The flow network of a SupplyNetwork (cached per object: building it costs ~50 ms)."""
    with _LOCK:
        hit = _CACHE.get(id(network))
        if hit is None or hit[0] is not network:
            hit = (network, flow_from_twin(network.to_dict()))
            _CACHE[id(network)] = hit
        return hit[1]


@dataclass(frozen=True, eq=False)
class FlowImpactOutput:
    summary: ImpactSummary
    net: FlowNetwork
    disruption: FlowDisruption
    background: FlowDisruption
    n_trials: int
    baseline_loss: np.ndarray
    candidates: list[FlowCandidate]
    inputs: FlowInputs               # do nothing + candidates, packed once
    baseline: FlowResults            # do nothing alone on ``inputs`` (row 0)


def stalled_lanes(snap: Snapshot) -> list[str]:
    """Lanes with a tracked shipment the twin reports stalled (``stalled: true`` or ``status: "stalled"``)."""
    return sorted(lid for lid, ln in snap.lanes.items()
                  if any(d.get("stalled") is True or d.get("status") == "stalled" for d in ln.in_transit))


def disruptions(net: FlowNetwork, spec: ScenarioSpec, horizon: int,
                stalled: list[str] = ()) -> tuple[FlowDisruption, FlowDisruption]:
    """(forced events, background events) from the Scenario agent's spec; stalled shipments hold their lane."""
    forced = tuple(outage(f.kind, f.id, f.median_days, start_day=int(f.start_day), sigma=f.sigma)
                   for f in spec.forced if f.kind == "node" or f.id in net.lane_ids)
    forced += tuple(outage("lane", lid, STALL_MEDIAN_DAYS, sigma=STALL_SIGMA) for lid in stalled
                    if lid in net.lane_ids)
    bg: list[Event] = []
    for kind, risks in (("node", spec.node_risk), ("lane", spec.lane_risk)):
        for key, (p, mu, sigma) in risks.items():
            if p > 0 and (kind == "node" or key in net.lane_ids):
                bg.append(Event(((kind, key, 1.0),), math.exp(mu), p, 0, horizon, sigma, "background"))
    return FlowDisruption(forced), FlowDisruption(tuple(bg))


def _dist(x: np.ndarray) -> Distribution:
    s = summarize(x)
    e = lambda v: Estimate(value=float(v.value), lo=float(v.lo), hi=float(v.hi))  # noqa: E731
    return Distribution(n=s.n, mean=e(s.mean), p50=e(s.p50), p90=e(s.p90), p99=e(s.p99), cvar95=e(s.cvar95))


def run_flow_impact(network, snap: Snapshot, spec: ScenarioSpec, request,
                    max_candidates: int = MAX_CANDIDATES) -> FlowImpactOutput:
    """Do-nothing distributions on the flow kernel, with live state from the snapshot."""
    net = live_network(base_flow_network(network), {k: v.state for k, v in snap.nodes.items()})
    horizon = int(round(request.horizon_days))
    forced, bg = disruptions(net, spec, horizon, stalled_lanes(snap))
    if not forced.events:
        raise ValueError("no requested element is part of the flow network")
    cands = flow_candidates(net, scope(net, request.nodes, [l for l in request.lanes if l in net.lane_ids]),
                            spec.expected_duration_days, horizon, max_candidates)
    inp = prepare_flow(net, forced, [BASELINE, *(c.variant for c in cands)], horizon, background=bg)
    small = request.trials <= STOCKOUT_TRIALS          # one kernel call stores the per-customer table too
    res = run_flow(inp, n_trials=request.trials, seed=request.seed, store_customers=small, variants=(0, 1))
    cust = res if small else run_flow(inp, n_trials=STOCKOUT_TRIALS, seed=request.seed, store_customers=True,
                                      variants=(0, 1))
    per = cust.customer_stockout_days[0].mean(axis=0)
    stockout = {c: round(float(d), 4) for c, d in zip(cust.customer_ids, per) if d > 0}
    summary = ImpactSummary(n_trials=res.n_trials, converged=True, lost_revenue=_dist(res.loss[0]),
                            fill_rate=_dist(res.fill_rate[0]), time_to_recover_days=_dist(res.ttr[0]),
                            stockout_days_per_customer=stockout, customers_hit=len(stockout))
    return FlowImpactOutput(summary, net, forced, bg, res.n_trials, res.loss[0].copy(), cands, inp, res)


def run_flow_strategy(spec: ScenarioSpec, impact: FlowImpactOutput, request, max_candidates: int) -> StrategyOutput:
    """Impact's candidates in one kernel call on Impact's packing and trials (common random numbers)."""
    cands = impact.candidates[:max_candidates]
    if len(cands) != len(impact.candidates):        # a smaller budget than Impact packed for: pack again
        ev = evaluate(impact.net, impact.disruption, cands, n_trials=impact.n_trials, seed=request.seed,
                      horizon_days=int(round(request.horizon_days)), background=impact.background)
    else:
        ev = evaluate(impact.net, impact.disruption, cands, n_trials=impact.n_trials, seed=request.seed,
                      horizon_days=int(round(request.horizon_days)), background=impact.background,
                      inputs=impact.inputs, baseline=impact.baseline)
    rows = [outcome(r) for r in ev.rows]
    return StrategyOutput(rows[0], rows[1:], ev.loss[0].copy(), impact.n_trials)
