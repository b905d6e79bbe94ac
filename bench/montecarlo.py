"""Benchmark of the Impact agent's Monte Carlo kernel (engine.montecarlo).

Run:  .venv/bin/python bench/montecarlo.py [--json] [--nodes 500] [--numba-trials 200000]

Measures, in one process and on the same 500-node reference network and
disruption model, kernel trials/s for the numba, numpy and pure-Python
kernels (the three draw identical random numbers, which the bench checks),
then 10,000 trials x 8 mitigation variants end to end with common random
numbers. With --json the last line printed is one JSON object.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numba  # noqa: E402
import numpy as np  # noqa: E402

from engine.montecarlo import (BASELINE, Mitigation, compile_kernels, prepare, reference_disruption,  # noqa: E402
                               reference_network, run_trials, simulate, summarize)
from engine.montecarlo.network import CUSTOMER, DC, FACTORY, PORT, WAREHOUSE  # noqa: E402

ONE_TRIAL = ("one trial = sample every node and lane once (Bernoulli outage, uniform start day, lognormal "
             "duration; counter-based RNG), propagate outage intervals through the network in topological "
             "order (lanes shift by lead time, alternative lanes OR, input groups AND, inventory cover absorbs "
             "the first days of each gap) over a 90-day horizon, and reduce to lost customer revenue, fill rate, "
             "time to recover and stock-out days for each customer. All three kernels compute the same numbers "
             "from the same random draws; numba visits only nodes downstream of an outage (the others provably "
             "stay empty), numpy and Python evaluate every node")


def _rate(fn, n: int, repeats: int) -> tuple[float, list[float]]:
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn(n)
        times.append(time.perf_counter() - t0)
    return n / statistics.median(times), times


def _strategies(net) -> list[Mitigation]:
    """Eight typical variants; every one only changes parameters (CRN-safe)."""
    of = lambda t: [int(v) for v in np.flatnonzero(net.node_type == t)]  # noqa: E731
    dormant = [int(l) for l in np.flatnonzero(~net.lane_enabled)]
    ocean = [int(l) for l in np.flatnonzero(net.node_type[net.lane_dst] == WAREHOUSE)]
    return [
        BASELINE,
        Mitigation("dc +7d stock", extra_cover_days={v: 7.0 for v in of(DC)}),
        Mitigation("warehouse +10d stock", extra_cover_days={v: 10.0 for v in of(WAREHOUSE)}),
        Mitigation("customer +3d stock", extra_cover_days={v: 3.0 for v in of(CUSTOMER)}),
        Mitigation("enable backup lanes", enable_lanes=dormant),
        Mitigation("air freight", lead_time_days={l: 3.0 for l in ocean}),
        Mitigation("port recovery x0.5", duration_factor={v: 0.5 for v in of(PORT)}),
        Mitigation("factory recovery x0.5 + backups", duration_factor={v: 0.5 for v in of(FACTORY)},
                   enable_lanes=dormant),
    ]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--json", action="store_true", help="print one JSON object as the last line")
    ap.add_argument("--nodes", type=int, default=500)
    ap.add_argument("--seed", type=int, default=2024)
    ap.add_argument("--numba-trials", type=int, default=200_000)
    ap.add_argument("--numpy-trials", type=int, default=8_192)
    ap.add_argument("--python-trials", type=int, default=300)
    ap.add_argument("--repeats", type=int, default=3)
    args = ap.parse_args(argv)

    t0 = time.perf_counter()
    compile_s = compile_kernels()
    net = reference_network(args.nodes, seed=7)
    model = reference_disruption(net)
    inp = prepare(net, model, None, 90.0)
    run_trials(inp, n_trials=1_000, seed=args.seed)                       # warm the exact call path
    print(f"network: {net.n_nodes} nodes, {net.n_lanes} lanes ({int(net.lane_enabled.sum())} enabled), "
          f"{len(net.customers)} customers; expected outages/trial {model.p.sum():.1f}")
    print(f"machine: {os.cpu_count()} cores, numba threads {numba.get_num_threads()}; "
          f"compile_kernels {compile_s:.2f}s (cached after the first run)")
    print(ONE_TRIAL)

    def go(backend):
        return lambda n: run_trials(inp, n_trials=n, seed=args.seed, backend=backend)

    nb_rate, nb_times = _rate(go("numba"), args.numba_trials, args.repeats)
    # The same kernel forced to visit every node, as numpy and Python do: the speed-up without the event-driven
    # skip, so the ratios below are not only an algorithmic shortcut.
    full = dataclasses.replace(inp, always_ok=False)
    run_trials(full, n_trials=1_000, seed=args.seed)
    fs_rate, _ = _rate(lambda n: run_trials(full, n_trials=n, seed=args.seed), args.numba_trials, args.repeats)
    np_rate, np_times = _rate(go("numpy"), args.numpy_trials, 1)
    py_rate, py_times = _rate(go("python"), args.python_trials, 1)
    # identical random numbers: the three kernels must agree trial by trial
    a = run_trials(inp, n_trials=args.numpy_trials, seed=args.seed)
    b = run_trials(inp, n_trials=args.numpy_trials, seed=args.seed, backend="numpy")
    c = run_trials(inp, n_trials=args.python_trials, seed=args.seed, backend="python")
    diff_np = float(np.max(np.abs(a.loss - b.loss)))
    diff_py = float(np.max(np.abs(a.loss[:, :args.python_trials] - c.loss)))

    print(f"numba : {nb_rate:12,.0f} trials/s  ({args.numba_trials} trials, runs {[round(t, 3) for t in nb_times]} s)")
    print(f"numba, every node visited: {fs_rate:12,.0f} trials/s  numba-full/numpy = {fs_rate / np_rate:,.1f}x  "
          f"numba-full/python = {fs_rate / py_rate:,.0f}x")
    print(f"numpy : {np_rate:12,.0f} trials/s  ({args.numpy_trials} trials)  numba/numpy  = {nb_rate / np_rate:,.1f}x")
    print(f"python: {py_rate:12,.0f} trials/s  ({args.python_trials} trials)     "
          f"numba/python = {nb_rate / py_rate:,.0f}x")
    print(f"agreement: max |loss numba - numpy| = {diff_np:.3g}, numba - python = {diff_py:.3g}")

    variants = _strategies(net)
    simulate(net, model, n_trials=100, seed=args.seed, variants=variants)          # warm
    t1 = time.perf_counter()
    res = simulate(net, model, n_trials=10_000, seed=args.seed, variants=variants)
    summaries = [summarize(row) for row in res.loss]
    e2e = time.perf_counter() - t1
    print(f"10,000 trials x {len(variants)} variants (CRN, pack + kernel + summaries): {e2e:.3f} s")
    for name, s in zip(res.variant_names, summaries):
        print(f"  {name:34s} mean loss {s.mean.value:12,.0f} +/- {s.mean.half_width:10,.0f}  "
              f"P99 {s.p99.value:12,.0f}  CVaR95 {s.cvar95.value:12,.0f}")
    out = {
        "nodes": net.n_nodes, "lanes": net.n_lanes, "threads": numba.get_num_threads(), "cores": os.cpu_count(),
        "numba_trials_per_s": round(nb_rate), "numpy_trials_per_s": round(np_rate),
        "python_trials_per_s": round(py_rate, 1),
        "numba_over_numpy": round(nb_rate / np_rate, 1), "numba_over_python": round(nb_rate / py_rate, 1),
        "numba_full_scan_trials_per_s": round(fs_rate), "numba_full_scan_over_numpy": round(fs_rate / np_rate, 1),
        "numba_full_scan_over_python": round(fs_rate / py_rate, 1),
        "variants_8x10000_seconds": round(e2e, 4), "max_abs_loss_diff_numpy": diff_np,
        "max_abs_loss_diff_python": diff_py, "compile_kernels_seconds": round(compile_s, 3),
        "total_seconds": round(time.perf_counter() - t0, 2), "one_trial": ONE_TRIAL,
    }
    if args.json:
        print(json.dumps(out))
    return 0


if __name__ == "__main__":
    main()
