"""A scenario request answered on the flow model: impact, strategies on common random numbers, Pareto top 3.

Why a function beside the pipeline: it answers a request from a flow network
directly (tests, notebooks, the every-node table) without the twin view, the
Scenario agent's priors or the executor; the pipeline's flow stages
(engine/agents/flow_stages.py, ``PipelineConfig(kernel="flow")``, the decider's
``decision_kernel``) do the same with live state. Ranking and explanations are the Negotiation agent's
(Pareto front over expected loss, cost, 1 - fill rate, CO2, CVaR95, then
maximin over stakeholders), so both kernels' answers read the same.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from engine.agents.negotiation import negotiate
from engine.agents.strategy import StrategyOutput
from engine.models import Estimate, ScenarioRequest, StrategyOutcome

from .events import FlowDisruption, outage
from .network import FlowNetwork
from .strategies import MAX_CANDIDATES, Evaluation, evaluate, flow_candidates, scope

# Log-sd of the requested duration: the operator's estimate is a median, not a
# certainty (same default spread as the every-node table).
DURATION_SIGMA = 0.5


@dataclass(frozen=True, eq=False)
class FlowDecision:
    top: list[StrategyOutcome]       # best first, with explanations
    pareto: list[str]
    baseline: StrategyOutcome
    evaluation: Evaluation           # per option: estimates and paired reductions with their intervals
    seconds: dict[str, float]


def outcome(row: dict) -> StrategyOutcome:
    """A Strategy-agent row (engine.models) from an Evaluation row."""
    return StrategyOutcome(name=row["name"], kind=row["kind"], description=row["description"],
                           cost_usd=row["cost_usd"], co2_t=row["co2_t"], time_to_effect_days=row["time_to_effect_days"],
                           expected_loss=row["expected_loss"],
                           loss_reduction=Estimate(value=row["loss_reduction"], lo=row["loss_reduction_lo"],
                                                   hi=row["loss_reduction_hi"]),
                           expected_loss_ci=Estimate(value=row["expected_loss"],
                                                     lo=row["expected_loss"] - row["loss_half_width"],
                                                     hi=row["expected_loss"] + row["loss_half_width"]),
                           p99_loss=row["p99_loss"], cvar95_loss=row["cvar95_loss"], fill_rate=row["fill_rate"])


def decide(net: FlowNetwork, request: ScenarioRequest, *, background: FlowDisruption | None = None,
           max_candidates: int = MAX_CANDIDATES) -> FlowDecision:
    """Forced outages of the request's nodes and lanes (median ``duration_days``), all trials, one kernel call."""
    t0 = time.perf_counter()
    horizon = int(round(request.horizon_days))
    start = int(request.start_day)
    ev = tuple(outage("node", k, request.duration_days, start_day=start, sigma=DURATION_SIGMA) for k in request.nodes)
    ev += tuple(outage("lane", k, request.duration_days, start_day=start, sigma=DURATION_SIGMA) for k in request.lanes)
    dis = FlowDisruption(ev)
    cands = flow_candidates(net, scope(net, request.nodes, request.lanes), request.duration_days, horizon,
                            max_candidates)
    t1 = time.perf_counter()
    evaluation = evaluate(net, dis, cands, n_trials=request.trials, seed=request.seed, horizon_days=horizon,
                          background=background)
    t2 = time.perf_counter()
    outcomes = [outcome(r) for r in evaluation.rows]
    out = StrategyOutput(outcomes[0], outcomes[1:], evaluation.loss[0], request.trials)
    top, front, base = negotiate(out, request)
    t3 = time.perf_counter()
    return FlowDecision(top, front, base, evaluation,
                        {"candidates": t1 - t0, "kernel": t2 - t1, "negotiation": t3 - t2, "total": t3 - t0})
