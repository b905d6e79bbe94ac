"""Deterministic generator of a realistic example supply network.

    python -m simulators.networks.generate            # rewrites example_network.json
    python -m simulators.networks.generate --seed 3 --out /tmp/net.json

Same seed -> byte-identical file (only ``random.Random(seed)`` and ordered
containers are used), so the committed example can be checked in CI.
Flow: supplier -> factory -> (port -> sea/air -> port) -> warehouse -> DC -> customer.
"""

from __future__ import annotations

import argparse
import json
import math
import random
from pathlib import Path
from typing import Any

DEFAULT_SEED = 20261126
DEFAULT_OUT = Path(__file__).with_name("example_network.json")
# Flow-model sourcing data beside it (simulators/networks/sourcing.py); the twin never reads it.
DEFAULT_SOURCING_OUT = Path(__file__).with_name("example_sourcing.json")

# (city, lat, lon, is_port)
CITIES: dict[str, list[tuple[str, float, float, bool]]] = {
    "Asia": [
        ("Shanghai", 31.23, 121.47, True), ("Shenzhen", 22.54, 114.06, True), ("Singapore", 1.29, 103.85, True),
        ("Busan", 35.10, 129.04, True), ("Tokyo", 35.68, 139.69, True), ("Ho Chi Minh City", 10.82, 106.63, True),
        ("Mumbai", 19.08, 72.88, True), ("Chennai", 13.08, 80.27, False), ("Bangkok", 13.76, 100.50, False),
        ("Jakarta", -6.21, 106.85, False), ("Chengdu", 30.57, 104.07, False), ("Penang", 5.41, 100.33, False),
    ],
    "Europe": [
        ("Rotterdam", 51.92, 4.48, True), ("Hamburg", 53.55, 9.99, True), ("Antwerp", 51.22, 4.40, True),
        ("Valencia", 39.47, -0.38, True), ("Felixstowe", 51.96, 1.35, True), ("Munich", 48.14, 11.58, False),
        ("Lyon", 45.76, 4.84, False), ("Milan", 45.46, 9.19, False), ("Warsaw", 52.23, 21.01, False),
        ("Madrid", 40.42, -3.70, False), ("Birmingham", 52.49, -1.89, False), ("Prague", 50.08, 14.44, False),
    ],
    "North America": [
        ("Los Angeles", 33.74, -118.27, True), ("Savannah", 32.08, -81.09, True), ("Newark", 40.69, -74.17, True),
        ("Houston", 29.73, -95.27, True), ("Vancouver", 49.29, -123.11, True), ("Chicago", 41.88, -87.63, False),
        ("Dallas", 32.78, -96.80, False), ("Atlanta", 33.75, -84.39, False), ("Memphis", 35.15, -90.05, False),
        ("Toronto", 43.65, -79.38, False), ("Monterrey", 25.69, -100.32, False), ("Columbus", 39.96, -83.00, False),
    ],
    "South America": [
        ("Santos", -23.96, -46.33, True), ("Buenos Aires", -34.60, -58.38, True), ("Cartagena", 10.39, -75.51, True),
        ("Callao", -12.05, -77.14, True), ("Sao Paulo", -23.55, -46.63, False), ("Santiago", -33.45, -70.67, False),
        ("Bogota", 4.71, -74.07, False), ("Curitiba", -25.43, -49.27, False), ("Montevideo", -34.90, -56.16, False),
    ],
}
REGION_CODE = {"Asia": "AS", "Europe": "EU", "North America": "NA", "South America": "SA"}
KIND_CODE = {
    "supplier": "SUP", "factory": "FAC", "port": "PRT",
    "warehouse": "WHS", "distribution_centre": "DC", "customer": "CUS",
}
# Node counts per region and kind (Asia makes, Europe/NA consume).
COUNTS: dict[str, dict[str, int]] = {
    "Asia": {"supplier": 22, "factory": 12, "port": 5, "warehouse": 6, "distribution_centre": 6, "customer": 12},
    "Europe": {"supplier": 10, "factory": 6, "port": 4, "warehouse": 8, "distribution_centre": 10, "customer": 20},
    "North America": {"supplier": 10, "factory": 6, "port": 4, "warehouse": 8, "distribution_centre": 10, "customer": 22},
    "South America": {"supplier": 12, "factory": 4, "port": 3, "warehouse": 4, "distribution_centre": 5, "customer": 10},
}
# kind -> (capacity range units/day, days-of-cover range, unit value $ range, criticality range)
# Cover is the stock at the top of the replenishment cycle. Normal operation must sit above the
# 7-day `inventory_cover` rule (twin.alerts.catalogue) at the BOTTOM of the cycle too: the fleet
# simulator draws stock down for up to 3 days (x1.2 demand) before a delivery refills it, so the
# top is >= 15 days (bottom >= 0.9 * 15 - 3.6 ~ 10 days). Low cover is a disruption (a supplier
# outage drains it), injected by a scenario, not a property of the example network.
PROFILE: dict[str, tuple[tuple[int, int], tuple[float, float], tuple[int, int], tuple[int, int]]] = {
    "supplier": ((500, 5000), (15, 30), (5, 40), (1, 5)),
    "factory": ((2000, 20000), (15, 30), (20, 80), (3, 5)),
    "port": ((20000, 200000), (15, 25), (10, 30), (4, 5)),
    "warehouse": ((2000, 20000), (20, 45), (20, 60), (2, 4)),
    "distribution_centre": ((1000, 10000), (15, 30), (30, 90), (2, 4)),
    "customer": ((100, 2000), (15, 25), (50, 200), (1, 5)),
}
# kind -> (always-present device kinds, optional device kinds, max optional)
NODE_DEVICES: dict[str, tuple[list[str], list[str], int]] = {
    "supplier": (["throughput", "inventory"], ["vibration", "door"], 2),
    "factory": (["throughput", "inventory", "vibration"], ["humidity", "door", "reefer_temperature"], 2),
    "port": (["throughput", "inventory"], ["vibration", "door", "humidity"], 3),
    "warehouse": (["inventory", "humidity", "reefer_temperature", "door"], ["throughput", "vibration"], 2),
    "distribution_centre": (["inventory", "throughput", "door"], ["reefer_temperature", "humidity"], 2),
    "customer": (["inventory"], ["door", "reefer_temperature"], 2),
}
DEVICE_CODE = {
    "reefer_temperature": "TMP", "humidity": "HUM", "vibration": "VIB", "shock": "SHK",
    "gps_tracker": "GPS", "inventory": "INV", "throughput": "THR", "door": "DOR",
}
INTERVAL_S = {
    "reefer_temperature": 60, "humidity": 300, "vibration": 60, "shock": 300,
    "gps_tracker": 300, "inventory": 900, "throughput": 300, "door": 600,
}
# km/day and fixed handling days per mode, for lead times.
SPEED = {"road": (600, 0.5), "rail": (800, 1.0), "sea": (650, 3.0), "air": (8000, 1.0)}


