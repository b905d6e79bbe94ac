"""Disruption scenarios: a YAML/JSON file resolved into concrete injected events
with ground truth.

WHY resolve up front: the whole plan (which device breaches, which port closes,
when) is a pure function of the file, the fleet and the seed. It is written to
the ground-truth sink before the first reading, so a detector can be scored
against exactly what was injected, and every process applies the same plan.

File format (times are seconds from the start of the run)::

    events:
      - type: cold_chain_breach        # see EVENT_TYPES
        select: {kind: reefer_temperature, count: 2}   # or devices: [...] / nodes: [...]
        start_s: 5
        duration_s: 10
        peak_c: 11.0                    # any other key is a parameter
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any, Literal, Protocol

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from twin.network import DeviceKind, NodeKind

from .fleet import KIND_CODE, Fleet

EventType = Literal[
    "cold_chain_breach", "equipment_failure", "port_closure", "supplier_outage",
    "device_silent", "clock_skew", "duplicates", "reorder", "malformed",
]
EVENT_TYPES: tuple[str, ...] = EventType.__args__  # type: ignore[attr-defined]
# Rate-based events act on messages of the whole fleet, not on one subject.
FLEET_EVENTS = frozenset({"duplicates", "reorder", "malformed"})
# Defaults chosen so each effect is unmistakable to a detector and to a test:
# a breach well above the 8 °C cold-chain limit, a failure far above baseline
# vibration, a skew beyond the contract's 5-minute tolerance.
DEFAULT_PARAMS: dict[str, dict[str, Any]] = {
    "cold_chain_breach": {"peak_c": 11.0},
    "equipment_failure": {"factor": 12.0},
    "clock_skew": {"skew_s": 900.0},
    "duplicates": {"rate": 0.01},
    "reorder": {"rate": 0.01},
    "malformed": {"rate": 0.001},
}
# Kinds each device-level event may pick when the file gives only a count;
# picking a door sensor for a cold-chain breach would inject nothing.
_EVENT_KINDS: dict[str, tuple[DeviceKind, ...]] = {
    "cold_chain_breach": (DeviceKind.reefer_temperature,),
    "equipment_failure": (DeviceKind.vibration,),
}


class Select(BaseModel):
    model_config = ConfigDict(extra="forbid")
    kind: DeviceKind | None = None
    node_kind: NodeKind | None = None
    count: int = Field(1, ge=1, le=10_000)


class EventSpec(BaseModel):
    """One entry of the scenario file."""

    model_config = ConfigDict(extra="allow")
    type: EventType
    start_s: float = Field(ge=0)
    duration_s: float = Field(gt=0)
    select: Select | None = None
    devices: list[str] | None = None
    nodes: list[str] | None = None

    def params(self) -> dict[str, Any]:
        return {**DEFAULT_PARAMS.get(self.type, {}), **(self.model_extra or {})}


class ScenarioFile(BaseModel):
    model_config = ConfigDict(extra="forbid")
    events: list[EventSpec] = []


class InjectedEvent(BaseModel):
    """Ground truth for one injected disruption on one subject."""

    event_id: str
    type: EventType
    subject_type: Literal["device", "node", "lane", "fleet"]
    subject_id: str
    start_s: float  # seconds from run start
    end_s: float
    start: datetime | None = None  # wall-clock UTC, set when the run starts
    end: datetime | None = None
    params: dict[str, Any] = {}
    devices: list[str] = []  # devices whose readings carry the effect
    lanes: list[str] = []
    nodes: list[str] = []

    def active(self, t_rel: float) -> bool:
        return self.start_s <= t_rel < self.end_s


class GroundTruthSink(Protocol):
    """Where injected events go: a JSONL file here; the lead points another
    implementation at a Kafka topic. ``write`` is called once per event, in
    start order, before the first reading is published."""

    def write(self, event: InjectedEvent) -> None: ...

    def close(self) -> None: ...


class JsonlGroundTruthSink:
    """One JSON object per line, flushed per event so a crash loses nothing."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self._f = path.open("w", encoding="utf-8")

    def write(self, event: InjectedEvent) -> None:
        self._f.write(event.model_dump_json() + "\n")
        self._f.flush()

    def close(self) -> None:
        self._f.close()


def load_scenario(path: Path) -> ScenarioFile:
    text = path.read_text()
    if path.suffix in (".yaml", ".yml"):
        import yaml

        return ScenarioFile.model_validate(yaml.safe_load(text) or {})
    return ScenarioFile.model_validate(json.loads(text))


