"""End-to-end behaviour of the decision pipeline on the example network."""

from __future__ import annotations

import asyncio
import math
import threading
import time

import numpy as np
import pytest

from engine.agents.learning import BIAS_PRIOR_VAR, DURATION_SIGMA, node_key
from engine.models import Feedback, ScenarioResult
from engine.pipeline import DecisionPipeline, PipelineConfig, Stages, _impact, _info, _strategy

FACTORY = "NA-FAC-004"   # outage reaches customers; every candidate kind applies


def _req(**kw) -> dict:
    base = {"request_id": "r-1", "nodes": [FACTORY], "duration_days": 21.0, "trials": 10_000, "seed": 7}
    base.update(kw)
    return base


def run(p: DecisionPipeline, req) -> ScenarioResult:
    return asyncio.run(p.run(req))


@pytest.fixture(scope="module")
def ok_result(network) -> ScenarioResult:
    return run(DecisionPipeline(network), _req())


def test_factory_outage_gives_ok_with_three_strategies(ok_result):
    r = ok_result
    assert r.status == "ok", r.reason
    assert len(r.strategies) == 3
    assert set(r.stage_durations_s) == {"validate", "info", "scenario", "impact", "strategy", "negotiation"}
    imp = r.impact
    assert imp.lost_revenue.mean.value > 1e6
    assert imp.lost_revenue.p50.value <= imp.lost_revenue.p90.value <= imp.lost_revenue.p99.value
    assert imp.lost_revenue.mean.lo <= imp.lost_revenue.mean.value <= imp.lost_revenue.mean.hi
    assert imp.lost_revenue.cvar95.value >= imp.lost_revenue.p90.value
    assert 0 < imp.fill_rate.mean.value < 1 and imp.customers_hit > 0
    assert all(v > 0 for v in imp.stockout_days_per_customer.values())
    assert r.candidates_evaluated == 8 and r.priors_version == 1
    for s in r.strategies:
        assert s.loss_reduction.value > 0 and s.expected_loss < r.baseline.expected_loss
        assert "cuts expected loss by $" in s.explanation and "P99 loss" in s.explanation
    # ranked by the maximin score among Pareto members
    front = [s for s in r.strategies if s.pareto]
    assert [s.score for s in front] == sorted((s.score for s in front), reverse=True)


@pytest.mark.parametrize("bad, needle", [
    ({"nodes": ["XX-NOPE-1"]}, "unknown node(s): XX-NOPE-1"),
    ({"nodes": [], "lanes": ["LN-NOPE"]}, "unknown lane(s): LN-NOPE"),
    ({"duration_days": -3}, "duration_days"),
    ({"trials": 10**9}, "trials"),
    ({"trials": 10}, "trials"),
    ({"nodes": []}, "no affected node or lane"),
    ({"trails": 5000}, "trails"),
    ({"weights": {"expected_loss": 0, "cost": 0, "service_level": 0, "co2": 0, "tail_risk": 0}}, "all be zero"),
])
def test_bad_requests_are_invalid_with_a_reason(network, bad, needle):
    r = run(DecisionPipeline(network), _req(**bad))
    assert r.status == "invalid" and r.failed_stage == "validate"
    assert needle in r.reason
    assert r.request_id == "r-1" and not r.strategies


def test_failing_stage_gives_failed_after_bounded_retries(network):
    calls = []

    def boom(ctx, snap, spec):
        calls.append(1)
        raise RuntimeError("kernel exploded")

    p = DecisionPipeline(network, stages=Stages(impact=boom),
                         config=PipelineConfig(retries={"impact": 2}, retry_backoff_s=0.0))
    r = run(p, _req())
    assert r.status == "failed" and r.failed_stage == "impact"
    assert "kernel exploded" in r.reason and "3 attempt(s)" in r.reason
    assert len(calls) == 3
    assert "impact" in r.stage_durations_s and "strategy" not in r.stage_durations_s


def test_transient_info_error_is_retried(network):
    calls = []

    def flaky(ctx):
        calls.append(1)
        if len(calls) == 1:
            raise ConnectionError("twin table rebalancing")
        return _info(ctx)

    r = run(DecisionPipeline(network, stages=Stages(info=flaky)), _req(trials=2_000))
    assert r.status == "ok" and len(calls) == 2


