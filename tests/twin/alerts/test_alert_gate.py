"""The condition gate forwards edges, level changes and periodic refreshes — nothing else."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from twin.alerts.gate import ConditionGate
from twin.alerts.models import Condition, Severity, SubjectKind


def cond(firing: bool, level: Severity = Severity.warning) -> Condition:
    return Condition(subject_kind=SubjectKind.device, subject_id="d1", site_id="s1", rule="cold_chain",
                     firing=firing, level=level)


def test_edges_levels_and_refresh() -> None:
    gate = ConditionGate(refresh_s=10)
    assert not gate.admit(cond(False), 0)  # normal from the start: nothing to say
    assert gate.admit(cond(True), 1)  # starts firing
    assert not gate.admit(cond(True), 2)  # still firing, same level, too soon
    assert gate.admit(cond(True, Severity.major), 3)  # level changed
    assert gate.admit(cond(True, Severity.major), 13.5)  # refresh due
    assert gate.admit(cond(False), 14)  # back to normal: the lifecycle starts its hold
    assert not gate.admit(cond(False), 15)


@given(st.lists(st.tuples(st.booleans(), st.sampled_from(list(Severity))), max_size=200))
def test_every_edge_is_forwarded(seq: list[tuple[bool, Severity]]) -> None:
    gate = ConditionGate(refresh_s=1e9)
    previous = False
    for t, (firing, level) in enumerate(seq):
        sent = gate.admit(cond(firing, level), float(t))
        if firing != previous:
            assert sent, f"edge at {t} dropped"
        if not firing and not previous:
            assert not sent
        previous = firing
