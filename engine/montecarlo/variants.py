"""Mitigation variants as parameter arrays, evaluated with common random numbers.

Why variants only touch *parameters* (cover, lead time, lane enabled, outage
duration scale) and never the outage probabilities: the kernel samples each
trial's disruption once and replays it through every variant, so the
difference between two variants is not drowned in sampling noise (common
random numbers). Changing a probability would change which outages happen,
which this scheme cannot express; model that as a separate run.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Mapping, Sequence

import numpy as np

from .network import Network


@dataclass(frozen=True)
class Mitigation:
    """One strategy variant. Keys are node/lane indices or ids."""

    name: str = "baseline"
    extra_cover_days: Mapping[int | str, float] = field(default_factory=dict)    # node -> +days
    enable_lanes: Sequence[int | str] = ()                                        # dormant lanes on
    disable_lanes: Sequence[int | str] = ()
    lead_time_days: Mapping[int | str, float] = field(default_factory=dict)      # lane -> new lead
    duration_factor: Mapping[int | str, float] = field(default_factory=dict)     # node -> x duration
    lane_duration_factor: Mapping[int | str, float] = field(default_factory=dict)  # lane -> x duration


BASELINE = Mitigation()


@dataclass(frozen=True, eq=False)
class VariantArrays:
    """Per-variant parameters, first axis = variant."""

    names: tuple[str, ...]
    cover: np.ndarray       # float64 [V, N]
    lead: np.ndarray        # float64 [V, L]
    enabled: np.ndarray     # uint8 [V, L]
    dur_scale: np.ndarray   # float64 [V, E], multiplies sampled and forced durations

    @property
    def n_variants(self) -> int:
        return int(self.cover.shape[0])


def variant_arrays(net: Network, variants: Sequence[Mitigation] | None = None) -> VariantArrays:
    """Materialise mitigations (default: baseline only) into kernel arrays."""
    variants = list(variants) if variants else [BASELINE]
    v_n, n, n_l = len(variants), net.n_nodes, net.n_lanes
    cover = np.tile(net.cover, (v_n, 1))
    lead = np.tile(net.lane_lead, (v_n, 1))
    enabled = np.tile(net.lane_enabled.astype(np.uint8), (v_n, 1))
    scale = np.ones((v_n, n + n_l))
    for i, m in enumerate(variants):
        for k, d in m.extra_cover_days.items():
            cover[i, net.node_index(k)] += d
        for k in m.enable_lanes:
            enabled[i, net.lane_index(k)] = 1
        for k in m.disable_lanes:
            enabled[i, net.lane_index(k)] = 0
        for k, d in m.lead_time_days.items():
            lead[i, net.lane_index(k)] = d
        for k, f in m.duration_factor.items():
            scale[i, net.node_index(k)] = f
        for k, f in m.lane_duration_factor.items():
            scale[i, n + net.lane_index(k)] = f
    if np.any(cover < 0) or np.any(lead < 0) or np.any(scale < 0):
        raise ValueError("variant makes cover, lead time or duration negative")
    return VariantArrays(tuple(m.name for m in variants), cover, lead, enabled, scale)
