"""Per-metric detection settings: which detector watches a metric, and how sensitive its alert is.

WHY: one reefer's temperature is steady and a conveyor's throughput is bursty; an operator must be able to
switch the statistical detector off for a metric, or make it more or less eager, in the network/device profile
- without code, and without configuring anything when the defaults suit. The settings are pydantic models
because they arrive in the network file (an edge of the system) and a typo must fail at load.
"""

from __future__ import annotations

from enum import Enum

from pydantic import BaseModel, ConfigDict, Field

from twin.detectors.base import Detector, log_tail_score
from twin.detectors.gaussian import WindowedGaussian
from twin.detectors.sequence import SequenceSurprise

__all__ = ["DetectorKind", "MetricDetection", "DEFAULT_DETECTION", "make_detector", "resolve_detection"]


class DetectorKind(str, Enum):
    """The detectors a metric can use: `sequence` (default), `gaussian` (windowed z-score), or `off`."""

    sequence = "sequence"
    gaussian = "gaussian"
    off = "off"


class MetricDetection(BaseModel):
    """How one metric is watched. `sensitivity` in [0, 1]: 0.5 is the default alert threshold (score 0.75),
    1 alerts on any surprise (threshold 0.5), 0 only on the strongest (threshold 1.0)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    detector: DetectorKind = DetectorKind.sequence
    sensitivity: float = Field(0.5, ge=0.0, le=1.0)
    time_of_day: bool = True
    """Whether the sequence detector also asks if a level is usual at this hour (twin/detectors/phase.py) and if an
    hour's mean is like the same hour on other days (twin/detectors/same_hour.py). Off for a metric on local time
    whose cycle switches in steps (business hours): daylight saving moves those steps into hours that never had them,
    about one more alarm at each change offline (docs/detection-rounds.md, ninth round), an alert where the
    sensitivity is high; the day after a change its step hours are also unlike the same hours before."""

    @property
    def threshold(self) -> float:
        """The score at or above which the metric's anomaly alert fires."""
        return 1.0 - 0.5 * self.sensitivity


DEFAULT_DETECTION = MetricDetection()
"""What a metric gets when neither the device nor the network says otherwise."""


def resolve_detection(metric: str, device: dict[str, MetricDetection] | None,
                      network: dict[str, MetricDetection] | None) -> MetricDetection:
    """The device's setting for `metric`, else the network's, else the default."""
    for table in (device, network):
        if table and metric in table:
            return table[metric]
    return DEFAULT_DETECTION


GAUSSIAN_WARMUP = 30
"""Readings the window holds before the engine's windowed Gaussian scores one (as the sequence detector's warm-up).
WHY: a window of one or two readings has no spread (its deviation is floored at 1e-6), so the second reading of
every series a network file gave this detector alerted, at 150 million standard deviations (found on 2026-12-06
when the alerts began to say how far a reading lay)."""


class GaussianRarity:
    """The windowed Gaussian's tail probability on the log scale every alert threshold uses (0.5 ~ 1 in 100k,
    1 ~ 1 in 10^10): its own score is 0.84 at one sigma, which would cross any threshold on ordinary noise."""

    __slots__ = ("_inner", "_mean", "_std")

    def __init__(self) -> None:
        self._inner = WindowedGaussian()
        self._mean = 0.0
        self._std = 1.0
        """The window's mean and deviation the latest reading was compared with: for `describe`."""

    def update(self, timestamp_s: float, value: float) -> float:
        inner = self._inner
        self._mean, self._std = inner.mean, inner.std
        young = len(inner) < GAUSSIAN_WARMUP
        score = inner.update(timestamp_s, value)
        return log_tail_score(1.0 - score) if score > 0.0 and not young else 0.0

    def describe(self, value: float) -> str:
        """`value`, the latest reading, in words for an alert: how far it lay from the recent window's mean."""
        z = (value - self._mean) / self._std
        return (f"{value:g}, {abs(z):.1f} standard deviations {'above' if z >= 0 else 'below'} the recent mean "
                f"({self._mean:.4g} ± {self._std:.2g})")


def make_detector(settings: MetricDetection, **limits: int) -> Detector | None:
    """A fresh detector for `settings` (None when detection is off). `limits` (`capacity`, `memory`) bound the
    sequence detector's memory per series; its defaults suit offline replay."""
    if settings.detector is DetectorKind.off:
        return None
    if settings.detector is DetectorKind.gaussian:
        return GaussianRarity()
    # The detector's rest period starts at the alert threshold, so one incident raises one alert whatever the
    # sensitivity (a rest threshold above the alert threshold let a long episode alert again and again). Within
    # the rest only a score twice the first (reachable where the threshold is below 0.5), or 0.25 above it, fires
    # again; while the first alert is still active the alert lifecycle takes that as its update, not a new alert.
    return SequenceSurprise(rest_threshold=settings.threshold, time_of_day=settings.time_of_day, **limits)
