"""Flatten network + disruption model + variants into the arrays all kernels take.

Why a separate step: packing costs Python time proportional to the network,
so a worker packs once per request and then runs batches (adaptive stopping)
against the same :class:`KernelInputs`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np

from .disruption import DisruptionModel, forced_arrays, validate
from .network import Network
from .variants import Mitigation, variant_arrays

# Default horizon: a quarter. Long enough for most lognormal outages with
# median ~1-2 weeks to end, short enough that the tail stays bounded.
DEFAULT_HORIZON_DAYS = 90.0


@dataclass(frozen=True, eq=False)
class KernelInputs:
    """Everything one simulation request needs, as contiguous arrays."""

    horizon: float
    start_window: float
    order: np.ndarray
    rank: np.ndarray        # [N], position of each node in ``order``
    group_ptr: np.ndarray
    group_lane_ptr: np.ndarray
    group_lanes: np.ndarray
    lane_src: np.ndarray
    lane_dst: np.ndarray
    out_ptr: np.ndarray     # [N+1], CSR of each node's successors (via any lane)
    out_dst: np.ndarray
    customers: np.ndarray
    revenue: np.ndarray
    p: np.ndarray
    mu: np.ndarray
    sigma: np.ndarray
    f_ptr: np.ndarray
    f_start: np.ndarray
    f_mu: np.ndarray
    f_sigma: np.ndarray
    f_elem: np.ndarray      # [F], element of each forced outage
    cover: np.ndarray       # [V, N]
    lead: np.ndarray        # [V, L]
    enabled: np.ndarray     # [V, L] uint8
    dur_scale: np.ndarray   # [V, E]
    always_ok: bool         # every group has an enabled lane in every variant
    variant_names: tuple[str, ...]

    @property
    def n_variants(self) -> int:
        return int(self.cover.shape[0])

    @property
    def n_nodes(self) -> int:
        return int(self.order.shape[0])


def prepare(net: Network, model: DisruptionModel, variants: Sequence[Mitigation] | None = None,
            horizon_days: float = DEFAULT_HORIZON_DAYS) -> KernelInputs:
    """Validate and pack; pure (inputs are not modified)."""
    if not horizon_days > 0:
        raise ValueError("horizon must be > 0")
    validate(net, model)
    va = variant_arrays(net, variants)
    fa = forced_arrays(net, model)
    lane_group = np.empty(net.n_lanes, dtype=np.int64)
    for g in range(len(net.group_lane_ptr) - 1):
        lane_group[net.group_lanes[net.group_lane_ptr[g]:net.group_lane_ptr[g + 1]]] = g
    n_groups = len(net.group_lane_ptr) - 1
    always_ok = all(
        np.all(np.bincount(lane_group, weights=va.enabled[v], minlength=n_groups) > 0)
        for v in range(va.n_variants)
    )
    rank = np.empty(net.n_nodes, dtype=np.int32)
    rank[net.order] = np.arange(net.n_nodes, dtype=np.int32)
    by_src = np.argsort(net.lane_src, kind="stable")
    out_ptr = np.zeros(net.n_nodes + 1, dtype=np.int32)
    np.cumsum(np.bincount(net.lane_src, minlength=net.n_nodes), out=out_ptr[1:])
    window = horizon_days if model.start_window is None else float(model.start_window)
    c = np.ascontiguousarray
    return KernelInputs(
        horizon=float(horizon_days), start_window=window,
        order=c(net.order, dtype=np.int32), rank=rank, group_ptr=c(net.group_ptr, dtype=np.int32),
        group_lane_ptr=c(net.group_lane_ptr, dtype=np.int32), group_lanes=c(net.group_lanes, dtype=np.int32),
        lane_src=c(net.lane_src, dtype=np.int32), lane_dst=c(net.lane_dst, dtype=np.int32),
        out_ptr=out_ptr, out_dst=c(net.lane_dst[by_src], dtype=np.int32), customers=c(net.customers, dtype=np.int32),
        revenue=c(net.revenue, dtype=np.float64),
        p=c(model.p, dtype=np.float64), mu=c(model.mu, dtype=np.float64), sigma=c(model.sigma, dtype=np.float64),
        f_ptr=c(fa.ptr, dtype=np.int32), f_start=c(fa.start), f_mu=c(fa.mu), f_sigma=c(fa.sigma),
        f_elem=np.repeat(np.arange(net.n_elements, dtype=np.int32), np.diff(fa.ptr)),
        cover=c(va.cover), lead=c(va.lead), enabled=c(va.enabled, dtype=np.uint8), dur_scale=c(va.dur_scale),
        always_ok=bool(always_ok), variant_names=va.names,
    )
