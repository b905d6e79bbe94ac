"""Request, result, feedback and priors models of the decision pipeline.

Why pydantic with ``extra="forbid"``: requests arrive from Kafka as JSON written
by other teams; a misspelt field must be rejected with a clear reason instead of
silently falling back to a default (a "trails": 10 typo would otherwise run the
default trial count and look like a valid answer).
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

# Bounds of a request. Each prevents a specific failure:
# more than a year of outage/horizon is outside the priors' support and makes
# lognormal tails dominate every statistic;
MAX_DAYS = 365.0
# fewer than 1,000 trials leaves P99/CVaR95 estimated from <= 10/50 samples
# (intervals wider than the differences between strategies);
MIN_TRIALS = 1_000
# more than 2M trials x (1 + strategies) float64 arrays would not fit a worker's memory.
MAX_TRIALS = 2_000_000
# Objective names, in the order used by the Negotiation agent.
OBJECTIVES: tuple[str, ...] = ("expected_loss", "cost", "service_level", "co2", "tail_risk")

Status = Literal["ok", "invalid", "failed", "timeout"]
StageName = Literal["validate", "info", "scenario", "impact", "strategy", "negotiation"]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ObjectiveWeights(_Strict):
    """Weights of the five objectives; normalised to sum 1 on validation.

    Why normalise: stakeholder scores are compared with each other (maximin),
    so a stakeholder writing weights on a 0-100 scale must not outvote one on 0-1.
    """

    expected_loss: float = Field(0.4, ge=0)
    cost: float = Field(0.2, ge=0)
    service_level: float = Field(0.2, ge=0)
    co2: float = Field(0.1, ge=0)
    tail_risk: float = Field(0.1, ge=0)

    @model_validator(mode="after")
    def _normalise(self) -> "ObjectiveWeights":
        total = sum(getattr(self, k) for k in OBJECTIVES)
        if not total > 0:
            raise ValueError("objective weights must not all be zero")
        if abs(total - 1.0) > 1e-12:
            for k in OBJECTIVES:
                self.__dict__[k] = getattr(self, k) / total
        return self

    def as_tuple(self) -> tuple[float, ...]:
        return tuple(getattr(self, k) for k in OBJECTIVES)


class Trigger(_Strict):
    """What started the assessment: an operator, or an alert from the detectors."""

    kind: Literal["manual", "alert"] = "manual"
    alert_id: str | None = None

    @model_validator(mode="after")
    def _alert_needs_id(self) -> "Trigger":
        if self.kind == "alert" and not self.alert_id:
            raise ValueError("trigger kind 'alert' needs an alert_id")
        return self


class ScenarioRequest(_Strict):
    """One what-if question: these nodes/lanes go down for about ``duration_days``."""

    request_id: str = Field(min_length=1, max_length=128)
    nodes: list[str] = Field(default_factory=list, description="Affected node ids")
    lanes: list[str] = Field(default_factory=list, description="Affected lane ids")
    duration_days: float = Field(gt=0, le=MAX_DAYS, description="Operator's estimate (median) of the outage")
    start_day: float = Field(0.0, ge=0, le=MAX_DAYS, description="Outage start, days from now")
    horizon_days: float = Field(90.0, gt=0, le=MAX_DAYS)
    trials: int = Field(10_000, ge=MIN_TRIALS, le=MAX_TRIALS,
                        description="Trial cap (adaptive stopping may use fewer)")
    rel_tol: float = Field(0.02, ge=0, le=1,
                           description="Stop when mean-loss CI half-width <= rel_tol x mean; 0 = run all trials")
    weights: ObjectiveWeights = Field(default_factory=ObjectiveWeights)
    stakeholders: dict[str, ObjectiveWeights] = Field(default_factory=dict, description="Named weight sets to reconcile")
    seed: int = Field(0, ge=0, lt=2**63)
    trigger: Trigger = Field(default_factory=Trigger)

    @model_validator(mode="after")
    def _something_fails(self) -> "ScenarioRequest":
        if not self.nodes and not self.lanes:
            raise ValueError("request names no affected node or lane")
        return self

    @field_validator("nodes", "lanes")
    @classmethod
    def _unique(cls, v: list[str]) -> list[str]:
        return list(dict.fromkeys(v))


class Estimate(_Strict):
    value: float
    lo: float
    hi: float

    @property
    def half_width(self) -> float:
        return (self.hi - self.lo) / 2.0


class Distribution(_Strict):
    """Mean, quantiles and CVaR95 of a per-trial metric, each with a 95 % interval."""

    n: int
    mean: Estimate
    p50: Estimate
    p90: Estimate
    p99: Estimate
    cvar95: Estimate


class ImpactSummary(_Strict):
    n_trials: int
    converged: bool
    lost_revenue: Distribution
    fill_rate: Distribution
    time_to_recover_days: Distribution
    stockout_days_per_customer: dict[str, float] = Field(description="Mean stock-out days, customers hit only")
    customers_hit: int


class StrategyOutcome(_Strict):
    """One evaluated mitigation, with the objective values the negotiation used."""

    name: str
    kind: str
    description: str
    cost_usd: float
    co2_t: float
    time_to_effect_days: float
    expected_loss: float
    loss_reduction: Estimate = Field(description="Paired (common random numbers) mean loss reduction vs doing nothing")
    expected_loss_ci: Estimate | None = Field(
        None, description="This option's mean loss with its own interval: wider than loss_reduction's, which is "
                          "why options are compared on the paired difference")
    p99_loss: float
    cvar95_loss: float
    fill_rate: float
    pareto: bool = False
    score: float = 0.0
    stakeholder_scores: dict[str, float] = Field(default_factory=dict)
    explanation: str = ""


class ScenarioResult(_Strict):
    request_id: str
    status: Status
    reason: str = ""
    failed_stage: str | None = None
    stage_durations_s: dict[str, float] = Field(default_factory=dict)
    impact: ImpactSummary | None = None
    baseline: StrategyOutcome | None = None
    strategies: list[StrategyOutcome] = Field(default_factory=list, description="Top 3, best first")
    pareto_front: list[str] = Field(default_factory=list)
    candidates_evaluated: int = 0
    negotiation_method: str = ""
    priors_version: int | None = None


class Feedback(_Strict):
    """What actually happened after a decision, from the operator."""

    request_id: str = Field(min_length=1, max_length=128)
    strategy: str | None = Field(None, description="Strategy the operator chose")
    nodes: list[str] = Field(default_factory=list, description="Elements that were (or were feared to be) disrupted")
    lanes: list[str] = Field(default_factory=list)
    occurred: bool = Field(True, description="False: the feared outage did not happen")
    estimated_duration_days: float | None = Field(None, gt=0, le=MAX_DAYS, description="The request's estimate")
    actual_duration_days: float | None = Field(None, gt=0, le=MAX_DAYS)
    actual_loss: float | None = Field(None, ge=0)

    @model_validator(mode="after")
    def _consistent(self) -> "Feedback":
        if not self.nodes and not self.lanes:
            raise ValueError("feedback names no node or lane")
        if self.occurred and self.actual_duration_days is None:
            raise ValueError("an outage that occurred needs actual_duration_days")
        return self


class Prior(_Strict):
    """Beliefs for one (element kind, region) key.

    * outage probability per horizon ~ Beta(alpha, beta);
    * log median duration mu ~ Normal(mu_mean, mu_var), observations
      log(d) ~ Normal(mu, sigma^2) with sigma known;
    * log overrun of the operator's estimate b = log(actual / estimated)
      ~ Normal(bias_mean, bias_var), observations with the same known sigma.
    """

    alpha: float = Field(gt=0)
    beta: float = Field(gt=0)
    mu_mean: float
    mu_var: float = Field(gt=0)
    sigma: float = Field(gt=0)
    bias_mean: float = 0.0
    bias_var: float = Field(0.25, gt=0)
    n_obs: int = 0

    @property
    def p(self) -> float:
        """Posterior mean outage probability."""
        return self.alpha / (self.alpha + self.beta)


class FeedbackRecord(_Strict):
    version: int
    feedback: Feedback
    keys: list[str]


class Priors(_Strict):
    """Versioned priors, JSON-serialisable (``model_dump_json``) for the lead's table."""

    version: int = 1
    entries: dict[str, Prior]
    history: list[FeedbackRecord] = Field(default_factory=list)
