"""Sourcing from the network file: components are a bill of materials (AND), `backup` says which lanes are in use."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from engine.agents.impact import active_inbound
from engine.pipeline import DecisionPipeline, Stages, _strategy
from twin.network import SupplyNetwork

REVENUE = 100_000.0  # per day at the customer


def _node(node_id: str, kind: str, revenue: float = 0.0) -> dict[str, Any]:
    return {"id": node_id, "kind": kind, "name": node_id, "region": "Europe", "location": {"lat": 50.0, "lon": 8.0},
            "capacity": 100, "inventory": 0, "daily_demand": 10, "daily_revenue_at_risk": revenue, "criticality": 3}


def _network(chips_s1: dict, chips_s3: dict, casings: dict) -> SupplyNetwork:
    """S1 and S3 can supply chips, S2 casings, to factory F, which ships to customer C (no stock anywhere)."""
    lanes = [
        {"id": "L-S1", "src": "S1", "dst": "F", "mode": "road", "lead_time_days": 1.0, **chips_s1},
        {"id": "L-S3", "src": "S3", "dst": "F", "mode": "road", "lead_time_days": 3.0, **chips_s3},
        {"id": "L-S2", "src": "S2", "dst": "F", "mode": "road", "lead_time_days": 2.0, **casings},
        {"id": "L-FC", "src": "F", "dst": "C", "mode": "road", "lead_time_days": 1.0},
    ]
    nodes = [_node("S1", "supplier"), _node("S2", "supplier"), _node("S3", "supplier"), _node("F", "factory"),
             _node("C", "customer", REVENUE), _node("X", "supplier")]  # X supplies nothing: the background
    return SupplyNetwork.from_dict({"nodes": nodes, "lanes": lanes})


def _loss(net: SupplyNetwork, node: str) -> float:
    """Mean lost revenue of a 10-day outage of `node` beyond the same request on X, which nothing needs (the
    background outages the priors give every element are common to both: same seed)."""
    pipe = DecisionPipeline(net)
    try:
        def mean(n: str) -> float:
            r = asyncio.run(pipe.run({"request_id": f"r-{n}", "nodes": [n], "duration_days": 10.0, "trials": 2000,
                                      "rel_tol": 0.0, "seed": 5}))
            assert r.status == "ok", r.reason
            return r.impact.lost_revenue.mean.value
        return mean(node) - mean("X")
    finally:
        pipe.close()


BOM = dict(chips_s1={"component": "chips"}, chips_s3={"component": "chips", "backup": True},
           casings={"component": "casings"})
NO_SOURCING = dict(chips_s1={}, chips_s3={}, casings={})


def test_lanes_in_use_per_component() -> None:
    assert active_inbound(_network(**BOM).lanes) == {"F": ("L-S2", "L-S1"), "C": ("L-FC",)}
    # no sourcing data: one lane in use per node, the shortest
    assert active_inbound(_network(**NO_SOURCING).lanes) == {"F": ("L-S1",), "C": ("L-FC",)}
    dual = _network(chips_s1={"component": "chips", "backup": False},
                    chips_s3={"component": "chips", "backup": False}, casings={"component": "casings"})
    assert active_inbound(dual.lanes)["F"] == ("L-S2", "L-S1", "L-S3")


def test_a_missing_component_stops_the_factory() -> None:
    """Casings are needed as much as chips: without components S2 was an unused alternative and its outage
    cost nothing; with them it stops F and so C for about the outage."""
    assert _loss(_network(**NO_SOURCING), "S2") == pytest.approx(0.0, abs=REVENUE * 0.05)
    assert _loss(_network(**BOM), "S2") > 5 * REVENUE


def test_dual_sourcing_absorbs_one_supplier_outage() -> None:
    single = _loss(_network(**BOM), "S1")
    dual = _loss(_network(chips_s1={"component": "chips", "backup": False},
                          chips_s3={"component": "chips", "backup": False}, casings={"component": "casings"}), "S1")
    assert single > 5 * REVENUE
    assert dual == pytest.approx(0.0, abs=REVENUE * 0.05)


def test_the_backup_supplier_is_the_alternative_source_candidate() -> None:
    """Every candidate is seen (not only the top 3): switching chips to the dormant S3 is one, and it pays."""
    evaluated = {}

    def strategy(ctx, spec, impact):  # noqa: ANN001, ANN202 - the pipeline's own stage, observed
        out = _strategy(ctx, spec, impact)
        evaluated.update({o.name: o for o in out.outcomes})
        return out

    pipe = DecisionPipeline(_network(**BOM), stages=Stages(strategy=strategy))
    try:
        r = asyncio.run(pipe.run({"request_id": "r", "nodes": ["S1"], "duration_days": 10.0, "trials": 2000,
                                  "seed": 5}))
    finally:
        pipe.close()
    assert r.status == "ok", r.reason
    alt = evaluated["alt_source"]
    assert "1 backup lane" in alt.description and alt.loss_reduction.lo > 0
