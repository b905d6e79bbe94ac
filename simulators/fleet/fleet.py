"""The simulated fleet: the network's devices replicated ×scale, grouped by publisher.

WHY groups: a site with a gateway publishes all its devices' readings as
batches from one MQTT identity; a site without one has every device publish on
its own. Devices of one publishing group are contiguous and never split across
processes, so a gateway is one connection in one process (as a real gateway is)
and a tick's slice of the fleet turns into a few large batches.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from twin.network import DeviceKind, SupplyNetwork

from .signals import SECONDS_PER_DAY, SignalParams

# Kind codes: small ints so a tick can split by kind with one numpy compare.
KINDS: tuple[DeviceKind, ...] = tuple(DeviceKind)
KIND_CODE: dict[DeviceKind, int] = {k: n for n, k in enumerate(KINDS)}
# Battery-powered kinds (wireless tags and trackers) report battery; mains-powered
# line sensors don't, which keeps the common payload small.
BATTERY_KINDS = frozenset({DeviceKind.gps_tracker, DeviceKind.shock, DeviceKind.door})
# Replica suffix must keep ids within the 64-char id rule of the contract.
MAX_ID_LEN = 64


@dataclass(frozen=True)
class PublishGroup:
    """One MQTT publishing identity: a gateway (many devices) or one device."""

    site_id: str
    gateway_id: str | None
    start: int  # first fleet position
    stop: int  # one past the last


@dataclass
class Fleet:
    network: SupplyNetwork
    device_ids: list[str]
    kind: np.ndarray  # int8 kind code per device
    site_ids: list[str]
    node_ids: list[str | None]
    lane_ids: list[str | None]
    group_of: np.ndarray  # int32 publishing group per device
    groups: list[PublishGroup]
    params: SignalParams
    has_battery: np.ndarray  # bool per device
    expected_interval_s: np.ndarray

    def __len__(self) -> int:
        return len(self.device_ids)

    @property
    def gateways(self) -> list[PublishGroup]:
        return [g for g in self.groups if g.gateway_id is not None]

    def index(self) -> dict[str, int]:
        """Device id -> fleet position."""
        return {d: n for n, d in enumerate(self.device_ids)}

    def natural_rate(self) -> float:
        """Readings/s when every device reports at its expected interval."""
        return float(np.sum(1.0 / self.expected_interval_s))

    def to_network_dict(self) -> dict[str, Any]:
        """The network with the replicated devices, so the twin can register them
        (replicas are unknown devices to a twin loaded with the original file)."""
        data = self.network.to_dict()
        data["devices"] = [
            {"id": d, "kind": KINDS[int(k)].value, **({"node_id": n} if n else {"lane_id": l}),
             "expected_interval_s": float(e)}
            for d, k, n, l, e in zip(self.device_ids, self.kind, self.node_ids, self.lane_ids, self.expected_interval_s)
        ]
        return data

    def shard(self, shards: int) -> list[np.ndarray]:
        """Fleet positions per process: whole groups, balanced by device count
        (largest first onto the least loaded shard), deterministic."""
        shards = max(1, min(shards, len(self.groups)))
        load = [0] * shards
        owned: list[list[int]] = [[] for _ in range(shards)]
        order = sorted(range(len(self.groups)), key=lambda g: (-(self.groups[g].stop - self.groups[g].start), g))
        for g in order:
            s = min(range(shards), key=lambda k: (load[k], k))
            owned[s].append(g)
            load[s] += self.groups[g].stop - self.groups[g].start
        out = []
        for gs in owned:
            gs.sort()
            out.append(np.concatenate([np.arange(self.groups[g].start, self.groups[g].stop) for g in gs])
                       if gs else np.zeros(0, dtype=np.int64))
        return out


def load_network(path: Path) -> SupplyNetwork:
    text = path.read_text()
    if path.suffix in (".yaml", ".yml"):
        import yaml

        return SupplyNetwork.from_dict(yaml.safe_load(text))
    return SupplyNetwork.from_dict(json.loads(text))


def replica_id(device_id: str, r: int) -> str:
    """Replica 0 keeps the network's id (registered devices stay registered)."""
    if r == 0:
        return device_id
    rid = f"{device_id}-r{r}"
    if len(rid) > MAX_ID_LEN:
        raise ValueError(f"replica id {rid!r} exceeds {MAX_ID_LEN} characters; shorten the device id or the scale")
    return rid


