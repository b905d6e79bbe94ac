"""One (subject, rule)'s alert lifecycle: `(KeyState | None, input, now) -> (KeyState, [AlertEvent])`.

WHY a pure state machine per dedup key: the stream processor routes every evaluation and command of a key
through one partition, so each `KeyState` has a single writer; the same code then runs in the Faust agent,
in replays and in property tests. Rules (after ThingsBoard):

* active/cleared and unacknowledged/acknowledged are independent; ack never clears, clear never acks.
* a firing condition opens a new occurrence (new id) unless one is active; a condition that returns to
  normal clears the alert only after it stayed normal for the hold time; firing again meanwhile cancels
  the pending clear (no event: the pending clear was never announced).
* severity only rises while active ("severity_changed"); a milder reading refreshes the value at most once
  per update interval ("updated").
* flapping: when the hold expires but more than K occurrences opened within the window, the alert is held
  active and marked flapping (one event) and then needs the longer flap hold to clear.
* a manual clear while the condition still fires latches the key: no new occurrence until the condition
  has been seen normal once (otherwise the next reading would reopen what the operator just cleared).
* escalation: an active, unacknowledged major/critical alert past its deadline escalates once per severity.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from pydantic import AwareDatetime, BaseModel, ConfigDict

from twin.alerts.errors import UnknownAlertError
from twin.alerts.models import (
    MAX_COMMENTS,
    Alert,
    AlertCommand,
    AlertEvent,
    AlertTransition,
    Comment,
    Condition,
    Severity,
    TransitionKind,
    alert_id,
    severity_rank,
)
from twin.alerts.policy import AlertPolicy

__all__ = [
    "KeyState", "evaluate_key", "would_open", "open_alert", "transition_event", "command_key", "tick_key",
    "set_parent", "raise_severity",
]

# Who cleared an alert when no operator did.
BY_CONDITION = "condition"


class KeyState(BaseModel):
    """Everything kept per dedup key (store `model_dump(mode="json")`, restore with `model_validate`)."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    dedup_key: str
    occurrence: int = 0
    alert: Alert | None = None
    normal_since: AwareDatetime | None = None
    latched: bool = False
    opened: tuple[AwareDatetime, ...] = ()


def transition_event(alert: Alert, kind: TransitionKind, now: datetime, actor: str | None = None,
                     note: str | None = None, previous: Severity | None = None, **update: object) -> AlertEvent:
    """Apply `update` to the snapshot (bumping its version) and wrap the result with its transition."""
    update["version"] = alert.version + 1
    update["updated_at"] = now
    new = alert.model_copy(update=update)
    return AlertEvent(
        event_id=f"{new.id}:{new.version}",
        transition=AlertTransition(kind=kind, at=now, actor=actor, note=note, previous_severity=previous),
        alert=new,
    )


def open_alert(ks: KeyState, cond: Condition, severity: Severity, now: datetime, policy: AlertPolicy,
               parent_id: str | None = None, suppressed: bool = False) -> tuple[KeyState, list[AlertEvent]]:
    """Open the next occurrence of `cond`'s key (the caller checked `would_open`)."""
    occurrence = ks.occurrence + 1
    horizon = now - timedelta(seconds=policy.flap_window_s)
    alert = Alert(
        id=alert_id(ks.dedup_key, occurrence), dedup_key=ks.dedup_key, occurrence=occurrence, version=1,
        subject_kind=cond.subject_kind, subject_id=cond.subject_id, site_id=cond.site_id, rule=cond.rule,
        severity=severity, active=True, suppressed=suppressed, parent_id=parent_id, value=cond.value,
        unit=cond.unit, detail=cond.detail, created_at=now, updated_at=now, severity_since=now,
    )
    kind = TransitionKind.suppressed if suppressed else TransitionKind.created
    event = AlertEvent(event_id=f"{alert.id}:1", transition=AlertTransition(kind=kind, at=now), alert=alert)
    opened = tuple(t for t in ks.opened if t > horizon) + (now,)
    return ks.model_copy(update={"occurrence": occurrence, "alert": alert, "normal_since": None,
                                 "latched": False, "opened": opened}), [event]


def would_open(ks: KeyState | None, cond: Condition) -> bool:
    """True when `cond` would open a new occurrence (the site layer must then place it: rate limit, group)."""
    if not cond.firing:
        return False
    if ks is None:
        return True
    return not ks.latched and (ks.alert is None or not ks.alert.active)


def raise_severity(ks: KeyState, severity: Severity, now: datetime) -> tuple[KeyState, list[AlertEvent]]:
    """Escalate an active alert's severity (never lowers it: a recovering value must not hide the peak)."""
    a = ks.alert
    if a is None or not a.active or severity_rank(severity) <= severity_rank(a.severity):
        return ks, []
    ev = transition_event(a, TransitionKind.severity_changed, now, previous=a.severity, severity=severity,
                          severity_since=now)
    return ks.model_copy(update={"alert": ev.alert}), [ev]


