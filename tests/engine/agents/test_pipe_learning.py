"""Learning agent: the documented conjugate updates, exactly, and versioning."""

from __future__ import annotations

import math

import pytest

from engine.agents.learning import (LearningError, apply_feedback, default_priors, lane_key, node_key,
                                    normal_update)
from engine.agents.scenario import build_scenario
from engine.models import Feedback, Prior, Priors, ScenarioRequest


def test_normal_update_exact_numbers():
    # prior N(0, 0.25), observation noise 0.64, x = 1: v' = 1/(4 + 1.5625), m' = v' * 1/0.64
    m, v = normal_update(0.0, 0.25, 1.0, 0.64)
    assert v == pytest.approx(1.0 / 5.5625)
    assert m == pytest.approx((1.0 / 5.5625) / 0.64)
    assert m == pytest.approx(0.280898876, rel=1e-8)


def test_beta_and_duration_update_on_one_key(network):
    pri = default_priors(network)
    key = node_key(network, "NA-FAC-004")
    p0 = pri.entries[key]
    assert p0.p == pytest.approx(0.005) and p0.alpha == pytest.approx(0.5) and p0.beta == pytest.approx(99.5)
    fb = Feedback(request_id="x", nodes=["NA-FAC-004", "NA-FAC-001"], estimated_duration_days=10.0,
                  actual_duration_days=20.0, actual_loss=1.0)
    new = apply_feedback(pri, fb, network)
    p1 = new.entries[key]
    # both nodes share the key: updated once per feedback, not twice
    assert p1.alpha == pytest.approx(1.5) and p1.beta == pytest.approx(99.5) and p1.n_obs == 1
    assert p1.p == pytest.approx(1.5 / 101.0)
    v = 1.0 / (1.0 / 0.25 + 1.0 / 0.64)
    assert p1.mu_var == pytest.approx(v)
    assert p1.mu_mean == pytest.approx(v * (math.log(10.0) / 0.25 + math.log(20.0) / 0.64))
    assert p1.bias_mean == pytest.approx(v * math.log(2.0) / 0.64)
    assert new.version == 2 and pri.version == 1           # pure: input untouched
    assert pri.entries[key] == p0
    other = node_key(network, "AS-FAC-001")
    assert new.entries[other] == pri.entries[other]


def test_no_outage_moves_only_beta(network):
    pri = default_priors(network)
    lid = network.lanes[0].id
    new = apply_feedback(pri, Feedback(request_id="x", lanes=[lid], occurred=False), network)
    k = lane_key(network, lid)
    assert new.entries[k].beta == pytest.approx(pri.entries[k].beta + 1.0)
    assert new.entries[k].alpha == pri.entries[k].alpha and new.entries[k].mu_mean == pri.entries[k].mu_mean


def test_priors_round_trip_json_and_keep_history(network):
    pri = default_priors(network)
    for i in range(3):
        pri = apply_feedback(pri, Feedback(request_id=f"r{i}", nodes=["EU-FAC-002"], actual_duration_days=5.0),
                             network)
    again = Priors.model_validate_json(pri.model_dump_json())
    assert again == pri and again.version == 4 and [h.version for h in again.history] == [2, 3, 4]


def test_bad_feedback_is_rejected(network):
    with pytest.raises(LearningError, match="unknown"):
        apply_feedback(default_priors(network), Feedback(request_id="x", nodes=["NOPE-1"], actual_duration_days=1),
                       network)
    with pytest.raises(ValueError, match="actual_duration_days"):
        Feedback(request_id="x", nodes=["NA-FAC-004"])


def test_scenario_uses_the_learned_overrun(network):
    pri = default_priors(network)
    key = node_key(network, "NA-FAC-004")
    pri.entries[key] = Prior(**{**pri.entries[key].model_dump(), "bias_mean": math.log(1.5), "bias_var": 0.09})
    req = ScenarioRequest(request_id="s", nodes=["NA-FAC-004"], duration_days=10.0)
    (f,) = build_scenario(req, network, pri).forced
    assert f.median_days == pytest.approx(15.0)
    assert f.sigma == pytest.approx(math.sqrt(0.09 + 0.64))
