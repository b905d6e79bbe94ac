"""Loss of a single-node outage for every node of a network, above the background (must-show 2).

Why a module: the benchmark prints it as the table in docs/BENCHMARKS.md and a
test asserts on the same numbers, so both use one definition. Each node's
outage and the background risk are sampled on the same trials (common random
numbers), once with the outage and once without it, over the node's reachable
subgraph; the excess is the paired difference.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from engine.montecarlo.stats import paired_difference

from .api import run_flow
from .events import FlowDisruption, background, outage
from .inputs import prepare_flow
from .network import KINDS, FlowNetwork

# Background risk by kind: the Learning agent's default priors (probability of
# one outage within the horizon, median days); lanes 0.3 % with 3-day median.
BACKGROUND_P = {"supplier": 0.01, "factory": 0.005, "port": 0.01, "warehouse": 0.003, "dc": 0.003, "customer": 0.001}
BACKGROUND_MEDIAN = {"supplier": 14.0, "factory": 10.0, "port": 7.0, "warehouse": 5.0, "dc": 4.0, "customer": 3.0}
BACKGROUND_SIGMA = 0.8
# Spread of the assessed outage's duration (log-sd): an operator's "21 days" is
# an estimate; 0.5 puts the middle 80 % between 11 and 40 days.
DURATION_SIGMA = 0.5


@dataclass(frozen=True, eq=False)
class NodeImpact:
    excess: np.ndarray       # [N] mean loss above background
    excess_lo: np.ndarray    # [N] lower end of its interval
    excess_hi: np.ndarray
    background: np.ndarray   # [N] mean background loss on the same subgraph
    nodes_simulated: np.ndarray  # [N]
    flow_share: np.ndarray   # [N] node's nominal flow / its kind's total


def default_background(net: FlowNetwork, horizon_days: int) -> FlowDisruption:
    kinds = [KINDS[k] for k in net.kind]
    return background(net, [BACKGROUND_P[k] for k in kinds], [BACKGROUND_MEDIAN[k] for k in kinds],
                      BACKGROUND_SIGMA, horizon_days, lane_p=0.003, lane_median_days=3.0)


def every_node_impact(net: FlowNetwork, *, duration_days: float = 21.0, n_trials: int = 2_000, seed: int = 1,
                      horizon_days: int = 90, confidence: float = 0.99, max_trials: int = 32_000) -> NodeImpact:
    """Per node: E[loss | outage + background] - E[loss | background], paired on the same trials.

    A node whose outage changed no trial's loss gets more trials (continuing the
    trial numbers, up to ``max_trials``): for the smallest suppliers only a few
    trials in a thousand show their effect (a background event downstream
    while their outage has drained stock)."""
    bg = default_background(net, horizon_days)
    n = net.n_nodes
    out = np.zeros((5, n))
    for v in range(n):
        with_it = prepare_flow(net, FlowDisruption((outage("node", v, duration_days, sigma=DURATION_SIGMA),)),
                               None, horizon_days, background=bg)
        without = prepare_flow(net, FlowDisruption((outage("node", v, duration_days, sigma=DURATION_SIGMA, p=0.0),)),
                               None, horizon_days, background=bg)
        diffs, base, done, batch = [], [], 0, n_trials
        while True:
            a = run_flow(with_it, n_trials=batch, seed=seed, trial0=done)
            b = run_flow(without, n_trials=batch, seed=seed, trial0=done)
            diffs.append(a.loss[0] - b.loss[0])
            base.append(b.loss[0])
            done += batch
            if np.any(np.concatenate(diffs) != 0) or done >= max_trials:
                break
            batch = min(3 * done, max_trials - done)
        d = paired_difference(np.concatenate(diffs), np.zeros(done), confidence)
        out[:, v] = (d.value, d.lo, d.hi, np.concatenate(base).mean(), with_it.n_nodes)
    return NodeImpact(out[0], out[1], out[2], out[3], out[4].astype(int), net.flow_share())


def by_kind(imp: NodeImpact, net: FlowNetwork) -> list[dict]:
    """Rows of the docs table: per kind, how many nodes move loss, mean/min/max excess, rank correlation with share."""
    rows = []
    for k, name in enumerate(KINDS):
        m = net.kind == k
        if not m.any():
            continue
        rows.append({"kind": name, "nodes": int(m.sum()), "mean_above_background": int((imp.excess[m] > 0).sum()),
                     "ci_above_zero": int((imp.excess_lo[m] > 0).sum()),
                     "excess_mean": float(imp.excess[m].mean()), "excess_min": float(imp.excess[m].min()),
                     "excess_max": float(imp.excess[m].max()), "background_mean": float(imp.background[m].mean()),
                     "spearman_with_flow_share": spearman(imp.flow_share[m], imp.excess[m]),
                     "nodes_simulated_mean": float(imp.nodes_simulated[m].mean())})
    return rows


def spearman(x: np.ndarray, y: np.ndarray) -> float:
    """Rank correlation (ties broken by order; enough for a trend check)."""
    if x.size < 3:
        return float("nan")
    rx = np.argsort(np.argsort(x, kind="stable"), kind="stable")
    ry = np.argsort(np.argsort(y, kind="stable"), kind="stable")
    return float(np.corrcoef(rx, ry)[0, 1])
