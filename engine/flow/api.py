"""Entry points of the flow kernel: pack once, run trials on a backend, summarise.

Backends compute the same model from the same random numbers: ``numba``
(production), ``numpy`` (vectorised reference), ``python`` (oracle, slow).
The numba kernel keeps the trials' state in float32 (:data:`.kernel_steps.FLOAT`),
the references in float64: they agree to float32 rounding, trial by trial.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Sequence

import numpy as np

from engine.montecarlo.rng import MASK64
from engine.montecarlo.stats import paired_difference, summarize

from .events import FlowDisruption
from .inputs import DEFAULT_HORIZON_DAYS, FlowInputs, prepare_flow
from .network import FlowNetwork
from .variants import FlowVariant

BACKENDS = ("numba", "numpy", "python")


@dataclass(frozen=True, eq=False)
class FlowResults:
    """Per-trial outputs, first axis variant, second trial."""

    variant_names: tuple[str, ...]
    loss: np.ndarray            # lost revenue over the horizon
    fill_rate: np.ndarray       # 1 - lost units / network demand over the horizon
    stockout_days: np.ndarray   # customer-days with a shortfall (summed over customers)
    ttr: np.ndarray             # day after the last customer shortfall (0: none)
    lost_units: np.ndarray
    customer_stockout_days: np.ndarray   # [V, T, C] per simulated customer ([V, T, 0] unless stored)
    customer_ids: tuple[str, ...]
    nodes_simulated: int
    seed: int
    trial0: int

    @property
    def n_trials(self) -> int:
        return int(self.loss.shape[1])


def run_flow(inp: FlowInputs, *, n_trials: int, seed: int, trial0: int = 0, backend: str = "numba",
             store_customers: bool = False, variants: tuple[int, int] | None = None) -> FlowResults:
    """Trials ``trial0 .. trial0 + n_trials - 1``; trial t depends only on (seed, t).

    ``variants=(lo, hi)``: only variants ``lo .. hi - 1`` of the packing (results have ``hi - lo`` rows); the
    same trials give the same numbers as in a run of all variants, so a do-nothing run and a run of the
    candidates on the same packing combine into one common-random-numbers evaluation (:func:`stack_results`)."""
    if n_trials < 1 or trial0 < 0:
        raise ValueError("need n_trials >= 1 and trial0 >= 0")
    v_lo, v_hi = variants if variants is not None else (0, inp.n_variants)
    if not 0 <= v_lo < v_hi <= inp.n_variants:
        raise ValueError(f"variant range {variants} outside 0..{inp.n_variants}")
    seed &= MASK64
    n_v, n_c = v_hi - v_lo, int(inp.customers.shape[0])
    if backend == "numba":
        from .kernel_parallel import default_chunks, lane_rings, simulate_numba
        from .kernel_steps import FLOAT

        def f32(a: np.ndarray) -> np.ndarray:      # quantities the kernel computes with, in its float type
            return np.ascontiguousarray(a, dtype=FLOAT)

        loss, fill, so, ttr, lu = (np.empty((n_v, n_trials)) for _ in range(5))
        cso = np.empty((n_v, n_trials, n_c if store_customers else 0))
        roff, rmask = lane_rings(inp.lead, inp.extra_cap)
        simulate_numba(np.uint64(seed), np.int64(trial0), np.int64(n_trials), inp.horizon, roff, rmask, inp.is_cust,
                       f32(inp.demand), inp.price, f32(inp.base), f32(inp.init), inp.switch_days, f32(inp.cap),
                       f32(inp.extra), inp.group_ptr, f32(inp.qty), f32(inp.target), f32(inp.thr), inp.glane_ptr,
                       inp.glanes, inp.has_alt, inp.src, inp.lead0, inp.lead, f32(inp.lcap), f32(inp.share),
                       inp.backup, f32(inp.flow0), inp.out_ptr, inp.out_lanes,
                       inp.el_ptr, inp.el_ev, f32(inp.el_sev), inp.hit_el, inp.effect_day, inp.ev_p, inp.ev_s0,
                       inp.ev_win, inp.ev_mu, inp.ev_sigma, inp.ev_rng, inp.lane_gid.astype(np.int64),
                       inp.lead_sd, inp.extra_cap.astype(np.int64), inp.node_gid.astype(np.int64), inp.demand_cv,
                       inp.customers, inp.demand_total,
                       loss, fill, so, ttr, lu, cso, store_customers, np.int64(v_lo), np.int64(v_hi),
                       np.int64(default_chunks()))
    elif backend in ("numpy", "python"):
        if backend == "numpy":
            from .kernel_numpy import simulate_numpy as sim
        else:
            from .kernel_python import simulate_python as sim
        loss, fill, so, ttr, lu, cso = (x[v_lo:v_hi] for x in sim(inp, seed, trial0, n_trials))
        cso = cso if store_customers else cso[:, :, :0]
    else:
        raise ValueError(f"backend must be one of {BACKENDS}")
    return FlowResults(inp.variant_names[v_lo:v_hi], loss, fill, so, ttr, lu, cso,
                       tuple(inp.node_ids[int(c)] for c in inp.customers), inp.n_nodes, seed, trial0)


def stack_results(first: FlowResults, rest: FlowResults) -> FlowResults:
    """One result of two variant ranges run on the same packing and trials (rows of ``first``, then ``rest``)."""
    if (first.seed, first.trial0, first.n_trials) != (rest.seed, rest.trial0, rest.n_trials):
        raise ValueError("results of different trials cannot be paired")
    cat = lambda a, b: np.concatenate([a, b])  # noqa: E731
    c = min(first.customer_stockout_days.shape[2], rest.customer_stockout_days.shape[2])
    return FlowResults(first.variant_names + rest.variant_names, cat(first.loss, rest.loss),
                       cat(first.fill_rate, rest.fill_rate), cat(first.stockout_days, rest.stockout_days),
                       cat(first.ttr, rest.ttr), cat(first.lost_units, rest.lost_units),
                       cat(first.customer_stockout_days[:, :, :c], rest.customer_stockout_days[:, :, :c]),
                       first.customer_ids, first.nodes_simulated, first.seed, first.trial0)


def loss_difference(fast: FlowResults, ref: FlowResults) -> float:
    """Largest |loss| difference over ``ref``'s trials, as a fraction of ``ref``'s largest loss (at least $1).

    Why against the largest loss and not each trial's: the numba kernel rounds in float32
    (:data:`.kernel_steps.FLOAT`) relative to the quantities' scale, so a trial of small loss may differ by a
    few millionths of a large one. The warm start and ``bench montecarlo`` hold this below
    :data:`.kernel_steps.AGREEMENT_RTOL`."""
    diff = np.abs(fast.loss[:, :ref.loss.shape[1]] - ref.loss)
    return float(diff.max()) / max(float(np.abs(ref.loss).max()), 1.0)


def simulate_flow(net: FlowNetwork, disruption: FlowDisruption, *, n_trials: int, seed: int,
                  variants: Sequence[FlowVariant] | None = None, horizon_days: int = DEFAULT_HORIZON_DAYS,
                  background: FlowDisruption | None = None, subgraph: bool = True, backend: str = "numba",
                  trial0: int = 0, store_customers: bool = False) -> FlowResults:
    """Pack (cut to the reachable subgraph) and run; see :func:`prepare_flow` to reuse the packing."""
    inp = prepare_flow(net, disruption, variants, horizon_days, background, subgraph)
    return run_flow(inp, n_trials=n_trials, seed=seed, trial0=trial0, backend=backend,
                    store_customers=store_customers)


def summarize_flow(res: FlowResults, confidence: float = 0.95) -> dict[str, dict]:
    """JSON-ready per variant: loss, fill rate, stock-out days, time to recover (mean, P50/P90/P99,
    CVaR95 with intervals) and the paired (common random numbers) loss reduction vs the first variant,
    with the interval of each estimate alone for comparison."""
    out: dict[str, dict] = {}
    for v, name in enumerate(res.variant_names):
        red = paired_difference(res.loss[0], res.loss[v], confidence)
        out[name] = {
            "n_trials": res.n_trials,
            "loss": asdict(summarize(res.loss[v], confidence)),
            "fill_rate": asdict(summarize(res.fill_rate[v], confidence)),
            "stockout_days": asdict(summarize(res.stockout_days[v], confidence)),
            "ttr": asdict(summarize(res.ttr[v], confidence)),
            "loss_reduction_vs_first": asdict(red),
        }
    return out
