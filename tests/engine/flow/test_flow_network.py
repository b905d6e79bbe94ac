"""Network form of the flow model: derived flows, validation, the reachable subgraph, the twin's files
and live state."""

from __future__ import annotations

import numpy as np
import pytest

from engine.flow import FlowDisruption, flow_network, outage, prepare_flow, run_flow
from engine.flow.twin import SOURCING_FILE, flow_from_twin
from twin.network import SupplyNetwork


def _bom_net(**factory):
    nodes = [{"id": "P1", "kind": "supplier"}, {"id": "P2", "kind": "supplier"}, {"id": "M", "kind": "supplier"},
             {"id": "F", "kind": "factory", "bom": {"parts": 2, "materials": 3}, "stock_days": 2, **factory},
             {"id": "C", "kind": "customer", "demand": 10.0, "price": 5.0, "stock_days": 1}]
    lanes = [{"id": "p1", "src": "P1", "dst": "F", "component": "parts", "share": 0.75},
             {"id": "p2", "src": "P2", "dst": "F", "component": "parts"},
             {"id": "m", "src": "M", "dst": "F", "component": "materials"},
             {"id": "mb", "src": "P2", "dst": "F", "component": "materials", "backup": True},
             {"id": "fc", "src": "F", "dst": "C", "lead_days": 2.4}]
    return flow_network(nodes, lanes)


def test_nominal_flows_follow_shares_and_bill_of_materials() -> None:
    net = _bom_net()
    thr = dict(zip(net.node_ids, net.throughput))
    assert thr["C"] == 10.0 and thr["F"] == 10.0
    assert thr["P1"] == pytest.approx(0.75 * 2 * 10) and thr["P2"] == pytest.approx(0.25 * 2 * 10)
    assert thr["M"] == pytest.approx(3 * 10)
    flows = dict(zip(net.lane_ids, net.lane_flow))
    assert flows["mb"] == 0.0 and net.lane_lead[net.lane_index("fc")] == 2
    assert net.base_stock[net.node_index("F")] == pytest.approx(20.0)


def test_components_are_anded_in_proportion() -> None:
    """Losing all materials stops the factory; losing a quarter of parts (P2) cuts output by at most a quarter."""
    net = _bom_net()
    dis_m = FlowDisruption((outage("node", "M", 10.0, start_day=3),))
    dis_p = FlowDisruption((outage("node", "P2", 10.0, start_day=3),))
    lost_m = run_flow(prepare_flow(net, dis_m, horizon_days=30), n_trials=4, seed=0).lost_units[0, 0]
    lost_p = run_flow(prepare_flow(net, dis_p, horizon_days=30), n_trials=4, seed=0).lost_units[0, 0]
    assert lost_m > 0 and lost_p < lost_m
    assert lost_p <= 0.25 * 10.0 * 10 + 1e-9


@pytest.mark.parametrize("bad, match", [
    ({"lanes": [{"src": "A", "dst": "B"}, {"src": "B", "dst": "A"}]}, "cycle"),
    ({"cap": 5.0}, "exceeds capacity"),
    ({"lanes": [{"src": "A", "dst": "B", "backup": True}]}, "only backup"),
    ({"lanes": [{"src": "A", "dst": "Z"}]}, "unknown node"),
])
def test_invalid_networks_are_rejected(bad: dict, match: str) -> None:
    nodes = [{"id": "A", "kind": "supplier", "capacity": bad.get("cap", 100.0)},
             {"id": "B", "kind": "customer", "demand": 10.0}]
    lanes = bad.get("lanes", [{"src": "A", "dst": "B"}])
    if match == "cycle":
        nodes[1] = {"id": "B", "kind": "warehouse"}
        nodes.append({"id": "C", "kind": "customer", "demand": 1.0})
        lanes = lanes + [{"src": "B", "dst": "C"}]
    with pytest.raises(ValueError, match=match):
        flow_network(nodes, lanes)


def test_dormant_backup_may_close_a_cycle() -> None:
    nodes = [{"id": "A", "kind": "port"}, {"id": "B", "kind": "port"}, {"id": "S", "kind": "supplier"},
             {"id": "C", "kind": "customer", "demand": 1.0}]
    lanes = [{"src": "S", "dst": "A"}, {"src": "A", "dst": "B"}, {"src": "B", "dst": "A", "backup": True},
             {"src": "B", "dst": "C"}]
    assert flow_network(nodes, lanes).throughput.tolist() == [1.0, 1.0, 1.0, 1.0]


