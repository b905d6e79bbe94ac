"""Compile the numba kernels before the first request.

Why: the first call of an ``@njit`` function compiles it (seconds; less with
the on-disk cache). The worker calls :func:`compile_kernels` at start so the
first Impact request is not the one that pays.

It also self-checks against the pure-Python kernel: numba's on-disk cache is
keyed on the kernel file only, so an edit to ``rng.py`` or ``intervals.py``
can leave a stale compiled kernel behind. A mismatch raises instead of
serving wrong numbers.
"""

from __future__ import annotations

import time

import numpy as np

from .api import simulate
from .disruption import ForcedOutage, disruption_model
from .network import CUSTOMER, FACTORY, SUPPLIER, build_network
from .variants import Mitigation


def compile_kernels() -> float:
    """Run every kernel code path once on a 4-node network; returns seconds spent."""
    t0 = time.perf_counter()
    net = build_network(
        node_type=[SUPPLIER, SUPPLIER, FACTORY, CUSTOMER],
        revenue=[0.0, 0.0, 0.0, 100.0],
        cover=[0.0, 0.0, 2.0, 1.0],
        lanes=[(0, 2, 1.0), (1, 2, 1.0), (2, 3, 1.0)],
        lane_group=[0, 0, 0],
    )
    model = disruption_model(net, node_p=0.5, node_mu=1.0, node_sigma=0.5, lane_p=0.2, lane_mu=0.5,
                             lane_sigma=0.5, forced=[ForcedOutage("node", 0, 3.0)])
    variants = [Mitigation(), Mitigation("more stock", extra_cover_days={2: 5.0})]
    kw = dict(n_trials=16, seed=0, variants=variants, horizon_days=30.0)
    fast = simulate(net, model, **kw)
    slow = simulate(net, model, backend="python", **kw)
    if not (np.allclose(fast.loss, slow.loss, rtol=1e-9) and np.allclose(fast.ttr, slow.ttr, rtol=1e-9)):
        raise RuntimeError("numba kernel disagrees with the Python kernel: stale cache? "
                           "delete engine/montecarlo/__pycache__/*.nbi and *.nbc")
    return time.perf_counter() - t0
