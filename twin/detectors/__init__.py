"""Streaming anomaly detectors for OmniTrack metrics: causal, bounded-memory, pure domain code (no I/O).

WHY one package: the Faust worker and the offline replay (`omnitrack detect`) import the same detectors, so a
score seen in production can be reproduced exactly from a CSV. docs/detection.md explains the design.
"""

from twin.detectors.bank import DetectorBank, default_detector
from twin.detectors.base import Detector
from twin.detectors.composite import CompositeConfig, CompositeDetector
from twin.detectors.gaussian import WindowedGaussian
from twin.detectors.profile import DEFAULT_DETECTION, DetectorKind, MetricDetection, make_detector, resolve_detection
from twin.detectors.rules import InventoryCoverRule, RangeRule, RuleResult, cold_chain_rule
from twin.detectors.sequence import SequenceSurprise

__all__ = [
    "DEFAULT_DETECTION",
    "CompositeConfig",
    "CompositeDetector",
    "Detector",
    "DetectorBank",
    "DetectorKind",
    "InventoryCoverRule",
    "MetricDetection",
    "RangeRule",
    "RuleResult",
    "SequenceSurprise",
    "WindowedGaussian",
    "cold_chain_rule",
    "default_detector",
    "make_detector",
    "resolve_detection",
]
