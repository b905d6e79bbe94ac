"""Benchmark of the Monte Carlo kernels: the outage-interval kernel (engine.montecarlo) and the
quantity-flow kernel (engine.flow), measured in the same run.

Run:  .venv/bin/python bench/montecarlo.py [--json] [--nodes 500] [--numba-trials 200000]
      [--flow-nodes 50] [--flow-trials 100000] [--every-node]

Measures, in one process and on the same 500-node reference network and
disruption model, kernel trials/s for the numba, numpy and pure-Python
kernels (the three draw identical random numbers, which the bench checks),
then 10,000 trials x 8 mitigation variants end to end with common random
numbers. Then the flow kernel on the example network with its sourcing data: a 21-day outage
(lognormal, log-sd 0.5) of the node whose reachable subgraph is closest to ``--flow-nodes``
nodes, plus background risk, over 90 days: trials/s for numba, numpy and the Python oracle
(agreement checked trial by trial), and the interval kernel on the same network and outage.
``--every-node`` adds the loss-above-background table by node kind (docs/BENCHMARKS.md).
With --json the last line printed is one JSON object.
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


def _interleaved(fns: dict, n: int, repeats: int) -> dict[str, tuple[float, float, list[float]]]:
    """Per name: (trials/s wall, trials/s per CPU-second, wall times), the kernels timed in turn within each
    repeat: on a shared machine the load drifts over seconds, and alternating keeps it out of the ratio."""
    wall: dict[str, list[float]] = {k: [] for k in fns}
    cpu: dict[str, list[float]] = {k: [] for k in fns}
    for _ in range(repeats):
        for k, fn in fns.items():
            t0, c0 = time.perf_counter(), time.process_time()
            fn(n)
            wall[k].append(time.perf_counter() - t0)
            cpu[k].append(time.process_time() - c0)
    return {k: (n / statistics.median(wall[k]), n / statistics.median(cpu[k]), wall[k]) for k in fns}


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
    ap.add_argument("--flow-nodes", type=int, default=50, help="target size of the flow kernel's subgraph")
    ap.add_argument("--flow-trials", type=int, default=100_000)
    ap.add_argument("--flow-numpy-trials", type=int, default=1_024)
    ap.add_argument("--flow-python-trials", type=int, default=8)
    ap.add_argument("--every-node", action="store_true", help="also the per-kind table of loss above background")
    ap.add_argument("--every-node-trials", type=int, default=2_000)
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
        "one_trial": ONE_TRIAL,
    }
    out["flow"] = flow_section(args)
    out["total_seconds"] = round(time.perf_counter() - t0, 2)
    if args.json:
        print(json.dumps(out))
    return 0


FLOW_ONE_TRIAL = ("one flow trial = sample the events (the outage, background risk of every simulated node and "
                  "lane), each lane's extra lead time and each customer's demand level (counter-based RNG), then "
                  "step every simulated node through every day: arrivals, production limited by capacity and "
                  "components (bill of materials), shipping pro rata to open orders within node and lane capacity, "
                  "orders split by share with rerouting to open alternatives after the switch-over delay; reduce "
                  "to lost revenue, fill rate, stock-out days and time to recover")


def _old_kernel_view(flow_net, forced_node: str, sigma: float):
    """The interval kernel's network for the same twin: lanes in use enabled, backups dormant, cover = stock days."""
    from engine.montecarlo import ForcedOutage, disruption_model, network_from_dicts
    from engine.flow.network import KINDS
    nodes = [{"id": i, "type": KINDS[k], "revenue_per_day": float(d * p), "cover_days": float(c)}
             for i, k, d, p, c in zip(flow_net.node_ids, flow_net.kind, flow_net.demand, flow_net.price,
                                      flow_net.stock_days)]
    lanes = [{"id": i, "src": flow_net.node_ids[s_], "dst": flow_net.node_ids[d_], "lead_days": float(ld),
              "group": flow_net.group_name[g], "enabled": bool(sh > 0)}
             for i, s_, d_, ld, g, sh in zip(flow_net.lane_ids, flow_net.lane_src, flow_net.lane_dst,
                                            flow_net.lane_lead, flow_net.lane_group, flow_net.lane_share)]
    net = network_from_dicts(nodes, lanes, drop_cycles=True)
    import math
    model = disruption_model(net, node_p=0.005, node_mu=math.log(7.0), node_sigma=0.8,
                             forced=[ForcedOutage("node", forced_node, 21.0, 0.0, sigma)])
    return net, model


