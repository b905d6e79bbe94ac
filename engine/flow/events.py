"""Disruptions of the flow model: events that cut capacity of one or several elements at once.

Why events rather than per-element outages: a port closure stops the port and
every lane through it on the same days, and a regional event (typhoon, strike)
stops several sites together. Sampling each member separately would make them
independent and understate the tail. An event is sampled once per trial
(occurs with probability ``p``; start day ``start_day + floor(U x start_window)``;
duration ``max(1, round(median x exp(sigma Z)))`` whole days) and every member
loses ``severity`` of its capacity (1 = closed, 0.5 = half) on those days.

A forced outage (the scenario being assessed) is an event with ``p = 1``;
background risk is one event per element with its own ``p``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Sequence

import numpy as np

from .network import FlowNetwork


@dataclass(frozen=True)
class Event:
    """One correlated disruption; ``members`` are ``(kind, id, severity)`` with kind "node" or "lane"."""

    members: tuple[tuple[str, int | str, float], ...]
    median_days: float
    p: float = 1.0
    start_day: int = 0
    start_window: int = 0
    sigma: float = 0.0
    name: str = ""


@dataclass(frozen=True)
class FlowDisruption:
    events: tuple[Event, ...]

    def __add__(self, other: "FlowDisruption") -> "FlowDisruption":
        return FlowDisruption(self.events + other.events)


def outage(kind: str, key: int | str, median_days: float, *, start_day: int = 0, sigma: float = 0.0,
           severity: float = 1.0, p: float = 1.0) -> Event:
    """A single node or lane losing ``severity`` of its capacity."""
    return Event(((kind, key, severity),), median_days, p, start_day, 0, sigma, f"{kind}:{key}")


def port_closure(net: FlowNetwork, port: int | str, median_days: float, *, start_day: int = 0,
                 sigma: float = 0.0, severity: float = 1.0, p: float = 1.0) -> Event:
    """The port and every lane arriving at or leaving it, on the same days."""
    v = net.node_index(port)
    lanes = np.flatnonzero((net.lane_src == v) | (net.lane_dst == v))
    members = (("node", v, severity),) + tuple(("lane", int(l), severity) for l in lanes)
    return Event(members, median_days, p, start_day, 0, sigma, f"port_closure:{net.node_ids[v]}")


def regional_event(net: FlowNetwork, nodes: Sequence[int | str], median_days: float, *, start_day: int = 0,
                   sigma: float = 0.0, severity: float = 1.0, p: float = 1.0, start_window: int = 0) -> Event:
    """Several sites hit together (one sample of start and duration for all)."""
    members = tuple(("node", net.node_index(k), severity) for k in nodes)
    return Event(members, median_days, p, start_day, start_window, sigma, "regional")


def background(net: FlowNetwork, node_p: float | Sequence[float], median_days: float | Sequence[float],
               sigma: float, horizon_days: int, lane_p: float = 0.0, lane_median_days: float = 3.0,
               severity: float = 1.0) -> FlowDisruption:
    """Independent background risk: one event per node (and lane when ``lane_p > 0``), start uniform over
    the horizon."""
    node_p = np.broadcast_to(np.asarray(node_p, dtype=np.float64), (net.n_nodes,))
    med = np.broadcast_to(np.asarray(median_days, dtype=np.float64), (net.n_nodes,))
    ev = [Event((("node", v, severity),), float(med[v]), float(node_p[v]), 0, horizon_days, sigma, "background")
          for v in range(net.n_nodes) if node_p[v] > 0]
    if lane_p > 0:
        ev += [Event((("lane", l, severity),), lane_median_days, lane_p, 0, horizon_days, sigma, "background")
               for l in range(net.n_lanes)]
    return FlowDisruption(tuple(ev))


# Random-number id offset of the background events (inputs.prepare_flow): numbered apart from the forced ones,
# so adding a forced event (a stalled shipment's hold, a second outage) does not renumber - and so redraw - the
# whole background. It did: a stalled lane changed the do-nothing loss of an unrelated 7-day outage by the same
# -0.8 % for every lane tried (the background's resampling, not the stall). Below sampling.DEMAND_RNG_BASE.
BACKGROUND_RNG_BASE = 1 << 32


@dataclass(frozen=True, eq=False)
class EventArrays:
    """Events as arrays; ``rng_id`` keeps an event's random numbers when a subset is packed."""

    p: np.ndarray           # float64 [J]
    start0: np.ndarray      # int32 [J]
    window: np.ndarray      # int32 [J]
    mu: np.ndarray          # float64 [J], log of the median
    sigma: np.ndarray       # float64 [J]
    rng_id: np.ndarray      # int64 [J]
    elem: np.ndarray        # int32 [M], element of each member (node v, lane N + l)
    event: np.ndarray       # int32 [M]
    severity: np.ndarray    # float64 [M]


def event_arrays(net: FlowNetwork, disruption: FlowDisruption) -> EventArrays:
    """Validate and flatten (global element numbering: node v, lane N + l)."""
    p, s0, win, mu, sg, elem, evi, sev = [], [], [], [], [], [], [], []
    for j, e in enumerate(disruption.events):
        if not (0.0 <= e.p <= 1.0) or e.median_days <= 0 or e.sigma < 0 or e.start_day < 0 or e.start_window < 0:
            raise ValueError(f"bad event {e.name or j}: p in [0,1], median > 0, sigma/start >= 0")
        p.append(e.p)
        s0.append(int(e.start_day))
        win.append(int(e.start_window))
        mu.append(math.log(e.median_days))
        sg.append(e.sigma)
        for kind, key, severity in e.members:
            if not 0.0 <= severity <= 1.0:
                raise ValueError("severity must be in [0, 1]")
            if kind == "node":
                elem.append(net.node_index(key))
            elif kind == "lane":
                elem.append(net.n_nodes + net.lane_index(key))
            else:
                raise ValueError(f"member kind must be node or lane, got {kind}")
            evi.append(j)
            sev.append(float(severity))
    return EventArrays(np.asarray(p, dtype=np.float64), np.asarray(s0, dtype=np.int32),
                       np.asarray(win, dtype=np.int32), np.asarray(mu, dtype=np.float64),
                       np.asarray(sg, dtype=np.float64), np.arange(len(p), dtype=np.int64),
                       np.asarray(elem, dtype=np.int32), np.asarray(evi, dtype=np.int32),
                       np.asarray(sev, dtype=np.float64))
