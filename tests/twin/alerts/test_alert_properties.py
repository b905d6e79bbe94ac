"""Property tests over random sequences of evaluations, commands and clock advances.

Invariants: no alert without a rule firing; at most one active alert per dedup key; every alert clears once
its inputs are normal past the (flap) hold; ack and clear are independent; rebuild(events) == state (through
JSON); a site alert is active only while one of its children is; escalation at most once per level; a flapping
signal produces a bounded number of occurrences.
"""

from __future__ import annotations

from collections import Counter
from datetime import datetime, timedelta, timezone

from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule

from twin.alerts import (
    AlertCommand,
    AlertEvent,
    AlertPolicy,
    Condition,
    RiskContext,
    Severity,
    SiteAlerts,
    SubjectKind,
    TransitionKind,
    UnknownAlertError,
    alerts_of,
    apply_command,
    decode_event,
    encode_event,
    evaluate,
    rebuild,
    tick,
)

T0 = datetime(2026, 3, 1, tzinfo=timezone.utc)
POLICY = AlertPolicy(clear_hold_s=10, flap_window_s=200, flap_max_occurrences=2, flap_clear_hold_s=50,
                     rate_burst=3, rate_refill_per_s=1 / 30, group_threshold=3, update_interval_s=20,
                     escalate_after_s={Severity.major: 30, Severity.critical: 15}, retain_cleared_s=120)
SUBJECTS = [("device", f"d{i}") for i in range(4)] + [("node", "W1")]
RULES = ["r0", "r1"]
OPENING = {TransitionKind.created, TransitionKind.suppressed}


def at(t: float) -> datetime:
    return T0 + timedelta(seconds=t)