def build_fleet(network: SupplyNetwork, *, scale: int = 1, seed: int = 0, gateway_share: float = 0.8) -> Fleet:
    """Replicate every device ``scale`` times at its site; give a seeded
    ``gateway_share`` of sites a gateway; draw every device's signal parameters."""
    if scale < 1:
        raise ValueError("scale must be >= 1")
    rng = np.random.default_rng(seed)
    sites = [n.id for n in network.nodes] + [l.id for l in network.lanes]
    site_gateway = rng.random(len(sites)) < gateway_share
    ids: list[str] = []
    devs = []
    groups: list[PublishGroup] = []
    group_of: list[int] = []
    for site, gw in zip(sites, site_gateway):
        members = network.devices_of(site)
        if not members:
            continue
        start = len(ids)
        for r in range(scale):
            for d in members:
                ids.append(replica_id(d.id, r))
                devs.append(d)
                if not gw:
                    groups.append(PublishGroup(site, None, len(ids) - 1, len(ids)))
                group_of.append(len(groups) - 1 if not gw else -1)
        if gw:
            groups.append(PublishGroup(site, f"{site}-GW", start, len(ids)))
            for k in range(start, len(ids)):
                group_of[k] = len(groups) - 1
    n = len(ids)
    kind = np.array([KIND_CODE[d.kind] for d in devs], dtype=np.int8)
    p = _draw_params(network, devs, kind, rng)
    return Fleet(
        network=network, device_ids=ids, kind=kind,
        site_ids=[d.site_id for d in devs], node_ids=[d.node_id for d in devs], lane_ids=[d.lane_id for d in devs],
        group_of=np.array(group_of, dtype=np.int32), groups=groups, params=p,
        has_battery=np.array([d.kind in BATTERY_KINDS for d in devs], dtype=bool),
        expected_interval_s=np.array([d.expected_interval_s for d in devs], dtype=np.float64) if n else np.zeros(0),
    )


def _draw_params(network: SupplyNetwork, devs: list, kind: np.ndarray, rng: np.random.Generator) -> SignalParams:
    n = len(devs)
    z = np.zeros(n)
    p = SignalParams(uid=np.arange(n, dtype=np.int64), phase=rng.random(n), period_s=np.ones(n), base=z.copy(),
                     amp=z.copy(), prob=z.copy(), ambient_c=z.copy(), lon=z.copy(), lat0=z.copy(), lon0=z.copy(),
                     lat1=z.copy(), lon1=z.copy(), lane_s=np.ones(n), battery0=rng.uniform(60.0, 100.0, n),
                     battery_decay=rng.uniform(0.5, 2.0, n) / SECONDS_PER_DAY)
    u = rng.random((n, 3))  # three independent draws per device, used per kind below
    nodes, lanes = network.node_by_id, network.lane_by_id
    inv_per_node: dict[str, int] = {}
    for d in devs:
        if d.kind is DeviceKind.inventory:
            inv_per_node[d.node_id] = inv_per_node.get(d.node_id, 0) + 1
    for k, d in enumerate(devs):
        if d.node_id is not None:
            node = nodes[d.node_id]
            lat, lon = node.location.lat, node.location.lon
        else:
            lane = lanes[d.lane_id]
            a, b = nodes[lane.src].location, nodes[lane.dst].location
            p.lat0[k], p.lon0[k], p.lat1[k], p.lon1[k] = a.lat, a.lon, b.lat, b.lon
            p.lane_s[k] = lane.lead_time_days * SECONDS_PER_DAY
            lat, lon = (a.lat + b.lat) / 2, (a.lon + b.lon) / 2
        p.lon[k] = lon
        c = d.kind
        if c is DeviceKind.reefer_temperature:
            p.base[k] = 4.0 + 0.3 * (u[k, 0] - 0.5)  # setpoint spread between units
            # +-0.5-1.0 degC cycles: with the diurnal drift and noise the probe stays inside
            # the 2-8 degC band (a real reefer holds +-1 degC of its setpoint).
            p.amp[k] = 0.5 + 0.5 * u[k, 1]
            p.period_s[k] = 600.0 + 600.0 * u[k, 2]  # 10-20 min compressor cycles
        elif c is DeviceKind.humidity:
            p.base[k] = 45.0 + 25.0 * u[k, 0]
            p.ambient_c[k] = 27.0 - 0.3 * abs(lat) + 3.0 * (u[k, 1] - 0.5)
        elif c is DeviceKind.vibration:
            # Healthy machines: 1.5-3.5 mm/s RMS (ISO 10816-3 zones A/B); with the log-normal
            # spread a reading reaches the 7.1 mm/s zone C limit only ~once in 10^6.
            p.base[k] = 1.5 + 2.0 * u[k, 0]
        elif c is DeviceKind.shock:
            p.prob[k] = 0.002 + 0.008 * u[k, 0]
        elif c is DeviceKind.door:
            p.prob[k] = 0.05 + 0.15 * u[k, 0]
        elif c is DeviceKind.throughput:
            p.base[k] = nodes[d.node_id].capacity / 24.0 * (0.6 + 0.3 * u[k, 0])
        elif c is DeviceKind.inventory:
            node = nodes[d.node_id]
            top = max(1.0, node.inventory / inv_per_node[d.node_id]) * (0.9 + 0.2 * u[k, 0])
            demand = node.daily_demand / inv_per_node[d.node_id] / SECONDS_PER_DAY * (0.8 + 0.4 * u[k, 1])
            p.base[k], p.amp[k] = top, demand
            # Refill before running dry: half the cover, between 1 h and 3 days.
            p.period_s[k] = float(np.clip(0.5 * top / demand, 3600.0, 3 * SECONDS_PER_DAY)) if demand > 0 else 3600.0
            p.amp[k] = min(demand, 0.9 * top / p.period_s[k])  # a cycle never draws below zero
    return p
