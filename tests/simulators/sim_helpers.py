"""Shared helpers for the fleet simulator tests (a tiny network with ids unique to a test)."""

from __future__ import annotations

from typing import Any


def tiny_network(p: str) -> dict[str, Any]:
    """Two nodes, one lane, one device of most kinds; every id starts with ``p``
    so concurrent runs on the shared broker never see each other's topics."""
    node = {"name": "n", "region": "EU", "capacity": 1000, "daily_revenue_at_risk": 1, "criticality": 3}
    return {
        "meta": {},
        "nodes": [
            {**node, "id": f"{p}-SUP", "kind": "supplier", "location": {"lat": 50.0, "lon": 8.0},
             "inventory": 5000, "daily_demand": 800},
            {**node, "id": f"{p}-WHS", "kind": "warehouse", "location": {"lat": 52.0, "lon": 4.0},
             "inventory": 4000, "daily_demand": 900},
        ],
        "lanes": [{"id": f"{p}-LN", "src": f"{p}-SUP", "dst": f"{p}-WHS", "mode": "road", "lead_time_days": 2}],
        "devices": [
            {"id": f"{p}-SUP-THR", "kind": "throughput", "node_id": f"{p}-SUP", "expected_interval_s": 300},
            {"id": f"{p}-SUP-VIB", "kind": "vibration", "node_id": f"{p}-SUP", "expected_interval_s": 60},
            {"id": f"{p}-WHS-INV", "kind": "inventory", "node_id": f"{p}-WHS", "expected_interval_s": 900},
            {"id": f"{p}-WHS-TMP", "kind": "reefer_temperature", "node_id": f"{p}-WHS", "expected_interval_s": 60},
            {"id": f"{p}-WHS-HUM", "kind": "humidity", "node_id": f"{p}-WHS", "expected_interval_s": 300},
            {"id": f"{p}-WHS-DOR", "kind": "door", "node_id": f"{p}-WHS", "expected_interval_s": 600},
            {"id": f"{p}-LN-GPS", "kind": "gps_tracker", "lane_id": f"{p}-LN", "expected_interval_s": 300},
            {"id": f"{p}-LN-SHK", "kind": "shock", "lane_id": f"{p}-LN", "expected_interval_s": 300},
        ],
    }
