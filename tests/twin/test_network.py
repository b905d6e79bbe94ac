"""Supply network validation and graph helpers."""

from __future__ import annotations

import copy

import pytest
from pydantic import ValidationError

from twin.network import NodeKind, SupplyNetwork, days_of_cover


def node(id_: str, kind: str, **over) -> dict:
    base = {"id": id_, "kind": kind, "name": id_, "region": "Europe", "location": {"lat": 51, "lon": 4.5},
            "capacity": 100, "inventory": 500, "daily_demand": 100, "daily_revenue_at_risk": 1000, "criticality": 3}
    base.update(over)
    return base


def lane(id_: str, src: str, dst: str, mode: str = "road") -> dict:
    return {"id": id_, "src": src, "dst": dst, "mode": mode, "lead_time_days": 1.5}


BASE = {
    "nodes": [node("S1", "supplier"), node("S2", "supplier"), node("F1", "factory"), node("P1", "port"),
              node("P2", "port"), node("W1", "warehouse"), node("D1", "distribution_centre"),
              node("C1", "customer", daily_revenue_at_risk=5000), node("C2", "customer", daily_revenue_at_risk=7000)],
    "lanes": [lane("L1", "S1", "F1"), lane("L2", "S2", "F1"), lane("L3", "F1", "P1"), lane("L4", "P1", "P2", "sea"),
              lane("L5", "P2", "W1"), lane("L6", "W1", "D1"), lane("L7", "D1", "C1"), lane("L8", "D1", "C2"),
              lane("L9", "P2", "P1", "sea")],  # return leg makes a cycle
    "devices": [{"id": "F1-VIB-1", "kind": "vibration", "node_id": "F1", "expected_interval_s": 60},
                {"id": "L4-GPS-1", "kind": "gps_tracker", "lane_id": "L4", "expected_interval_s": 300}],
}


@pytest.fixture
def net() -> SupplyNetwork:
    return SupplyNetwork.from_dict(copy.deepcopy(BASE))


def test_graph_helpers(net: SupplyNetwork) -> None:
    assert net.downstream_customers("S1") == ["C1", "C2"]
    assert sorted(net.upstream_suppliers("C2")) == ["S1", "S2"]
    assert net.upstream_suppliers("S1") == [] and net.downstream_customers("C1") == []
    assert sorted(l.id for l in net.lanes_through_port("P1")) == ["L3", "L4", "L9"]
    with pytest.raises(ValueError):
        net.lanes_through_port("F1")
    assert net.revenue_at_risk("W1") == 1000 + 5000 + 7000


def test_lookups_and_cover(net: SupplyNetwork) -> None:
    assert net.node("F1").kind is NodeKind.factory and net.node("F1").days_of_cover == 5.0
    assert [d.id for d in net.devices_of("F1")] == ["F1-VIB-1"]
    assert net.device_by_id["L4-GPS-1"].site_id == "L4"
    assert days_of_cover(10, 0) is None
    assert SupplyNetwork.from_dict(net.to_dict()) == net


@pytest.mark.parametrize("mutate, needle", [
    (lambda d: d["nodes"].append(node("F1", "factory")), "duplicate node ids"),
    (lambda d: d["lanes"].append(lane("L1", "S1", "F1")), "duplicate lane ids"),
    (lambda d: d["lanes"].append(lane("F1", "S1", "P1")), "both a node and a lane"),
    (lambda d: d["lanes"].append(lane("LX", "S1", "NOPE")), "unknown node NOPE"),
    (lambda d: d["lanes"].append(lane("LX", "S1", "S1")), "to itself"),
    (lambda d: d["devices"].append({"id": "X", "kind": "door", "node_id": "NOPE", "expected_interval_s": 60}),
     "unknown node NOPE"),
    (lambda d: d["devices"].append({"id": "X", "kind": "door", "lane_id": "NOPE", "expected_interval_s": 60}),
     "unknown lane NOPE"),
    (lambda d: d["devices"].append({"id": "X", "kind": "door", "expected_interval_s": 60}), "exactly one"),
    (lambda d: d["devices"].append(dict(d["devices"][0])), "duplicate device ids"),
    (lambda d: d["nodes"][0].update(criticality=6), "criticality"),
    (lambda d: d["nodes"][0].update(kind="moon_base"), "kind"),
    (lambda d: d["nodes"][0].update(colour="red"), "colour"),
    (lambda d: d["nodes"][0].update(id="bad/id"), "id"),
])
def test_validation_errors(mutate, needle: str) -> None:
    data = copy.deepcopy(BASE)
    mutate(data)
    with pytest.raises(ValidationError) as exc:
        SupplyNetwork.from_dict(data)
    assert needle in str(exc.value)