def test_subgraph_is_the_downstream_closure_plus_feeding_sources(example_flow) -> None:
    inp = prepare_flow(example_flow, FlowDisruption((outage("node", "EU-CUS-004", 5.0),)))
    ids = set(inp.node_ids)
    assert "EU-CUS-004" in ids and inp.n_nodes <= 3
    assert all(example_flow.kind[example_flow.node_index(i)] != 0 for i in ids)   # no supplier needed
    src_nodes = [i for i, s in zip(inp.node_ids, inp.is_src) if s]
    for i in src_nodes:                                   # sources keep only their spare capacity for R
        v = example_flow.node_index(i)
        assert inp.cap[0, inp.node_ids.index(i)] <= example_flow.capacity[v]


def test_twin_file_still_loads_and_sourcing_is_deterministic(example_dict) -> None:
    from simulators.networks.sourcing import dumps_sourcing, sourcing
    SupplyNetwork.from_dict(example_dict)                 # the twin reads the same file, unchanged
    seed = example_dict["meta"]["seed"]
    assert dumps_sourcing(sourcing(example_dict, seed)) == SOURCING_FILE.read_text()


def test_example_has_real_sourcing(example_flow) -> None:
    net = example_flow
    fac = np.flatnonzero(net.kind == 1)
    assert all(net.group_ptr[v + 1] - net.group_ptr[v] == 2 for v in fac)        # parts AND materials
    in_use = net.lane_share > 0
    per_group = np.bincount(net.lane_group[in_use], minlength=net.group_qty.size)
    assert (per_group >= 2).sum() > 100                                             # several sources by share
    assert net.lane_backup.sum() > 100 and np.all(net.throughput > 0)
    m = net.kind != 5                                                               # customers: no capacity
    assert np.all(net.capacity[m] >= net.throughput[m]) and np.all(net.capacity[m] < 1.2 * net.throughput[m])


def test_live_state_feeds_the_kernel(example_dict, example_flow) -> None:
    """Live inventory in units and node health change the result on the same trials."""
    node = "AS-FAC-003"
    v = example_flow.node_index(node)
    out = [l for l in range(example_flow.n_lanes) if example_flow.lane_src[l] == v
           and example_flow.kind[example_flow.lane_dst[l]] == 3 and example_flow.lane_share[l] > 0]
    wh = example_flow.node_ids[example_flow.lane_dst[max(out, key=lambda l: example_flow.lane_flow[l])]]
    dis = FlowDisruption((outage("node", node, 21.0, sigma=0.5),))

    def loss(net) -> float:
        return float(run_flow(prepare_flow(net, dis), n_trials=256, seed=4).loss[0].mean())

    base = loss(example_flow)
    dem = next(n["daily_demand"] for n in example_dict["nodes"] if n["id"] == wh)
    rich = flow_from_twin(example_dict, live={wh: {"inventory": 60 * dem, "daily_demand": dem}})
    assert rich.inventory[rich.node_index(wh)] == pytest.approx(60 * rich.throughput[rich.node_index(wh)])
    assert loss(rich) < base
    sick = flow_from_twin(example_dict, live={wh: {"health": "degraded"}})
    assert sick.capacity[sick.node_index(wh)] == pytest.approx(0.5 * example_flow.capacity[example_flow.node_index(wh)])
    assert loss(sick) > base


def test_a_further_forced_event_does_not_redraw_the_background(example_flow) -> None:
    """Background events draw from ids of their own (events.BACKGROUND_RNG_BASE): a stalled lane's hold added to
    the forced events leaves every background draw as it was, so the two answers differ by the hold alone."""
    from engine.flow.events import Event

    node = "AS-DC-001"
    lane = next(lid for lid, s in zip(example_flow.lane_ids, example_flow.lane_src)
                if example_flow.node_ids[int(s)] == node)
    bg = FlowDisruption(tuple(Event((("node", k, 1.0),), 5.0, 0.3, 0, 90, 0.5, "background")
                              for k in example_flow.node_ids))
    one = prepare_flow(example_flow, FlowDisruption((outage("node", node, 7.0),)), background=bg)
    two = prepare_flow(example_flow, FlowDisruption((outage("node", node, 7.0), outage("lane", lane, 3.0))),
                       background=bg)
    assert two.ev_rng.shape[0] == one.ev_rng.shape[0] + 1 and one.ev_rng.shape[0] > 10   # background in the subgraph
    assert one.ev_rng[0] == two.ev_rng[0] == 0                          # the outage itself
    assert np.array_equal(one.ev_rng[1:], two.ev_rng[2:])               # the background's draws, unchanged
    a = run_flow(one, n_trials=300, seed=3, backend="numpy")
    b = run_flow(prepare_flow(example_flow, FlowDisruption((outage("node", node, 7.0),
                                                            outage("lane", lane, 3.0, p=0.0))), background=bg),
                 n_trials=300, seed=3, backend="numpy")
    assert np.array_equal(a.loss, b.loss)       # a forced event that never happens changes nothing at all
