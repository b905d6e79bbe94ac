"""Threshold rules with units fire exactly outside their range and report the breach size in the rule's unit."""

import math

import pytest

from twin.detectors.rules import InventoryCoverRule, RangeRule, cold_chain_rule, convert


@pytest.mark.parametrize(
    ("value", "firing", "deviation"),
    [(1.99, True, 0.01), (2.0, False, 0.0), (5.0, False, 0.0), (8.0, False, 0.0), (8.5, True, 0.5), (-3.0, True, 5.0)],
)
def test_cold_chain_fires_exactly_outside_2_to_8_degc(value: float, firing: bool, deviation: float) -> None:
    r = cold_chain_rule().evaluate(value)
    assert r.firing is firing
    assert r.deviation == pytest.approx(deviation)
    assert r.unit == "degC"


def test_reading_in_another_unit_is_converted_before_checking() -> None:
    rule = cold_chain_rule()
    assert not rule.evaluate(46.4, "degF").firing  # exactly 8 degC
    hot = rule.evaluate(50.0, "degF")  # 10 degC
    assert hot.firing and hot.deviation == pytest.approx(2.0)
    assert rule.evaluate(274.15, "K").firing  # 1 degC
    assert not rule.evaluate(278.15, "K").firing  # 5 degC


def test_unit_errors_are_refused() -> None:
    with pytest.raises(ValueError):
        cold_chain_rule().evaluate(5.0, "h")  # time is not a temperature
    with pytest.raises(ValueError):
        RangeRule("x", "furlongs", 0, 1)
    with pytest.raises(ValueError):
        RangeRule("x", "degC", 8, 2)
    assert convert(1.0, "d", "h") == pytest.approx(24.0)


def test_one_sided_rule_and_nan_reading() -> None:
    rule = RangeRule("max_delay", "h", high=48.0)
    assert not rule.evaluate(-1e9).firing
    assert rule.evaluate(3.0, "d").firing  # 72 h
    assert rule.evaluate(math.nan).firing  # an unreadable sensor is not compliant


@pytest.mark.parametrize(
    ("on_hand", "demand", "firing", "deviation"),
    [(200.0, 100.0, True, 1.0), (300.0, 100.0, False, 0.0), (299.0, 100.0, True, 0.01), (0.0, 10.0, True, 3.0),
     (5.0, 0.0, False, 0.0)],
)
def test_inventory_cover_below_min_days(on_hand: float, demand: float, firing: bool, deviation: float) -> None:
    r = InventoryCoverRule("cover", min_days=3.0).evaluate(on_hand, demand)
    assert r.firing is firing
    assert r.deviation == pytest.approx(deviation)
    assert r.unit == "d"
