"""Negotiation: Pareto filtering, normalisation, maximin over stakeholders."""

from __future__ import annotations

import numpy as np
import pytest

from engine.agents.negotiation import money, negotiate, normalise, pareto_mask
from engine.agents.strategy import StrategyOutput
from engine.models import Estimate, ObjectiveWeights, ScenarioRequest, StrategyOutcome


def _o(name, loss, cost, co2, fill=0.99, cvar=None):
    return StrategyOutcome(name=name, kind="k", description=name, cost_usd=cost, co2_t=co2, time_to_effect_days=1,
                           expected_loss=loss, loss_reduction=Estimate(value=100 - loss, lo=0, hi=0),
                           p99_loss=loss * 3, cvar95_loss=cvar if cvar is not None else loss * 4, fill_rate=fill)


def test_pareto_mask_drops_dominated_rows():
    obj = np.array([[1, 1], [2, 2], [0, 3], [1, 1]], dtype=float)
    assert pareto_mask(obj).tolist() == [True, False, True, True]


def test_normalise_maps_each_column_to_unit_interval():
    z = normalise(np.array([[10.0, 5.0], [20.0, 5.0], [15.0, 5.0]]))
    assert z[:, 0].tolist() == [0.0, 1.0, 0.5] and z[:, 1].tolist() == [0.0, 0.0, 0.0]


def test_weights_are_normalised():
    w = ObjectiveWeights(expected_loss=2, cost=2, service_level=0, co2=0, tail_risk=0)
    assert w.as_tuple() == pytest.approx((0.5, 0.5, 0, 0, 0))


def test_maximin_picks_the_compromise_not_the_favourite_of_one():
    base = _o("do_nothing", 100, 0, 0, fill=0.9)
    cheap = _o("cheap", 60, 10, 0, fill=0.95)         # good for finance, OK for all
    green_bad = _o("big_air", 0, 100, 100, fill=1.0)  # best loss, worst cost and CO2
    dominated = _o("dominated", 70, 20, 1, fill=0.94)
    out = StrategyOutput(base, [green_bad, cheap, dominated], np.zeros(1), 1)
    req = ScenarioRequest(
        request_id="n", nodes=["X"], duration_days=1,
        weights=ObjectiveWeights(expected_loss=1, cost=0, service_level=0, co2=0, tail_risk=0),
        stakeholders={"finance": ObjectiveWeights(expected_loss=0, cost=1, service_level=0, co2=0, tail_risk=0),
                      "sustainability": ObjectiveWeights(expected_loss=0, cost=0, service_level=0, co2=1, tail_risk=0)})
    top, front, scored_base = negotiate(out, req)
    assert [t.name for t in top] == ["cheap", "big_air", "dominated"]
    assert "dominated" not in front and "do_nothing" in front
    assert top[0].stakeholder_scores["requester"] == pytest.approx(0.4)    # (100-60)/100
    assert top[0].score == pytest.approx(min(top[0].stakeholder_scores.values()))
    assert top[1].score == pytest.approx(0.0)                              # finance and sustainability hate it
    assert "Dominated by cheap" in top[2].explanation
    assert "cuts expected loss by $40 (-40 %)" in top[0].explanation


def test_explanations_say_what_the_money_buys_and_when_doing_nothing_ranks_higher():
    base = _o("do_nothing", 100, 0, 0)
    bargain = _o("bargain", 40, 10, 0)             # avoids 60 for 10
    dear = _o("dear", 90, 500, 50)                  # avoids 10 for 500, and 50 t CO2
    out = StrategyOutput(base, [dear, bargain], np.zeros(1), 1)
    req = ScenarioRequest(request_id="m", nodes=["X"], duration_days=1,
                          weights=ObjectiveWeights(expected_loss=1, cost=1, service_level=0, co2=1, tail_risk=0))
    top, _, scored_base = negotiate(out, req)
    by = {t.name: t.explanation for t in top}
    assert "Saves $50 net of its cost." in by["bargain"] and "Doing nothing ranks above" not in by["bargain"]
    assert "Costs $490 more than the loss it avoids." in by["dear"]
    assert scored_base.score > top[1].score and "Doing nothing ranks above it" in by["dear"]


def test_money_format():
    assert money(1_234_567) == "$1.2M" and money(180_000) == "$180k" and money(-950) == "-$950"