def test_hanging_stage_gives_timeout_within_the_deadline(network):
    release = threading.Event()

    def hang(ctx, spec, impact):
        release.wait(10)          # bounded so the abandoned thread ends after the test
        return _strategy(ctx, spec, impact)

    p = DecisionPipeline(network, stages=Stages(strategy=hang), config=PipelineConfig(timeouts_s={"strategy": 0.5}))
    t0 = time.perf_counter()
    r = run(p, _req(trials=2_000))
    elapsed = time.perf_counter() - t0
    release.set()
    p.close()
    assert r.status == "timeout" and r.failed_stage == "strategy"
    assert "0.5 s" in r.reason
    assert elapsed < 3.0
    assert r.impact is not None          # what was computed before the hang is still reported


def test_results_are_reproducible_for_a_seed(network, ok_result):
    again = run(DecisionPipeline(network), _req())
    strip = {"stage_durations_s"}
    assert again.model_dump(exclude=strip) == ok_result.model_dump(exclude=strip)
    other = run(DecisionPipeline(network), _req(seed=8))
    assert other.impact.lost_revenue.mean.value != ok_result.impact.lost_revenue.mean.value


def test_strategies_use_common_random_numbers(network):
    seen = {}

    def impact(ctx, snap, spec):
        out = _impact(ctx, snap, spec)
        seen["impact"] = out.baseline_loss
        return out

    def strategy(ctx, spec, imp):
        out = _strategy(ctx, spec, imp)
        seen["strategy"] = out.baseline_loss
        return out

    r = run(DecisionPipeline(network, stages=Stages(impact=impact, strategy=strategy)), _req(rel_tol=0.0))
    assert r.status == "ok"
    # the do-nothing row of the 9-variant evaluation call is the Impact run, trial for trial
    assert np.array_equal(seen["impact"], seen["strategy"])
    assert r.baseline.expected_loss == pytest.approx(r.impact.lost_revenue.mean.value, rel=1e-12)


def test_feedback_updates_priors_and_the_rerun_reflects_them(network, ok_result):
    p = DecisionPipeline(network)
    key = node_key(network, FACTORY)
    before = p.priors.entries[key]
    priors = p.apply_feedback(Feedback(request_id="r-1", strategy=ok_result.strategies[0].name, nodes=[FACTORY],
                                       estimated_duration_days=21.0, actual_duration_days=42.0, actual_loss=2e7))
    after = priors.entries[key]
    assert priors.version == 2 and len(priors.history) == 1 and priors.history[0].keys == [key]
    # known-variance normal update of the log overrun r = log 2 (docs/decisions.md)
    v = 1.0 / (1.0 / BIAS_PRIOR_VAR + 1.0 / DURATION_SIGMA ** 2)
    assert after.bias_var == pytest.approx(v)
    assert after.bias_mean == pytest.approx(v * math.log(2.0) / DURATION_SIGMA ** 2)
    assert after.alpha == pytest.approx(before.alpha + 1.0) and after.beta == before.beta
    # later requests use the new priors: longer expected outage -> more loss
    r2 = run(p, _req())
    assert r2.status == "ok" and r2.priors_version == 2
    assert r2.impact.lost_revenue.mean.value > ok_result.impact.lost_revenue.mean.value * 1.05


def test_outage_with_no_dependants_is_ok_without_strategies(network):
    # AS-PRT-001 is nobody's primary supply in the kernel view: nothing to mitigate
    r = run(DecisionPipeline(network), _req(nodes=["AS-PRT-001"], trials=2_000))
    assert r.status == "ok" and r.strategies == [] and "no mitigation candidate" in r.reason


def test_json_requests_are_accepted_and_garbage_is_invalid(network):
    import json
    p = DecisionPipeline(network)
    ok = run(p, json.dumps(_req(trials=2_000)))
    assert ok.status == "ok" and ok.request_id == "r-1"
    bad = run(p, b"{not json")
    assert bad.status == "invalid" and bad.request_id == "?"


def test_a_what_if_about_a_lane_the_dag_would_drop_models_that_lane(network):
    """Port <-> port sea lanes come in opposite pairs; the kernel needs a DAG and keeps one of each pair. A
    request (or a stalled-shipment alert) about the other must still be answered about it, not fail."""
    from engine.montecarlo.network import forward_lanes

    kinds = ("supplier", "factory", "port", "warehouse", "distribution_centre", "customer")
    idx = {n.id: i for i, n in enumerate(network.nodes)}
    keep = forward_lanes([kinds.index(n.kind.value) for n in network.nodes],
                         [idx[ln.src] for ln in network.lanes], [idx[ln.dst] for ln in network.lanes])
    dropped = [ln.id for ln, k in zip(network.lanes, keep) if not k]
    assert dropped, "the example network has opposite port lanes"
    r = run(DecisionPipeline(network), _req(nodes=[], lanes=[dropped[0]], trials=2_000))
    assert r.status == "ok", r.reason
    assert r.impact is not None and r.impact.n_trials == 2_000
