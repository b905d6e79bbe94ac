"""Public entry points: run trials on a backend, or run until the estimate is tight.

Backends compute the same model from the same random numbers:
``numba`` (production), ``numpy`` (vectorised reference), ``python`` (loop
baseline for the benchmark; slow).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Sequence

import numpy as np

from .disruption import DisruptionModel
from .inputs import DEFAULT_HORIZON_DAYS, KernelInputs, prepare
from .network import Network
from .rng import MASK64
from .stats import Summary, mean_ci, paired_difference, summarize
from .variants import Mitigation

# Valid backend names; anything else raises rather than silently picking one.
BACKENDS = ("numba", "numpy", "python")


@dataclass(frozen=True, eq=False)
class TrialResults:
    """Per-trial outputs; first axis variant, second trial."""

    variant_names: tuple[str, ...]
    loss: np.ndarray            # float64 [V, T], lost customer revenue over the horizon
    fill_rate: np.ndarray       # float64 [V, T], served / total customer demand
    ttr: np.ndarray             # float64 [V, T], day the last customer is back (0: none hit)
    stockout_days: np.ndarray   # float32 [V, T, C] per customer, or [V, T, 0] if not stored
    seed: int
    trial0: int

    @property
    def n_trials(self) -> int:
        return int(self.loss.shape[1])


def run_trials(inp: KernelInputs, *, n_trials: int, seed: int, trial0: int = 0, backend: str = "numba",
               store_customers: bool = True) -> TrialResults:
    """Trials ``trial0 .. trial0 + n_trials - 1``; trial t depends only on (seed, t)."""
    if n_trials < 1 or trial0 < 0:
        raise ValueError("need n_trials >= 1 and trial0 >= 0")
    seed &= MASK64
    n_v, n_c = inp.n_variants, int(inp.customers.shape[0])
    if backend == "numba":
        from .kernel_numba import default_chunks, simulate_numba
        loss = np.empty((n_v, n_trials))
        fill = np.empty((n_v, n_trials))
        ttr = np.empty((n_v, n_trials))
        cust = np.empty((n_v, n_trials, n_c if store_customers else 0), dtype=np.float32)
        simulate_numba(np.uint64(seed), np.int64(trial0), np.int64(n_trials), inp.horizon, inp.start_window,
                       inp.order, inp.rank, inp.group_ptr, inp.group_lane_ptr, inp.group_lanes, inp.lane_src,
                       inp.lane_dst, inp.out_ptr, inp.out_dst, inp.customers, inp.revenue, inp.p, inp.mu, inp.sigma,
                       inp.f_ptr, inp.f_start, inp.f_mu, inp.f_sigma, inp.f_elem,
                       inp.cover, inp.lead, inp.enabled, inp.dur_scale, inp.always_ok,
                       default_chunks(n_trials), loss, fill, ttr, cust, store_customers)
    elif backend == "numpy":
        from .kernel_numpy import simulate_numpy
        loss, fill, ttr, cust = simulate_numpy(inp, seed, trial0, n_trials)
        cust = cust.astype(np.float32) if store_customers else cust[:, :, :0].astype(np.float32)
    elif backend == "python":
        from .kernel_python import simulate_python
        loss, fill, ttr, cust = simulate_python(inp, seed, trial0, n_trials)
        cust = cust.astype(np.float32) if store_customers else cust[:, :, :0].astype(np.float32)
    else:
        raise ValueError(f"backend must be one of {BACKENDS}")
    return TrialResults(inp.variant_names, loss, fill, ttr, cust, seed, trial0)


def simulate(net: Network, model: DisruptionModel, *, n_trials: int, seed: int,
             variants: Sequence[Mitigation] | None = None, horizon_days: float = DEFAULT_HORIZON_DAYS,
             trial0: int = 0, backend: str = "numba", store_customers: bool = True) -> TrialResults:
    """One-shot convenience: pack and run (use :func:`prepare` + :func:`run_trials` to reuse packing)."""
    return run_trials(prepare(net, model, variants, horizon_days), n_trials=n_trials, seed=seed,
                      trial0=trial0, backend=backend, store_customers=store_customers)


@dataclass(frozen=True, eq=False)
class AdaptiveResult:
    """Concatenated trials plus per-variant loss summaries and why it stopped."""

    results: TrialResults
    summaries: tuple[Summary, ...]   # loss summary per variant
    converged: bool                  # False: stopped at the trial cap


def simulate_adaptive(net: Network, model: DisruptionModel, *, seed: int,
                      variants: Sequence[Mitigation] | None = None,
                      horizon_days: float = DEFAULT_HORIZON_DAYS, rel_tol: float = 0.02,
                      batch: int = 10_000, min_trials: int = 2_000, max_trials: int = 1_000_000,
                      confidence: float = 0.95, backend: str = "numba",
                      store_customers: bool = False) -> AdaptiveResult:
    """Run batches until every variant's mean-loss CI half-width <= rel_tol x |mean|.

    Why all variants: the Strategy agent ranks variants, so each estimate must
    be tight, not just the baseline's. A variant with zero loss in every trial
    has a zero-width interval and counts as converged once ``min_trials`` ran.
    Batches continue the trial counter, so the result equals one long run.
    """
    inp = prepare(net, model, variants, horizon_days)
    parts: list[TrialResults] = []
    done = 0
    converged = False
    while done < max_trials:
        n = min(batch, max_trials - done)
        parts.append(run_trials(inp, n_trials=n, seed=seed, trial0=done, backend=backend,
                                store_customers=store_customers))
        done += n
        if done < min_trials:
            continue
        loss = np.concatenate([r.loss for r in parts], axis=1)
        if all(_tight(row, rel_tol, confidence) for row in loss):
            converged = True
            break
    res = TrialResults(
        inp.variant_names,
        np.concatenate([r.loss for r in parts], axis=1),
        np.concatenate([r.fill_rate for r in parts], axis=1),
        np.concatenate([r.ttr for r in parts], axis=1),
        np.concatenate([r.stockout_days for r in parts], axis=1),
        seed & MASK64, 0,
    )
    return AdaptiveResult(res, tuple(summarize(row, confidence) for row in res.loss), converged)


def _tight(x: np.ndarray, rel_tol: float, confidence: float) -> bool:
    m, lo, hi = mean_ci(x, confidence)
    return (hi - lo) / 2.0 <= rel_tol * abs(m)


def summarize_results(res: TrialResults, confidence: float = 0.95) -> dict[str, dict]:
    """JSON-ready per-variant summaries for the Impact/Strategy agents.

    For each variant: ``loss``, ``fill_rate`` and ``ttr`` summaries (mean,
    P50/P90/P99, CVaR95, each with ``value``/``lo``/``hi``) and
    ``loss_reduction_vs_first``: the paired (common random numbers) mean loss
    reduction relative to the first variant, the number to rank strategies by.
    """
    out: dict[str, dict] = {}
    for v, name in enumerate(res.variant_names):
        out[name] = {
            "n_trials": res.n_trials,
            "loss": asdict(summarize(res.loss[v], confidence)),
            "fill_rate": asdict(summarize(res.fill_rate[v], confidence)),
            "ttr": asdict(summarize(res.ttr[v], confidence)),
            "loss_reduction_vs_first": asdict(paired_difference(res.loss[0], res.loss[v], confidence)),
        }
    return out
