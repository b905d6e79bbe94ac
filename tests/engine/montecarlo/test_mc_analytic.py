"""Monte Carlo estimates vs exact expectations on networks with closed forms."""

from __future__ import annotations

import math
import sys
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).parent))
import mc_exact as ex  # noqa: E402

from engine.montecarlo import ForcedOutage, build_network, disruption_model, mean_ci, simulate
from engine.montecarlo.network import CUSTOMER, FACTORY, SUPPLIER

# 99 % intervals: a fixed seed makes each test deterministic, and the wider
# level keeps an unlucky (but correct) seed from being mistaken for a bug.
CONF = 0.99
H = 60.0


def _check(x: np.ndarray, exact: float, max_rel_half_width: float = 0.05) -> None:
    m, lo, hi = mean_ci(x, CONF)
    assert lo <= exact <= hi, f"exact {exact:.5f} outside CI [{lo:.5f}, {hi:.5f}] (mean {m:.5f})"
    assert (hi - lo) / 2 < max_rel_half_width * exact, "interval too wide to be a meaningful check"


def test_single_node_bernoulli_lognormal():
    p, mu, sigma, rev = 0.3, math.log(10.0), 0.9, 1000.0
    net = build_network([CUSTOMER], [rev], [5.0], lanes=[])
    model = disruption_model(net, node_p=p, node_mu=mu, node_sigma=sigma)
    res = simulate(net, model, n_trials=60_000, seed=11, horizon_days=H)
    exact_days = ex.single_node_stockout(p, mu, sigma, H)
    _check(res.stockout_days[0, :, 0].astype(np.float64), exact_days)
    _check(res.loss[0], rev * exact_days)
    # own outage is not buffered by the node's own cover; TTR = a + min(D, H - a)
    _check(res.ttr[0], p * H / 2 + exact_days)
    assert np.allclose(res.fill_rate[0], 1 - res.loss[0] / (rev * H))


def test_series_chain_with_cover_and_lead():
    p, mu, sigma = 0.4, math.log(15.0), 0.7
    net = build_network([SUPPLIER, FACTORY, CUSTOMER], [0.0, 0.0, 200.0], [0.0, 4.0, 3.0],
                        lanes=[(0, 1, 5.0), (1, 2, 2.0)])
    model = disruption_model(net, node_p=[p, 0.0, 0.0], node_mu=mu, node_sigma=sigma)
    res = simulate(net, model, n_trials=60_000, seed=12, horizon_days=H)
    exact = ex.series_chain_stockout(p, mu, sigma, H, lead=7.0, cover=7.0)
    _check(res.stockout_days[0, :, 0].astype(np.float64), exact)
    # cover strictly helps: a chain without stock loses more
    bare = ex.series_chain_stockout(p, mu, sigma, H, lead=7.0, cover=0.0)
    assert bare > 1.5 * exact


def test_redundant_suppliers_with_inventory():
    p1, p2 = 0.6, 0.5
    mu1, s1, mu2, s2 = math.log(20.0), 0.6, math.log(12.0), 0.9
    net = build_network([SUPPLIER, SUPPLIER, FACTORY, CUSTOMER], [0, 0, 0, 50.0], [0, 0, 6.0, 2.0],
                        lanes=[(0, 2, 3.0), (1, 2, 3.0), (2, 3, 1.0)], lane_group=[0, 0, 0])
    model = disruption_model(net, node_p=[p1, p2, 0, 0], node_mu=[mu1, mu2, 0, 0], node_sigma=[s1, s2, 0, 0],
                             start_window=0.0)
    res = simulate(net, model, n_trials=60_000, seed=13, horizon_days=H)
    exact = ex.parallel_pair_stockout(p1, p2, mu1, s1, mu2, s2, H, lead=4.0, cover=8.0)
    _check(res.stockout_days[0, :, 0].astype(np.float64), exact)


def test_required_inputs_are_and():
    """Same two suppliers as separate groups (bill of materials): the factory
    stops when EITHER fails, so loss must exceed the redundant layout's."""
    lanes = [(0, 2, 3.0), (1, 2, 3.0), (2, 3, 1.0)]
    kw = dict(node_p=[0.3, 0.3, 0, 0], node_mu=math.log(10.0), node_sigma=0.5, start_window=0.0)
    args = ([SUPPLIER, SUPPLIER, FACTORY, CUSTOMER], [0, 0, 0, 1.0], [0, 0, 0, 0])
    series = build_network(*args, lanes=lanes, lane_group=[0, 1, 0])
    redundant = build_network(*args, lanes=lanes, lane_group=[0, 0, 0])
    a = simulate(series, disruption_model(series, **kw), n_trials=20_000, seed=5, horizon_days=H)
    b = simulate(redundant, disruption_model(redundant, **kw), n_trials=20_000, seed=5, horizon_days=H)
    assert np.all(a.loss[0] >= b.loss[0])          # same samples (CRN), AND is never better than OR
    # P(stock-out) = 1 - 0.7^2 for AND vs 0.3^2 for OR
    assert (a.loss[0] > 0).mean() == pytest.approx(1 - 0.7 ** 2, abs=0.015)
    assert (b.loss[0] > 0).mean() == pytest.approx(0.3 ** 2, abs=0.01)


def test_lane_outage_strands_goods_in_transit():
    p, mu, sigma = 0.5, math.log(6.0), 0.5
    net = build_network([SUPPLIER, CUSTOMER], [0, 10.0], [0, 4.0], lanes=[(0, 1, 3.0)])
    model = disruption_model(net, node_p=0.0, node_mu=0.0, node_sigma=0.0, lane_p=p, lane_mu=mu,
                             lane_sigma=sigma, start_window=0.0)
    res = simulate(net, model, n_trials=40_000, seed=14, horizon_days=H)
    _check(res.stockout_days[0, :, 0].astype(np.float64), ex.lane_outage_stockout(p, mu, sigma, H, 3.0, 4.0))


@pytest.mark.parametrize("backend", ["numba", "numpy", "python"])
def test_forced_outage_fixed_duration_is_deterministic(backend):
    net = build_network([SUPPLIER, FACTORY, CUSTOMER], [0, 0, 100.0], [0, 5.0, 2.0],
                        lanes=[(0, 1, 4.0), (1, 2, 1.0)])
    model = disruption_model(net, node_p=0.0, node_mu=0.0, node_sigma=0.0,
                             forced=[ForcedOutage("node", 0, duration_days=20.0, start_day=3.0)])
    res = simulate(net, model, n_trials=50, seed=1, horizon_days=H, backend=backend)
    # gap at customer: [3 + 5 + 5 + 2, 3 + 20 + 5) = [15, 28) -> 13 days
    assert np.allclose(res.stockout_days[0, :, 0], 13.0)
    assert np.allclose(res.loss[0], 1300.0)
    assert np.allclose(res.ttr[0], 28.0)


def test_outage_past_horizon_is_clipped():
    net = build_network([CUSTOMER], [1.0], [0.0], lanes=[])
    model = disruption_model(net, node_p=0.0, node_mu=0.0, node_sigma=0.0,
                             forced=[ForcedOutage("node", 0, duration_days=100.0, start_day=50.0)])
    res = simulate(net, model, n_trials=4, seed=0, horizon_days=H)
    assert np.allclose(res.stockout_days, H - 50.0)
    assert np.allclose(res.ttr, H)
