"""Per-site storm control: rate limit on new alerts, grouping under a site alert."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from twin.alerts import (
    AlertPolicy, Condition, SiteAlerts, SubjectKind, TransitionKind, alerts_of, evaluate, rebuild, tick,
)
from twin.alerts.site import GROUP_RULE, group_key

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=timezone.utc)


def at(s: float) -> datetime:
    return T0 + timedelta(seconds=s)


def cond(dev: str, firing: bool = True, level: str = "warning", kind: str = "device") -> Condition:
    return Condition(subject_kind=kind, subject_id=dev, site_id="W1", rule="cold_chain", firing=firing,
                     level=level)


def feed(policy: AlertPolicy, steps) -> tuple[SiteAlerts, list]:
    state, events = None, []
    for c, t in steps:
        state, evs = evaluate(state, c, None, at(t), policy) if c is not None else tick(state, at(t), policy)
        events += evs
    return state, events


def test_group_opens_at_threshold_and_adopts_children() -> None:
    p = AlertPolicy(group_threshold=3, rate_burst=100)
    state, events = feed(p, [(cond("d1"), 0), (cond("d2", level="major"), 1)])
    assert group_key("W1") not in state.keys
    state, evs = evaluate(state, cond("d3"), None, at(2), p)
    kinds = [(e.alert.subject_id, e.transition.kind) for e in evs]
    # parent first, then the new child (already attached), then the existing ones get "grouped"
    assert kinds[0] == ("W1", TransitionKind.created)
    assert ("d3", TransitionKind.created) in kinds
    assert {k for k in kinds if k[1] is TransitionKind.grouped} == {("d1", TransitionKind.grouped),
                                                                    ("d2", TransitionKind.grouped)}
    group = state.keys[group_key("W1")].alert
    assert group.rule == GROUP_RULE and group.subject_kind is SubjectKind.site and group.severity.value == "major"
    children = [a for a in alerts_of(state).values() if a.subject_kind is SubjectKind.device]
    assert len(children) == 3 and all(a.parent_id == group.id for a in children)
    # a later alert is opened under the group directly, and can raise its severity
    state, evs = evaluate(state, cond("d4", level="critical"), None, at(3), p)
    assert [e.transition.kind for e in evs] == [TransitionKind.severity_changed, TransitionKind.created]
    assert evs[1].alert.parent_id == group.id


def test_group_clears_when_last_child_clears() -> None:
    p = AlertPolicy(group_threshold=2, rate_burst=100, clear_hold_s=10, flap_clear_hold_s=10)
    state, _ = feed(p, [(cond("d1"), 0), (cond("d2"), 1), (cond("d1", False), 2), (None, 20)])
    assert state.keys[group_key("W1")].alert.active  # d2 still active
    state, evs = evaluate(state, cond("d2", False), None, at(30), p)
    assert evs == []
    state, evs = tick(state, at(40), p)
    assert [(e.alert.subject_id, e.transition.kind) for e in evs] == [("d2", TransitionKind.cleared),
                                                                    ("W1", TransitionKind.cleared)]
    assert evs[-1].alert.cleared_by == "children"


def test_rate_limit_suppresses_into_site_alert_nothing_lost() -> None:
    p = AlertPolicy(rate_burst=2, rate_refill_per_s=1 / 60, group_threshold=100)
    state, events = feed(p, [(cond(f"d{i}"), 0) for i in range(5)])
    devices = [a for a in alerts_of(state).values() if a.subject_kind is SubjectKind.device]
    assert len(devices) == 5 and all(a.active for a in devices)  # every breach is an alert
    created = [e for e in events if e.transition.kind is TransitionKind.created]
    suppressed = [e for e in events if e.transition.kind is TransitionKind.suppressed]
    assert {e.alert.subject_id for e in created} == {"d0", "d1", "W1"}
    assert {e.alert.subject_id for e in suppressed} == {"d2", "d3", "d4"}
    group = state.keys[group_key("W1")].alert
    assert all(e.alert.parent_id == group.id and e.alert.suppressed for e in suppressed)
    assert state.suppressed_total == 3
    # one minute later one token is back: the next new alert is created normally (under the still-active group)
    state, evs = evaluate(state, cond("d9"), None, at(60), p)
    assert [e.transition.kind for e in evs] == [TransitionKind.created] and state.suppressed_total == 3
    assert rebuild(events + evs) == {**rebuild(events), **rebuild(evs)}


def test_node_alerts_not_rate_limited() -> None:
    p = AlertPolicy(rate_burst=1, group_threshold=100)
    steps = [(cond("d0"), 0)] + [
        (Condition(subject_kind="node", subject_id="W1", site_id="W1", rule=f"r{i}", firing=True), 0)
        for i in range(3)]
    state, events = feed(p, steps)
    assert [e.transition.kind for e in events] == [TransitionKind.created] * 4
    assert state.suppressed_total == 0
