"""The previous default detector (until 2026-12-04), kept so `bench nab` can measure the new one against it.

It was tuned on the 7 NAB sample series and did not generalise: 35.7 on the whole NAB corpus (NAB's scorer),
where the sample suggested ~74. `twin.detectors.sequence` replaced it (docs/detection.md).

WHY this composition: the seasonal baseline catches magnitude events (spikes, drops, level shifts, a value
wrong for the hour) at once; the context-novelty detector, calibrated by the anomaly likelihood, catches
shape changes made of ordinary values (flat lines, new oscillations, missing peaks). Both outputs are log-scaled
tail probabilities, so they are pooled with Fisher's method (the combined tail probability of the product of
the two): agreement of both views is strong evidence, a single overwhelming view (a 10-sigma level shift) still
scores high, and a moderate blip in only one view stays moderate. The repeat-alarm filter then turns an incident
into one alarm.

On the 7 NAB sample series this scored ~74 (approximate NAB standard profile; best threshold ~0.85, though
near-equivalent settings put it anywhere in 0.6-0.85) against ~43 for a rolling z-score. The parameters sit in
a plateau - halving or doubling the level time constant, the suppression window, the slot count or the scale
rate moves that score by a few points, not tens - except the context granularity (`levels`, `max_order`),
where finer contexts made everything novel and cost ~15-20 points.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from twin.detectors.base import fisher_pool, log_tail_score
from twin.detectors.baseline import SeasonalBaseline
from twin.detectors.contextual import ContextNovelty
from twin.detectors.likelihood import AnomalyLikelihood
from twin.detectors.suppression import NewMaxFilter

__all__ = ["CompositeConfig", "CompositeDetector"]


@dataclass(frozen=True)
class CompositeConfig:
    """Tunables of `CompositeDetector`; defaults measured on NAB samples (see module docstring)."""

    # Level time constant (s): shorter let the level absorb the daily cycle; longer kept a real level shift
    # surprising for days after it was reported.
    level_tau_s: float = 86400.0
    # Robust scale tracking rate: faster let a slowly growing anomaly (a flat line) inflate the scale and hide
    # itself; slower took too long to learn a series' noise level after start-up.
    scale_rate: float = 0.005
    # Daily-profile learning rate: faster learned the anomaly into the profile; slower never learned the cycle.
    profile_gamma: float = 0.05
    # Time-of-day slots: 30-minute resolution; finer slots see too few readings per slot on hourly metrics.
    slots: int = 48
    # Quantisation levels for contexts: more made every noisy reading novel, fewer hid flat lines.
    levels: int = 8
    # Longest context (readings): longer contexts are nearly always novel on noisy series.
    max_order: int = 4
    # Readings used to fix the quantisation scale before context learning starts.
    context_warmup: int = 150
    # Cap on remembered contexts: bounds memory (~100 bytes each) on endless series; 1_000 cost ~18 NAB points
    # on the samples (forgotten contexts read as novel), 3_000 ~8; the largest sample series needs ~7_000.
    context_capacity: int = 10_000
    # Readings before the likelihood reports anything: avoids start-up false alarms.
    likelihood_learning: int = 300
    # EW time constant (readings) of the raw-score distribution: shorter made a noisy stretch look normal too
    # soon; longer kept an old regime's statistics for weeks (both lost a few NAB points).
    likelihood_memory: int = 2000
    # Readings over which a repeated high score counts as the same incident (one alarm per incident).
    suppress_window: int = 200


class CompositeDetector:
    """Seasonal baseline + context novelty (with anomaly likelihood) + repeat-alarm suppression.

    `update(timestamp_s, value)` returns a score in [0, 1]: the log-scaled tail probability of the pooled
    evidence (0.5 ~ one in 100k, 0.7 ~ one in 10 million; 0.7-0.85 is a sensible alerting threshold).
    Non-finite values are ignored (score 0, state untouched) so one corrupt reading cannot poison the model.
    """

    __slots__ = ("_baseline", "_context", "_likelihood", "_filter")

    def __init__(self, config: CompositeConfig | None = None) -> None:
        c = config or CompositeConfig()
        self._baseline = SeasonalBaseline(
            slots=c.slots, level_tau_s=c.level_tau_s, gamma=c.profile_gamma, scale_rate=c.scale_rate
        )
        self._context = ContextNovelty(
            levels=c.levels, max_order=c.max_order, warmup=c.context_warmup, capacity=c.context_capacity
        )
        self._likelihood = AnomalyLikelihood(memory=c.likelihood_memory, learning=c.likelihood_learning)
        self._filter = NewMaxFilter(window=c.suppress_window)

    def update(self, timestamp_s: float, value: float) -> float:
        """Score one reading (causal: uses only this and earlier readings)."""
        if not (math.isfinite(value) and math.isfinite(timestamp_s)):
            return 0.0
        magnitude = log_tail_score(1.0 - self._baseline.update(timestamp_s, value))
        shape = self._likelihood.update(self._context.update(timestamp_s, value))
        return self._filter.update(fisher_pool(magnitude, shape))
