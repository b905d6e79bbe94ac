"""Array network construction: groups, order, dict adapter, reference generator."""

from __future__ import annotations

import numpy as np
import pytest

from engine.montecarlo import build_network, network_from_dicts, reference_disruption, reference_network
from engine.montecarlo.network import CUSTOMER, FACTORY, SUPPLIER


def _groups(net, v):
    return [sorted(net.group_lanes[net.group_lane_ptr[g]:net.group_lane_ptr[g + 1]].tolist())
            for g in range(net.group_ptr[v], net.group_ptr[v + 1])]


def test_groups_collect_alternatives_per_destination():
    net = build_network([SUPPLIER] * 3 + [FACTORY, CUSTOMER], [0] * 4 + [1.0], [0] * 5,
                        lanes=[(0, 3, 1.0), (3, 4, 1.0), (1, 3, 1.0), (2, 3, 1.0)],
                        lane_group=[7, 0, 9, 7])
    assert _groups(net, 3) == [[0, 3], [2]]
    assert _groups(net, 4) == [[1]]
    assert all(_groups(net, v) == [] for v in range(3))
    assert net.customers.tolist() == [4]


def test_topological_order_puts_sources_first_and_rejects_cycles():
    net = build_network([CUSTOMER, FACTORY, SUPPLIER], [1, 0, 0], [0, 0, 0], lanes=[(2, 1, 1.0), (1, 0, 1.0)])
    pos = {int(v): i for i, v in enumerate(net.order)}
    assert pos[2] < pos[1] < pos[0]
    with pytest.raises(ValueError, match="cycle"):
        build_network([FACTORY, FACTORY], [0, 0], [0, 0], lanes=[(0, 1, 1.0), (1, 0, 1.0)])
    with pytest.raises(ValueError):
        build_network([FACTORY, FACTORY], [0, 0], [0, 0], lanes=[(0, 1, -1.0)])


def test_from_dicts_maps_ids_groups_and_enabled():
    nodes = [{"id": "s1", "type": "supplier"}, {"id": "s2", "type": "supplier"},
             {"id": "f", "type": "factory", "cover_days": 3},
             {"id": "c", "type": "customer", "revenue_per_day": 10.0, "cover_days": 1}]
    lanes = [{"id": "a", "src": "s1", "dst": "f", "lead_days": 2, "group": "chips"},
             {"id": "b", "src": "s2", "dst": "f", "lead_days": 2, "group": "glass"},
             {"id": "c", "src": "f", "dst": "c", "lead_days": 1, "enabled": False}]
    net = network_from_dicts(nodes, lanes)
    assert net.node_index("f") == 2 and net.lane_index("b") == 1
    assert _groups(net, 2) == [[0], [1]]                  # two groups: AND
    assert net.lane_enabled.tolist() == [True, True, False]
    assert net.cover.tolist() == [0, 0, 3, 1] and net.revenue[3] == 10.0


def test_reference_network_is_deterministic_layered_and_redundant():
    a, b, c = reference_network(500, seed=1), reference_network(500, seed=1), reference_network(500, seed=2)
    assert a.n_nodes == 500 and a.n_lanes > 500
    for name in ("lane_src", "lane_dst", "lane_lead", "cover", "revenue", "group_lanes"):
        assert np.array_equal(getattr(a, name), getattr(b, name))
    assert not np.array_equal(a.lane_src, c.lane_src)
    assert np.all(a.node_type[a.lane_src] == a.node_type[a.lane_dst] - 1)      # strictly layered
    assert set(np.unique(a.node_type).tolist()) == set(range(6))
    sizes = np.diff(a.group_lane_ptr)
    assert sizes.max() >= 2                                                      # some redundancy
    assert np.diff(a.group_ptr)[a.node_type == FACTORY].min() >= 2               # bill of materials
    assert (~a.lane_enabled).sum() > 0                                           # dormant backups
    for g in range(len(sizes)):                                                  # every group can be supplied
        assert a.lane_enabled[a.group_lanes[a.group_lane_ptr[g]:a.group_lane_ptr[g + 1]]].any()
    d = reference_disruption(a)
    assert d.p.shape == (a.n_elements,) and np.all((d.p > 0) & (d.p < 0.05))


def test_from_dicts_reads_the_twin_format_and_breaks_cycles():
    nodes = [{"id": "S", "kind": "supplier", "inventory": 5, "daily_demand": 0, "daily_revenue_at_risk": 1},
             {"id": "PA", "kind": "port", "inventory": 10, "daily_demand": 5},
             {"id": "PB", "kind": "port", "inventory": 0, "daily_demand": 5},
             {"id": "C", "kind": "distribution_centre", "inventory": 30, "daily_demand": 10,
              "daily_revenue_at_risk": 7.5, "location": {"lat": 0, "lon": 0}}]
    lanes = [{"id": "L1", "src": "S", "dst": "PA", "lead_time_days": 2.0, "mode": "road"},
             {"id": "L2", "src": "PA", "dst": "PB", "lead_time_days": 9.0, "mode": "sea"},
             {"id": "L3", "src": "PB", "dst": "PA", "lead_time_days": 9.0, "mode": "sea"},
             {"id": "L4", "src": "PB", "dst": "C", "lead_time_days": 1.0, "mode": "road"}]
    with pytest.raises(ValueError, match="cycle"):
        network_from_dicts(nodes, lanes)
    net = network_from_dicts(nodes, lanes, drop_cycles=True)
    assert net.dropped_lanes == ("L3",)                   # the sea lane back towards the source
    assert net.lane_ids == ("L1", "L2", "L4")
    assert net.cover.tolist() == [np.inf, 2.0, 0.0, 3.0]  # inventory / demand; no demand never runs out
    assert net.revenue[3] == 7.5 and net.node_type[3] == 4


def test_twin_example_network_adapts_and_simulates():
    import json
    import math
    from pathlib import Path

    from engine.montecarlo import disruption_model, simulate
    path = Path(__file__).resolve().parents[3] / "simulators" / "networks" / "example_network.json"
    if not path.exists():
        pytest.skip("twin example network not present")
    data = json.loads(path.read_text())
    net = network_from_dicts(data["nodes"], data["lanes"], drop_cycles=True)
    assert net.n_nodes == len(data["nodes"])
    assert net.n_lanes + len(net.dropped_lanes) == len(data["lanes"])
    assert len(net.dropped_lanes) < 0.1 * len(data["lanes"])
    model = disruption_model(net, node_p=0.02, node_mu=math.log(10.0), node_sigma=0.8)
    res = simulate(net, model, n_trials=2_000, seed=1)
    assert 0.0 < res.fill_rate.mean() < 1.0


def test_forward_lanes_keeps_a_preferred_lane_and_drops_its_opposite():
    """Ports P0 <-> P1 both ways (a cycle), P1 -> customer: by rank the lane leaving the source side survives;
    preferring the other one keeps it instead, and every lane closing no cycle is kept either way."""
    from engine.montecarlo.network import PORT, forward_lanes

    types = [SUPPLIER, PORT, PORT, CUSTOMER]
    src, dst = [0, 1, 2, 2], [1, 2, 1, 3]       # S->P1, P1->P2, P2->P1, P2->C
    assert forward_lanes(types, src, dst) == [True, True, False, True]
    assert forward_lanes(types, src, dst, prefer=[2]) == [True, False, True, True]
    assert forward_lanes(types, src, dst, prefer=[1]) == forward_lanes(types, src, dst)
