"""Alert-triggered assessments: one per place per cool-down."""

from __future__ import annotations

from engine.triggers import TriggerGate


def test_one_assessment_per_place_per_cooldown() -> None:
    gate = TriggerGate(cooldown_s=900)
    assert gate.admit("NA-FAC-004", 0)
    assert not gate.admit("NA-FAC-004", 899)  # a burst of alerts on the same factory
    assert gate.admit("EU-PRT-001", 10)  # another place is independent
    assert gate.admit("NA-FAC-004", 900)  # after the cool-down it is assessed again


def test_memory_is_bounded() -> None:
    gate = TriggerGate(cooldown_s=900, max_places=3)
    for i in range(10):
        assert gate.admit(f"n{i}", 0)
    assert gate.admit("n0", 1)  # forgotten long ago: admitted once more rather than remembered forever
