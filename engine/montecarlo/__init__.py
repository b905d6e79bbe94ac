"""Monte Carlo kernel of the Impact agent: outage-interval propagation over a
supply network, numba-accelerated, with numpy and pure-Python references.

Typical use::

    net = reference_network()                      # or network_from_dicts(...)
    model = reference_disruption(net).with_forced(ForcedOutage("node", "P212", 14.0))
    res = simulate(net, model, n_trials=10_000, seed=42, variants=[BASELINE, Mitigation(...)])
    summarize(res.loss[0])

Model (details in :mod:`.kernel_numba`): one outage interval per sampled
node/lane, propagated in topological order; alternatives OR, input groups AND,
lanes shift by lead time, cover absorbs the first days of each gap. Outputs
per trial and variant: lost customer revenue, fill rate, time to recover,
stock-out days per customer. Trial t depends only on (seed, t): reproducible
for any thread count, and variants share samples (common random numbers).

Plain numpy/numba only: no faust, no stream imports.
"""

from .api import (BACKENDS, AdaptiveResult, TrialResults, run_trials, simulate, simulate_adaptive,
                  summarize_results)
from .disruption import DisruptionModel, ForcedOutage, disruption_model
from .inputs import DEFAULT_HORIZON_DAYS, KernelInputs, prepare
from .network import NODE_TYPES, Network, build_network, network_from_dicts
from .reference import reference_disruption, reference_network
from .stats import Estimate, Summary, cvar_ci, mean_ci, paired_difference, quantile_ci, summarize
from .variants import BASELINE, Mitigation
from .warmup import compile_kernels

__all__ = [
    "BACKENDS", "AdaptiveResult", "TrialResults", "run_trials", "simulate", "simulate_adaptive", "summarize_results",
    "DisruptionModel", "ForcedOutage", "disruption_model", "DEFAULT_HORIZON_DAYS", "KernelInputs",
    "prepare", "NODE_TYPES", "Network", "build_network", "network_from_dicts", "reference_disruption",
    "reference_network", "Estimate", "Summary", "cvar_ci", "mean_ci", "paired_difference",
    "quantile_ci", "summarize", "BASELINE", "Mitigation", "compile_kernels",
]
