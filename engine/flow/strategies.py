"""Strategies on the flow model: candidates with cost, CO2 and time to effect, evaluated on common random numbers.

Why on the flow model: expediting, re-sourcing with a share, releasing safety
stock, switching mode and adding capacity are changes of lead time, share,
stock and capacity, which only a quantity model can express (the interval
kernel can only switch lanes on and lengthen cover).

With ``A`` the affected nodes (and the destinations of affected lanes), ``D1``
the nodes with a lane in use from ``A``, ``D2`` those with a lane in use from
``D1``:

* ``expedite``: lanes in use out of ``A`` and ``D1`` run at 60 % of their lead (priority handling);
* ``switch_mode``: sea lanes in use into ``D1``/``D2`` fly (lead 2 days);
* ``resource``: ``D1``'s components fed from ``A`` put up to 50 % of their orders on
  their backup lanes (or other sources outside ``A``), no more than those lanes can carry;
* ``safety_stock``: 7 days of nominal flow released at ``D1`` and ``D2``;
* ``add_capacity``: +25 % capacity at ``D1`` and at the other sources of the
  components ``A`` feeds (overtime, extra shifts);
* combinations of the above (costs add, time to effect is the later one).

All candidates and do-nothing are variants of one kernel call: trial t of
every variant replays the same sampled disruption, so differences are paired
and their intervals are narrower than either estimate's (shown per candidate).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np

from engine.montecarlo.rng import MASK64
from engine.montecarlo.stats import mean_ci, paired_difference, summarize

from .api import FlowResults, run_flow, stack_results
from .events import FlowDisruption
from .inputs import FlowInputs, prepare_flow
from .network import FlowNetwork
from .variants import BASELINE, FlowVariant

# --- cost / CO2 / delay model (docs/decisions.md 6.5) -------------------------------
# Expedite: priority handling premium per lane and day of the outage; a little
# more CO2 (faster, less consolidated trucks/vessels); lead x 0.6 after 2 days.
EXPEDITE_LEAD_FACTOR = 0.6
EXPEDITE_USD_PER_LANE_DAY = 6_000.0
EXPEDITE_CO2_T_PER_LANE_DAY = 0.4
EXPEDITE_DELAY_DAYS = 2
# Mode switch sea -> air: 2-day lead, charter cost and ~50x the emissions of sea per lane-day.
AIR_LEAD_DAYS = 2
AIR_USD_PER_LANE_DAY = 15_000.0
AIR_CO2_T_PER_LANE_DAY = 6.0
AIR_DELAY_DAYS = 3
# Re-sourcing: share moved to backups; qualification (fixed) plus spot premium per lane-day.
RESOURCE_SHARE = 0.5
RESOURCE_FIXED_USD = 50_000.0
RESOURCE_USD_PER_LANE_DAY = 5_000.0
RESOURCE_CO2_T_PER_LANE_DAY = 0.3
RESOURCE_DELAY_DAYS = 5
# Safety stock: days of nominal flow released, handling + holding per unit, trucking CO2 per unit.
STOCK_DAYS = 7.0
STOCK_USD_PER_UNIT = 4.0
STOCK_CO2_T_PER_UNIT = 0.0002
STOCK_DELAY_DAYS = 1
# Added capacity: overtime premium and energy per node-day.
CAPACITY_FACTOR = 1.25
CAPACITY_USD_PER_NODE_DAY = 20_000.0
CAPACITY_CO2_T_PER_NODE_DAY = 1.0
CAPACITY_DELAY_DAYS = 3
# Eight candidates keep the evaluation one kernel call of nine variants.
MAX_CANDIDATES = 8


@dataclass(frozen=True)
class FlowCandidate:
    name: str
    kind: str
    description: str
    variant: FlowVariant
    cost_usd: float
    co2_t: float
    time_to_effect_days: float


@dataclass(frozen=True)
class Scope:
    affected: tuple[int, ...]
    d1: tuple[int, ...]
    d2: tuple[int, ...]


def scope(net: FlowNetwork, affected_nodes: Sequence[int | str], affected_lanes: Sequence[int | str] = ()) -> Scope:
    a = {net.node_index(k) for k in affected_nodes} | {int(net.lane_dst[net.lane_index(k)]) for k in affected_lanes}
    use = net.lane_share > 0
    d1 = {int(net.lane_dst[l]) for l in np.flatnonzero(use) if net.lane_src[l] in a} - a
    d2 = {int(net.lane_dst[l]) for l in np.flatnonzero(use) if net.lane_src[l] in d1} - a - d1
    return Scope(tuple(sorted(a)), tuple(sorted(d1)), tuple(sorted(d2)))


def merge(name: str, a: FlowCandidate, b: FlowCandidate) -> FlowCandidate:
    va, vb = a.variant, b.variant
    extra = dict(va.extra_units)
    for k, u in vb.extra_units.items():
        extra[k] = extra.get(k, 0.0) + u
    cap = dict(va.capacity_factor)
    for k, f in vb.capacity_factor.items():
        cap[k] = cap.get(k, 1.0) * f
    v = FlowVariant(name, max(va.effect_day, vb.effect_day), {**va.lead_days, **vb.lead_days},
                    {**va.shares, **vb.shares}, cap, {**va.lane_capacity, **vb.lane_capacity}, extra)
    return FlowCandidate(name, "combination", f"{a.description} + {b.description}", v, a.cost_usd + b.cost_usd,
                         a.co2_t + b.co2_t, max(a.time_to_effect_days, b.time_to_effect_days))


def flow_candidates(net: FlowNetwork, sc: Scope, duration_days: float, horizon_days: int,
                    max_candidates: int = MAX_CANDIDATES) -> list[FlowCandidate]:
    """Candidates with something to act on (see module docstring), at most ``max_candidates``."""
    days = min(float(duration_days), float(horizon_days))
    a, d1, d2 = set(sc.affected), set(sc.d1), set(sc.d2)
    use = np.flatnonzero(net.lane_share > 0)
    out: list[FlowCandidate] = []
    legs = [int(l) for l in use if net.lane_src[l] in a | d1 and net.lane_dst[l] in d1 | d2]
    if legs:
        lead = {l: max(1, int(round(net.lane_lead[l] * EXPEDITE_LEAD_FACTOR))) for l in legs}
        n = len(legs)
        out.append(FlowCandidate("expedite", "expedite", f"priority handling on {n} lanes",
                                 FlowVariant("expedite", EXPEDITE_DELAY_DAYS, lead_days=lead),
                                 EXPEDITE_USD_PER_LANE_DAY * n * days, EXPEDITE_CO2_T_PER_LANE_DAY * n * days,
                                 EXPEDITE_DELAY_DAYS))
    sea = [int(l) for l in use if net.lane_mode[l] == "sea" and net.lane_dst[l] in d1 | d2 and net.lane_src[l] not in a]
    if sea:
        n = len(sea)
        out.append(FlowCandidate("switch_mode", "switch_mode", f"fly {n} sea lanes",
                                 FlowVariant("switch_mode", AIR_DELAY_DAYS, lead_days={l: AIR_LEAD_DAYS for l in sea}),
                                 AIR_USD_PER_LANE_DAY * n * days, AIR_CO2_T_PER_LANE_DAY * n * days, AIR_DELAY_DAYS))
    fed = {int(net.lane_group[l]) for l in use if net.lane_src[l] in a and net.lane_dst[l] in d1}
    alt_lanes = [int(l) for l in range(net.n_lanes) if int(net.lane_group[l]) in fed and net.lane_src[l] not in a
                 and (net.lane_backup[l] or net.lane_share[l] > 0)]
    backups = [l for l in alt_lanes if net.lane_backup[l]] or alt_lanes
    if backups and fed:
        per_group: dict[int, list[int]] = {}
        for l in backups:
            per_group.setdefault(int(net.lane_group[l]), []).append(l)
        shares = {}
        for g, ls in per_group.items():            # the affected lanes' share moves, within the backups' capacity
            members = np.flatnonzero(net.lane_group == g)
            hit = [int(l) for l in members if net.lane_src[l] in a and net.lane_share[l] > 0]
            s_hit = float(net.lane_share[hit].sum())
            dst = int(net.lane_dst[ls[0]])
            need = float(net.group_qty[g]) * float(net.throughput[dst] if net.kind[dst] != 5 else net.demand[dst])
            cap = sum(float(net.lane_capacity[l]) for l in ls)
            moved = min(RESOURCE_SHARE, s_hit, cap / need if need > 0 else 0.0)
            if moved <= 0:
                continue
            for l in members:
                shares[int(l)] = float(net.lane_share[l])
            for l in hit:
                shares[l] = float(net.lane_share[l]) * (1.0 - moved / s_hit)
            for l in ls:
                shares[l] = shares.get(l, 0.0) + moved * float(net.lane_capacity[l]) / cap
        n = len(backups)
        out.append(FlowCandidate("resource", "resource", f"up to {int(100 * RESOURCE_SHARE)} % of orders from the "
                                 f"affected sources to {n} backup lanes (within their capacity)",
                                 FlowVariant("resource", RESOURCE_DELAY_DAYS, shares=shares),
                                 RESOURCE_FIXED_USD * n + RESOURCE_USD_PER_LANE_DAY * n * days,
                                 RESOURCE_CO2_T_PER_LANE_DAY * n * days, RESOURCE_DELAY_DAYS))
    holders = sorted(d1 | d2)
    if holders:
        units = {v: STOCK_DAYS * float(net.throughput[v] if net.kind[v] != 5 else net.demand[v]) for v in holders}
        total = sum(units.values())
        out.append(FlowCandidate("safety_stock", "safety_stock", f"release {STOCK_DAYS:g} days of stock at "
                                 f"{len(holders)} nodes", FlowVariant("safety_stock", STOCK_DELAY_DAYS,
                                                                      extra_units=units),
                                 STOCK_USD_PER_UNIT * total, STOCK_CO2_T_PER_UNIT * total, STOCK_DELAY_DAYS))
    boost = sorted(d1 | {int(net.lane_src[l]) for l in alt_lanes})
    if boost:
        n = len(boost)
        out.append(FlowCandidate("add_capacity", "add_capacity", f"+{int(100 * (CAPACITY_FACTOR - 1))} % capacity "
                                 f"at {n} nodes", FlowVariant("add_capacity", CAPACITY_DELAY_DAYS,
                                                              capacity_factor={v: CAPACITY_FACTOR for v in boost}),
                                 CAPACITY_USD_PER_NODE_DAY * n * days, CAPACITY_CO2_T_PER_NODE_DAY * n * days,
                                 CAPACITY_DELAY_DAYS))
    by = {c.name: c for c in out}
    for x, y in (("resource", "safety_stock"), ("expedite", "add_capacity"), ("resource", "add_capacity")):
        if x in by and y in by and len(out) < max_candidates:
            out.append(merge(f"{x}+{y}", by[x], by[y]))
    return out[:max_candidates]


@dataclass(frozen=True, eq=False)
class Evaluation:
    names: tuple[str, ...]            # do-nothing first
    loss: np.ndarray                  # [V, T]
    fill_rate: np.ndarray
    rows: list[dict]                  # per option: objectives, estimates, paired reduction with its interval


def evaluate(net: FlowNetwork, disruption: FlowDisruption, candidates: Sequence[FlowCandidate], *, n_trials: int,
             seed: int, horizon_days: int = 90, background: FlowDisruption | None = None,
             confidence: float = 0.95, inputs: FlowInputs | None = None,
             baseline: FlowResults | None = None) -> Evaluation:
    """Do nothing + every candidate in one kernel call on the same trials (common random numbers).

    Each row shows the candidate's mean loss with its own interval, the paired
    reduction's interval, and the interval the same difference would have from
    independent samples (``independent_half_width``). The paired one is far
    narrower than the independent one and than the baseline's; it is narrower
    than the candidate's own too unless the candidate removes most of the loss
    (then its own spread is small while the difference inherits the baseline's)."""
    if inputs is None:
        inputs = prepare_flow(net, disruption, [BASELINE, *(c.variant for c in candidates)], horizon_days,
                              background)
    if inputs.n_variants != len(candidates) + 1:
        raise ValueError("inputs must pack do nothing + the candidates")
    if baseline is None:
        res = run_flow(inputs, n_trials=n_trials, seed=seed)
    else:        # do nothing already run on this packing (the pipeline's Impact stage): the candidates only
        if baseline.n_trials != n_trials or baseline.seed != seed & MASK64 or baseline.loss.shape[0] != 1:
            raise ValueError("baseline must be do nothing alone on the same trials")
        res = baseline if not candidates else \
            stack_results(baseline, run_flow(inputs, n_trials=n_trials, seed=seed, variants=(1, inputs.n_variants)))
    base = res.loss[0]
    rows = []
    meta = [("do_nothing", "baseline", "take no action", 0.0, 0.0, 0.0)] + \
        [(c.name, c.kind, c.description, c.cost_usd, c.co2_t, c.time_to_effect_days) for c in candidates]
    for v, (name, kind, desc, cost, co2, tte) in enumerate(meta):
        s = summarize(res.loss[v], confidence)
        m_b, lo_b, hi_b = mean_ci(base, confidence)
        red = paired_difference(base, res.loss[v], confidence)
        rows.append({"name": name, "kind": kind, "description": desc, "cost_usd": cost, "co2_t": co2,
                     "time_to_effect_days": tte, "expected_loss": s.mean.value, "loss_half_width": s.mean.half_width,
                     "baseline_half_width": (hi_b - lo_b) / 2, "loss_reduction": red.value,
                     "loss_reduction_lo": red.lo, "loss_reduction_hi": red.hi,
                     "reduction_half_width": red.half_width,
                     "independent_half_width": float(np.hypot(s.mean.half_width, (hi_b - lo_b) / 2)),
                     "p99_loss": s.p99.value, "cvar95_loss": s.cvar95.value,
                     "fill_rate": float(res.fill_rate[v].mean())})
    return Evaluation(res.variant_names, res.loss, res.fill_rate, rows)
