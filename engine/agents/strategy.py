"""Strategy agent: candidate mitigations from the network, evaluated with common random numbers.

Candidates act on the request's kernel view (see :mod:`engine.agents.impact`):
``A`` the affected nodes, ``D1`` the nodes with a lane in use from ``A`` or an
affected lane into them, ``D2`` the nodes with a lane in use from ``D1``.

* ``alt_source``: switch ``D1`` to their dormant backup lanes from outside ``A``
  (an alternative supplier; "reroute via another port" when ``A`` is a port);
* ``reroute``: switch ``D2`` to backups from outside ``A`` and ``D1``;
* ``expedite_air``: the legs ``A -> D1 -> D2`` flown (lead time cut to air);
* ``safety_stock_7`` / ``_14``: release/rebalance stock: +7 / +14 days of cover at ``D1`` and ``D2``;
* ``shift_production``: a sibling factory (same kind and region) takes half
  the affected output: the outage duration is scaled by ``SHIFT_FACTOR``;
* two combinations (``alt_source+expedite_air``, ``safety_stock_7+shift_production``).

All candidates and the do-nothing baseline are evaluated in ONE kernel call
(one variant each), so trial t of every candidate replays the same sampled
disruption: differences between candidates are not sampling noise.

Cost model (explicit constants below; D = forced outage median in days,
capped at the horizon): fixed activation cost per lane plus a per-lane-day
premium for switched lanes; per-lane-day charter cost for air; per node and
cover-day holding cost for stock; per-day premium for shifted production.
CO2 likewise per lane-day / node-cover-day / production-day.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Mapping, Sequence

import numpy as np

from engine.montecarlo import BASELINE, Mitigation, paired_difference, simulate, summarize
from twin.network import SupplyNetwork

from engine.agents.impact import BACKEND, ImpactOutput, KernelView
from engine.agents.scenario import ScenarioSpec
from engine.models import Estimate, ScenarioRequest, StrategyOutcome

# --- cost / CO2 / delay model (docs/decisions.md) ---------------------------------
# Switching a node to a qualified backup lane: contract/qualification cost (so
# switching is never "free" and never chosen when it buys nothing) ...
SWITCH_FIXED_USD = 50_000.0
# ... plus the spot premium over the contracted price per lane and day of use.
SWITCH_USD_PER_LANE_DAY = 5_000.0
# Backups are further away: extra transport emissions per lane-day.
SWITCH_CO2_T_PER_LANE_DAY = 0.3
# Days before the first backup shipment leaves; added to the backup lane's lead
# time so the model does not credit the switch with instant effect.
SWITCH_DELAY_DAYS = 3.0
# Rerouting around (second hop) is set up faster but detours cost more CO2.
REROUTE_FIXED_USD = 30_000.0
REROUTE_USD_PER_LANE_DAY = 4_000.0
REROUTE_CO2_T_PER_LANE_DAY = 0.5
REROUTE_DELAY_DAYS = 2.0
# Air freight: lead time of a flown leg (1 day booking + ~1 day flight), charter
# cost and emissions per lane-day (air is ~50x sea per t-km, hence the large CO2).
AIR_LEAD_DAYS = 2.0
AIR_USD_PER_LANE_DAY = 15_000.0
AIR_CO2_T_PER_LANE_DAY = 6.0
# Safety stock: holding + handling per node per extra day of cover, and the
# trucking emissions of moving it; takes a day to rebalance.
STOCK_USD_PER_NODE_COVER_DAY = 3_000.0
STOCK_CO2_T_PER_NODE_COVER_DAY = 0.2
STOCK_DELAY_DAYS = 1.0
# Production shift: share of the outage the sibling cannot absorb (0.5 = half
# the duration remains; net of its ramp-up), premium and emissions per day.
SHIFT_FACTOR = 0.5
SHIFT_USD_PER_DAY = 40_000.0
SHIFT_CO2_T_PER_DAY = 1.5
SHIFT_DELAY_DAYS = 5.0
# Candidate cap: 8 keeps the evaluation one kernel call of 9 variants (< 1 s at 10k trials).
MAX_CANDIDATES = 8


class StrategyError(RuntimeError):
    """Candidate generation or evaluation failed."""


@dataclass(frozen=True)
class Candidate:
    name: str
    kind: str
    description: str
    mitigation: Mitigation
    cost_usd: float
    co2_t: float
    time_to_effect_days: float


@dataclass(frozen=True, eq=False)
class StrategyOutput:
    baseline: StrategyOutcome
    outcomes: list[StrategyOutcome]
    baseline_loss: np.ndarray          # the do-nothing row of the evaluation call (common random numbers)
    n_trials: int


@dataclass(frozen=True)
class _Scope:
    affected: tuple[str, ...]
    d1: tuple[str, ...]
    d2: tuple[str, ...]
    legs: tuple[str, ...] = field(default=())   # active lanes A->D1 and D1->D2


def _scope(network: SupplyNetwork, view: KernelView, request: ScenarioRequest) -> _Scope:
    lanes = {lid: network.lane_by_id[lid] for lid in view.net.lane_ids}
    a = set(request.nodes)
    fed_by = {dst: {lanes[lid].src for lid in lids} for dst, lids in view.active.items()}
    lane_hit = {lanes[l].dst for l in request.lanes if l in lanes} - a
    d1 = ({d for d, srcs in fed_by.items() if srcs & a} | lane_hit) - a
    d2 = {d for d, srcs in fed_by.items() if srcs & d1} - a - d1
    legs = [lid for d in sorted(d1 | d2) for lid in view.active.get(d, ())
            if d in lane_hit or lanes[lid].src in a | d1]
    return _Scope(tuple(sorted(a)), tuple(sorted(d1)), tuple(sorted(d2)), tuple(legs))


def _backups(network: SupplyNetwork, view: KernelView, into: Sequence[str], exclude: set[str]) -> list[str]:
    into_set = set(into)
    return sorted(lid for lid in view.dormant
                  if network.lane_by_id[lid].dst in into_set and network.lane_by_id[lid].src not in exclude)


def _merge(name: str, a: Mitigation, b: Mitigation) -> Mitigation:
    def add(x: Mapping, y: Mapping) -> dict:
        out = dict(x)
        for k, v in y.items():
            out[k] = out.get(k, 0.0) + v
        return out
    return Mitigation(name, extra_cover_days=add(a.extra_cover_days, b.extra_cover_days),
                      enable_lanes=tuple(dict.fromkeys([*a.enable_lanes, *b.enable_lanes])),
                      lead_time_days={**a.lead_time_days, **b.lead_time_days},
                      duration_factor={**a.duration_factor, **b.duration_factor},
                      lane_duration_factor={**a.lane_duration_factor, **b.lane_duration_factor})


def generate_candidates(network: SupplyNetwork, view: KernelView, spec: ScenarioSpec, request: ScenarioRequest,
                        max_candidates: int = MAX_CANDIDATES) -> list[Candidate]:
    """Candidates that have something to act on in this network (empty ones are skipped)."""
    sc = _scope(network, view, request)
    days = min(spec.expected_duration_days, view.horizon_days)
    lead = {lid: network.lane_by_id[lid].lead_time_days for lid in view.net.lane_ids}
    out: list[Candidate] = []
    kinds_a = {network.node_by_id[n].kind.value for n in sc.affected}
    alt = _backups(network, view, sc.d1, set(sc.affected))
    if alt:
        port = kinds_a == {"port"}
        out.append(Candidate(
            "alt_source", "reroute_port" if port else "alternative_supplier",
            f"{'reroute via another port' if port else 'switch to alternative supplier'}: "
            f"{len(alt)} backup lane(s) into {len(sc.d1)} directly affected node(s)",
            Mitigation("alt_source", enable_lanes=tuple(alt),
                       lead_time_days={l: lead[l] + SWITCH_DELAY_DAYS for l in alt}),
            SWITCH_FIXED_USD * len(alt) + SWITCH_USD_PER_LANE_DAY * len(alt) * days,
            SWITCH_CO2_T_PER_LANE_DAY * len(alt) * days, SWITCH_DELAY_DAYS))
    rer = _backups(network, view, sc.d2, set(sc.affected) | set(sc.d1))
    if rer:
        out.append(Candidate(
            "reroute", "reroute", f"reroute around: {len(rer)} backup lane(s) into {len(sc.d2)} second-tier node(s)",
            Mitigation("reroute", enable_lanes=tuple(rer),
                       lead_time_days={l: lead[l] + REROUTE_DELAY_DAYS for l in rer}),
            REROUTE_FIXED_USD * len(rer) + REROUTE_USD_PER_LANE_DAY * len(rer) * days,
            REROUTE_CO2_T_PER_LANE_DAY * len(rer) * days, REROUTE_DELAY_DAYS))
    fly = [l for l in sc.legs if l in lead and lead[l] > AIR_LEAD_DAYS and network.lane_by_id[l].mode.value != "air"]
    if fly:
        out.append(Candidate(
            "expedite_air", "expedite_air", f"expedite by air on {len(fly)} downstream leg(s) (lead -> {AIR_LEAD_DAYS:g} d)",
            Mitigation("expedite_air", lead_time_days={l: AIR_LEAD_DAYS for l in fly}),
            AIR_USD_PER_LANE_DAY * len(fly) * days, AIR_CO2_T_PER_LANE_DAY * len(fly) * days, AIR_LEAD_DAYS))
    buffers = [n for n in (*sc.d1, *sc.d2) if network.node_by_id[n].kind.value != "supplier"]
    for extra in (7.0, 14.0):
        if buffers:
            name = f"safety_stock_{extra:g}"
            out.append(Candidate(
                name, "safety_stock", f"release/rebalance safety stock: +{extra:g} days of cover at {len(buffers)} node(s)",
                Mitigation(name, extra_cover_days={n: extra for n in buffers}),
                STOCK_USD_PER_NODE_COVER_DAY * len(buffers) * extra,
                STOCK_CO2_T_PER_NODE_COVER_DAY * len(buffers) * extra, STOCK_DELAY_DAYS))
    shifted = [n for n in sc.affected if _has_sibling(network, n, set(sc.affected))]
    if shifted:
        out.append(Candidate(
            "shift_production", "shift_production",
            f"shift production to a sibling site: outage duration x{SHIFT_FACTOR:g} at {len(shifted)} node(s)",
            Mitigation("shift_production", duration_factor={n: SHIFT_FACTOR for n in shifted}),
            SHIFT_USD_PER_DAY * len(shifted) * days, SHIFT_CO2_T_PER_DAY * len(shifted) * days, SHIFT_DELAY_DAYS))
    by = {c.name: c for c in out}
    for a, b in (("alt_source", "expedite_air"), ("safety_stock_7", "shift_production"),
                 ("reroute", "safety_stock_7"), ("alt_source", "safety_stock_7")):
        if a in by and b in by and len(out) < max_candidates:
            x, y = by[a], by[b]
            name = f"{a}+{b}"
            out.append(Candidate(name, "combination", f"{x.description}; and {y.description}",
                                 _merge(name, x.mitigation, y.mitigation), x.cost_usd + y.cost_usd,
                                 x.co2_t + y.co2_t, max(x.time_to_effect_days, y.time_to_effect_days)))
    return out[:max_candidates]


def _has_sibling(network: SupplyNetwork, node_id: str, affected: set[str]) -> bool:
    """Production can shift only to a same-kind site in the same region that is not itself down."""
    n = network.node_by_id[node_id]
    if n.kind.value not in ("factory", "supplier"):
        return False
    return any(m.kind is n.kind and m.region == n.region and m.id not in affected for m in network.nodes)


def _outcome(name: str, kind: str, desc: str, cost: float, co2: float, tte: float, loss: np.ndarray,
             base: np.ndarray, fill: np.ndarray) -> StrategyOutcome:
    s = summarize(loss)
    red = paired_difference(base, loss)
    return StrategyOutcome(name=name, kind=kind, description=desc, cost_usd=cost, co2_t=co2,
                           time_to_effect_days=tte, expected_loss=s.mean.value,
                           loss_reduction=Estimate(value=red.value, lo=red.lo, hi=red.hi),
                           expected_loss_ci=Estimate(value=s.mean.value, lo=s.mean.lo, hi=s.mean.hi),
                           p99_loss=s.p99.value, cvar95_loss=s.cvar95.value, fill_rate=float(fill.mean()))


def evaluate(candidates: Sequence[Candidate], impact: ImpactOutput, request: ScenarioRequest) -> StrategyOutput:
    """All candidates plus do-nothing in one kernel call over the Impact agent's trials."""
    view = impact.view
    try:
        res = simulate(view.net, view.model, n_trials=impact.n_trials, seed=request.seed,
                       variants=[BASELINE, *(c.mitigation for c in candidates)], horizon_days=view.horizon_days,
                       backend=BACKEND, store_customers=False)
    except ValueError as exc:      # a candidate the kernel rejects (e.g. negative cover)
        raise StrategyError(f"candidate evaluation failed: {exc}") from exc
    base = res.loss[0]
    baseline = _outcome("do_nothing", "baseline", "take no action", 0.0, 0.0, 0.0, base, base, res.fill_rate[0])
    outs = [_outcome(c.name, c.kind, c.description, c.cost_usd, c.co2_t, c.time_to_effect_days,
                     res.loss[v + 1], base, res.fill_rate[v + 1]) for v, c in enumerate(candidates)]
    return StrategyOutput(baseline, outs, base.copy(), impact.n_trials)


def run_strategy(network: SupplyNetwork, spec: ScenarioSpec, impact: ImpactOutput, request: ScenarioRequest,
                 max_candidates: int = MAX_CANDIDATES) -> StrategyOutput:
    """Generate and evaluate. No applicable candidate (nothing downstream depends on the
    affected elements) is a valid answer, not an error: the output then holds only do-nothing."""
    cands = generate_candidates(network, impact.view, spec, request, max_candidates)
    return evaluate(cands, impact, request)