def _km(a: dict[str, Any], b: dict[str, Any]) -> float:
    la1, lo1, la2, lo2 = map(math.radians, (a["lat"], a["lon"], b["lat"], b["lon"]))
    h = math.sin((la2 - la1) / 2) ** 2 + math.cos(la1) * math.cos(la2) * math.sin((lo2 - lo1) / 2) ** 2
    return 2 * 6371 * math.asin(math.sqrt(h))


def _nodes(rng: random.Random) -> list[dict[str, Any]]:
    nodes: list[dict[str, Any]] = []
    for region, kinds in COUNTS.items():
        cities = CITIES[region]
        ports = [c for c in cities if c[3]]
        for kind, count in kinds.items():
            (cap_lo, cap_hi), (cov_lo, cov_hi), (val_lo, val_hi), (crit_lo, crit_hi) = PROFILE[kind]
            for i in range(1, count + 1):
                city, lat, lon, _ = ports[(i - 1) % len(ports)] if kind == "port" else rng.choice(cities)
                jitter = 0.02 if kind == "port" else 0.35
                capacity = rng.randrange(cap_lo, cap_hi, 50)
                demand = round(capacity * rng.uniform(0.5, 0.9), 1)
                # The draw that once picked ~6% of nodes to start low on stock is kept (unused) so
                # the node, lane and device ids stay those of the committed file.
                rng.random()
                cover = rng.uniform(cov_lo, cov_hi)
                nodes.append({
                    "id": f"{REGION_CODE[region]}-{KIND_CODE[kind]}-{i:03d}",
                    "kind": kind,
                    "name": f"{city} {kind.replace('_', ' ')} {i}",
                    "region": region,
                    "location": {
                        "lat": round(lat + rng.uniform(-jitter, jitter), 4),
                        "lon": round(lon + rng.uniform(-jitter, jitter), 4),
                    },
                    "capacity": capacity,
                    "inventory": round(demand * cover),
                    "daily_demand": demand,
                    "daily_revenue_at_risk": round(demand * rng.uniform(val_lo, val_hi), 2),
                    "criticality": rng.randint(crit_lo, crit_hi),
                })
    return nodes


