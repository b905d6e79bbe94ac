"""Deterministic sourcing data for the example network (the flow model's planning figures).

    python -m simulators.networks.generate      # rewrites example_network.json and example_sourcing.json

Why a separate file: the twin's network model rejects unknown fields, so
shares, capacities, bills of materials and qualified backups live beside it
(format in docs/decisions.md, loaded by engine.flow.twin). Its own random
stream (seed + 1) keeps the network file byte-identical.

What it says:

* factories need two components, ``parts`` and ``materials`` (1-2 and 1-3
  units per unit of output): the network's supplier lanes are split between
  them (a component with one supplier is single-sourced, with two dual-sourced
  by share; one with none gets two new sources), and every component has a
  qualified backup in the region;
* other nodes split their orders over their inbound lanes in use by share;
  sea lanes are in use from Asia (where most factories are) to the other
  regions, the rest are backups (so lanes in use form no cycle); a customer
  or DC with one source gets a backup from a sibling in its region;
* customer demand varies from trial to trial by 5-15 % (cv);
* capacities (units/day) leave 3-15 % headroom over the nominal flow, lanes
  2-20 %; backups can take 30-80 % of what their destination needs;
* base stock in days of nominal flow, by kind (lean: weeks, not months);
  switch-over to backups after 14-28 days; lead-time spread by mode.
"""

from __future__ import annotations

import random
from typing import Any

# kind -> (min, max) base stock in days of the node's nominal flow. Ports are
# transit points and hold none; warehouses hold the most.
STOCK_DAYS = {"supplier": (0.5, 2.0), "factory": (1.0, 3.0), "port": (0.0, 0.0), "warehouse": (3.0, 7.0),
              "distribution_centre": (1.5, 4.0), "customer": (1.0, 3.0)}
# Standard deviation (days) of the extra delay a lane may see in a trial, by mode.
LEAD_SD = {"road": 0.3, "rail": 0.5, "sea": 1.5, "air": 0.3}
# Headroom of node and lane capacity over nominal flow; below ~10 % a network
# never catches up after an outage, above ~100 % disruptions barely matter.
NODE_HEADROOM = (1.03, 1.15)
LANE_HEADROOM = (1.02, 1.2)
BACKUP_SHARE_OF_NEED = (0.2, 0.5)
SWITCH_DAYS = (14, 28)
# Customer demand level from trial to trial (coefficient of variation): a
# quarter's demand is known to about +-10 %; with 3-15 % capacity headroom the
# high-demand trials run the network near capacity, as real ones do.
DEMAND_CV = (0.05, 0.15)
COMPONENTS = ("parts", "materials")


def _by(nodes: list[dict[str, Any]], region: str, kind: str) -> list[dict[str, Any]]:
    return [n for n in nodes if n["region"] == region and n["kind"] == kind]


