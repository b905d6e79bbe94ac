"""Node health rules, hysteresis and transitions."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from twin.device_twin import DeviceStatus
from twin.node_twin import CRITICAL_COVER_DAYS, COVER_HYSTERESIS_DAYS, DEGRADED_COVER_DAYS, HealthLevel, assess_node

ON, STALE, OFF = DeviceStatus.online, DeviceStatus.stale, DeviceStatus.offline


def level(inventory: float, demand: float = 100.0, statuses=(ON, ON), previous=None) -> HealthLevel:
    return assess_node("n1", inventory, demand, statuses, previous)[0].level


def test_cover_rules() -> None:
    assert level(1000) is HealthLevel.ok  # 10 days
    assert level(500) is HealthLevel.degraded  # 5 days
    assert level(150) is HealthLevel.critical  # 1.5 days
    assert level(0, demand=0) is HealthLevel.ok  # no demand: unbounded cover


def test_device_rules() -> None:
    assert level(1000, statuses=(ON, OFF)) is HealthLevel.degraded
    assert level(1000, statuses=(ON, STALE)) is HealthLevel.degraded
    assert level(1000, statuses=(ON, ON, STALE)) is HealthLevel.ok
    assert level(1000, statuses=(OFF, OFF)) is HealthLevel.critical
    assert level(1000, statuses=()) is HealthLevel.ok
    assert level(150, statuses=(ON, OFF)) is HealthLevel.critical  # worst wins


def test_reasons_and_counts() -> None:
    health, changed = assess_node("n1", 150, 100, [ON, OFF, STALE], None)
    assert changed and health.level is HealthLevel.critical
    assert (health.devices_online, health.devices_stale, health.devices_offline) == (1, 1, 1)
    assert len(health.reasons) == 2 and health.days_of_cover == 1.5


def test_hysteresis_prevents_flapping() -> None:
    just_above = (CRITICAL_COVER_DAYS + COVER_HYSTERESIS_DAYS / 2) * 100
    assert level(just_above, previous=HealthLevel.critical) is HealthLevel.critical
    assert level(just_above, previous=None) is HealthLevel.degraded
    clear = (CRITICAL_COVER_DAYS + COVER_HYSTERESIS_DAYS) * 100
    assert level(clear, previous=HealthLevel.critical) is HealthLevel.degraded
    near_ok = (DEGRADED_COVER_DAYS + COVER_HYSTERESIS_DAYS / 2) * 100
    assert level(near_ok, previous=HealthLevel.degraded) is HealthLevel.degraded
    assert level(near_ok, previous=HealthLevel.ok) is HealthLevel.ok


def test_transition_flag() -> None:
    _, changed = assess_node("n1", 1000, 100, [ON], None)
    assert not changed  # first assessment, ok: nothing to announce
    _, changed = assess_node("n1", 1000, 100, [ON], HealthLevel.ok)
    assert not changed
    _, changed = assess_node("n1", 500, 100, [ON], HealthLevel.ok)
    assert changed


@given(st.floats(0, 1e7), st.floats(0, 1e5), st.lists(st.sampled_from([ON, STALE, OFF]), max_size=8),
       st.sampled_from([None, *HealthLevel]))
def test_always_a_level_and_consistent_flag(inv, demand, statuses, previous) -> None:
    health, changed = assess_node("n", inv, demand, statuses, previous)
    assert changed == (health.level is not (previous or HealthLevel.ok))
    if health.level is not HealthLevel.ok:
        assert health.reasons
