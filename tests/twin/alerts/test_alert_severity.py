"""Severity from deviation and business risk."""

from __future__ import annotations

import math

import pytest

from twin.alerts.models import Severity
from twin.alerts.severity import RiskContext, level_for_deviation, risk_adjustment, severity_for
from twin.network import SupplyNetwork


def test_level_for_deviation() -> None:
    assert level_for_deviation(0.1, 2.0) is Severity.warning
    assert level_for_deviation(2.0, 2.0) is Severity.major
    assert level_for_deviation(4.0, 2.0) is Severity.critical
    assert level_for_deviation(math.nan, 2.0) is Severity.critical
    with pytest.raises(ValueError):
        level_for_deviation(1.0, 0.0)


def test_risk_moves_at_most_one_level() -> None:
    hub = RiskContext(criticality=5, daily_revenue_at_risk=1e6, downstream_customers=40)
    backwater = RiskContext(criticality=1)
    assert risk_adjustment(hub) == 1 and risk_adjustment(backwater) == -1 and risk_adjustment(RiskContext()) == 0
    assert severity_for(Severity.warning, hub) is Severity.major
    assert severity_for(Severity.critical, hub) is Severity.critical
    assert severity_for(Severity.info, backwater) is Severity.info
    assert severity_for(Severity.major, backwater) is Severity.warning
    assert severity_for(Severity.major, None) is Severity.major
    assert severity_for(Severity.info, RiskContext(downstream_customers=5)) is Severity.warning


def test_risk_context_validates() -> None:
    for bad in ({"criticality": 0}, {"criticality": 6}, {"daily_revenue_at_risk": -1.0},
                {"daily_revenue_at_risk": math.inf}, {"downstream_customers": -1}):
        with pytest.raises(ValueError):
            RiskContext(**bad)


def _node(id_: str, kind: str, revenue: float = 1000) -> dict:
    return {"id": id_, "kind": kind, "name": id_, "region": "EU", "location": {"lat": 51, "lon": 4.5},
            "capacity": 100, "inventory": 500, "daily_demand": 100, "daily_revenue_at_risk": revenue,
            "criticality": 3}


BASE = {
    "nodes": [_node("W1", "warehouse"), _node("D1", "distribution_centre"), _node("C1", "customer", 5000),
              _node("C2", "customer", 7000)],
    "lanes": [{"id": f"L{i}", "src": s, "dst": d, "mode": "road", "lead_time_days": 1.0}
              for i, (s, d) in enumerate([("W1", "D1"), ("D1", "C1"), ("D1", "C2")], start=6)],
}


def test_from_network_node_and_lane() -> None:
    net = SupplyNetwork.from_dict(BASE)
    d1 = RiskContext.from_network(net, "D1")
    assert d1.downstream_customers == 2 and d1.daily_revenue_at_risk == pytest.approx(1000 + 5000 + 7000)
    assert d1.criticality == 3
    via_lane = RiskContext.from_network(net, "L6")  # W1 -> D1: the destination is what the shipment feeds
    assert via_lane == d1


def test_risk_table_covers_nodes_and_lanes() -> None:
    from twin.alerts.severity import risk_table

    net = SupplyNetwork.from_dict(BASE)
    table = risk_table(net)
    assert set(table) == {"W1", "D1", "C1", "C2", "L6", "L7", "L8"}
    assert table["L6"] == table["D1"] == RiskContext.from_network(net, "D1")
