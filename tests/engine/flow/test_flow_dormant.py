"""Dormant lanes (engine/flow/kernel_numba.py: a lane without nominal flow is skipped until it gets a share or
a rerouted order; a node whose out-lanes are all dormant goes idle at base stock) give the numbers of the
kernels that simulate every lane every day: numba against the numpy reference and the Python oracle, trial by
trial, with backups woken by rerouting mid-horizon and by a strategy's share from its effect day; and the
int16 table of extra delays refuses a cap it cannot hold."""

from __future__ import annotations

import numpy as np
import pytest

from engine.flow import BASELINE, FlowDisruption, FlowVariant, outage, prepare_flow, run_flow
from engine.flow.kernel_parallel import EXTRA_MAX, lane_rings
from engine.flow.network import flow_network
from kernels_agree import assert_agree

FIELDS = ("loss", "lost_units", "fill_rate", "stockout_days", "ttr", "customer_stockout_days")


def _net():
    """S1 feeds F (S2 a backup source of the same component), F feeds W; F2 (fed by S3) is W's backup only."""
    return flow_network(
        [{"id": "S1", "kind": "supplier", "capacity": 100.0}, {"id": "S2", "kind": "supplier", "capacity": 60.0},
         {"id": "S3", "kind": "supplier", "capacity": 80.0},
         {"id": "F", "kind": "factory", "capacity": 60.0, "bom": {"a": 1}, "stock_days": 1.0, "switch_days": 3},
         {"id": "F2", "kind": "factory", "capacity": 40.0, "bom": {"b": 1}, "stock_days": 1.0, "inventory": 30.0},
         {"id": "W", "kind": "warehouse", "capacity": 80.0, "stock_days": 2.0, "switch_days": 4},
         {"id": "C", "kind": "customer", "demand": 40.0, "price": 5.0, "stock_days": 1.0, "demand_cv": 0.1}],
        [{"id": "a1", "src": "S1", "dst": "F", "component": "a", "lead_sd_days": 0.7},
         {"id": "a2", "src": "S2", "dst": "F", "component": "a", "backup": True, "lead_days": 2},
         {"id": "b1", "src": "S3", "dst": "F2", "component": "b"},            # share 1, no nominal flow
         {"id": "fw", "src": "F", "dst": "W", "lead_days": 2, "lead_sd_days": 0.3},
         {"id": "f2w", "src": "F2", "dst": "W", "backup": True, "lead_days": 3},
         {"id": "wc", "src": "W", "dst": "C"}])


def test_dormant_lanes_agree_with_the_reference_kernels() -> None:
    net = _net()
    dis = FlowDisruption((outage("node", "S1", 12.0, sigma=0.6), outage("node", "F", 6.0, start_day=20, sigma=0.5,
                                                                        p=0.5)))
    variants = [BASELINE, FlowVariant("backup", effect_day=4, shares={"f2w": 0.4}),
                FlowVariant("stock", effect_day=2, extra_units={"W": 100.0})]
    inp = prepare_flow(net, dis, variants, 60)
    assert (inp.flow0 == 0).sum() == 2                     # a2, f2w: dormant at the start of every batch
    a = run_flow(inp, n_trials=300, seed=3, store_customers=True)
    b = run_flow(inp, n_trials=300, seed=3, backend="numpy", store_customers=True)
    c = run_flow(inp, n_trials=8, seed=3, backend="python", store_customers=True)
    assert a.loss.max() > 0 and not np.array_equal(a.loss[0], a.loss[1])   # the woken backup changes losses
    assert_agree(a, b, FIELDS)
    assert_agree(a, c, FIELDS, trials=8)


def test_rerouting_wakes_a_backup() -> None:
    """A long outage of S1 (switch-over 3 days) moves F's orders to the dormant backup a2: less loss than
    with the backup's capacity at zero, where the outage is simply waited out."""
    net = _net()
    dis = FlowDisruption((outage("node", "S1", 25.0, sigma=0.0),))
    inp = prepare_flow(net, dis, [BASELINE, FlowVariant("no backup", lane_capacity={"a2": 0.0})], 60)
    res = run_flow(inp, n_trials=64, seed=1)
    assert np.all(res.loss[0] < res.loss[1])


def test_extra_delay_cap_must_fit_the_int16_table() -> None:
    lead = np.ones((1, 2), dtype=np.int32)
    lane_rings(lead, np.array([3, EXTRA_MAX], dtype=np.int32))
    with pytest.raises(ValueError):
        lane_rings(lead, np.array([3, EXTRA_MAX + 1], dtype=np.int32))
