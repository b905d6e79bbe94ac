"""Severity = size of the deviation, adjusted by what is at risk where it happens.

WHY both: 3 degC over the cold-chain limit in a warehouse feeding no one is a chore; the same at the hub
that feeds forty hospitals is an incident. The deviation sets a level; the site's business risk moves it by
at most one level, so a trivial deviation never pages as critical and a severe one is never buried as info.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING

from twin.alerts.models import SEVERITIES, Severity, severity_rank

if TYPE_CHECKING:  # only for the type of from_network's argument
    from twin.network import SupplyNetwork

__all__ = ["RiskContext", "risk_table", "level_for_deviation", "risk_adjustment", "severity_for"]

# Criticality (1-5, from the network file) at which a site's alerts go up one level: prevents a breach at a
# single-source or hub site being triaged behind routine ones.
HIGH_CRITICALITY = 4
# Criticality at or below which (with little revenue and no customers downstream) alerts go down one level:
# prevents on-call fatigue from sites whose failure hurts no one soon.
LOW_CRITICALITY = 2
# Daily revenue at risk (currency units) that makes a site high-risk: a day of outage costs more than the
# response does.
HIGH_REVENUE_PER_DAY = 100_000.0
# Downstream customers that make a site high-risk: a wide blast radius needs an early response.
MANY_CUSTOMERS = 5
# Deviation, in rule steps, at which the level reaches major / critical (see `level_for_deviation`).
MAJOR_AT_STEPS = 1.0
CRITICAL_AT_STEPS = 2.0


@dataclass(frozen=True, slots=True)
class RiskContext:
    """What is at risk at the alert's site; the caller fills it from the network (`from_network`)."""

    criticality: int = 3
    daily_revenue_at_risk: float = 0.0
    downstream_customers: int = 0

    def __post_init__(self) -> None:
        if not 1 <= self.criticality <= 5:
            raise ValueError("criticality must be 1..5")
        if not (self.daily_revenue_at_risk >= 0 and math.isfinite(self.daily_revenue_at_risk)):
            raise ValueError("daily_revenue_at_risk must be finite and >= 0")
        if self.downstream_customers < 0:
            raise ValueError("downstream_customers must be >= 0")

    @classmethod
    def from_network(cls, network: SupplyNetwork, site_id: str) -> "RiskContext":
        """Risk of a node, or of a lane's destination node (what a shipment on that lane feeds)."""
        node_id = site_id
        if site_id not in network.node_by_id:
            node_id = network.lane_by_id[site_id].dst
        node = network.node_by_id[node_id]
        return cls(
            criticality=node.criticality,
            daily_revenue_at_risk=network.revenue_at_risk(node_id),
            downstream_customers=len(network.downstream_customers(node_id)),
        )


def risk_table(network: SupplyNetwork) -> dict[str, RiskContext]:
    """`RiskContext` of every node and lane, computed once when the network loads.

    WHY precompute: `from_network` walks the graph (downstream customers, revenue); doing that per evaluation
    would cost more than the whole alert state machine.
    """
    table = {n.id: RiskContext.from_network(network, n.id) for n in network.nodes}
    table.update({lane.id: table[lane.dst] for lane in network.lanes})
    return table


def level_for_deviation(deviation: float, step: float) -> Severity:
    """Warning just outside a limit, major `MAJOR_AT_STEPS` steps beyond it, critical at `CRITICAL_AT_STEPS`.

    NaN/inf (a broken sensor reads as an infinite breach) is critical: unknown must not look mild.
    """
    if step <= 0:
        raise ValueError("step must be > 0")
    ratio = deviation / step
    if not ratio < CRITICAL_AT_STEPS:  # also NaN
        return Severity.critical
    if ratio >= MAJOR_AT_STEPS:
        return Severity.major
    return Severity.warning


def risk_adjustment(risk: RiskContext) -> int:
    """+1 for a high-risk site, -1 for a low-risk one, else 0 (never more than one level either way)."""
    if (
        risk.criticality >= HIGH_CRITICALITY
        or risk.daily_revenue_at_risk >= HIGH_REVENUE_PER_DAY
        or risk.downstream_customers >= MANY_CUSTOMERS
    ):
        return 1
    if (
        risk.criticality <= LOW_CRITICALITY
        and risk.daily_revenue_at_risk < HIGH_REVENUE_PER_DAY / 10
        and risk.downstream_customers == 0
    ):
        return -1
    return 0


def severity_for(level: Severity, risk: RiskContext | None) -> Severity:
    """The alert severity for a deviation `level` at a site with `risk` (None = neutral)."""
    if risk is None:
        return level
    rank = min(max(severity_rank(level) + risk_adjustment(risk), 0), len(SEVERITIES) - 1)
    return SEVERITIES[rank]
