"""Disruption model: what can fail, how often, for how long.

Per element (node or lane, numbered as in :mod:`network`):

* ``p``: probability that the element suffers one outage within the trial;
* start day ~ Uniform[0, start_window) (``start_window=0`` puts every outage
  at day 0: the "shock now" stress test);
* duration ~ LogNormal(mu, sigma) in days.

Plus per-request *forced* outages (the scenario being assessed, e.g. "port X is
closed from day 3"), which always happen, with a fixed duration (sigma=0) or a
lognormal one around ``duration_days`` (the median).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Sequence

import numpy as np

from .network import Network


@dataclass(frozen=True)
class ForcedOutage:
    """An outage that happens in every trial (the event being assessed)."""

    kind: str                 # "node" or "lane"
    index: int | str          # node/lane index or id
    duration_days: float      # fixed duration, or the median when sigma > 0
    start_day: float = 0.0
    sigma: float = 0.0        # lognormal sigma of the duration; 0 = fixed


@dataclass(frozen=True, eq=False)
class DisruptionModel:
    """Per-element outage probability and lognormal duration, plus forced outages."""

    p: np.ndarray          # float64 [E]
    mu: np.ndarray         # float64 [E], log-days
    sigma: np.ndarray      # float64 [E]
    start_window: float | None = None   # None: the simulation horizon
    forced: tuple[ForcedOutage, ...] = ()

    def with_forced(self, *forced: ForcedOutage) -> "DisruptionModel":
        """Same random model plus extra forced outages (pure: returns a copy)."""
        return DisruptionModel(self.p, self.mu, self.sigma, self.start_window, self.forced + tuple(forced))


def disruption_model(
    net: Network,
    node_p: float | Sequence[float],
    node_mu: float | Sequence[float],
    node_sigma: float | Sequence[float],
    lane_p: float | Sequence[float] = 0.0,
    lane_mu: float | Sequence[float] = 0.0,
    lane_sigma: float | Sequence[float] = 0.0,
    start_window: float | None = None,
    forced: Sequence[ForcedOutage] = (),
) -> DisruptionModel:
    """Broadcast scalars or per-node / per-lane sequences into element arrays."""
    n, n_l = net.n_nodes, net.n_lanes

    def cat(a: float | Sequence[float], b: float | Sequence[float]) -> np.ndarray:
        return np.concatenate([np.broadcast_to(np.asarray(a, dtype=np.float64), (n,)),
                               np.broadcast_to(np.asarray(b, dtype=np.float64), (n_l,))])

    model = DisruptionModel(cat(node_p, lane_p), cat(node_mu, lane_mu), cat(node_sigma, lane_sigma),
                            start_window, tuple(forced))
    validate(net, model)
    return model


def validate(net: Network, model: DisruptionModel) -> None:
    """Reject inputs the kernels would silently mis-handle."""
    e = net.n_elements
    for name in ("p", "mu", "sigma"):
        if getattr(model, name).shape != (e,):
            raise ValueError(f"{name} must have shape ({e},)")
    if np.any((model.p < 0) | (model.p > 1)):
        raise ValueError("p must be in [0, 1]")
    if np.any(model.sigma < 0) or not np.all(np.isfinite(model.mu)):
        raise ValueError("sigma must be >= 0 and mu finite")
    if model.start_window is not None and model.start_window < 0:
        raise ValueError("start_window must be >= 0")
    for f in model.forced:
        if f.kind not in ("node", "lane") or f.duration_days <= 0 or f.start_day < 0 or f.sigma < 0:
            raise ValueError(f"bad forced outage {f}")


@dataclass(frozen=True, eq=False)
class ForcedArrays:
    """Forced outages sorted by element, CSR-indexed: ``ptr[e]:ptr[e+1]``."""

    ptr: np.ndarray     # int32 [E+1]
    start: np.ndarray   # float64 [F]
    mu: np.ndarray      # float64 [F], log of the median duration
    sigma: np.ndarray   # float64 [F]


def forced_arrays(net: Network, model: DisruptionModel) -> ForcedArrays:
    """Lay forced outages out for the kernels."""
    rows = []
    for f in model.forced:
        elem = net.node_index(f.index) if f.kind == "node" else net.n_nodes + net.lane_index(f.index)
        rows.append((elem, f.start_day, math.log(f.duration_days), f.sigma))
    rows.sort(key=lambda r: r[0])
    elems = np.asarray([r[0] for r in rows], dtype=np.int64)
    ptr = np.zeros(net.n_elements + 1, dtype=np.int32)
    np.cumsum(np.bincount(elems, minlength=net.n_elements), out=ptr[1:])
    return ForcedArrays(
        ptr=ptr,
        start=np.asarray([r[1] for r in rows], dtype=np.float64),
        mu=np.asarray([r[2] for r in rows], dtype=np.float64),
        sigma=np.asarray([r[3] for r in rows], dtype=np.float64),
    )
