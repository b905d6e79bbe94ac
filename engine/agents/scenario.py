"""Scenario agent: the trigger -> a disruption model drawn from the current priors.

Two parts, both from :class:`~engine.models.Priors` (maintained by Learning):

* *forced* outages: the requested nodes/lanes fail in every trial from
  ``start_day``; the duration is lognormal with median
  ``duration_days * exp(bias_mean)`` (the operator's estimate corrected by the
  learned overrun of such estimates) and log-sd ``sqrt(bias_var + sigma^2)``
  (the posterior predictive of the overrun);
* *background* risk: every other node/lane may fail with the posterior mean
  probability ``alpha / (alpha + beta)`` of its (kind, region) key, for a
  lognormal duration with log-median ``mu_mean`` and log-sd
  ``sqrt(sigma^2 + mu_var)`` (posterior predictive of log duration).

The spec is keyed by element id, not kernel index, so it does not depend on
how the Impact agent lays the network out.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from twin.network import SupplyNetwork

from engine.agents.learning import lane_key, node_key, prior_for
from engine.models import Priors, ScenarioRequest


class ScenarioError(ValueError):
    """The request cannot be turned into a disruption model."""


@dataclass(frozen=True)
class Forced:
    kind: str              # "node" or "lane"
    id: str
    median_days: float
    sigma: float
    start_day: float


@dataclass(frozen=True)
class ScenarioSpec:
    """Per-element background risk plus the forced outages, and the priors version used."""

    node_risk: dict[str, tuple[float, float, float]]   # id -> (p, mu, sigma)
    lane_risk: dict[str, tuple[float, float, float]]
    forced: tuple[Forced, ...]
    priors_version: int

    @property
    def expected_duration_days(self) -> float:
        """Longest forced median: the horizon over which mitigations must be paid for."""
        return max(f.median_days for f in self.forced)


def build_scenario(request: ScenarioRequest, network: SupplyNetwork, priors: Priors) -> ScenarioSpec:
    """Turn a validated request into a :class:`ScenarioSpec` using ``priors``."""
    node_risk: dict[str, tuple[float, float, float]] = {}
    for n in network.nodes:
        pr = prior_for(priors, node_key(network, n.id))
        node_risk[n.id] = (pr.p, pr.mu_mean, math.sqrt(pr.sigma ** 2 + pr.mu_var))
    lane_risk: dict[str, tuple[float, float, float]] = {}
    for ln in network.lanes:
        pr = prior_for(priors, lane_key(network, ln.id))
        lane_risk[ln.id] = (pr.p, pr.mu_mean, math.sqrt(pr.sigma ** 2 + pr.mu_var))
    forced: list[Forced] = []
    for kind, ids, key in (("node", request.nodes, node_key), ("lane", request.lanes, lane_key)):
        for i in ids:
            try:
                pr = prior_for(priors, key(network, i))
            except KeyError as exc:
                raise ScenarioError(f"unknown {kind} {i!r}") from exc
            forced.append(Forced(kind, i, request.duration_days * math.exp(pr.bias_mean),
                                 math.sqrt(pr.bias_var + pr.sigma ** 2), request.start_day))
    return ScenarioSpec(node_risk, lane_risk, tuple(forced), priors.version)
