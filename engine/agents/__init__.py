"""Agents of the decision pipeline, one module each (orchestrated by :mod:`engine.pipeline`).

info (twin snapshot) || scenario (disruption model from priors) -> impact
(Monte Carlo) -> strategy (candidates, common random numbers) -> negotiation
(Pareto + stakeholder compromise); learning updates the priors from feedback.
No faust or stream imports here: the Faust agents call in, never the reverse.
"""

from engine.agents.info import InfoError, Snapshot, StaticTwinView, TwinView, take_snapshot
from engine.agents.learning import LearningError, apply_feedback, default_priors
from engine.agents.scenario import ScenarioError, ScenarioSpec, build_scenario

__all__ = ["InfoError", "Snapshot", "StaticTwinView", "TwinView", "take_snapshot", "LearningError",
           "apply_feedback", "default_priors", "ScenarioError", "ScenarioSpec", "build_scenario"]
