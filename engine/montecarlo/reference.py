"""Deterministic reference network and disruption model (benchmarks, tests, demos).

Layered like a consumer-goods chain: suppliers -> factories -> ports ->
warehouses -> DCs -> customers, spread over a few regions, with bill-of-material
AND groups at factories, redundant alternatives elsewhere, and some dormant
(disabled) backup lanes that mitigation variants can switch on.
"""

from __future__ import annotations

import numpy as np

from .disruption import DisruptionModel, disruption_model
from .network import CUSTOMER, DC, FACTORY, PORT, SUPPLIER, WAREHOUSE, Network, build_network

# Share of nodes per layer; customers get the remainder (0.24), so node counts
# always add up to n_nodes whatever the rounding.
LAYER_SHARE = {SUPPLIER: 0.30, FACTORY: 0.12, PORT: 0.06, WAREHOUSE: 0.12, DC: 0.16}
# Regions: cross-region alternatives exist so regional shocks are survivable.
N_REGIONS = 4
# Probability an alternative is picked from another region (weaker redundancy
# than none, stronger than always local).
CROSS_REGION = 0.15
# Lead-time range (days) by destination type; ocean legs into warehouses are
# long so lead-time mitigations have something to act on.
LEAD = {FACTORY: (3.0, 10.0), PORT: (1.0, 3.0), WAREHOUSE: (15.0, 30.0), DC: (2.0, 5.0), CUSTOMER: (1.0, 2.0)}
# Inventory cover range (days) per node type; suppliers have no inputs, so
# their cover could never matter.
COVER = {SUPPLIER: (0.0, 0.0), FACTORY: (5.0, 15.0), PORT: (0.0, 2.0), WAREHOUSE: (10.0, 20.0),
         DC: (5.0, 10.0), CUSTOMER: (2.0, 5.0)}
# Outage probability per trial, by node type, and for lanes: ~9 outages per
# trial on 500 nodes, so most trials exercise propagation (not all-zero).
NODE_P = {SUPPLIER: 0.02, FACTORY: 0.01, PORT: 0.02, WAREHOUSE: 0.005, DC: 0.005, CUSTOMER: 0.002}
LANE_P = 0.005
# Lognormal duration: median exp(mu) days and sigma, by node type; medians
# around typical covers so inventory sometimes, not always, absorbs outages.
NODE_MU = {SUPPLIER: np.log(14.0), FACTORY: np.log(10.0), PORT: np.log(7.0), WAREHOUSE: np.log(5.0),
           DC: np.log(4.0), CUSTOMER: np.log(3.0)}
DURATION_SIGMA = 0.8
LANE_MU = np.log(7.0)


def _layer_sizes(n_nodes: int) -> list[int]:
    if n_nodes < 6:
        raise ValueError("reference network needs at least one node per layer (6)")
    sizes = [max(1, int(round(LAYER_SHARE[t] * n_nodes))) for t in (SUPPLIER, FACTORY, PORT, WAREHOUSE, DC)]
    sizes.append(n_nodes - sum(sizes))
    if sizes[-1] < 1:
        raise ValueError("too few nodes for the layer shares")
    return sizes


def reference_network(n_nodes: int = 500, seed: int = 7) -> Network:
    """Deterministic layered network of ``n_nodes`` nodes (same seed, same net)."""
    rng = np.random.default_rng(seed)
    sizes = _layer_sizes(n_nodes)
    types = np.repeat(np.arange(6), sizes)
    layer_nodes = np.split(np.arange(n_nodes), np.cumsum(sizes)[:-1])
    region = np.concatenate([np.arange(s) % N_REGIONS for s in sizes])
    lanes: list[tuple[int, int, float]] = []
    groups: list[int] = []
    enabled: list[bool] = []

    def pick(upstream: np.ndarray, reg: int, k: int) -> list[int]:
        local = upstream[region[upstream] == reg]
        chosen: list[int] = []
        for _ in range(50 * k):
            if len(chosen) == min(k, len(upstream)):
                break
            pool = upstream if (rng.random() < CROSS_REGION or len(local) == 0) else local
            c = int(rng.choice(pool))
            if c not in chosen:
                chosen.append(c)
        return chosen

    def add(dst: int, srcs: list[int], group: int, on: bool = True) -> None:
        lo, hi = LEAD[int(types[dst])]
        for s in srcs:
            lanes.append((s, dst, float(np.round(rng.uniform(lo, hi), 1))))
            groups.append(group)
            enabled.append(on)

    for layer in range(1, 6):
        up = layer_nodes[layer - 1]
        for v in layer_nodes[layer]:
            reg = int(region[v])
            if layer == FACTORY:
                for g in range(int(rng.integers(2, 4))):        # bill of materials: 2-3 parts
                    add(int(v), pick(up, reg, int(rng.integers(1, 4))), g)
            else:
                srcs = pick(up, reg, int(rng.integers(1, 3)) if layer != PORT else int(rng.integers(2, 4)))
                add(int(v), srcs, 0)
                if layer in (DC, CUSTOMER) and rng.random() < 0.3:   # dormant backup lane
                    spare = [s for s in pick(up, (reg + 1) % N_REGIONS, 1) if s not in srcs]
                    add(int(v), spare, 0, on=False)
    cover = np.array([np.round(rng.uniform(*COVER[int(t)]), 1) for t in types])
    revenue = np.where(types == CUSTOMER, np.round(rng.lognormal(np.log(20_000.0), 0.6, n_nodes), 0),
                       np.round(rng.lognormal(np.log(50_000.0), 0.5, n_nodes), 0))
    return build_network(types.tolist(), revenue.tolist(), cover.tolist(), lanes, groups, enabled,
                         capacity=np.round(rng.uniform(50, 500, n_nodes), 0).tolist(),
                         node_ids=[f"{('S', 'F', 'P', 'W', 'D', 'C')[int(t)]}{i}" for i, t in enumerate(types)])


def reference_disruption(net: Network, start_window: float | None = None) -> DisruptionModel:
    """Type-based disruption model for :func:`reference_network` networks."""
    t = net.node_type.astype(int)
    return disruption_model(
        net,
        node_p=[NODE_P[int(x)] for x in t],
        node_mu=[NODE_MU[int(x)] for x in t],
        node_sigma=DURATION_SIGMA,
        lane_p=LANE_P, lane_mu=LANE_MU, lane_sigma=DURATION_SIGMA,
        start_window=start_window,
    )