def _lanes(rng: random.Random, nodes: list[dict[str, Any]]) -> list[dict[str, Any]]:
    by: dict[tuple[str, str], list[dict[str, Any]]] = {}
    for n in nodes:
        by.setdefault((n["region"], n["kind"]), []).append(n)
    lanes: list[dict[str, Any]] = []
    pairs: set[tuple[str, str]] = set()

    def add(src: dict[str, Any], dst: dict[str, Any], mode: str) -> None:
        if (src["id"], dst["id"]) in pairs:
            return
        pairs.add((src["id"], dst["id"]))
        kmpd, fixed = SPEED[mode]
        days = round(fixed + _km(src["location"], dst["location"]) / kmpd + rng.uniform(0, 0.5), 1)
        lanes.append({"id": f"LN-{len(lanes) + 1:04d}", "src": src["id"], "dst": dst["id"],
                      "mode": mode, "lead_time_days": max(days, 0.2)})

    tiers = [("supplier", "factory"), ("factory", "port"), ("factory", "warehouse"),
             ("port", "warehouse"), ("warehouse", "distribution_centre"), ("distribution_centre", "customer")]
    for region in COUNTS:
        for src_kind, dst_kind in tiers:
            srcs, dsts = by[(region, src_kind)], by[(region, dst_kind)]
            land = "road" if dst_kind in ("customer", "distribution_centre") else None
            # Every destination gets 1-2 sources, every source at least one destination.
            for dst in dsts:
                for src in rng.sample(srcs, k=min(len(srcs), rng.randint(1, 2))):
                    add(src, dst, land or rng.choice(["road", "road", "rail"]))
            for src in srcs:
                if not any(l["src"] == src["id"] for l in lanes):
                    add(src, rng.choice(dsts), land or "road")
    regions = list(COUNTS)
    for a in regions:  # ocean trade both ways between every pair of regions
        for b in regions:
            if a == b:
                continue
            for port in by[(a, "port")]:
                for dst in rng.sample(by[(b, "port")], k=rng.randint(1, 2)):
                    add(port, dst, "sea")
    for fac in by[("Asia", "factory")][:4]:  # premium air freight to consumer regions
        for region in ("Europe", "North America"):
            add(fac, rng.choice(by[(region, "warehouse")]), "air")
    return lanes


def _device(site: str, kind: str, k: int, node_id: str | None, lane_id: str | None) -> dict[str, Any]:
    d: dict[str, Any] = {"id": f"{site}-{DEVICE_CODE[kind]}-{k}", "kind": kind}
    d["node_id" if node_id else "lane_id"] = node_id or lane_id
    d["expected_interval_s"] = INTERVAL_S[kind]
    return d


def _devices(rng: random.Random, nodes: list[dict[str, Any]], lanes: list[dict[str, Any]]) -> list[dict[str, Any]]:
    devices: list[dict[str, Any]] = []
    for n in nodes:
        always, optional, max_opt = NODE_DEVICES[n["kind"]]
        kinds = always + rng.sample(optional, k=rng.randint(0 if len(always) > 1 else 1, max_opt))
        devices += [_device(n["id"], kind, 1, n["id"], None) for kind in kinds]
    for lane in lanes:  # trackers ride shipments: every sea/air lane, ~40% of land lanes
        if lane["mode"] in ("sea", "air") or rng.random() < 0.4:
            kinds = ["gps_tracker", "shock"] + (["reefer_temperature"] if lane["mode"] == "sea" else [])
            devices += [_device(lane["id"], kind, 1, None, lane["id"]) for kind in kinds]
    return devices


def generate(seed: int = DEFAULT_SEED) -> dict[str, Any]:
    """Build the network dict (accepted by ``SupplyNetwork.from_dict``)."""
    rng = random.Random(seed)
    nodes = _nodes(rng)
    lanes = _lanes(rng, nodes)
    devices = _devices(rng, nodes, lanes)
    return {
        "meta": {"generator": "simulators.networks.generate", "seed": seed},
        "nodes": nodes,
        "lanes": lanes,
        "devices": devices,
    }


def dumps(network: dict[str, Any]) -> str:
    """Stable text form: one JSON object per line keeps the file small and diffs readable."""
    parts = ["{"]
    parts.append(f' "meta": {json.dumps(network["meta"], sort_keys=True)},')
    for i, key in enumerate(("nodes", "lanes", "devices")):
        items = network[key]
        body = ",\n".join("  " + json.dumps(x, ensure_ascii=False) for x in items)
        parts.append(f' "{key}": [\n{body}\n ]' + ("," if i < 2 else ""))
    parts.append("}")
    return "\n".join(parts) + "\n"


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--seed", type=int, default=DEFAULT_SEED)
    p.add_argument("--out", type=Path, default=DEFAULT_OUT)
    p.add_argument("--sourcing-out", type=Path, default=DEFAULT_SOURCING_OUT)
    args = p.parse_args(argv)
    network = generate(args.seed)
    args.out.write_text(dumps(network), encoding="utf-8")
    from simulators.networks.sourcing import dumps_sourcing, sourcing
    args.sourcing_out.write_text(dumps_sourcing(sourcing(network, args.seed)), encoding="utf-8")


if __name__ == "__main__":
    main()
