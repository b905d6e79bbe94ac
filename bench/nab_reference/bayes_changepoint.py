"""NAB's "Bayesian Changepoint" detector (scoreboard 17.7), as a batch reference.

What it does (Adams & MacKay, "Bayesian online changepoint detection", 2007, as NAB ports it): a distribution over
the current run length (readings since the last changepoint) is updated with each reading, the readings of a run
being modelled as Gaussian with a Normal-Gamma prior (Student-t predictive), and a changepoint expected every 250
readings. NAB keeps run lengths 0..501 only. Its score: the most probable run length m is compared with the
previous reading's m'; a drop scores 1 - m / m' (a long run that collapses scores near 1), anything else 0.

Reproduces numenta/NAB nab/detectors/bayes_changept/bayes_changept_detector.py at commit
ff474a1a58d15fe11c96c82ec507c129d2c1d17f (NAB master), with the Student-t density of the scipy NAB ran in 2016
(scipy 0.14-0.18 `t._pdf`: exp(gammaln((r+1)/2) - gammaln(r/2)) / (sqrt(r pi) (1 + z^2/r)^((r+1)/2)), r = 2 alpha);
scipy 1.x computes the same density through logpdf and poch, which differs in the last bits.
Quirks of NAB's code kept on purpose:
  * at each reading the probability of the longest tracked run (501) is dropped, not carried on (NAB's array has
    502 rows): on a long steady stretch the most probable run length reaches the cap after ~500 readings and the
    cap then makes it fall back now and then, which scores (NAB's results show these too);
  * a column whose probabilities all underflow or overflow (a jump of ~1e300) is normalised to NaN and stays
    NaN: from then on the most probable run length is 0 (numpy's argmax of NaNs) and nothing scores again.

Cost: NAB's Student-t parameter arrays grow by one entry per reading (a density is evaluated for every past
reading's run length), so its per-reading cost grows with the series: on the 22,695 readings of
machine_temperature_system_failure it went from ~120 us/reading (first 500) to ~1,450 us/reading (last 500), 18 s
for the file. Only entries 0..500 are ever read (the densities of the tracked run lengths), and entry i + 1 after
a reading is computed from entry i alone, so keeping the first 501 entries gives the same numbers at a constant
~37 us/reading (0.83 s for that file; both timed on the 2-core VM under load). The hyperparameters alpha and kappa
of entry i do not depend on the data (i updates of the prior): they and every term of the density built from them
alone are computed once.

Exactness: verified against NAB's detector code (run in a throwaway venv with scipy 1.17.1 / numpy 2.4.6, once
with the 2016 `t._pdf` above and once with scipy 1.17's own) on the seven NAB series under /work/shared/data/nab,
full length, and on synthetic series (noise, a step, a spike, constant runs, a large offset; with the 2016
density also an alternating series and a 1e300 jump): identical scores, max |difference| 0.0 on every one. The
one bit-level difference inside: gammaln is Python's math.lgamma here, scipy's Cephes lgam in NAB (they differ by
up to 5e-13 on 363 of the 1002 arguments); no score moved. Against NAB's committed results
(results/bayesChangePt/..., written by Python 2 with 12 significant digits): every reading of
realTraffic/speed_7578 (15 non-zero scores), and the detection counts of bayesChangePt_standard_scores.csv on all
seven series at both thresholds NAB committed (0.98460, the run behind the published 17.7, and 0.99091, a later
re-scoring).
"""

from __future__ import annotations

import math

import numpy as np

__all__ = ["NAME", "PUBLISHED", "scores"]

NAME = "bayes_changepoint"
PUBLISHED = 17.7

# NAB's `self.maxRunLength`: run lengths 0..MAX_RUN + 1 are tracked (its array has MAX_RUN + 2 rows).
MAX_RUN = 500
# NAB's `constantHazard(n, lambdaConst=250)`: numpy.ones(n) / 250.0, the prior probability of a changepoint.
HAZARD = 1.0 / 250.0
# NAB's StudentTDistribution(alpha=0.1, beta=0.001, kappa=1.0, mu=0.0): the Normal-Gamma prior.
ALPHA0, BETA0, KAPPA0, MU0 = 0.1, 0.001, 1.0, 0.0
# Entries of the parameter arrays that are ever read: the predictive densities of run lengths 0..MAX_RUN.
_KEPT = MAX_RUN + 1


