"""Node health: ok / degraded / critical from device visibility and days of cover.

Rules (first match wins, worst level kept; every triggered rule is listed in
``reasons`` so an operator sees why):

critical
  * days of cover < ``CRITICAL_COVER_DAYS`` (stock-out is imminent), or
  * the node has devices and all of them are offline (we are blind there).
degraded
  * days of cover < ``DEGRADED_COVER_DAYS``, or
  * any device is offline, or at least half of them are stale.
ok
  * otherwise (including nodes without devices and without demand).

Hysteresis: to leave a cover-based level the cover must clear the threshold by
``COVER_HYSTERESIS_DAYS``, so inventory hovering at a threshold does not flap
alerts on every reading.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum
from typing import Iterable

from twin.device_twin import DeviceStatus
from twin.network import days_of_cover

# Below this, replenishment (typical lead time >= 2 days) cannot arrive in time.
CRITICAL_COVER_DAYS = 2.0
# Below this, a one-week disruption upstream would cause a stock-out.
DEGRADED_COVER_DAYS = 7.0
# Prevents alert flapping when cover oscillates around a threshold.
COVER_HYSTERESIS_DAYS = 0.5
# Share of stale devices that makes the node's picture unreliable.
STALE_SHARE_DEGRADED = 0.5


class HealthLevel(str, Enum):
    ok = "ok"
    degraded = "degraded"
    critical = "critical"


_RANK = {HealthLevel.ok: 0, HealthLevel.degraded: 1, HealthLevel.critical: 2}


def health_rank(level: HealthLevel | str) -> int:
    """0 ok, 1 degraded, 2 critical: for comparing and sorting nodes by how bad they are."""
    return _RANK[HealthLevel(level)]


@dataclass(frozen=True, slots=True)
class NodeHealth:
    node_id: str
    level: HealthLevel
    reasons: tuple[str, ...]
    days_of_cover: float | None
    devices_online: int
    devices_stale: int
    devices_offline: int


def _cover_level(cover: float | None, previous: HealthLevel | None) -> HealthLevel:
    if cover is None:
        return HealthLevel.ok
    # While already at a level, require a margin to leave it (hysteresis).
    crit = CRITICAL_COVER_DAYS + (COVER_HYSTERESIS_DAYS if previous is HealthLevel.critical else 0.0)
    leaving_degraded = previous in (HealthLevel.critical, HealthLevel.degraded)
    degr = DEGRADED_COVER_DAYS + (COVER_HYSTERESIS_DAYS if leaving_degraded else 0.0)
    if cover < crit:
        return HealthLevel.critical
    if cover < degr:
        return HealthLevel.degraded
    return HealthLevel.ok


def assess_node(
    node_id: str,
    inventory: float,
    daily_demand: float,
    device_statuses: Iterable[DeviceStatus],
    previous: HealthLevel | None = None,
) -> tuple[NodeHealth, bool]:
    """Derive the node's health; returns (health, transitioned).

    ``inventory`` should be the latest reported inventory when an inventory
    device exists, else the planned value from the network file.
    ``transitioned`` is True when the level differs from ``previous`` (a first
    assessment with ``previous=None`` counts as a transition only if not ok).
    """
    statuses = list(device_statuses)
    online = sum(s is DeviceStatus.online for s in statuses)
    stale = sum(s is DeviceStatus.stale for s in statuses)
    offline = len(statuses) - online - stale
    cover = days_of_cover(inventory, daily_demand)

    reasons: list[str] = []
    level = _cover_level(cover, previous)
    if level is not HealthLevel.ok:
        reasons.append(f"{level.value}: {cover:.1f} days of cover")
    if statuses and offline == len(statuses):
        level = HealthLevel.critical
        reasons.append(f"critical: all {offline} devices offline")
    elif offline or (statuses and stale / len(statuses) >= STALE_SHARE_DEGRADED):
        if _RANK[level] < _RANK[HealthLevel.degraded]:
            level = HealthLevel.degraded
        reasons.append(f"degraded: {offline} offline, {stale} stale of {len(statuses)} devices")

    health = NodeHealth(node_id, level, tuple(reasons), cover, online, stale, offline)
    baseline = HealthLevel.ok if previous is None else previous
    return health, level is not baseline
