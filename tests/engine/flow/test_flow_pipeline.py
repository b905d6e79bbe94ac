"""The decision pipeline on the flow kernel: same request, same stages around it, live twin state used."""

from __future__ import annotations

import asyncio

from engine.agents.info import StaticTwinView
from engine.pipeline import DecisionPipeline, PipelineConfig
from twin.network import SupplyNetwork


def _run(pipe: DecisionPipeline, req: dict):
    try:
        return asyncio.run(pipe.run(req))
    finally:
        pipe.close()


def test_flow_pipeline_answers_with_an_explained_top3(example_dict) -> None:
    net = SupplyNetwork.from_dict(example_dict)
    req = {"request_id": "f1", "nodes": ["AS-FAC-003"], "duration_days": 21.0, "trials": 2_000, "rel_tol": 0.0,
           "seed": 5}
    res = _run(DecisionPipeline(net, config=PipelineConfig(kernel="flow")), req)
    assert res.status == "ok", res.reason
    assert res.impact.n_trials == 2_000 and res.impact.lost_revenue.mean.value > 0
    assert 1 <= len(res.strategies) <= 3 and res.strategies[0].explanation.startswith("#1 ")
    assert res.candidates_evaluated >= 5
    kinds = {s.kind for s in res.strategies}
    assert kinds <= {"expedite", "switch_mode", "resource", "safety_stock", "add_capacity", "combination"}


def test_flow_pipeline_reads_live_inventory(example_dict) -> None:
    """More stock in the live twin downstream of the outage lowers the assessed loss (same trials)."""
    net = SupplyNetwork.from_dict(example_dict)
    req = {"request_id": "f2", "nodes": ["NA-WHS-004"], "duration_days": 21.0, "trials": 1_000, "rel_tol": 0.0,
           "seed": 2}
    dcs = [ln.dst for ln in net.lanes_from("NA-WHS-004")]
    plenty = {d: {"days_of_cover": 60.0} for d in dcs}
    base = _run(DecisionPipeline(net, config=PipelineConfig(kernel="flow")), req)
    rich = _run(DecisionPipeline(net, StaticTwinView(net, plenty), config=PipelineConfig(kernel="flow")), req)
    assert base.status == rich.status == "ok"
    assert rich.impact.lost_revenue.mean.value < base.impact.lost_revenue.mean.value


def test_result_shows_paired_interval_narrower_than_the_estimates(example_dict) -> None:
    """Must-show 4 in the result itself: each strategy carries its own loss interval beside the paired one.
    The paired interval is narrower than an independent comparison's always, and narrower than both estimates'
    unless the strategy removes most of the loss (then it inherits the do-nothing spread)."""
    import math
    net = SupplyNetwork.from_dict(example_dict)
    req = {"request_id": "f3", "nodes": ["NA-FAC-004"], "duration_days": 21.0, "trials": 2_000, "rel_tol": 0.0,
           "seed": 8}
    for kernel in ("interval", "flow"):
        res = _run(DecisionPipeline(net, config=PipelineConfig(kernel=kernel)), req)
        assert res.status == "ok" and res.strategies and res.baseline.expected_loss_ci is not None
        base = res.baseline.expected_loss_ci
        for o in res.strategies:
            own = o.expected_loss_ci
            assert own is not None
            assert o.loss_reduction.half_width < math.hypot(own.half_width, base.half_width), (kernel, o.name)
            if 0 < o.loss_reduction.value < 0.5 * base.value:
                assert o.loss_reduction.half_width < min(own.half_width, base.half_width), (kernel, o.name)


def test_stalled_trackers_hold_their_lane(example_dict) -> None:
    """In-transit state from the trackers: a stalled shipment on a lane into the affected part adds loss."""
    net = SupplyNetwork.from_dict(example_dict)
    node = "NA-WHS-004"
    lane = net.lanes_from(node)[0].id

    class Stalled(StaticTwinView):
        def device_states(self, site_id: str):
            states = list(super().device_states(site_id))
            return states + [{"device_id": "T", "kind": "gps_tracker", "stalled": True}] if site_id == lane else states

    req = {"request_id": "f4", "nodes": [node], "duration_days": 10.0, "trials": 1_000, "rel_tol": 0.0, "seed": 2}
    calm = _run(DecisionPipeline(net, config=PipelineConfig(kernel="flow")), req)
    held = _run(DecisionPipeline(net, Stalled(net), config=PipelineConfig(kernel="flow")), req)
    assert calm.status == held.status == "ok"
    assert held.impact.lost_revenue.mean.value > calm.impact.lost_revenue.mean.value
