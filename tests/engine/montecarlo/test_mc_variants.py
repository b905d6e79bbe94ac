"""Mitigation variants with common random numbers."""

from __future__ import annotations

import math

import numpy as np
import pytest

from engine.montecarlo import (BASELINE, ForcedOutage, Mitigation, build_network, disruption_model,
                               paired_difference, reference_disruption, reference_network, simulate)
from engine.montecarlo.network import CUSTOMER, DC, SUPPLIER


def _chain():
    # S0 -> D1 -> C2, dormant backup S3 -> D1 (own group with lane 0), 10-day forced outage at S0
    net = build_network([SUPPLIER, DC, CUSTOMER, SUPPLIER], [0, 0, 100.0, 0], [0, 2.0, 1.0, 0],
                        lanes=[(0, 1, 3.0), (1, 2, 1.0), (3, 1, 3.0)], lane_group=[0, 0, 0],
                        lane_enabled=[True, True, False])
    model = disruption_model(net, node_p=0.0, node_mu=0.0, node_sigma=0.0,
                             forced=[ForcedOutage("node", 0, 10.0, start_day=0.0)])
    return net, model


@pytest.mark.parametrize("variant,expected", [
    # S0 out [0, 10) -> arrivals at D1 stop [3, 13) -> cover 2: [5, 13) -> lead 1: [6, 14) -> cover 1: [7, 14)
    (BASELINE, 7.0),
    (Mitigation("stock", extra_cover_days={1: 4.0}), 3.0),                # D1 out [9, 13) -> C [11, 14)
    (Mitigation("backup", enable_lanes=[2]), 0.0),                        # alternative supplier S3
    (Mitigation("faster recovery", duration_factor={0: 0.5}), 2.0),       # S0 out [0, 5) -> C [7, 9)
    (Mitigation("slower lane", lead_time_days={0: 30.0}), 6.0),           # D1 gap [30, 40) -> C [34, 40)
])
def test_each_mitigation_changes_the_parameter_it_names(variant, expected):
    net, model = _chain()
    res = simulate(net, model, n_trials=3, seed=0, variants=[variant], horizon_days=40.0)
    assert res.stockout_days[0, :, 0] == pytest.approx(np.full(3, expected))


def test_common_random_numbers_replay_the_same_disruptions():
    net = reference_network(300, seed=3)
    model = reference_disruption(net)
    hubs = [int(v) for v in np.flatnonzero(net.node_type == DC)]
    variants = [BASELINE, Mitigation("noop"), Mitigation("dc stock", extra_cover_days={v: 10.0 for v in hubs})]
    res = simulate(net, model, n_trials=5_000, seed=21, variants=variants, horizon_days=90.0)
    alone = simulate(net, model, n_trials=5_000, seed=21, horizon_days=90.0)
    assert np.array_equal(res.loss[0], res.loss[1])           # same samples, same parameters
    assert np.array_equal(res.loss[0], alone.loss[0])         # adding variants does not reshuffle
    assert np.all(res.loss[2] <= res.loss[0] + 1e-9)
    d = paired_difference(res.loss[0], res.loss[2])
    assert d.lo > 0                                            # the mitigation measurably helps
    # pairing makes the comparison much sharper than two independent estimates
    indep = math.hypot(res.loss[0].std(), res.loss[2].std()) / math.sqrt(res.n_trials) * 1.96
    assert d.half_width < 0.5 * indep


def test_variant_validation_rejects_negative_parameters():
    net, model = _chain()
    with pytest.raises(ValueError):
        simulate(net, model, n_trials=1, seed=0, variants=[Mitigation("bad", extra_cover_days={1: -5.0})])


def test_summarize_results_is_json_ready_and_ranks_by_paired_reduction():
    import json

    from engine.montecarlo import summarize_results
    net, model = _chain()
    model = disruption_model(net, node_p=[0.5, 0, 0, 0], node_mu=math.log(10.0), node_sigma=0.5)
    res = simulate(net, model, n_trials=2_000, seed=3, horizon_days=60.0,
                   variants=[BASELINE, Mitigation("backup", enable_lanes=[2])])
    out = json.loads(json.dumps(summarize_results(res)))
    assert set(out) == {"baseline", "backup"}
    assert out["baseline"]["loss_reduction_vs_first"]["value"] == 0.0
    red = out["backup"]["loss_reduction_vs_first"]
    assert red["lo"] > 0 and red["value"] == pytest.approx(out["baseline"]["loss"]["mean"]["value"])
    assert 0.0 <= out["baseline"]["fill_rate"]["mean"]["value"] < 1.0