def flow_section(args: argparse.Namespace) -> dict:
    """Flow kernel on the example network (see module docstring); prints and returns its figures."""
    from engine.flow import FlowDisruption, loss_difference, outage, prepare_flow, run_flow
    from engine.flow.impact_table import DURATION_SIGMA, by_kind, default_background, every_node_impact
    from engine.flow.twin import flow_from_twin
    from engine.montecarlo import prepare as old_prepare

    example = Path(__file__).resolve().parents[1] / "simulators" / "networks" / "example_network.json"
    net = flow_from_twin(json.loads(example.read_text()))
    bg = default_background(net, 90)
    sizes = []
    for v in range(net.n_nodes):
        dis = FlowDisruption((outage("node", v, 21.0, sigma=DURATION_SIGMA),))
        sizes.append(prepare_flow(net, dis, None, 90, background=bg).n_nodes)
    v = int(np.argmin([abs(n - args.flow_nodes) for n in sizes]))
    node = net.node_ids[v]
    inp = prepare_flow(net, FlowDisruption((outage("node", v, 21.0, sigma=DURATION_SIGMA),)), None, 90,
                       background=bg)
    run_flow(inp, n_trials=1_000, seed=args.seed)                          # warm (compile or load cache)
    old_net, old_model = _old_kernel_view(net, node, DURATION_SIGMA)
    old_inp = old_prepare(old_net, old_model, None, 90.0)
    run_trials(old_inp, n_trials=1_000, seed=args.seed)
    both = _interleaved({"flow": lambda n: run_flow(inp, n_trials=n, seed=args.seed),
                         "interval": lambda n: run_trials(old_inp, n_trials=n, seed=args.seed)},
                        args.flow_trials, args.repeats)
    nb_rate, nb_cpu, nb_times = both["flow"]
    old_rate, old_cpu, _ = both["interval"]
    np_rate, _ = _rate(lambda n: run_flow(inp, n_trials=n, seed=args.seed, backend="numpy"),
                       args.flow_numpy_trials, 1)
    py_rate, _ = _rate(lambda n: run_flow(inp, n_trials=n, seed=args.seed, backend="python"),
                       args.flow_python_trials, 1)
    a = run_flow(inp, n_trials=args.flow_numpy_trials, seed=args.seed)
    b = run_flow(inp, n_trials=args.flow_numpy_trials, seed=args.seed, backend="numpy")
    c = run_flow(inp, n_trials=args.flow_python_trials, seed=args.seed, backend="python")
    diff_np = float(np.max(np.abs(a.loss - b.loss)))
    diff_py = float(np.max(np.abs(a.loss[:, :args.flow_python_trials] - c.loss)))
    rel_np, rel_py = loss_difference(a, b), loss_difference(a, c)   # numba float32 against float64 references
    s = summarize(a.loss[0])
    print(f"flow kernel: example network ({net.n_nodes} nodes, {net.n_lanes} lanes with sourcing data), 21-day "
          f"outage of {node} + background; reachable subgraph {inp.n_nodes} nodes, {inp.src.shape[0]} lanes, "
          f"90 days")
    print(FLOW_ONE_TRIAL)
    runs = [round(t, 3) for t in nb_times]
    print(f"flow numba : {nb_rate:12,.0f} trials/s ({args.flow_trials} trials, runs {runs} s)"
          f"  target >= 100,000: {'met' if nb_rate >= 100_000 else 'MISSED'}")
    print(f"flow numpy : {np_rate:12,.0f} trials/s   numba/numpy  = {nb_rate / np_rate:,.1f}x")
    print(f"flow python: {py_rate:12,.1f} trials/s   numba/python = {nb_rate / py_rate:,.0f}x")
    print(f"interval kernel, same network and outage: {old_rate:12,.0f} trials/s   flow/interval = "
          f"{nb_rate / old_rate:.3f} (timed in turn)")
    print(f"per CPU-second: flow {nb_cpu:,.0f}, interval {old_cpu:,.0f} trials/s "
          f"(flow/interval {nb_cpu / old_cpu:.3f})")
    print(f"flow agreement (numba float32, references float64): max |loss numba - numpy| = {diff_np:.3g} "
          f"({rel_np:.2g} of the largest loss), numba - python = {diff_py:.3g} ({rel_py:.2g}); "
          f"mean loss {s.mean.value:,.0f} +/- {s.mean.half_width:,.0f}")
    out = {"node": node, "subgraph_nodes": inp.n_nodes, "subgraph_lanes": int(inp.src.shape[0]), "horizon_days": 90,
           "numba_trials_per_s": round(nb_rate), "numpy_trials_per_s": round(np_rate, 1),
           "python_trials_per_s": round(py_rate, 2), "interval_kernel_same_scenario_trials_per_s": round(old_rate),
           "flow_over_interval": round(nb_rate / old_rate, 4), "numba_over_numpy": round(nb_rate / np_rate, 1),
           "numba_trials_per_cpu_s": round(nb_cpu), "interval_trials_per_cpu_s": round(old_cpu),
           "max_abs_loss_diff_numpy": diff_np, "max_abs_loss_diff_python": diff_py,
           "max_rel_loss_diff_numpy": rel_np, "max_rel_loss_diff_python": rel_py,
           "target_trials_per_s": 100_000, "meets_target": nb_rate >= 100_000, "one_trial": FLOW_ONE_TRIAL}
    if args.every_node:
        t0 = time.perf_counter()
        rows = by_kind(every_node_impact(net, n_trials=args.every_node_trials, seed=args.seed), net)
        print(f"21-day outage of every node, loss above background ({args.every_node_trials} trials each, "
              f"{time.perf_counter() - t0:.0f} s):")
        print("| kind | nodes | mean above bg | 99 % CI above 0 | mean excess $ | min | max | background $ "
              "| Spearman vs flow share | nodes simulated |")
        for r in rows:
            print(f"| {r['kind']} | {r['nodes']} | {r['mean_above_background']} | {r['ci_above_zero']} | "
                  f"{r['excess_mean']:,.0f} | {r['excess_min']:,.0f} | {r['excess_max']:,.0f} | "
                  f"{r['background_mean']:,.0f} | {r['spearman_with_flow_share']:.2f} | "
                  f"{r['nodes_simulated_mean']:.0f} |")
        out["every_node"] = rows
    return out


if __name__ == "__main__":
    main()
