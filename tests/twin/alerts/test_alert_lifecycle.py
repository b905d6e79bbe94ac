"""Per-site lifecycle: identity, hysteresis, severity, flapping, latch, commands, escalation."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
from pydantic import ValidationError

from twin.alerts import (
    AlertCommand,
    AlertPolicy,
    Condition,
    RiskContext,
    Severity,
    SiteAlerts,
    TransitionKind,
    UnknownAlertError,
    alert_id,
    alerts_of,
    apply_command,
    evaluate,
    rebuild,
    tick,
)
from twin.alerts.errors import NaiveTimeError, SiteMismatchError

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=timezone.utc)
KEY = "device:R1:cold_chain"
P = AlertPolicy(clear_hold_s=60, flap_window_s=3600, flap_max_occurrences=3, flap_clear_hold_s=900,
                rate_burst=100, group_threshold=100, update_interval_s=300)


def at(s: float) -> datetime:
    return T0 + timedelta(seconds=s)


def cond(firing: bool = True, level: Severity = Severity.warning, value: float = 9.0, device: str = "R1",
         site: str = "W1", rule: str = "cold_chain") -> Condition:
    return Condition(subject_kind="device", subject_id=device, site_id=site, rule=rule, firing=firing,
                     level=level, value=value, unit="degC")


def cmd(action: str, **kw) -> AlertCommand:
    kw.setdefault("dedup_key", KEY)
    return AlertCommand(action=action, site_id="W1", actor="ops@x", **kw)


class Run:
    """Feeds inputs and keeps every published event, checking rebuild(events) == state after each step."""

    def __init__(self, policy: AlertPolicy = P) -> None:
        self.state: SiteAlerts | None = None
        self.events: list = []
        self.policy = policy

    def _keep(self, out):
        self.state, evs = out
        self.events += evs
        rebuilt = rebuild(self.events)
        for aid, a in alerts_of(self.state).items():
            assert rebuilt[aid] == a
        return [e.transition.kind for e in evs]

    def ev(self, c: Condition, t: float, risk: RiskContext | None = None):
        return self._keep(evaluate(self.state, c, risk, at(t), self.policy))

    def cmd(self, c: AlertCommand, t: float):
        return self._keep(apply_command(self.state, c, at(t), self.policy))

    def tick(self, t: float):
        return self._keep(tick(self.state, at(t), self.policy))

    @property
    def alert(self):
        return self.state.keys[KEY].alert


def test_first_firing_creates_one_alert_with_deterministic_id() -> None:
    r = Run()
    assert r.ev(cond(), 0) == [TransitionKind.created]
    assert r.alert.id == alert_id(KEY, 1) and r.alert.active and not r.alert.acknowledged
    assert r.alert.status == "ACTIVE_UNACK" and r.alert.version == 1
    assert r.ev(cond(), 10) == []  # same value, still firing: no event
    assert len(alerts_of(r.state)) == 1


def test_normal_without_alert_keeps_no_state() -> None:
    r = Run()
    assert r.ev(cond(False), 0) == [] and r.state.keys == {}


def test_clears_only_after_hold_and_refire_cancels() -> None:
    r = Run()
    r.ev(cond(), 0)
    assert r.ev(cond(False), 10) == []
    assert r.ev(cond(False), 69) == []  # 59 s normal
    assert r.ev(cond(), 65) == []  # late input: clock does not run back, firing cancels the pending clear
    assert r.ev(cond(False), 80) == []
    assert r.tick(139) == []  # 59 s since the new normal_since
    assert r.tick(140) == [TransitionKind.cleared]
    assert not r.alert.active and r.alert.cleared_by == "condition" and r.alert.cleared_at == at(140)
    # recurrence is a new occurrence with a new id
    assert r.ev(cond(), 200) == [TransitionKind.created]
    assert r.alert.occurrence == 2 and r.alert.id == alert_id(KEY, 2) != alert_id(KEY, 1)


def test_severity_escalates_only_upwards_and_value_updates_are_throttled() -> None:
    r = Run()
    r.ev(cond(level=Severity.warning), 0)
    assert r.ev(cond(level=Severity.major, value=10.5), 5) == [TransitionKind.severity_changed]
    assert r.alert.severity is Severity.major and r.alert.severity_since == at(5)
    assert r.events[-1].transition.previous_severity is Severity.warning
    assert r.ev(cond(level=Severity.warning, value=9.5), 10) == []  # milder: no downgrade, no update yet
    assert r.alert.severity is Severity.major
    assert r.ev(cond(level=Severity.warning, value=9.4), 306) == [TransitionKind.updated]
    assert r.alert.value == 9.4


def test_risk_raises_severity() -> None:
    r = Run()
    r.ev(cond(level=Severity.major), 0, RiskContext(criticality=5))
    assert r.alert.severity is Severity.critical


def test_flapping_held_active_then_needs_long_hold() -> None:
    r = Run()
    t = 0.0
    for _ in range(3):  # three ordinary occurrences
        assert r.ev(cond(), t) == [TransitionKind.created]
        r.ev(cond(False), t + 1)
        assert r.tick(t + 61) == [TransitionKind.cleared]
        t += 100
    assert r.ev(cond(), t) == [TransitionKind.created]  # 4th in the hour
    r.ev(cond(False), t + 1)
    assert r.tick(t + 61) == [TransitionKind.flapping]
    assert r.alert.active and r.alert.flapping
    # the storm goes on: no events at all while held
    kinds = []
    for i in range(20):
        kinds += r.ev(cond(), t + 100 + 20 * i) + r.ev(cond(False), t + 110 + 20 * i)
    assert kinds == []
    last_normal = t + 110 + 20 * 19
    assert r.tick(last_normal + 899) == []
    assert r.tick(last_normal + 900) == [TransitionKind.cleared]
    assert not r.alert.active and not r.alert.flapping
    assert r.alert.occurrence == 4


def test_ack_and_clear_are_independent() -> None:
    r = Run()
    r.ev(cond(), 0)
    assert r.cmd(cmd("ack", note="on it"), 5) == [TransitionKind.acknowledged]
    assert r.alert.active and r.alert.acknowledged and r.alert.acknowledged_by == "ops@x"
    assert r.alert.status == "ACTIVE_ACK"
    assert r.cmd(cmd("ack"), 6) == []  # redelivered: idempotent
    r.ev(cond(False), 10)
    r.tick(70)
    assert not r.alert.active and r.alert.acknowledged  # clearing kept the ack
    r2 = Run()
    r2.ev(cond(), 0)
    assert r2.cmd(cmd("clear", note="false alarm"), 5) == [TransitionKind.cleared]
    assert not r2.alert.acknowledged and r2.alert.cleared_by == "ops@x"
    assert r2.cmd(cmd("ack"), 6) == [TransitionKind.acknowledged]  # a cleared alert can still be acked
    assert not r2.alert.active


def test_manual_clear_while_firing_latches_until_normal_seen() -> None:
    r = Run()
    r.ev(cond(), 0)
    r.cmd(cmd("clear"), 5)
    assert r.ev(cond(), 10) == []  # still breaching: not reopened behind the operator's back
    assert r.ev(cond(False), 20) == []
    assert r.ev(cond(), 30) == [TransitionKind.created]
    assert r.alert.occurrence == 2


def test_manual_clear_during_pending_clear_does_not_latch() -> None:
    r = Run()
    r.ev(cond(), 0)
    r.ev(cond(False), 5)
    r.cmd(cmd("clear"), 6)
    assert r.ev(cond(), 7) == [TransitionKind.created]


def test_assign_and_comment() -> None:
    r = Run()
    r.ev(cond(), 0)
    aid = r.alert.id
    assert r.cmd(cmd("assign", assignee="alice", dedup_key=None, alert_id=aid), 1) == [TransitionKind.assigned]
    assert r.cmd(cmd("assign", assignee="alice"), 2) == []
    assert r.alert.assignee == "alice" and r.alert.active and not r.alert.acknowledged
    assert r.cmd(cmd("assign"), 3) == [TransitionKind.assigned] and r.alert.assignee is None
    for i in range(25):
        r.cmd(cmd("comment", note=f"n{i}"), 4 + i)
    assert len(r.alert.comments) == 20 and r.alert.comments[-1].text == "n24"
    assert r.events[-1].transition.actor == "ops@x"


def test_commands_for_unknown_or_old_alerts_fail() -> None:
    r = Run()
    with pytest.raises(UnknownAlertError):
        r.cmd(cmd("ack"), 0)
    r.ev(cond(), 0)
    r.cmd(cmd("clear"), 1)
    r.ev(cond(False), 2)
    r.ev(cond(), 3)
    with pytest.raises(UnknownAlertError):  # occurrence 1 is finished
        r.cmd(cmd("ack", dedup_key=None, alert_id=alert_id(KEY, 1)), 4)
    with pytest.raises(UnknownAlertError):
        r.cmd(cmd("ack", dedup_key="device:nope:cold_chain"), 4)


def test_command_validation() -> None:
    with pytest.raises(ValidationError):
        AlertCommand(action="ack", site_id="W1", actor="a")  # no target
    with pytest.raises(ValidationError):
        AlertCommand(action="ack", site_id="W1", actor="a", alert_id="x", dedup_key=KEY)
    with pytest.raises(ValidationError):
        AlertCommand(action="comment", site_id="W1", actor="a", dedup_key=KEY)
    with pytest.raises(ValidationError):
        AlertCommand(action="ack", site_id="W1", actor="a", dedup_key=KEY, assignee="bob")
    with pytest.raises(ValidationError):
        AlertCommand(action="snooze", site_id="W1", actor="a", dedup_key=KEY)
    with pytest.raises(ValidationError):
        AlertCommand(action="ack", site_id="W1", actor="", dedup_key=KEY)
    with pytest.raises(ValidationError):
        AlertCommand.model_validate({"action": "ack", "site_id": "W1", "actor": "a", "dedup_key": KEY, "x": 1})


def test_escalation_once_per_level_and_not_when_acked() -> None:
    r = Run()
    r.ev(cond(level=Severity.major), 0)
    assert r.tick(899) == []
    assert r.tick(900) == [TransitionKind.escalated]
    assert r.alert.escalated_severity is Severity.major
    assert r.tick(2000) == []  # once per level
    r.ev(cond(level=Severity.critical), 2100)  # severity_changed resets the clock for the critical deadline
    assert r.tick(2399) == []
    assert r.tick(2400) == [TransitionKind.escalated]
    assert r.tick(9999) == []
    r2 = Run()
    r2.ev(cond(level=Severity.critical), 0)
    r2.cmd(cmd("ack"), 100)
    assert r2.tick(10_000) == []
    r3 = Run()
    r3.ev(cond(level=Severity.warning), 0)
    assert r3.tick(10_000) == []  # warnings never escalate


def test_site_guards() -> None:
    st, _ = evaluate(None, cond(), None, T0, P)
    with pytest.raises(SiteMismatchError):
        evaluate(st, cond(site="W2"), None, T0, P)
    with pytest.raises(NaiveTimeError):
        evaluate(st, cond(), None, datetime(2026, 3, 1), P)
    other_tz = timezone(timedelta(hours=2))
    st2, _ = evaluate(st, cond(False), None, T0.astimezone(other_tz), P)
    assert st2.clock == T0 and st2.clock.utcoffset() == timedelta(0)


def test_state_roundtrips_through_json() -> None:
    r = Run()
    r.ev(cond(), 0)
    r.ev(cond(False), 5)
    r.cmd(cmd("comment", note="x"), 6)
    dumped = r.state.model_dump(mode="json")
    assert SiteAlerts.model_validate(dumped) == r.state


def test_ack_then_manual_clear_keeps_ack() -> None:
    r = Run()
    r.ev(cond(), 0)
    r.cmd(cmd("ack"), 1)
    assert r.cmd(cmd("clear"), 2) == [TransitionKind.cleared]
    assert r.alert.acknowledged and not r.alert.active and r.alert.status == "CLEARED_ACK"
    assert r.cmd(cmd("clear"), 3) == []  # already cleared: idempotent


def test_unchanged_state_is_returned_as_is() -> None:
    """The agent skips the table write when the state object is unchanged."""
    st, _ = evaluate(None, cond(), None, at(0), P)
    assert evaluate(st, cond(), None, at(1), P)[0] is st  # still firing, nothing new
    assert evaluate(st, cond(device="other", firing=False), None, at(1), P)[0] is st
    assert tick(st, at(2), P)[0] is st
    st2, _ = evaluate(st, cond(False), None, at(3), P)
    assert st2 is not st and st2.keys[KEY].normal_since == at(3)


def test_cleared_alerts_are_forgotten_after_retention_but_ids_stay_unique() -> None:
    p = AlertPolicy(clear_hold_s=60, retain_cleared_s=3600, rate_burst=100, group_threshold=100)
    r = Run(p)
    r.ev(cond(), 0)
    r.ev(cond(False), 1)
    r.tick(61)
    assert r.tick(61 + 3599) == [] and r.alert is not None  # still there for a late ack
    r.cmd(cmd("ack"), 3000)
    r.tick(61 + 3600)
    assert r.alert is None and r.state.keys[KEY].occurrence == 1 and alerts_of(r.state) == {}
    with pytest.raises(UnknownAlertError):
        r.cmd(cmd("ack"), 3700)
    assert r.ev(cond(), 3800) == [TransitionKind.created] and r.alert.id == alert_id(KEY, 2)


def test_site_subject_conditions_are_refused() -> None:
    from twin.alerts import AlertError

    with pytest.raises(AlertError):
        evaluate(None, Condition(subject_kind="site", subject_id="W1", site_id="W1", rule="device_alert_group",
                                 firing=True), None, T0, P)
