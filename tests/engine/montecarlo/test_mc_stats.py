"""Risk statistics, their intervals, and adaptive stopping."""

from __future__ import annotations

import math

import numpy as np
import pytest

from engine.montecarlo import (build_network, cvar_ci, disruption_model, mean_ci, quantile_ci, simulate,
                               simulate_adaptive, summarize)
from engine.montecarlo.network import CUSTOMER
from engine.montecarlo.stats import z_value


def test_z_value_matches_known_quantiles():
    assert z_value(0.95) == pytest.approx(1.959963985, abs=1e-8)
    assert z_value(0.99) == pytest.approx(2.575829304, abs=1e-8)
    with pytest.raises(ValueError):
        z_value(1.0)


def test_mean_interval_covers_the_truth_about_95_percent_of_the_time():
    rng = np.random.default_rng(0)
    samples = rng.exponential(2.0, (2000, 400))
    inside = 0
    for row in samples:
        _, lo, hi = mean_ci(row, 0.95)
        inside += lo <= 2.0 <= hi
    assert 0.93 <= inside / 2000 <= 0.97


def test_quantile_and_cvar_of_uniform_sample():
    rng = np.random.default_rng(1)
    x = rng.random(200_000)
    for q in (0.5, 0.9, 0.99):
        est = quantile_ci(x, q)
        assert est.lo <= q <= est.hi and est.lo <= est.value <= est.hi
        assert est.half_width < 0.01
    c = cvar_ci(x, 0.95)                      # mean of U(0.95, 1) = 0.975
    assert c.lo <= 0.975 <= c.hi and c.half_width < 0.001


def test_quantile_interval_coverage_is_near_nominal():
    rng = np.random.default_rng(2)
    true_p90 = -math.log(0.1)                 # exponential(1)
    inside = 0
    for _ in range(1000):
        e = quantile_ci(rng.exponential(1.0, 500), 0.9)
        inside += e.lo <= true_p90 <= e.hi
    assert 0.92 <= inside / 1000 <= 0.99


def test_summary_orders_its_statistics():
    s = summarize(np.random.default_rng(3).lognormal(0, 1, 50_000))
    assert s.n == 50_000
    assert s.p50.value < s.mean.value < s.p90.value < s.p99.value
    assert s.p90.value < s.cvar95.value
    assert s.mean.lo < s.mean.value < s.mean.hi


def _one_customer(p: float):
    net = build_network([CUSTOMER], [10.0], [0.0], lanes=[])
    return net, disruption_model(net, node_p=p, node_mu=math.log(5.0), node_sigma=0.5)


def test_adaptive_stops_when_tight_and_at_cap():
    net, model = _one_customer(0.2)
    tight = simulate_adaptive(net, model, seed=1, rel_tol=0.05, batch=1_000, min_trials=1_000, max_trials=200_000)
    assert tight.converged
    s = tight.summaries[0]
    assert s.mean.half_width <= 0.05 * s.mean.value
    assert tight.results.n_trials % 1_000 == 0 and tight.results.n_trials < 200_000
    # batches continue the trial counter: identical to one run of the same length
    long = simulate(net, model, n_trials=tight.results.n_trials, seed=1)
    assert np.array_equal(long.loss, tight.results.loss)
    capped = simulate_adaptive(net, model, seed=1, rel_tol=1e-4, batch=1_000, min_trials=1_000, max_trials=3_000)
    assert not capped.converged and capped.results.n_trials == 3_000


def test_adaptive_with_no_risk_converges_at_min_trials():
    net, model = _one_customer(0.0)
    res = simulate_adaptive(net, model, seed=1, batch=500, min_trials=1_000)
    assert res.converged and res.results.n_trials == 1_000 and res.summaries[0].mean.value == 0.0