def resolve(scenario: ScenarioFile, fleet: Fleet, seed: int) -> list[InjectedEvent]:
    """Concrete events, one per subject, sorted by start time; raises ValueError
    for ids not in the fleet/network so a typo never silently injects nothing."""
    out: list[InjectedEvent] = []
    net = fleet.network
    for n, spec in enumerate(scenario.events):
        rng = np.random.default_rng([seed, n])
        base = dict(type=spec.type, start_s=spec.start_s, end_s=spec.start_s + spec.duration_s, params=spec.params())
        count = spec.select.count if spec.select else 1
        if spec.type in FLEET_EVENTS:
            out.append(InjectedEvent(event_id=f"e{n}", subject_type="fleet", subject_id="*", **base))
        elif spec.type in ("port_closure", "supplier_outage"):
            node_kind = spec.select.node_kind if spec.select and spec.select.node_kind else (
                NodeKind.port if spec.type == "port_closure" else NodeKind.supplier)
            effects = {nid: _node_effect(spec.type, nid, fleet) for nid in (spec.nodes or [x.id for x in net.nodes])}
            if spec.nodes:
                bad = [x for x in spec.nodes if x not in net.node_by_id]
                if bad:
                    raise ValueError(f"scenario event {n}: unknown nodes {bad}")
                chosen = spec.nodes
            else:
                cands = sorted(nid for nid, e in effects.items() if e[0] and net.node(nid).kind is node_kind)
                chosen = _pick(rng, cands, count, spec.type)
            for nid in chosen:
                devices, lanes, nodes = effects[nid]
                out.append(InjectedEvent(event_id=f"e{n}-{nid}", subject_type="node", subject_id=nid,
                                         devices=devices, lanes=lanes, nodes=nodes, **base))
        else:
            if spec.devices:
                idx = fleet.index()
                bad = [d for d in spec.devices if d not in idx]
                if bad:
                    raise ValueError(f"scenario event {n}: unknown devices {bad}")
                chosen = spec.devices
            else:
                kinds = (spec.select.kind,) if spec.select and spec.select.kind else _EVENT_KINDS.get(spec.type)
                codes = {KIND_CODE[k] for k in kinds} if kinds else None
                cands = [d for d, k in zip(fleet.device_ids, fleet.kind) if codes is None or int(k) in codes]
                if spec.nodes:
                    keep, at = set(cands), set(spec.nodes)
                    cands = [d for d, nid in zip(fleet.device_ids, fleet.node_ids) if nid in at and d in keep]
                chosen = _pick(rng, cands, count, spec.type)
            for d in chosen:
                out.append(InjectedEvent(event_id=f"e{n}-{d}", subject_type="device", subject_id=d, devices=[d], **base))
    out.sort(key=lambda e: (e.start_s, e.event_id))
    return out


def _pick(rng: np.random.Generator, cands: list[str], count: int, what: str) -> list[str]:
    if not cands:
        raise ValueError(f"no candidate subject in the fleet for {what}")
    k = min(count, len(cands))
    return [cands[i] for i in sorted(rng.choice(len(cands), size=k, replace=False))]


def _node_effect(kind: str, nid: str, fleet: Fleet) -> tuple[list[str], list[str], list[str]]:
    """(devices showing the effect, lanes, nodes) for a node-level disruption."""
    net = fleet.network
    if kind == "port_closure":
        # Shipments on every lane into or out of the port stop where they are.
        lanes = sorted({l.id for l in net.lanes_from(nid)} | {l.id for l in net.lanes_to(nid)})
        gps = KIND_CODE[DeviceKind.gps_tracker]
        lane_set = set(lanes)
        devices = [d for d, k, l in zip(fleet.device_ids, fleet.kind, fleet.lane_ids) if k == gps and l in lane_set]
        return devices, lanes, []
    # Supplier outage: the supplier stops shipping (its throughput drops to 0)
    # and the inventory of the nodes it feeds drains without deliveries.
    down = sorted({l.dst for l in net.lanes_from(nid)})
    inv, thr = KIND_CODE[DeviceKind.inventory], KIND_CODE[DeviceKind.throughput]
    down_set = set(down)
    devices = [d for d, k, n in zip(fleet.device_ids, fleet.kind, fleet.node_ids)
               if (k == inv and n in down_set) or (k == thr and n == nid)]
    has_inv = any(k == inv and n in down_set for k, n in zip(fleet.kind, fleet.node_ids))
    return (devices if has_inv else []), sorted(l.id for l in net.lanes_from(nid)), down


def stamp(events: list[InjectedEvent], t0: float) -> list[InjectedEvent]:
    """Attach wall-clock start/end given the run's start (epoch seconds)."""
    base = datetime.fromtimestamp(t0, timezone.utc)
    return [e.model_copy(update={"start": base + timedelta(seconds=e.start_s), "end": base + timedelta(seconds=e.end_s)})
            for e in events]
