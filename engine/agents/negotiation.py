"""Negotiation agent: Pareto front, then a maximin compromise between stakeholders.

Method (docs/decisions.md):

1. objectives, all minimised: expected loss, cost, 1 - fill rate (service
   level), CO2, CVaR95 of loss (tail risk); options = do nothing + candidates;
2. Pareto front: an option is dominated if another is no worse on every
   objective and better on one;
3. normalise each objective to [0, 1] over the options (min -> 0, max -> 1;
   constant objectives -> 0) so dollars and tonnes become comparable;
4. each stakeholder k scores option i by utility u_k(i) = sum_j w_kj (1 - z_ij);
5. compromise = maximin (Rawls): rank by min_k u_k(i), ties by the mean over
   stakeholders; front members rank before dominated options.

Why maximin rather than a weighted sum of stakeholders: a strategy that one
stakeholder rates near zero (e.g. sustainability for an air-freight-heavy
plan) must not win because the others like it; maximin picks the option whose
worst-off stakeholder is best off, and needs no inter-stakeholder weights.
"""

from __future__ import annotations

from typing import Mapping

import numpy as np

from engine.agents.strategy import StrategyOutput
from engine.models import ObjectiveWeights, ScenarioRequest, StrategyOutcome

METHOD = "pareto+normalised-weighted-utility+maximin-over-stakeholders"
# Number of strategies returned to the operator.
TOP_K = 3
# Default stakeholder name for the request's own weights.
REQUESTER = "requester"


class NegotiationError(RuntimeError):
    """No option could be ranked."""


def objective_matrix(options: list[StrategyOutcome]) -> np.ndarray:
    """Rows options, columns the five minimised objectives (order of ``models.OBJECTIVES``)."""
    return np.asarray([[o.expected_loss, o.cost_usd, 1.0 - o.fill_rate, o.co2_t, o.cvar95_loss] for o in options],
                      dtype=np.float64)


def pareto_mask(obj: np.ndarray) -> np.ndarray:
    """True for non-dominated rows (all objectives minimised)."""
    n = obj.shape[0]
    keep = np.ones(n, dtype=bool)
    for i in range(n):
        le = np.all(obj <= obj[i], axis=1)
        lt = np.any(obj < obj[i], axis=1)
        keep[i] = not np.any(le & lt)
    return keep


def normalise(obj: np.ndarray) -> np.ndarray:
    lo, hi = obj.min(axis=0), obj.max(axis=0)
    span = np.where(hi > lo, hi - lo, 1.0)
    return np.where(hi > lo, (obj - lo) / span, 0.0)


def utilities(z: np.ndarray, stakeholders: Mapping[str, ObjectiveWeights]) -> dict[str, np.ndarray]:
    return {k: (1.0 - z) @ np.asarray(w.as_tuple()) for k, w in stakeholders.items()}


def money(x: float) -> str:
    a = abs(x)
    s = f"${a / 1e6:.1f}M" if a >= 1e6 else f"${a / 1e3:.0f}k" if a >= 1e3 else f"${a:.0f}"
    return f"-{s}" if x < 0 else s


def signed(x: float) -> str:
    return money(x) if x < 0 else "+" + money(x)


def explain(o: StrategyOutcome, base: StrategyOutcome, rank: int, best: StrategyOutcome | None,
            dominated_by: str | None) -> str:
    """Plain-words trade-off of one option against doing nothing (and against #1)."""
    red = o.loss_reduction.value
    pct = 100.0 * red / base.expected_loss if base.expected_loss > 0 else 0.0
    head = (f"cuts expected loss by {money(red)} (-{pct:.0f} %)" if red > 0
            else f"does not reduce expected loss ({money(-red)} more)")
    parts = [f"#{rank} {o.name} ({o.description}): {head} for {money(o.cost_usd)} and {o.co2_t:.0f} t CO2, "
             f"taking effect in {o.time_to_effect_days:g} day{'' if o.time_to_effect_days == 1 else 's'}; "
             f"P99 loss {money(base.p99_loss)} -> {money(o.p99_loss)}; "
             f"fill rate {100 * base.fill_rate:.2f} % -> {100 * o.fill_rate:.2f} %."]
    if red > 0:        # what the money buys: a planner must see a mitigation dearer than the loss it avoids
        net = red - o.cost_usd
        parts.append(f"Saves {money(net)} net of its cost." if net >= 0
                     else f"Costs {money(-net)} more than the loss it avoids.")
    if base.score > o.score:
        parts.append(f"Doing nothing ranks above it on the weighted objectives ({base.score:.2f} against "
                     f"{o.score:.2f}, worst-off stakeholder).")
    if best is not None and best.name != o.name:
        parts.append(f"Versus #1: expected loss {signed(o.expected_loss - best.expected_loss)}, "
                     f"cost {signed(o.cost_usd - best.cost_usd)}, CO2 {o.co2_t - best.co2_t:+.0f} t.")
    if dominated_by:
        parts.append(f"Dominated by {dominated_by} (worse or equal on every objective).")
    return " ".join(parts)


def negotiate(out: StrategyOutput, request: ScenarioRequest,
              top_k: int = TOP_K) -> tuple[list[StrategyOutcome], list[str], StrategyOutcome]:
    """Top-k strategies (best first), the Pareto front names, and the scored baseline."""
    options = [out.baseline, *out.outcomes]
    if not np.all(np.isfinite(objective_matrix(options))):
        raise NegotiationError("non-finite objective value; cannot rank")
    stakeholders: dict[str, ObjectiveWeights] = {REQUESTER: request.weights, **request.stakeholders}
    obj = objective_matrix(options)
    front = pareto_mask(obj)
    u = utilities(normalise(obj), stakeholders)
    stack = np.vstack(list(u.values()))            # [K, options]
    worst, mean = stack.min(axis=0), stack.mean(axis=0)
    scored = []
    for i, o in enumerate(options):
        dom = None
        if not front[i]:
            le = np.all(obj <= obj[i], axis=1) & np.any(obj < obj[i], axis=1)
            dom = options[int(np.flatnonzero(le)[0])].name
        scored.append((o.model_copy(update={"pareto": bool(front[i]), "score": round(float(worst[i]), 6),
                                            "stakeholder_scores": {k: round(float(v[i]), 6) for k, v in u.items()}}),
                       dom, float(mean[i])))
    base_scored = scored[0][0]
    ranked = sorted(scored[1:], key=lambda t: (not t[0].pareto, -t[0].score, -t[2], t[0].name))[:top_k]
    best = ranked[0][0] if ranked else None
    top = [o.model_copy(update={"explanation": explain(o, base_scored, r + 1, best, dom)})
           for r, (o, dom, _) in enumerate(ranked)]
    return top, [o.name for o, _, _ in scored if o.pareto], base_scored
