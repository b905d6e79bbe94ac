"""numba, numpy and pure-Python kernels implement the same model."""

from __future__ import annotations

import math

import numba
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from engine.montecarlo import (BASELINE, ForcedOutage, Mitigation, compile_kernels, disruption_model, mean_ci,
                               prepare, reference_disruption, reference_network, run_trials, build_network)


@pytest.fixture(scope="module")
def ref():
    net = reference_network(500, seed=7)
    # higher outage rates than the reference model so many trials propagate
    model = reference_disruption(net)
    model = disruption_model(net, node_p=np.minimum(model.p[:net.n_nodes] * 4, 1), node_mu=model.mu[:net.n_nodes],
                             node_sigma=0.8, lane_p=0.02, lane_mu=math.log(7.0), lane_sigma=0.8,
                             forced=[ForcedOutage("node", int(np.flatnonzero(net.node_type == 2)[0]), 12.0, 2.0, 0.5)])
    backup = int(np.flatnonzero(~net.lane_enabled)[0])
    variants = [BASELINE,
                Mitigation("stock", extra_cover_days={int(c): 5.0 for c in net.customers}),
                Mitigation("backup", enable_lanes=[backup]),
                Mitigation("fast", lead_time_days={0: 1.0}, duration_factor={int(net.lane_src[0]): 0.5})]
    return net, model, prepare(net, model, variants, 90.0)


def _same(a, b):
    assert np.allclose(a.loss, b.loss, rtol=1e-9, atol=1e-6)
    assert np.allclose(a.fill_rate, b.fill_rate, rtol=1e-12, atol=1e-12)
    assert np.allclose(a.ttr, b.ttr, rtol=1e-9, atol=1e-9)
    assert np.allclose(a.stockout_days, b.stockout_days, rtol=1e-6, atol=1e-5)


def test_numba_equals_numpy_trial_by_trial(ref):
    _, _, inp = ref
    a = run_trials(inp, n_trials=1500, seed=99, trial0=10)
    b = run_trials(inp, n_trials=1500, seed=99, trial0=10, backend="numpy")
    assert (a.loss > 0).mean() > 0.3                     # the comparison is not all zeros
    _same(a, b)


def test_numba_equals_python_trial_by_trial(ref):
    _, _, inp = ref
    _same(run_trials(inp, n_trials=60, seed=5), run_trials(inp, n_trials=60, seed=5, backend="python"))


def test_numba_and_numpy_agree_within_intervals_on_independent_samples(ref):
    _, _, inp = ref
    a = run_trials(inp, n_trials=40_000, seed=1, store_customers=False).loss[0]
    b = run_trials(inp, n_trials=3_000, seed=2, backend="numpy", store_customers=False).loss[0]
    (ma, la, ha), (mb, lb, hb) = mean_ci(a, 0.99), mean_ci(b, 0.99)
    assert abs(ma - mb) <= math.hypot((ha - la) / 2, (hb - lb) / 2)


def test_results_do_not_depend_on_threads_or_batching(ref):
    _, _, inp = ref
    whole = run_trials(inp, n_trials=900, seed=3)
    split = [run_trials(inp, n_trials=n, seed=3, trial0=t0) for t0, n in ((0, 250), (250, 650))]
    assert np.array_equal(whole.loss, np.concatenate([s.loss for s in split], axis=1))
    before = numba.get_num_threads()
    try:
        numba.set_num_threads(1)
        single = run_trials(inp, n_trials=900, seed=3)
    finally:
        numba.set_num_threads(before)
    assert np.array_equal(whole.loss, single.loss)
    assert not np.array_equal(whole.loss, run_trials(inp, n_trials=900, seed=4).loss)


def test_compile_kernels_self_check_passes():
    assert compile_kernels() >= 0.0


