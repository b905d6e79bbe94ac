"""Info agent snapshot and its use as kernel input."""

from __future__ import annotations

import math

from engine.agents.impact import build_kernel_view
from engine.agents.info import StaticTwinView, TwinView, take_snapshot
from engine.agents.learning import default_priors
from engine.agents.scenario import build_scenario
from engine.models import ScenarioRequest


def test_snapshot_scope_and_live_cover(network):
    wh = network.lanes_from("NA-FAC-004")[0].dst
    twin = StaticTwinView(network, overrides={wh: {"days_of_cover": 0.5}})
    assert isinstance(twin, TwinView)
    snap = take_snapshot(network, twin, ["NA-FAC-004"], [])
    assert "NA-FAC-004" in snap.nodes and wh in snap.nodes
    assert snap.nodes[wh].cover_days == 0.5
    assert set(snap.downstream_customers) == set(network.downstream_customers("NA-FAC-004"))
    assert all(ln.dst in snap.nodes for ln in snap.lanes.values())
    # the snapshot is a copy: later twin changes do not leak in
    twin._over[wh]["days_of_cover"] = 99.0
    assert snap.nodes[wh].cover_days == 0.5 and snap.nodes[wh].state["days_of_cover"] == 0.5

    req = ScenarioRequest(request_id="i", nodes=["NA-FAC-004"], duration_days=5)
    view = build_kernel_view(network, snap, build_scenario(req, network, default_priors(network)), 90.0)
    assert view.net.cover[view.net.node_index(wh)] == 0.5
    # one active inbound lane per node; the rest are dormant backups
    enabled_in = {}
    for lid, on in zip(view.net.lane_ids, view.net.lane_enabled):
        if on:
            dst = network.lane_by_id[lid].dst
            enabled_in[dst] = enabled_in.get(dst, 0) + 1
    assert set(enabled_in.values()) == {1} and view.dormant
    no_demand = [n.id for n in network.nodes if n.daily_demand == 0]
    for nid in no_demand:
        assert math.isinf(view.net.cover[view.net.node_index(nid)])
