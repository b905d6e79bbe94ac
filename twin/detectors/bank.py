"""The detector every metric gets by default, and a bounded bank of detectors keyed by metric.

WHY a bank: the engine sees an open-ended set of metrics (sites x SKUs x sensors); one detector each, created
on first sight, with a cap so memory stays bounded.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable

from twin.detectors.base import Detector
from twin.detectors.sequence import SequenceSurprise

__all__ = ["DetectorBank", "default_detector"]


def default_detector() -> Detector:
    """The detector the engine and `omnitrack detect` both use for a metric."""
    return SequenceSurprise()


class DetectorBank:
    """One detector per metric key, created on first sight, least-recently-used evicted beyond `max_metrics`.

    WHY: the engine sees an open-ended set of metrics (sites x SKUs x sensors); the cap bounds memory, and a
    metric that went silent long enough to be evicted simply re-learns when it returns.
    """

    __slots__ = ("_factory", "_max", "_detectors")

    def __init__(self, factory: Callable[[], Detector] = default_detector, max_metrics: int = 100_000) -> None:
        if max_metrics < 1:
            raise ValueError("max_metrics >= 1 is required")
        self._factory = factory
        self._max = max_metrics
        self._detectors: OrderedDict[str, Detector] = OrderedDict()

    def update(self, metric: str, timestamp_s: float, value: float,
               factory: Callable[[], Detector] | None = None) -> float:
        """Score `value` for `metric` with that metric's own detector (made by `factory`, else the bank's, when
        the metric is new or was evicted)."""
        det = self._detectors.get(metric)
        if det is None:
            det = (factory or self._factory)()
            self._detectors[metric] = det
            if len(self._detectors) > self._max:
                self._detectors.popitem(last=False)
        else:
            self._detectors.move_to_end(metric)
        return det.update(timestamp_s, value)

    def peek(self, metric: str) -> Detector | None:
        """The metric's live detector, if any, without counting as a use (to save its state)."""
        return self._detectors.get(metric)

    def drop(self, metric: str) -> None:
        """Forget the metric's detector: the next reading makes a new one (e.g. resumed from fresher state)."""
        self._detectors.pop(metric, None)

    def __len__(self) -> int:
        return len(self._detectors)
