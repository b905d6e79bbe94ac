"""Compile the flow kernel before the first request, and check it against the oracle.

Why the check: numba's on-disk cache is keyed on the kernel file only, so an
edit to ``engine/montecarlo/rng.py`` can leave a stale compiled kernel behind;
a mismatch with the pure-Python oracle raises instead of serving wrong numbers.
"""

from __future__ import annotations

import time

import numpy as np

from .api import loss_difference, run_flow
from .events import FlowDisruption, outage
from .inputs import prepare_flow
from .kernel_steps import AGREEMENT_RTOL
from .network import flow_network
from .variants import BASELINE, FlowVariant


def compile_flow_kernels() -> float:
    """Run every code path once on a 4-node network (rerouting, BOM, lead spread, demand level); seconds spent."""
    t0 = time.perf_counter()
    net = flow_network(
        [{"id": "S1", "kind": "supplier", "capacity": 100.0}, {"id": "S2", "kind": "supplier", "capacity": 60.0},
         {"id": "F", "kind": "factory", "bom": {"a": 1, "b": 2}, "stock_days": 1.0, "switch_days": 2},
         {"id": "C", "kind": "customer", "demand": 20.0, "price": 3.0, "stock_days": 1.0, "demand_cv": 0.1}],
        [{"id": "a1", "src": "S1", "dst": "F", "component": "a", "lead_sd_days": 0.7},
         {"id": "a2", "src": "S2", "dst": "F", "component": "a", "backup": True},
         {"id": "b1", "src": "S2", "dst": "F", "component": "b"},
         {"id": "fc", "src": "F", "dst": "C", "lead_days": 2}])
    inp = prepare_flow(net, FlowDisruption((outage("node", "S1", 6.0, sigma=0.5),)),
                       [BASELINE, FlowVariant("stock", 2, extra_units={"C": 50.0})], 30)
    fast = run_flow(inp, n_trials=8, seed=0)
    slow = run_flow(inp, n_trials=8, seed=0, backend="python")
    if not (loss_difference(fast, slow) <= AGREEMENT_RTOL and np.array_equal(fast.ttr, slow.ttr)):
        raise RuntimeError("flow kernel disagrees with the Python oracle: stale cache? "
                           "delete engine/flow/__pycache__/*.nbi and *.nbc")
    return time.perf_counter() - t0
