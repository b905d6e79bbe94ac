"""Static threshold rules with units: the business limits that hold whatever the statistics say.

WHY: some limits are contractual or regulatory (a vaccine shipment must stay within 2-8 degC; a site must hold
at least N days of inventory cover). Those must fire exactly when breached - no learning period, no
calibration - and report by how much, in the rule's own unit, so the alert is actionable. Readings in another
unit of the same dimension are converted first, so a degF sensor can be checked against a degC rule.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

__all__ = ["RuleResult", "RangeRule", "InventoryCoverRule", "convert", "cold_chain_rule"]

# Affine conversions to a base unit per dimension: (dimension, scale, offset) with base = value * scale + offset.
# Mixing units silently (a degF reading against a degC rule) would be a false alarm or a missed breach.
_UNITS: dict[str, tuple[str, float, float]] = {
    "degC": ("temperature", 1.0, 0.0),
    "degF": ("temperature", 5.0 / 9.0, -32.0 * 5.0 / 9.0),
    "K": ("temperature", 1.0, -273.15),
    "s": ("time", 1.0, 0.0),
    "min": ("time", 60.0, 0.0),
    "h": ("time", 3600.0, 0.0),
    "d": ("time", 86400.0, 0.0),
    "units": ("count", 1.0, 0.0),
}


def convert(value: float, from_unit: str, to_unit: str) -> float:
    """Convert `value` between two units of the same dimension; ValueError for unknown or mismatched units."""
    if from_unit == to_unit:
        return value
    try:
        dim_a, scale_a, off_a = _UNITS[from_unit]
        dim_b, scale_b, off_b = _UNITS[to_unit]
    except KeyError as exc:
        raise ValueError(f"unknown unit {exc.args[0]!r}") from None
    if dim_a != dim_b:
        raise ValueError(f"cannot convert {from_unit} ({dim_a}) to {to_unit} ({dim_b})")
    return ((value * scale_a + off_a) - off_b) / scale_b


@dataclass(frozen=True)
class RuleResult:
    """Outcome of one rule check: `deviation` is how far outside the allowed range, in `unit` (0 when inside)."""

    rule: str
    firing: bool
    deviation: float
    unit: str


@dataclass(frozen=True)
class RangeRule:
    """Fires when a reading is strictly outside [low, high] (either bound may be None = unbounded).

    Bounds are inclusive: a reading exactly on a limit is compliant, as in cold-chain specifications.
    """

    name: str
    unit: str
    low: float | None = None
    high: float | None = None

    def __post_init__(self) -> None:
        if self.unit not in _UNITS:
            raise ValueError(f"unknown unit {self.unit!r}")
        if self.low is not None and self.high is not None and self.low > self.high:
            raise ValueError("low must not exceed high")

    def evaluate(self, value: float, unit: str | None = None) -> RuleResult:
        """Check one reading given in `unit` (default: the rule's unit). NaN is treated as a breach."""
        v = convert(value, unit, self.unit) if unit is not None else value
        if math.isnan(v):
            return RuleResult(self.name, True, math.inf, self.unit)
        if self.low is not None and v < self.low:
            return RuleResult(self.name, True, self.low - v, self.unit)
        if self.high is not None and v > self.high:
            return RuleResult(self.name, True, v - self.high, self.unit)
        return RuleResult(self.name, False, 0.0, self.unit)


def cold_chain_rule(name: str = "cold_chain") -> RangeRule:
    """The standard 2-8 degC refrigerated pharmaceutical range."""
    return RangeRule(name=name, unit="degC", low=2.0, high=8.0)


@dataclass(frozen=True)
class InventoryCoverRule:
    """Fires when days of cover (on hand / daily demand) fall below `min_days`.

    WHY days of cover rather than units: the same stock level is plenty for a slow mover and a stock-out risk
    for a fast one; cover normalises by demand so one rule fits every SKU.
    """

    name: str
    min_days: float

    def __post_init__(self) -> None:
        if not self.min_days >= 0:
            raise ValueError("min_days must be >= 0")

    def evaluate(self, on_hand_units: float, daily_demand_units: float) -> RuleResult:
        """Check one stock position; zero or negative demand means infinite cover (never fires)."""
        if daily_demand_units <= 0.0:
            return RuleResult(self.name, False, 0.0, "d")
        cover = max(on_hand_units, 0.0) / daily_demand_units
        if cover < self.min_days:
            return RuleResult(self.name, True, self.min_days - cover, "d")
        return RuleResult(self.name, False, 0.0, "d")
