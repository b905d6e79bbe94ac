"""Rule catalogue: limits with units, severity from deviation, conditions from twins."""

from __future__ import annotations

import math

import pytest

from twin.alerts import catalogue as cat
from twin.alerts.errors import UnitError
from twin.alerts.models import Severity, SubjectKind
from twin.device_twin import DeviceStatus
from twin.network import DEVICE_KIND_METRICS, Device, DeviceKind
from twin.node_twin import HealthLevel, NodeHealth

REEFER = Device(id="R1", kind=DeviceKind.reefer_temperature, node_id="W1", expected_interval_s=60)
TRUCK_SHOCK = Device(id="S1", kind=DeviceKind.shock, lane_id="L1", expected_interval_s=60)
VIB = Device(id="V1", kind=DeviceKind.vibration, node_id="F1", expected_interval_s=60)


def test_catalogue_covers_every_kind_and_only_its_metrics() -> None:
    assert set(cat.DEVICE_RULES) == set(DeviceKind)
    for kind, rules in cat.DEVICE_RULES.items():
        for r in rules:
            assert r.metric in DEVICE_KIND_METRICS[kind]


@pytest.mark.parametrize(
    ("value", "firing", "level"),
    [(2.0, False, None), (8.0, False, None), (5.0, False, None), (8.5, True, Severity.warning),
     (10.0, True, Severity.major), (1.0, True, Severity.warning), (-2.0, True, Severity.critical),
     (12.5, True, Severity.critical)],
)
def test_cold_chain_bounds_inclusive_and_levels(value: float, firing: bool, level: Severity | None) -> None:
    (c,) = cat.metric_conditions(REEFER, "temperature", value)
    assert c.firing is firing and c.rule == "cold_chain" and c.subject_id == "R1" and c.site_id == "W1"
    assert c.dedup_key == "device:R1:cold_chain"
    if level is not None:
        assert c.level is level and "outside" in c.detail


def test_cold_chain_converts_fahrenheit_and_telemetry_degree_sign() -> None:
    (f,) = cat.metric_conditions(REEFER, "temperature", 50.0, "degF")  # 10 degC
    assert f.firing and f.value == pytest.approx(10.0) and f.unit == "degC"
    (c,) = cat.metric_conditions(REEFER, "temperature", 5.0, "°C")
    assert not c.firing


def test_nan_reading_is_critical_breach_without_nan_value() -> None:
    (c,) = cat.metric_conditions(REEFER, "temperature", math.nan)
    assert c.firing and c.level is Severity.critical and c.value is None


def test_vibration_and_shock_with_units() -> None:
    (v,) = cat.metric_conditions(VIB, "vibration", 0.5, "in/s")  # 12.7 mm/s: 5.6 over -> major
    assert v.firing and v.level is Severity.major and v.value == pytest.approx(12.7)
    (ok,) = cat.metric_conditions(VIB, "vibration", cat.VIBRATION_MAX_MM_S)
    assert not ok.firing
    (s,) = cat.metric_conditions(TRUCK_SHOCK, "shock", 98.0665, "m/s2")  # 10 g
    assert s.firing and s.level is Severity.major and s.site_id == "L1"
    with pytest.raises(UnitError):
        cat.metric_conditions(VIB, "vibration", 1.0, "g")
    with pytest.raises(UnitError):
        cat.metric_conditions(REEFER, "temperature", 1.0, "mm/s")


def test_metric_without_rule_gives_nothing() -> None:
    assert cat.metric_conditions(REEFER, "battery", 3.0) == []
    assert cat.metric_conditions(VIB, "temperature", 99.0) == []


def test_anomaly_threshold_and_levels() -> None:
    subj = cat.Subject.of_device(VIB)
    assert cat.ANOMALY_SCORE_THRESHOLD == 0.75  # the default sensitivity's threshold (twin.detectors.profile)
    assert not cat.anomaly_condition(subj, "vibration", 0.74).firing
    low = cat.anomaly_condition(subj, "vibration", 0.75)
    assert low.firing and low.level is Severity.info and low.rule == "anomaly_vibration"
    assert cat.anomaly_condition(subj, "vibration", 0.97).level is Severity.warning
    assert cat.anomaly_condition(subj, "vibration", 0.5, threshold=0.4).firing
    assert low.detail == "vibration anomaly score 0.750 >= 0.75"
    said = cat.anomaly_condition(subj, "vibration", 0.8, why="9.1, the highest in 500 readings (usual 1 to 2)")
    assert said.detail == "vibration 9.1, the highest in 500 readings (usual 1 to 2); anomaly score 0.800 >= 0.75"


def test_inventory_cover() -> None:
    subj = cat.Subject.of_node("W1")
    assert not cat.inventory_condition(subj, 700, 100).firing  # exactly 7 days
    assert not cat.inventory_condition(subj, 0, 0).firing  # no demand: unbounded cover
    c = cat.inventory_condition(subj, 500, 100)
    assert c.firing and c.level is Severity.warning and c.value == pytest.approx(5.0)
    assert cat.inventory_condition(subj, 300, 100).level is Severity.major
    assert cat.inventory_condition(subj, 150, 100).level is Severity.critical
    assert c.subject_kind is SubjectKind.node and c.dedup_key == "node:W1:inventory_cover"


def test_silence_and_health() -> None:
    assert not cat.silence_condition(REEFER, DeviceStatus.online).firing
    assert cat.silence_condition(REEFER, DeviceStatus.stale).level is Severity.warning
    off = cat.silence_condition(REEFER, DeviceStatus.offline)
    assert off.firing and off.level is Severity.major and off.rule == "device_silence"
    h = NodeHealth("W1", HealthLevel.critical, ("critical: 1.0 days of cover",), 1.0, 0, 0, 0)
    hc = cat.health_condition(h)
    assert hc.firing and hc.level is Severity.critical and "1.0 days" in hc.detail and hc.site_id == "W1"
    ok = NodeHealth("W1", HealthLevel.ok, (), None, 3, 0, 0)
    assert not cat.health_condition(ok).firing
