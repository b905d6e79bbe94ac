"""Evidence of unusual surprise: the raw surprise standardised against this series' usual one, accumulated.

WHY a module of its own: what is usual differs per series - a noisy series surprises its context models at most
readings, a clean cycle almost never - so the sequence detector's raw surprise means nothing until it is
compared with the series' own long-run mean and spread. The standardised excess is then accumulated in a CUSUM
(Page's sequential change test): one reading far beyond the usual alarms at once, a run of readings each a little
more surprising than usual (a drift, a small level shift, a changed rhythm) alarms once their evidence adds up.
This is where Numenta's anomaly likelihood took HTM from its raw score to 70 on NAB (docs/detection.md, item 4).
Pure arithmetic, O(1) a reading.
"""

from __future__ import annotations

import math

__all__ = ["EVIDENCE_ONE", "Evidence"]

# Time constant (readings) of the series' usual raw surprise, its EW mean and variance: long enough that an
# incident does not become the norm while it lasts, short enough to follow a series that changes character
# (8,000 and 20,000 scored alike on the synthetic corpus, 3,000 0.8 points lower; docs/detection-rounds.md has how).
_CAL_MEMORY = 8000
# Floors on that mean and variance: a perfectly predictable series would otherwise read its first blip as
# infinitely unusual (mean floors 0 and 0.03, variance floors 1e-4 to 1e-3 scored alike on the synthetic corpus).
_CAL_MEAN_FLOOR = 0.03
_CAL_VAR_FLOOR = 0.0003
# CUSUM slack, in standard deviations of the raw surprise: a reading adds evidence only for the part of its
# surprise beyond half a deviation above the usual (0.25 and 0.5 alike on the synthetic corpus, 1.0 4 points
# lower: it loses the runs of mildly surprising readings a drift or a small shift is made of).
_CUSUM_SLACK = 0.5
# Evidence (in deviations) that scores 1.0; the score is evidence / this. Measured on null series (white noise,
# AR(1), sparse counts, a noisy cycle; 24 x 10,000 readings each, the engine's limits), alarms at a score of
# 0.53 or more came at 4e-6 to 2e-5 per reading, records included: about the package's log-tail scale
# (0.5 ~ 1 in 10^5), so a threshold means the same for the CUSUM as for a broken record, and the engine's
# default alert threshold (0.75, 67 deviations) stays as rare as it was.
EVIDENCE_ONE = 90.0


class Evidence:
    """The series' usual raw surprise (EW mean and variance) and the CUSUM of its standardised excess."""

    __slots__ = ("_mean", "_var", "_cusum", "_quiet")
    # for words only (how long the evidence has been gathering): not saved with the detector's state
    _TRANSIENT = ("_quiet",)

    def __init__(self) -> None:
        self._mean = self._var = 0.0
        self._cusum = 0.0  # accumulated evidence of unusual surprise, in standard deviations
        self._quiet = -1  # the last reading with no evidence (-1: unknown)

    def add(self, raw: float, n: int) -> float:
        """Standardise the raw surprise (the `n`-th) against this series' usual one, accumulate the excess, and map
        the evidence into [0, 1]. Scoring before learning, so a reading cannot explain itself away."""
        mean = self._mean
        var = self._var
        z = (raw - (mean if mean > _CAL_MEAN_FLOOR else _CAL_MEAN_FLOOR)) / math.sqrt(
            var if var > _CAL_VAR_FLOOR else _CAL_VAR_FLOOR)
        # 1/n at first (a plain average of what was seen), then an EW average over _CAL_MEMORY readings
        rate = 1.0 / n if n < _CAL_MEMORY else 1.0 / _CAL_MEMORY
        d = raw - mean
        self._mean = mean + rate * d
        self._var = (1.0 - rate) * (var + rate * d * d)
        s = self._cusum + z - _CUSUM_SLACK
        if s < 0.0:
            s = 0.0
            self._quiet = n
        if s > EVIDENCE_ONE:  # bounded: beyond it the score is 1.0 anyway (and the rest's end restarts it)
            s = EVIDENCE_ONE
        self._cusum = s
        return s / EVIDENCE_ONE

    def restart(self, n: int) -> None:
        """Forget the evidence gathered (the `n`-th reading): what comes next must build its own."""
        self._cusum = 0.0
        self._quiet = n

    def age(self, n: int) -> int:
        """Readings the current evidence has been gathering at the `n`-th (0: none gathered, or not known)."""
        return n - self._quiet if self._quiet >= 0 and self._cusum > 0.0 else 0
