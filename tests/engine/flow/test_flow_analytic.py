"""Flow kernel estimates vs exact expectations (tests/engine/flow/flow_exact.py), numba and numpy alike,
with the pure-Python oracle equal trial by trial on the same random numbers."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).parent))
import flow_exact as fx  # noqa: E402

from engine.flow import FlowDisruption, flow_network, outage, prepare_flow, run_flow
from kernels_agree import assert_agree
from engine.montecarlo import mean_ci

# 99 % intervals: a fixed seed makes each test deterministic, and the wider
# level keeps an unlucky (but correct) seed from being mistaken for a bug.
CONF = 0.99
H = 60
START = 5
N_NUMBA = 40_000
N_NUMPY = 8_192
N_ORACLE = 64


def _check(x: np.ndarray, exact: float, max_rel_half_width: float = 0.06) -> None:
    m, lo, hi = mean_ci(x, CONF)
    assert lo <= exact <= hi, f"exact {exact:.4f} outside CI [{lo:.4f}, {hi:.4f}] (mean {m:.4f})"
    assert (hi - lo) / 2 < max_rel_half_width * exact, "interval too wide to be a meaningful check"


def _all_backends(inp, exact: float, seed: int, metric: str = "lost_units", rel: float = 0.06) -> None:
    a = run_flow(inp, n_trials=N_NUMBA, seed=seed)
    b = run_flow(inp, n_trials=N_NUMPY, seed=seed, backend="numpy")
    c = run_flow(inp, n_trials=N_ORACLE, seed=seed, backend="python")
    _check(getattr(a, metric)[0], exact, rel)
    _check(getattr(b, metric)[0], exact, 2.5 * rel)          # fewer trials: wider, still containing
    fields = ("loss", "lost_units", "fill_rate", "stockout_days", "ttr")
    assert_agree(a, b, fields, trials=N_NUMPY)
    assert_agree(a, c, fields, trials=N_ORACLE)


def _chain(demand: float, cover: float, src_capacity: float = 1e6, lead: int = 2):
    return flow_network(
        [{"id": "S", "kind": "supplier", "capacity": src_capacity},
         {"id": "C", "kind": "customer", "demand": demand, "price": 12.5, "stock_days": cover}],
        [{"id": "SC", "src": "S", "dst": "C", "lead_days": lead}])


@pytest.mark.parametrize("cover", [0.0, 4.0])
def test_single_node_with_and_without_cover(cover: float) -> None:
    d, median, sigma, lead = 30.0, 9.0, 0.8, 2
    net = _chain(d, cover, lead=lead)
    dis = FlowDisruption((outage("node", "S", median, start_day=START, sigma=sigma),))
    inp = prepare_flow(net, dis, horizon_days=H)
    exact = fx.single_source_lost_units(d, cover, median, sigma, H - START - lead)
    _all_backends(inp, exact, seed=11)
    res = run_flow(inp, n_trials=N_NUMBA, seed=11)
    _check(res.loss[0], 12.5 * exact)                        # revenue = price x units


def test_cover_strictly_helps() -> None:
    bare = fx.single_source_lost_units(30.0, 0.0, 9.0, 0.8, 53)
    covered = fx.single_source_lost_units(30.0, 4.0, 9.0, 0.8, 53)
    assert covered < bare - 30.0 * 3.0                      # at least 3 days of demand saved on average


@pytest.mark.parametrize("severity", [0.5, 0.8])
def test_partial_capacity_loss(severity: float) -> None:
    d, k_cap, cover, median, sigma, lead = 40.0, 60.0, 1.5, 12.0, 0.6, 3
    net = _chain(d, cover, src_capacity=k_cap, lead=lead)
    ev = outage("node", "S", median, start_day=START, sigma=sigma, severity=severity)
    inp = prepare_flow(net, FlowDisruption((ev,)), horizon_days=H)
    exact = fx.single_source_lost_units(d, cover, median, sigma, H - START - lead, available=k_cap * (1 - severity))
    _all_backends(inp, exact, seed=12)


def test_two_suppliers_in_series() -> None:
    d, cover, lead2, h = 40.0, 3.0, 2, 120
    net = flow_network(
        [{"id": "S1", "kind": "supplier"}, {"id": "S2", "kind": "factory"},
         {"id": "C", "kind": "customer", "demand": d, "price": 7.0, "stock_days": cover}],
        [{"id": "a", "src": "S1", "dst": "S2", "lead_days": 1},
         {"id": "b", "src": "S2", "dst": "C", "lead_days": lead2}])
    dis = FlowDisruption((outage("node", "S1", 8.0, start_day=START, sigma=0.7, p=0.6),
                          outage("node", "S2", 6.0, start_day=START, sigma=0.9, p=0.5)))
    inp = prepare_flow(net, dis, horizon_days=h)
    exact = fx.series_lost_units(d, cover, 0.6, 8.0, 0.7, 0.5, 6.0, 0.9, h - START - lead2)
    _all_backends(inp, exact, seed=13)


@pytest.mark.parametrize("alt_capacity", [20.0, 35.0, 80.0])
def test_two_in_parallel_with_shares_capacities_and_switch(alt_capacity: float) -> None:
    d, share, switch, cover, median, sigma, lead = 50.0, 0.6, 4, 0.5, 10.0, 0.6, 2
    net = flow_network(
        [{"id": "S1", "kind": "supplier", "capacity": 1000.0},
         {"id": "S2", "kind": "supplier", "capacity": alt_capacity},
         {"id": "C", "kind": "customer", "demand": d, "price": 10.0, "stock_days": cover, "switch_days": switch}],
        [{"id": "a", "src": "S1", "dst": "C", "lead_days": lead, "share": share},
         {"id": "b", "src": "S2", "dst": "C", "lead_days": lead, "share": 1 - share}])
    inp = prepare_flow(net, FlowDisruption((outage("node", "S1", median, start_day=START, sigma=sigma),)),
                       horizon_days=40)
    exact = fx.parallel_lost_units(d, share, alt_capacity, switch, cover, median, sigma, 40 - START - lead)
    _all_backends(inp, exact, seed=14)


def test_parallel_alternative_capacity_is_monotone() -> None:
    """More capacity at the alternative never loses more, trial by trial (common random numbers)."""
    losses = []
    for cap in (20.0, 30.0, 45.0, 80.0):
        net = flow_network(
            [{"id": "S1", "kind": "supplier"}, {"id": "S2", "kind": "supplier", "capacity": cap},
             {"id": "C", "kind": "customer", "demand": 50.0, "price": 1.0, "stock_days": 1.0, "switch_days": 3}],
            [{"id": "a", "src": "S1", "dst": "C", "lead_days": 2, "share": 0.6},
             {"id": "b", "src": "S2", "dst": "C", "lead_days": 2, "share": 0.4}])
        res = run_flow(prepare_flow(net, FlowDisruption((outage("node", "S1", 10.0, start_day=3, sigma=0.7),)),
                                    horizon_days=40), n_trials=4_000, seed=2)
        losses.append(res.loss[0])
    for a, b in zip(losses, losses[1:]):
        assert np.all(b <= a + 1e-9)
    assert losses[-1].mean() < 0.5 * losses[0].mean()


def test_fill_rate_is_one_minus_lost_share_of_demand() -> None:
    d, cover, median, sigma, lead = 30.0, 2.0, 9.0, 0.8, 2
    net = _chain(d, cover, lead=lead)
    dis = FlowDisruption((outage("node", "S", median, start_day=START, sigma=sigma),))
    inp = prepare_flow(net, dis, horizon_days=H)
    exact_fill = 1.0 - fx.single_source_lost_units(d, cover, median, sigma, H - START - lead) / (d * H)
    res = run_flow(inp, n_trials=N_NUMBA, seed=15)
    m, lo, hi = mean_ci(res.fill_rate[0], CONF)
    assert lo <= exact_fill <= hi
    np.testing.assert_allclose(res.fill_rate[0], 1.0 - res.lost_units[0] / (d * H))
    assert np.all(res.stockout_days[0] >= res.lost_units[0] / d - 1e-9)  # a day short of all demand at most