def evaluate_key(ks: KeyState | None, cond: Condition, severity: Severity, now: datetime,
                 policy: AlertPolicy) -> tuple[KeyState, list[AlertEvent]]:
    """Fold one evaluation into the key's state. Opening is `open_alert`'s job (see `would_open`)."""
    ks = ks or KeyState(dedup_key=cond.dedup_key)
    a = ks.alert
    if cond.firing:
        if a is None or not a.active:
            return ks, []  # latched (or the caller decided not to open): nothing to do
        if ks.normal_since is not None:
            ks = ks.model_copy(update={"normal_since": None})
        ks, events = raise_severity(ks, severity, now)
        a = ks.alert
        assert a is not None
        quiet_s = (now - a.updated_at).total_seconds()
        if not events and cond.value != a.value and quiet_s >= policy.update_interval_s:
            ev = transition_event(a, TransitionKind.updated, now, value=cond.value, unit=cond.unit,
                                  detail=cond.detail)
            ks, events = ks.model_copy(update={"alert": ev.alert}), [ev]
        ks, more = _escalate(ks, now, policy)
        return ks, events + more
    if ks.latched:
        ks = ks.model_copy(update={"latched": False})
    if a is None or not a.active:
        return ks, []
    if ks.normal_since is None:
        ks = ks.model_copy(update={"normal_since": now})
    return tick_key(ks, now, policy)


def tick_key(ks: KeyState, now: datetime, policy: AlertPolicy) -> tuple[KeyState, list[AlertEvent]]:
    """Timer work: clear once the hold expired (or mark flapping), and escalate overdue alerts."""
    a = ks.alert
    if a is None or not a.active:
        return ks, []
    if ks.normal_since is not None and (now - ks.normal_since).total_seconds() >= policy.hold_for(a.flapping):
        horizon = now - timedelta(seconds=policy.flap_window_s)
        recent = sum(1 for t in ks.opened if t > horizon)
        if not a.flapping and recent > policy.flap_max_occurrences:
            note = f"{recent} occurrences in {policy.flap_window_s:g} s"
            ev = transition_event(a, TransitionKind.flapping, now, note=note, flapping=True)
            ks = ks.model_copy(update={"alert": ev.alert})
            ks, more = _escalate(ks, now, policy)
            return ks, [ev, *more]
        ev = transition_event(a, TransitionKind.cleared, now, active=False, flapping=False, cleared_at=now,
                              cleared_by=BY_CONDITION)
        return ks.model_copy(update={"alert": ev.alert, "normal_since": None}), [ev]
    return _escalate(ks, now, policy)


def _escalate(ks: KeyState, now: datetime, policy: AlertPolicy) -> tuple[KeyState, list[AlertEvent]]:
    a = ks.alert
    if a is None or not a.active or a.acknowledged:
        return ks, []
    deadline = policy.escalate_after_s.get(a.severity)
    if deadline is None:
        return ks, []
    if a.escalated_severity is not None and severity_rank(a.escalated_severity) >= severity_rank(a.severity):
        return ks, []
    if (now - a.severity_since).total_seconds() < deadline:
        return ks, []
    note = f"{a.severity.value} unacknowledged for {deadline:g} s"
    ev = transition_event(a, TransitionKind.escalated, now, note=note, escalated_severity=a.severity)
    return ks.model_copy(update={"alert": ev.alert}), [ev]


def set_parent(ks: KeyState, parent_id: str, now: datetime) -> tuple[KeyState, list[AlertEvent]]:
    """Attach the active alert to a site alert ("grouped"); no-op if already attached or not active."""
    a = ks.alert
    if a is None or not a.active or a.parent_id == parent_id:
        return ks, []
    ev = transition_event(a, TransitionKind.grouped, now, parent_id=parent_id)
    return ks.model_copy(update={"alert": ev.alert}), [ev]


def command_key(ks: KeyState, cmd: AlertCommand, now: datetime) -> tuple[KeyState, list[AlertEvent]]:
    """Apply an operator command to the key's current occurrence; repeats are no-ops (Kafka redelivers)."""
    a = ks.alert
    if a is None or (cmd.alert_id is not None and cmd.alert_id != a.id):
        raise UnknownAlertError(f"no current alert {cmd.alert_id or cmd.dedup_key} at site {cmd.site_id}")
    if cmd.action == "ack":
        if a.acknowledged:
            return ks, []
        ev = transition_event(a, TransitionKind.acknowledged, now, cmd.actor, cmd.note, acknowledged=True,
                              acknowledged_at=now, acknowledged_by=cmd.actor)
        return ks.model_copy(update={"alert": ev.alert}), [ev]
    if cmd.action == "clear":
        if not a.active:
            return ks, []
        ev = transition_event(a, TransitionKind.cleared, now, cmd.actor, cmd.note, active=False, flapping=False,
                              cleared_at=now, cleared_by=cmd.actor)
        # Still firing (no pending clear) -> latch until the condition is seen normal.
        return ks.model_copy(update={"alert": ev.alert, "normal_since": None,
                                     "latched": ks.normal_since is None}), [ev]
    if cmd.action == "assign":
        if a.assignee == cmd.assignee:
            return ks, []
        ev = transition_event(a, TransitionKind.assigned, now, cmd.actor, cmd.note, assignee=cmd.assignee)
        return ks.model_copy(update={"alert": ev.alert}), [ev]
    assert cmd.note is not None  # validated by AlertCommand
    comments = (*a.comments, Comment(actor=cmd.actor, at=now, text=cmd.note))[-MAX_COMMENTS:]
    ev = transition_event(a, TransitionKind.commented, now, cmd.actor, cmd.note, comments=comments)
    return ks.model_copy(update={"alert": ev.alert}), [ev]