def sourcing(network: dict[str, Any], seed: int) -> dict[str, Any]:
    """Sourcing dict for ``network`` (the generator's dict); deterministic in ``seed``."""
    from engine.flow.twin import merged_dicts   # late import: the generator itself needs no numpy
    from engine.flow.network import KINDS, flow_network

    rng = random.Random(seed + 1)
    nodes, lanes = network["nodes"], network["lanes"]
    byid = {n["id"]: n for n in nodes}
    into: dict[str, list[dict[str, Any]]] = {n["id"]: [] for n in nodes}
    for ln in lanes:
        into[ln["dst"]].append(ln)
    out_lanes: list[dict[str, Any]] = []
    extra_id = [0]

    def new_lane(src: str, dst: str, mode: str, lead: float, **kw: Any) -> dict[str, Any]:
        extra_id[0] += 1
        d = {"id": f"SRC-{extra_id[0]:04d}", "src": src, "dst": dst, "mode": mode,
             "lead_time_days": round(lead, 1), **kw}
        out_lanes.append(d)
        return d

    node_info: dict[str, dict[str, Any]] = {}
    for n in nodes:
        kind, nid = n["kind"], n["id"]
        lo, hi = STOCK_DAYS[kind]
        info: dict[str, Any] = {"stock_days": round(rng.uniform(lo, hi), 1),
                                "switch_days": rng.randint(*SWITCH_DAYS)}
        if kind == "customer":
            info["demand_cv"] = round(rng.uniform(*DEMAND_CV), 3)
        inbound = sorted(into[nid], key=lambda x: x["id"])
        if kind == "factory":
            info["bom"] = {"parts": rng.randint(1, 2), "materials": rng.randint(1, 3)}
            peers = sorted(s["id"] for s in _by(nodes, n["region"], "supplier"))
            comp_lanes: dict[str, list[dict[str, Any]]] = {c: [] for c in COMPONENTS}
            for i, ln in enumerate(inbound):
                comp_lanes[COMPONENTS[i % 2]].append(ln)
            for comp, members in comp_lanes.items():
                used = {ln["src"] for ln in inbound}
                if len(members) == 1:     # single source: what makes a supplier outage bite
                    out_lanes.append({"id": members[0]["id"], "component": comp, "share": 1.0})
                elif members:
                    w = [rng.uniform(0.5, 1.5) for _ in members]
                    for ln, x in zip(members, w):
                        out_lanes.append({"id": ln["id"], "component": comp, "share": round(x / sum(w), 3)})
                else:                     # no supplier lane for this component in the twin: two new ones
                    for share in (0.65, 0.35):
                        alt = rng.choice([p for p in peers if p not in used] or peers)
                        new_lane(alt, nid, "road", 2.0, component=comp, share=share)
                        used.add(alt)
                backup = rng.choice([p for p in peers if p not in used] or peers)
                new_lane(backup, nid, "road", 3.0, component=comp, backup=True)
        else:
            in_use = []
            for ln in inbound:
                src = byid[ln["src"]]
                if kind == "port" and src["kind"] == "port" and not (src["region"] == "Asia" != n["region"]):
                    continue              # sea lanes into Asia or between consumer regions: backups
                in_use.append(ln)
            w = [rng.uniform(0.05, 0.3) for _ in in_use]     # one primary source, the others topping up
            if w:
                w[rng.randrange(len(w))] = rng.uniform(0.7, 1.0)
            for ln, x in zip(in_use, w):
                out_lanes.append({"id": ln["id"], "share": round(x / sum(w), 3)})
            if kind in ("customer", "distribution_centre") and len(in_use) == 1:
                src_kind = byid[in_use[0]["src"]]["kind"]
                sib = sorted(s["id"] for s in _by(nodes, n["region"], src_kind) if s["id"] != in_use[0]["src"])
                if sib:
                    new_lane(rng.choice(sib), nid, "road", in_use[0]["lead_time_days"] + 1.0, backup=True)
        node_info[nid] = info
    for ln in out_lanes:
        mode = ln.get("mode") or next(x["mode"] for x in lanes if x["id"] == ln["id"])
        ln["lead_sd_days"] = LEAD_SD[mode]
    # capacities from the nominal flows this sourcing implies
    src = {"nodes": node_info, "lanes": out_lanes}
    net = flow_network(*merged_dicts(network, src))
    need = {}
    for li, lid in enumerate(net.lane_ids):
        g = net.lane_group[li]
        v = net.lane_dst[li]
        flow = net.demand[v] if net.kind[v] == KINDS.index("customer") else net.throughput[v]
        need[lid] = float(net.group_qty[g] * flow)
    flows = dict(zip(net.lane_ids, net.lane_flow.tolist()))
    typical: dict[int, float] = {}
    for k in set(net.kind.tolist()):
        used = net.throughput[(net.kind == k) & (net.throughput > 0)]
        typical[k] = float(used.mean()) if used.size else 100.0
    for i, nid in enumerate(net.node_ids):
        if byid[nid]["kind"] != "customer":     # a site with no flow in use still has capacity (for backups)
            thr = float(net.throughput[i]) or typical[int(net.kind[i])] * rng.uniform(0.5, 1.0)
            node_info[nid]["flow_capacity"] = round(thr * rng.uniform(*NODE_HEADROOM), 1)
    for ln in out_lanes:
        if ln.get("backup"):
            ln["capacity"] = round(need[ln["id"]] * rng.uniform(*BACKUP_SHARE_OF_NEED), 1)
        else:
            ln["capacity"] = round(flows[ln["id"]] * rng.uniform(*LANE_HEADROOM) + 1.0, 1)
    return {"meta": {"generator": "simulators.networks.sourcing", "seed": seed + 1,
                     "units": "units/day; stock_days in days of nominal flow"},
            "nodes": node_info, "lanes": out_lanes}


def dumps_sourcing(data: dict[str, Any]) -> str:
    """Stable text form, one node or lane per line (small diffs)."""
    import json
    nodes = ",\n".join(f"  {json.dumps(k)}: {json.dumps(v, sort_keys=True)}" for k, v in data["nodes"].items())
    lanes = ",\n".join("  " + json.dumps(x, sort_keys=True) for x in data["lanes"])
    return (f'{{\n "meta": {json.dumps(data["meta"], sort_keys=True)},\n "nodes": {{\n{nodes}\n }},\n'
            f' "lanes": [\n{lanes}\n ]\n}}\n')