@st.composite
def small_networks(draw):
    """Random layered DAGs with AND/OR groups, dormant lanes and outages."""
    n = draw(st.integers(3, 9))
    types = sorted(draw(st.lists(st.integers(0, 5), min_size=n, max_size=n)))
    lanes, groups, enabled = [], [], []
    for v in range(1, n):
        for u in draw(st.lists(st.integers(0, v - 1), max_size=3, unique=True)):
            lanes.append((u, v, draw(st.floats(0, 10))))
            groups.append(draw(st.integers(0, 1)))
            enabled.append(draw(st.booleans()) or draw(st.booleans()))
    net = build_network(types, [draw(st.floats(0, 100)) for _ in range(n)],
                        [draw(st.floats(0, 8)) for _ in range(n)], lanes, groups, enabled)
    model = disruption_model(net, node_p=draw(st.floats(0, 0.9)), node_mu=math.log(8), node_sigma=1.0,
                             lane_p=draw(st.floats(0, 0.9)), lane_mu=math.log(4), lane_sigma=0.5,
                             start_window=draw(st.sampled_from([None, 0.0, 10.0])))
    return net, model


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(small_networks(), st.integers(0, 2**32))
def test_kernels_agree_on_random_small_networks(case, seed):
    net, model = case
    extra = Mitigation("all lanes", enable_lanes=list(range(net.n_lanes)),
                       extra_cover_days={v: 3.0 for v in range(net.n_nodes)})
    inp = prepare(net, model, [BASELINE, extra], 40.0)
    a = run_trials(inp, n_trials=30, seed=seed)
    _same(a, run_trials(inp, n_trials=30, seed=seed, backend="python"))
    _same(a, run_trials(inp, n_trials=30, seed=seed, backend="numpy"))
    # more stock and every alternative switched on can never lose more (same samples)
    assert np.all(a.loss[1] <= a.loss[0] + 1e-9)


def test_interval_cap_is_shared_by_numba_and_python_and_conservative():
    from engine.montecarlo.intervals import K_MAX
    from engine.montecarlo.network import CUSTOMER, SUPPLIER
    net = build_network([SUPPLIER, CUSTOMER], [0, 1.0], [0, 0.0], lanes=[(0, 1, 1.0)])
    # 2*K_MAX short outages with growing gaps: more intervals than a set may hold
    starts = np.cumsum(np.arange(2 * K_MAX) * 0.1 + 1.5)
    forced = [ForcedOutage("node", 0, duration_days=1.0, start_day=float(s)) for s in starts]
    model = disruption_model(net, node_p=0.0, node_mu=0.0, node_sigma=0.0, forced=forced)
    inp = prepare(net, model, None, 200.0)
    a, b, c = (run_trials(inp, n_trials=2, seed=0, backend=k) for k in ("numba", "python", "numpy"))
    _same(a, b)
    exact = float(c.stockout_days[0, 0, 0])
    assert exact == pytest.approx(2 * K_MAX * 1.0)           # numpy keeps every interval
    assert float(a.stockout_days[0, 0, 0]) > exact           # merging gaps overstates, never understates


def test_event_driven_visit_equals_full_scan(ref):
    """The kernel only visits nodes downstream of an outage; visiting every
    node (the path used when a group has no enabled lane) must give the same."""
    import dataclasses
    _, _, inp = ref
    assert inp.always_ok
    a = run_trials(inp, n_trials=3_000, seed=8)
    b = run_trials(dataclasses.replace(inp, always_ok=False), n_trials=3_000, seed=8)
    assert np.array_equal(a.loss, b.loss) and np.array_equal(a.stockout_days, b.stockout_days)


def test_group_without_enabled_lane_is_never_supplied():
    from engine.montecarlo import Mitigation
    from engine.montecarlo.network import CUSTOMER, SUPPLIER
    net = build_network([SUPPLIER, CUSTOMER, CUSTOMER], [0, 2.0, 3.0], [0, 5.0, 5.0],
                        lanes=[(0, 1, 1.0), (0, 2, 1.0)], lane_enabled=[True, False])
    model = disruption_model(net, node_p=0.0, node_mu=0.0, node_sigma=0.0)
    inp = prepare(net, model, [BASELINE, Mitigation("open", enable_lanes=[1])], 30.0)
    assert not inp.always_ok
    for backend in ("numba", "numpy", "python"):
        r = run_trials(inp, n_trials=5, seed=0, backend=backend)
        # cover 5 absorbs the first days, then customer 2 is out until the horizon
        assert np.allclose(r.stockout_days[0, :, 1], 25.0) and np.allclose(r.stockout_days[0, :, 0], 0.0)
        assert np.allclose(r.loss[1], 0.0)
