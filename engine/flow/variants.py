"""What a strategy changes in the flow model, and from which day.

Why parameters plus an effect day: every strategy (expedite, re-source,
safety stock, mode switch, added capacity) is a change of lead times, shares,
capacities or stock that starts some days after the decision. Keeping the
sampled disruption untouched and changing only parameters lets all variants
replay the same trials (common random numbers).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Mapping, Sequence

import numpy as np

from .network import FlowNetwork


@dataclass(frozen=True, eq=False)
class FlowVariant:
    """Parameter changes effective from ``effect_day`` (before it the baseline applies)."""

    name: str = "baseline"
    effect_day: int = 0
    lead_days: Mapping[int | str, int] = field(default_factory=dict)          # lane -> lead (days >= 1)
    shares: Mapping[int | str, float] = field(default_factory=dict)           # lane -> share; rest rescaled
    capacity_factor: Mapping[int | str, float] = field(default_factory=dict)  # node -> x capacity
    lane_capacity: Mapping[int | str, float] = field(default_factory=dict)    # lane -> units/day
    extra_units: Mapping[int | str, float] = field(default_factory=dict)      # node -> units released on effect_day


BASELINE = FlowVariant()


@dataclass(frozen=True, eq=False)
class VariantParams:
    names: tuple[str, ...]
    effect_day: np.ndarray   # int32 [V]
    lead: np.ndarray         # int32 [V, L]
    share: np.ndarray        # float64 [V, L]
    capacity: np.ndarray     # float64 [V, N]
    lane_capacity: np.ndarray  # float64 [V, L]
    extra: np.ndarray        # float64 [V, N]


def variant_params(net: FlowNetwork, variants: Sequence[FlowVariant] | None) -> VariantParams:
    """Materialise variants (first = the baseline the others are compared with)."""
    vs = list(variants) if variants else [BASELINE]
    n_v = len(vs)
    lead = np.tile(net.lane_lead, (n_v, 1)).astype(np.int32)
    share = np.tile(net.lane_share, (n_v, 1))
    cap = np.tile(net.capacity, (n_v, 1))
    lcap = np.tile(net.lane_capacity, (n_v, 1))
    extra = np.zeros((n_v, net.n_nodes))
    for i, v in enumerate(vs):
        if v.effect_day < 0:
            raise ValueError("effect_day must be >= 0")
        for k, d in v.lead_days.items():
            if int(d) < 1:
                raise ValueError("lead time must be >= 1 day")
            lead[i, net.lane_index(k)] = int(d)
        by_group: dict[int, dict[int, float]] = {}
        for k, x in v.shares.items():                 # a group's named shares are set together
            if not 0.0 <= x <= 1.0:
                raise ValueError("share must be in [0, 1]")
            l = net.lane_index(k)
            by_group.setdefault(int(net.lane_group[l]), {})[l] = float(x)
        for g, named in by_group.items():
            total = sum(named.values())
            if total > 1.0 + 1e-9:
                raise ValueError("shares named for one component sum to more than 1")
            others = (net.lane_group == g) & ~np.isin(np.arange(net.n_lanes), list(named))
            rest = share[i, others].sum()
            share[i, others] *= (1.0 - total) / rest if rest > 0 else 0.0
            for l, x in named.items():
                share[i, l] = x if rest > 0 else x / total
        for k, f in v.capacity_factor.items():
            cap[i, net.node_index(k)] *= f
        for k, c in v.lane_capacity.items():
            lcap[i, net.lane_index(k)] = c
        for k, u in v.extra_units.items():
            extra[i, net.node_index(k)] += u
    if np.any(cap < 0) or np.any(lcap < 0) or np.any(extra < 0):
        raise ValueError("variant makes a capacity or stock negative")
    return VariantParams(tuple(v.name for v in vs), np.array([v.effect_day for v in vs], dtype=np.int32),
                         lead, share, cap, lcap, extra)
