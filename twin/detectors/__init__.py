"""Streaming anomaly detectors for OmniTrack metrics: causal, bounded-memory, pure domain code (no I/O).

WHY one package: the Faust worker and the offline replay (`omnitrack detect`) import the same detectors, so a
score seen in production can be reproduced exactly from a CSV.
"""

from twin.detectors.base import Detector
from twin.detectors.composite import CompositeConfig, CompositeDetector, DetectorBank, default_detector
from twin.detectors.rules import InventoryCoverRule, RangeRule, RuleResult, cold_chain_rule

__all__ = [
    "CompositeConfig",
    "CompositeDetector",
    "Detector",
    "DetectorBank",
    "InventoryCoverRule",
    "RangeRule",
    "RuleResult",
    "cold_chain_rule",
    "default_detector",
]