class AlertMachine(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.t = 0.0
        self.state: SiteAlerts | None = None
        self.events: list[AlertEvent] = []
        self.fired: set[str] = set()

    def _publish(self, evs: list[AlertEvent]) -> None:
        for ev in evs:  # through the wire format, as a consumer would see it
            self.events.append(decode_event(encode_event(ev)[1]))

    @rule(subject=st.sampled_from(SUBJECTS), rule_=st.sampled_from(RULES), firing=st.booleans(),
          level=st.sampled_from(list(Severity)), value=st.sampled_from([1.0, 2.0, 3.0]),
          skew=st.sampled_from([0.0, 0.0, 3.0]), risky=st.booleans())
    def evaluate(self, subject, rule_, firing, level, value, skew, risky) -> None:
        kind, sid = subject
        cond = Condition(subject_kind=kind, subject_id=sid, site_id="W1", rule=rule_, firing=firing,
                         level=level, value=value)
        risk = RiskContext(criticality=5) if risky else None
        self.state, evs = evaluate(self.state, cond, risk, at(self.t - skew), POLICY)
        for ev in evs:
            if ev.transition.kind in OPENING:
                if ev.alert.subject_kind is SubjectKind.site:
                    assert kind == "device" and firing  # a site alert only opens for a new device alert
                else:  # no alert without its rule firing
                    assert ev.alert.dedup_key == cond.dedup_key and firing
            if not firing:
                assert ev.transition.kind not in OPENING
        if firing:
            self.fired.add(cond.dedup_key)
        self._publish(evs)

    @rule(dt=st.sampled_from([1.0, 5.0, 11.0, 31.0, 60.0]))
    def advance_and_tick(self, dt: float) -> None:
        self.t += dt
        if self.state is not None:
            self.state, evs = tick(self.state, at(self.t), POLICY)
            assert all(ev.transition.kind not in OPENING for ev in evs)
            self._publish(evs)

    @rule(data=st.data(), action=st.sampled_from(["ack", "clear", "assign", "comment"]), by_id=st.booleans())
    def command(self, data, action, by_id) -> None:
        # Mostly keys the site holds (so ack-then-clear sequences are found), sometimes an unknown one.
        known = sorted(self.state.keys) if self.state else []
        key = data.draw(st.sampled_from(known + ["device:zz:r0"]) if known else st.just("device:zz:r0"))
        ks = self.state.keys.get(key) if self.state else None
        current = ks.alert if ks is not None else None
        target = {"alert_id": current.id} if by_id and current is not None else {"dedup_key": key}
        extra = {"note": "n"} if action == "comment" else {"assignee": "bob"} if action == "assign" else {}
        cmd = AlertCommand(action=action, site_id="W1", actor="op", **target, **extra)
        try:
            self.state, evs = apply_command(self.state, cmd, at(self.t), POLICY)
        except UnknownAlertError:
            assert current is None
            return
        assert current is not None
        after = self.state.keys[key].alert
        if action == "ack":
            assert after.active == current.active and after.acknowledged
        elif action == "clear":
            assert after.acknowledged == current.acknowledged and not after.active
        else:
            assert (after.active, after.acknowledged) == (current.active, current.acknowledged)
        self._publish(evs)

    @rule()
    def everything_normal_then_wait(self) -> None:
        """Every alert clears once all inputs are normal past the flap hold (timer ticks only, no commands)."""
        for key in sorted(self.fired):
            kind, sid, rule_ = key.split(":")
            cond = Condition(subject_kind=kind, subject_id=sid, site_id="W1", rule=rule_, firing=False)
            self.state, evs = evaluate(self.state, cond, None, at(self.t), POLICY)
            self._publish(evs)
        if self.state is None:
            return
        for dt in (POLICY.clear_hold_s, POLICY.flap_clear_hold_s - POLICY.clear_hold_s, 1.0):
            self.t += dt
            self.state, evs = tick(self.state, at(self.t), POLICY)
            self._publish(evs)
        assert not [a for a in alerts_of(self.state).values() if a.active]

    @invariant()
    def rebuild_equals_state_and_one_active_per_key(self) -> None:
        rebuilt = rebuild(self.events)
        current = alerts_of(self.state)
        for aid, alert in current.items():
            assert rebuilt[aid] == alert
        assert all(not a.active for aid, a in rebuilt.items() if aid not in current)
        active_keys = Counter(a.dedup_key for a in rebuilt.values() if a.active)
        assert all(n == 1 for n in active_keys.values())

    @invariant()
    def site_alert_has_active_child(self) -> None:
        current = alerts_of(self.state).values()
        for g in current:
            if g.subject_kind is SubjectKind.site and g.active:
                assert any(c.active and c.parent_id == g.id for c in current)

    @invariant()
    def escalation_once_per_level(self) -> None:
        esc = Counter((e.alert.id, e.alert.escalated_severity) for e in self.events
                      if e.transition.kind is TransitionKind.escalated)
        assert all(n == 1 for n in esc.values())

    @invariant()
    def state_survives_table_serialisation(self) -> None:
        if self.state is not None and len(self.events) % 7 == 0:
            assert SiteAlerts.model_validate_json(self.state.model_dump_json()) == self.state


AlertMachine.TestCase.settings = settings(max_examples=150, stateful_step_count=50, deadline=None)
TestAlertMachine = AlertMachine.TestCase


@settings(max_examples=150, deadline=None)
@given(gaps=st.lists(st.floats(min_value=0.5, max_value=120.0), min_size=1, max_size=200))
def test_flapping_signal_has_bounded_occurrences(gaps: list[float]) -> None:
    """Toggle one rule on/off at random intervals: in any window, occurrences <= K + 1 + W / flap_hold, and
    each occurrence costs at most created + flapping + cleared events (constant level, so no updates)."""
    state, events, t, firing = None, [], 0.0, True
    for gap in gaps:
        cond = Condition(subject_kind="device", subject_id="d", site_id="W1", rule="r", firing=firing,
                         level="info")
        state, evs = evaluate(state, cond, None, at(t), POLICY)
        events += evs
        state, evs = tick(state, at(t + gap / 2), POLICY)
        events += evs
        t += gap
        firing = not firing
    opened = [e.transition.at for e in events if e.transition.kind is TransitionKind.created]
    w = timedelta(seconds=POLICY.flap_window_s)
    bound = POLICY.flap_max_occurrences + 1 + int(POLICY.flap_window_s // POLICY.flap_clear_hold_s)
    for i, start in enumerate(opened):
        assert sum(1 for o in opened[i:] if o - start < w) <= bound
    assert len(events) <= 3 * len(opened)
