"""The flow network of the twin: the network file, its sourcing file, and live twin state.

Why a separate sourcing description: the twin's network model (twin/network.py)
rejects unknown fields, and its nodes carry capacity and inventory figures of
the fleet simulator, not planning data. The sourcing file
(``simulators/networks/example_sourcing.json``, written by the generator) adds
what the flow model needs: per node a flow capacity, base stock in days, the
switch-over delay and the bill of materials; per lane in use its share,
capacity, component and lead-time spread; and qualified backup lanes (which
may not exist in the twin file). Its format is in docs/decisions.md.

Live state replaces the file's: inventory in units (customers: as is; other
nodes: converted through the twin's days of cover to the flow model's units,
because the twin's per-node ``daily_demand`` is not the derived nominal flow),
node health as a capacity factor, and in-transit shipments from the trackers.
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any, Mapping

from .network import KINDS, FlowNetwork, flow_network

SOURCING_FILE = Path(__file__).resolve().parents[2] / "simulators" / "networks" / "example_sourcing.json"
# Health words the twin may report, as the share of capacity left; a numeric
# health in [0, 1] is used as is. Unknown words leave capacity unchanged
# (a typo must not close a site).
HEALTH_FACTOR = {"ok": 1.0, "healthy": 1.0, "degraded": 0.5, "impaired": 0.5, "down": 0.0, "offline": 0.0}


def load_sourcing(path: Path | str = SOURCING_FILE) -> dict[str, Any]:
    return json.loads(Path(path).read_text())


def merged_dicts(network: Mapping[str, Any], sourcing: Mapping[str, Any]) -> tuple[list[dict], list[dict]]:
    """Node and lane dicts for :func:`flow_network`: the twin file's fields plus the sourcing file's.

    Lanes of the twin file not named in the sourcing file are backups (qualified, not in use)."""
    snodes = sourcing.get("nodes", {})
    nodes = []
    for n in network["nodes"]:
        d = {"id": n["id"], "kind": n["kind"], "region": n.get("region", "")}
        if n["kind"] == "customer":
            d["demand"] = float(n["daily_demand"])
            d["revenue_per_day"] = float(n["daily_revenue_at_risk"])
        d.update(snodes.get(n["id"], {}))
        nodes.append(d)
    slanes = {ln["id"]: ln for ln in sourcing.get("lanes", [])}
    lanes = []
    for ln in network["lanes"]:
        d = {"id": ln["id"], "src": ln["src"], "dst": ln["dst"], "mode": ln["mode"],
             "lead_days": float(ln["lead_time_days"])}
        d.update(slanes.pop(ln["id"], {"backup": True}))
        lanes.append(d)
    for ln in slanes.values():                  # lanes only the sourcing file knows (qualified backups, second sources)
        d = dict(ln)
        d.setdefault("lead_days", d.pop("lead_time_days", 1.0))
        lanes.append(d)
    return nodes, lanes


def live_network(base: FlowNetwork, states: Mapping[str, Mapping[str, Any]]) -> FlowNetwork:
    """``base`` with live inventory (units) and health from ``states`` (node id -> twin state).

    Inventory: the twin's ``days_of_cover`` times the node's nominal flow (a
    customer's: its demand); else customers' ``inventory`` units as is and other
    nodes' ``inventory / daily_demand`` times their nominal flow. Health: a number in [0, 1] or a word of
    ``HEALTH_FACTOR``
    scales capacity. A node whose health cuts capacity below its nominal flow
    is valid here: the plan was checked on ``base``; the kernel starts it short."""
    inv = base.inventory.copy()
    cap = base.capacity.copy()
    cust = KINDS.index("customer")
    idx = {k: i for i, k in enumerate(base.node_ids)}
    for nid, st in states.items():
        i = idx.get(nid)
        if i is None or not st:
            continue
        units, dem = st.get("inventory"), st.get("daily_demand")
        flow = float(base.demand[i] if base.kind[i] == cust else base.throughput[i])
        if "days_of_cover" in st:               # the twin's own figure first, as the Info agent reads it
            if st["days_of_cover"] is not None:
                inv[i] = max(0.0, float(st["days_of_cover"]) * flow)
        elif units is not None and base.kind[i] == cust:
            inv[i] = max(0.0, float(units))
        elif units is not None and dem:
            inv[i] = max(0.0, float(units) / float(dem) * flow)
        h = st.get("health")
        factor = HEALTH_FACTOR.get(h, 1.0) if isinstance(h, str) else (None if h is None else float(h))
        if factor is not None:
            cap[i] = float(base.capacity[i]) * min(1.0, max(0.0, factor))
    return dataclasses.replace(base, inventory=inv, capacity=cap)


def flow_from_twin(network: Mapping[str, Any], sourcing: Mapping[str, Any] | None = None,
                   live: Mapping[str, Mapping[str, Any]] | None = None) -> FlowNetwork:
    """The flow network of a twin network dict (its JSON form), with live node states if given."""
    base = flow_network(*merged_dicts(network, sourcing if sourcing is not None else load_sourcing()))
    return live_network(base, live) if live else base
