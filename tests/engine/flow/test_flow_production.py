"""Production paths of the numba flow kernel (engine/flow/kernel_numba.py: one loop per number of input groups,
a group of 1 unit per unit without the division by its quantity; kernel_steps.produce_many for 3 or more
groups) give the numbers of the numpy reference and the Python oracle, trial by trial, on a network with one
factory of each kind: bills of 1 x a (qty 1), 2 x b (qty 2), 1 x c + 3 x d (two groups) and 1 x e + 2 x f +
0.5 x g (three groups), under input outages that make the component limit bind."""

from __future__ import annotations

import numpy as np

from engine.flow import BASELINE, FlowDisruption, FlowVariant, outage, prepare_flow, run_flow
from kernels_agree import assert_agree
from engine.flow.network import flow_network

FIELDS = ("loss", "lost_units", "fill_rate", "stockout_days", "ttr", "customer_stockout_days")
BOMS = {"F1": {"a": 1}, "F2": {"b": 2}, "F3": {"c": 1, "d": 3}, "F4": {"e": 1, "f": 2, "g": 0.5}}


def _net():
    nodes = [{"id": "S", "kind": "supplier", "capacity": 2000.0},
             {"id": "T", "kind": "supplier", "capacity": 2000.0}]
    lanes = []
    for i, (fid, bom) in enumerate(BOMS.items()):
        nodes.append({"id": fid, "kind": "factory", "capacity": 60.0, "bom": bom, "stock_days": 1.0})
        nodes.append({"id": f"C{i}", "kind": "customer", "demand": 40.0, "price": 3.0 + i, "stock_days": 1.0,
                      "demand_cv": 0.15})
        lanes.append({"id": f"{fid}-out", "src": fid, "dst": f"C{i}"})
        for comp in bom:
            src = "T" if comp in ("a", "d", "g") else "S"
            lanes.append({"id": f"{fid}-{comp}", "src": src, "dst": fid, "component": comp, "lead_sd_days": 0.6})
    return flow_network(nodes, lanes)


def test_production_paths_agree_with_the_reference_kernels() -> None:
    net = _net()
    dis = FlowDisruption((outage("node", "T", 8.0, start_day=5, sigma=0.5),
                          outage("node", "S", 6.0, start_day=15, sigma=0.5, p=0.6)))
    variants = [BASELINE, FlowVariant("more", effect_day=3, extra_units={"F2": 50.0, "F4": 50.0})]
    inp = prepare_flow(net, dis, variants, 40)
    n_groups = np.diff(inp.group_ptr)[~inp.is_cust.astype(bool)]
    assert {0, 1, 2, 3} <= set(n_groups.tolist())            # every production path is taken
    assert sorted(set(inp.qty.tolist())) == [0.5, 1.0, 2.0, 3.0]
    a = run_flow(inp, n_trials=300, seed=5, store_customers=True)
    b = run_flow(inp, n_trials=300, seed=5, backend="numpy", store_customers=True)
    c = run_flow(inp, n_trials=8, seed=5, backend="python", store_customers=True)
    assert a.loss.max() > 0                                  # the outages bind
    assert_agree(a, b, FIELDS)
    assert_agree(a, c, FIELDS, trials=8)
