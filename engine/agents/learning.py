"""Learning agent: operator feedback -> updated priors, by conjugate Bayesian rules.

Why conjugate updates: the posterior is a closed form of a few numbers per
(kind, region) key, so the priors stay a small JSON document the lead can
keep in a table, version, and audit by hand (docs/decisions.md has the formulas).

Rules, per key touched by the feedback (each key updated once per feedback):

* outage probability p ~ Beta(alpha, beta): occurred -> alpha + 1, else beta + 1;
* log median duration mu ~ N(m, v), observation x = log(actual days) ~ N(mu, sigma^2)
  with sigma known: v' = 1 / (1/v + 1/sigma^2), m' = v' (m/v + x/sigma^2);
* log overrun of the operator's estimate b ~ N(m_b, v_b), observation
  r = log(actual / estimated): the same known-variance update.

All functions are pure: they return a new :class:`Priors` with ``version + 1``
and the feedback appended to ``history``.
"""

from __future__ import annotations

import math

from twin.network import SupplyNetwork

from engine.models import Feedback, FeedbackRecord, Prior, Priors

# Default outage probability per horizon by node kind: rare enough that the
# forced scenario dominates the result, frequent enough that background risk
# is not exactly zero (a zero prior could never be moved by one observation's
# worth of evidence in practice).
NODE_P: dict[str, float] = {"supplier": 0.01, "factory": 0.005, "port": 0.01, "warehouse": 0.003,
                            "distribution_centre": 0.003, "customer": 0.001}
# Default median outage duration (days) by node kind: a median near typical
# inventory cover, so cover sometimes absorbs and sometimes does not.
NODE_MEDIAN_DAYS: dict[str, float] = {"supplier": 14.0, "factory": 10.0, "port": 7.0, "warehouse": 5.0,
                                      "distribution_centre": 4.0, "customer": 3.0}
LANE_P: dict[str, float] = {"road": 0.002, "rail": 0.002, "sea": 0.004, "air": 0.001}
LANE_MEDIAN_DAYS: dict[str, float] = {"road": 2.0, "rail": 3.0, "sea": 7.0, "air": 2.0}
# Pseudo-observations behind the default p: 100 keeps one incident from
# multiplying p by 100 (it moves 0.005 to 0.015) yet lets a handful count.
PRIOR_STRENGTH = 100.0
# Known lognormal sigma of outage durations (0.8: the P90 is ~2.8x the median,
# typical of the reference model); used as the observation noise.
DURATION_SIGMA = 0.8
# Prior variance of mu and of the overrun b: sd 0.5 in log space, i.e. a
# prior median known to within a factor ~1.6, so 2-3 observations dominate it.
MU_PRIOR_VAR = 0.25
BIAS_PRIOR_VAR = 0.25


class LearningError(ValueError):
    """Feedback that cannot be applied (unknown element, inconsistent values)."""


def node_key(network: SupplyNetwork, node_id: str) -> str:
    n = network.node_by_id[node_id]
    return f"node:{n.kind.value}|{n.region}"


def lane_key(network: SupplyNetwork, lane_id: str) -> str:
    """Lanes are keyed by mode and the region they leave from (where the outage risk sits)."""
    ln = network.lane_by_id[lane_id]
    return f"lane:{ln.mode.value}|{network.node_by_id[ln.src].region}"


def default_prior(key: str) -> Prior:
    """The uninformed prior for a key, from the constants above."""
    what, rest = key.split(":", 1)
    kind = rest.split("|", 1)[0]
    p, median = (NODE_P[kind], NODE_MEDIAN_DAYS[kind]) if what == "node" else (LANE_P[kind], LANE_MEDIAN_DAYS[kind])
    return Prior(alpha=p * PRIOR_STRENGTH, beta=(1.0 - p) * PRIOR_STRENGTH, mu_mean=math.log(median),
                 mu_var=MU_PRIOR_VAR, sigma=DURATION_SIGMA, bias_mean=0.0, bias_var=BIAS_PRIOR_VAR)


def default_priors(network: SupplyNetwork) -> Priors:
    """Version-1 priors for every (kind, region) key present in the network."""
    keys = {node_key(network, n.id) for n in network.nodes} | {lane_key(network, ln.id) for ln in network.lanes}
    return Priors(version=1, entries={k: default_prior(k) for k in sorted(keys)})


def prior_for(priors: Priors, key: str) -> Prior:
    """The key's prior, or the default when the network gained a new (kind, region)."""
    return priors.entries.get(key) or default_prior(key)


def normal_update(mean: float, var: float, x: float, noise_var: float) -> tuple[float, float]:
    """Known-variance Normal update: precision adds, mean is precision-weighted."""
    post_var = 1.0 / (1.0 / var + 1.0 / noise_var)
    return post_var * (mean / var + x / noise_var), post_var


def update_prior(prior: Prior, fb: Feedback) -> Prior:
    """Apply one feedback to one key's prior (see module docstring)."""
    upd: dict[str, float | int] = {"n_obs": prior.n_obs + 1}
    if fb.occurred:
        upd["alpha"] = prior.alpha + 1.0
        x = math.log(fb.actual_duration_days)  # type: ignore[arg-type]  # validated: set when occurred
        upd["mu_mean"], upd["mu_var"] = normal_update(prior.mu_mean, prior.mu_var, x, prior.sigma ** 2)
        if fb.estimated_duration_days is not None:
            r = x - math.log(fb.estimated_duration_days)
            upd["bias_mean"], upd["bias_var"] = normal_update(prior.bias_mean, prior.bias_var, r, prior.sigma ** 2)
    else:
        upd["beta"] = prior.beta + 1.0
    return prior.model_copy(update=upd)


def feedback_keys(network: SupplyNetwork, fb: Feedback) -> list[str]:
    unknown = [i for i in fb.nodes if i not in network.node_by_id] + [i for i in fb.lanes if i not in network.lane_by_id]
    if unknown:
        raise LearningError(f"feedback names unknown elements: {unknown[:10]}")
    keys = {node_key(network, i) for i in fb.nodes} | {lane_key(network, i) for i in fb.lanes}
    return sorted(keys)


def apply_feedback(priors: Priors, fb: Feedback, network: SupplyNetwork) -> Priors:
    """New priors with the feedback applied once per touched key; version + 1, history kept."""
    keys = feedback_keys(network, fb)
    entries = dict(priors.entries)
    for k in keys:
        entries[k] = update_prior(prior_for(priors, k), fb)
    version = priors.version + 1
    return Priors(version=version, entries=entries,
                  history=[*priors.history, FeedbackRecord(version=version, feedback=fb, keys=keys)])