def _ladders() -> dict[str, np.ndarray]:
    """The data-independent terms of entry i (i = 0.._KEPT-1), computed with NAB's and scipy's float steps."""
    alpha = np.empty(_KEPT)
    kappa = np.empty(_KEPT)
    alpha[0], kappa[0] = ALPHA0, KAPPA0
    for i in range(1, _KEPT):  # NAB's updateTheta: alpha + 0.5, kappa + 1., one reading at a time
        alpha[i] = alpha[i - 1] + 0.5
        kappa[i] = kappa[i - 1] + 1.0
    r = (2 * alpha) * 1.0  # scipy: r = asarray(df * 1.0), df = 2 * alpha
    lg = np.array([math.lgamma(v) for v in (r + 1) / 2]) - np.array([math.lgamma(v) for v in r / 2])
    return {
        "kappa": kappa,
        "kappa1": kappa + 1,  # (kappa + 1): NAB's mu update and its scale
        "alpha_kappa": alpha * kappa,  # the scale's denominator
        "r": r,
        "gamma_ratio": np.exp(lg),  # exp(gammaln((r+1)/2) - gammaln(r/2))
        "sqrt_r_pi": np.sqrt(r * np.pi),
        "power": (r + 1) / 2,
        "beta_den": 2.0 * (kappa + 1.0),  # NAB's beta update: 2. * (kappa + 1.)
    }


_L = _ladders()


def _predictive(x: float, mu: np.ndarray, beta: np.ndarray) -> np.ndarray:
    """scipy.stats.t.pdf(x, df=2 alpha, loc=mu, scale=sqrt(beta (kappa+1) / (alpha kappa))) for the first len(mu)."""
    n = len(mu)
    scale = np.sqrt((beta * _L["kappa1"][:n]) / _L["alpha_kappa"][:n])
    z = (x - mu) / scale
    px = _L["gamma_ratio"][:n] / (_L["sqrt_r_pi"][:n] * (1 + (z ** 2) / _L["r"][:n]) ** _L["power"][:n])
    return px / scale


def _step(probs: np.ndarray, mu: np.ndarray, beta: np.ndarray,
          x: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """One reading of NAB's handleRecord: the new run-length distribution, then updateTheta's mu and beta."""
    n = len(mu)  # min(t + 1, _KEPT): NAB's runLengthIndex + 1
    joint = probs[:n] * _predictive(x, mu, beta)
    nxt = np.zeros(MAX_RUN + 2)
    nxt[1:n + 1] = joint * (1 - HAZARD)  # the run goes on
    nxt[0] = np.sum(joint * HAZARD)  # a changepoint: back to run length 0
    # updateTheta: entry i + 1 from entry i, the prior back at entry 0; entries past _KEPT are never read.
    m = min(n, _KEPT - 1)
    kappa = _L["kappa"][:m]
    new_mu = np.empty(m + 1)
    new_beta = np.empty(m + 1)
    new_mu[0], new_beta[0] = MU0, BETA0
    new_mu[1:] = (kappa * mu[:m] + x) / _L["kappa1"][:m]
    new_beta[1:] = beta[:m] + (kappa * (x - mu[:m]) ** 2) / _L["beta_den"][:m]
    return nxt / nxt.sum(), new_mu, new_beta


def scores(values: np.ndarray, timestamps: np.ndarray, input_min: float, input_max: float,
           probation: int) -> np.ndarray:
    """One score in [0, 1] per reading; `timestamps`, `input_min`, `input_max` and `probation` are unused."""
    xs = np.ascontiguousarray(values, dtype=np.float64).tolist()
    out = np.zeros(len(xs), dtype=np.float64)
    probs = np.zeros(MAX_RUN + 2)
    probs[0] = 1.0  # before reading 0 the run length is 0
    mu, beta = np.array([MU0]), np.array([BETA0])
    previous = 1  # NAB's previousMaxRun starts at 1
    with np.errstate(all="ignore"):  # overflow and 0/0 are NAB's behaviour here (see the quirks), not errors
        for t, x in enumerate(xs):
            probs, mu, beta = _step(probs, mu, beta, x)
            best = int(probs.argmax())
            if best < previous:
                out[t] = 1 - (float(best) / previous)
            previous = best
    return out
