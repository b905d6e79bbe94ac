"""Per-site alert processing: lifecycle per key plus storm control (rate limit, grouping).

WHY per site (node or lane) and not per dedup key: the rate limit and the grouping are facts about a site,
so the single writer must own the whole site. Key the evaluation and command streams by ``site_id``; every
dedup key of a site then lands in one partition and one `SiteAlerts` table value.

Storm control, nothing silently lost:
* rate limit: each new device alert takes a token from the site's bucket; without a token it is still opened
  (so it clears, acks and rebuilds like any other) but as ``suppressed`` ("suppressed" transition, not
  "created") under the site alert, and counted in ``suppressed_total``.
* grouping: when ``group_threshold`` device alerts are active at the site, one site alert (rule
  `device_alert_group`) opens and every active device alert gets ``parent_id`` ("grouped"); later ones are
  opened under it. It clears (by "children") when none of its children is active any more.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timezone

from pydantic import AwareDatetime, BaseModel, ConfigDict

from twin.alerts.errors import AlertError, NaiveTimeError, SiteMismatchError, UnknownAlertError
from twin.alerts.lifecycle import (
    KeyState,
    command_key,
    evaluate_key,
    open_alert,
    raise_severity,
    set_parent,
    tick_key,
    transition_event,
    would_open,
)
from twin.alerts.models import (
    Alert,
    AlertCommand,
    AlertEvent,
    Condition,
    Severity,
    SubjectKind,
    TransitionKind,
    dedup_key,
    severity_rank,
)
from twin.alerts.policy import DEFAULT_POLICY, AlertPolicy
from twin.alerts.severity import RiskContext, severity_for

__all__ = [
    "GROUP_RULE", "BY_CHILDREN", "SiteAlerts", "evaluate", "apply_command", "tick", "alerts_of", "alerts_of_sites",
    "group_key",
]

# Rule name of the site alert that groups device alerts.
GROUP_RULE = "device_alert_group"
# Who cleared a site alert: its children did.
BY_CHILDREN = "children"


def group_key(site_id: str) -> str:
    return dedup_key(SubjectKind.site, site_id, GROUP_RULE)


class SiteAlerts(BaseModel):
    """The table value per site. ``clock`` is the latest `now` of a change: late inputs never run time backwards.

    Every function returns the SAME object when nothing changed, so the agent writes the table only when
    ``new_state is not old_state`` (serialising a site costs far more than evaluating it).
    """

    model_config = ConfigDict(extra="forbid", frozen=True)
    site_id: str
    clock: AwareDatetime | None = None
    keys: dict[str, KeyState] = {}
    tokens: float | None = None  # None = full bucket (never used)
    tokens_at: AwareDatetime | None = None
    suppressed_total: int = 0


def _now(state: SiteAlerts, now: datetime) -> datetime:
    if now.tzinfo is None or now.utcoffset() is None:
        raise NaiveTimeError("now must be timezone-aware")
    now = now.astimezone(timezone.utc)
    return now if state.clock is None or now > state.clock else state.clock


def _check_site(state: SiteAlerts | None, site_id: str) -> SiteAlerts:
    if state is None:
        return SiteAlerts(site_id=site_id)
    if state.site_id != site_id:
        raise SiteMismatchError(f"input for site {site_id} applied to the state of site {state.site_id}")
    return state


def _active_group(keys: dict[str, KeyState], site_id: str) -> Alert | None:
    g = keys.get(group_key(site_id))
    return g.alert if g is not None and g.alert is not None and g.alert.active else None


def _active_devices(keys: dict[str, KeyState]) -> list[KeyState]:
    return [k for k in keys.values()
            if k.alert is not None and k.alert.active and k.alert.subject_kind is SubjectKind.device]


def _open_group(keys: dict[str, KeyState], site_id: str, severity: Severity, now: datetime,
                policy: AlertPolicy, events: list[AlertEvent]) -> Alert:
    """Open (or return) the active site alert, before any child referencing it (consumers see parent first)."""
    gk = group_key(site_id)
    current = _active_group(keys, site_id)
    if current is not None:
        keys[gk], evs = raise_severity(keys[gk], severity, now)
        events += evs
        return keys[gk].alert  # type: ignore[return-value]
    cond = Condition(subject_kind=SubjectKind.site, subject_id=site_id, site_id=site_id, rule=GROUP_RULE,
                     firing=True, level=severity, detail="many device alerts at this site")
    keys[gk], evs = open_alert(keys.get(gk) or KeyState(dedup_key=gk), cond, severity, now, policy)
    events += evs
    return keys[gk].alert  # type: ignore[return-value]


def _take_token(state: SiteAlerts, now: datetime, policy: AlertPolicy) -> tuple[bool, float]:
    tokens = policy.rate_burst if state.tokens is None else state.tokens
    if state.tokens_at is not None:
        refill = (now - state.tokens_at).total_seconds() * policy.rate_refill_per_s
        tokens = min(policy.rate_burst, tokens + refill)
    if tokens >= 1.0:
        return True, tokens - 1.0
    return False, tokens


def _reconcile_group(keys: dict[str, KeyState], site_id: str, now: datetime, events: list[AlertEvent]) -> None:
    """Clear the site alert when none of its children is active any more."""
    group = _active_group(keys, site_id)
    if group is None:
        return
    if any(k.alert.parent_id == group.id for k in _active_devices(keys)):  # type: ignore[union-attr]
        return
    gk = group_key(site_id)
    ev = transition_event(group, TransitionKind.cleared, now, active=False, flapping=False, cleared_at=now,
                          cleared_by=BY_CHILDREN)
    keys[gk] = keys[gk].model_copy(update={"alert": ev.alert, "normal_since": None})
    events.append(ev)


def _finish(state: SiteAlerts, keys: dict[str, KeyState], now: datetime, events: list[AlertEvent],
            **update: object) -> tuple[SiteAlerts, list[AlertEvent]]:
    if any(e.transition.kind is TransitionKind.cleared and e.alert.parent_id for e in events):
        _reconcile_group(keys, state.site_id, now, events)
    return state.model_copy(update={"keys": keys, "clock": now, **update}), events


def evaluate(state: SiteAlerts | None, cond: Condition, risk: RiskContext | None, now: datetime,
             policy: AlertPolicy = DEFAULT_POLICY) -> tuple[SiteAlerts, list[AlertEvent]]:
    """Fold one rule evaluation into the site's alerts; returns the new state and the events to publish."""
    if cond.subject_kind is SubjectKind.site:
        raise AlertError("site alerts are opened by the engine (grouping), not by rule conditions")
    state = _check_site(state, cond.site_id)
    now = _now(state, now)
    severity = severity_for(cond.level, risk)
    key = cond.dedup_key
    ks = state.keys.get(key)
    if not would_open(ks, cond):
        if ks is None:  # normal and never alerted: keep no state (bounded table)
            return state, []
        new_ks, events = evaluate_key(ks, cond, severity, now, policy)
        if new_ks is ks and not events:
            return state, []
        keys = dict(state.keys)
        keys[key] = new_ks
        return _finish(state, keys, now, events)
    keys = dict(state.keys)
    events: list[AlertEvent] = []
    ks = ks or KeyState(dedup_key=key)
    if cond.subject_kind is not SubjectKind.device:
        keys[key], events = open_alert(ks, cond, severity, now, policy)
        return _finish(state, keys, now, events)
    update: dict[str, object] = {}
    ok, tokens = _take_token(state, now, policy)
    update.update(tokens=tokens, tokens_at=now)
    parent = _active_group(keys, state.site_id)
    if not ok:
        parent = _open_group(keys, state.site_id, severity, now, policy, events)
        update["suppressed_total"] = state.suppressed_total + 1
    elif parent is not None:
        parent = _open_group(keys, state.site_id, severity, now, policy, events)  # may raise its severity
    else:
        active = _active_devices(keys)
        if len(active) + 1 >= policy.group_threshold:  # this alert reaches the threshold: group first
            levels = (severity, *(k.alert.severity for k in active))  # type: ignore[union-attr]
            worst = max(levels, key=severity_rank)
            parent = _open_group(keys, state.site_id, worst, now, policy, events)
            for k in active:
                keys[k.dedup_key], evs = set_parent(k, parent.id, now)
                events += evs
    new_ks, evs = open_alert(ks, cond, severity, now, policy,
                             parent_id=parent.id if parent else None, suppressed=not ok)
    keys[key] = new_ks
    events += evs
    return _finish(state, keys, now, events, **update)


def _find(state: SiteAlerts, cmd: AlertCommand) -> KeyState:
    if cmd.dedup_key is not None:
        ks = state.keys.get(cmd.dedup_key)
        if ks is None:
            raise UnknownAlertError(f"no alert {cmd.dedup_key} at site {state.site_id}")
        return ks
    for ks in state.keys.values():
        if ks.alert is not None and ks.alert.id == cmd.alert_id:
            return ks
    raise UnknownAlertError(f"no current alert {cmd.alert_id} at site {state.site_id}")


def apply_command(state: SiteAlerts | None, cmd: AlertCommand, now: datetime,
                  policy: AlertPolicy = DEFAULT_POLICY) -> tuple[SiteAlerts, list[AlertEvent]]:
    """Apply an operator command; raises `UnknownAlertError` for an alert the site does not hold."""
    state = _check_site(state, cmd.site_id)
    now = _now(state, now)
    ks = _find(state, cmd)
    new_ks, events = command_key(ks, cmd, now)
    if not events:
        return state, []
    keys = dict(state.keys)
    keys[ks.dedup_key] = new_ks
    return _finish(state, keys, now, events)


def tick(state: SiteAlerts, now: datetime,
         policy: AlertPolicy = DEFAULT_POLICY) -> tuple[SiteAlerts, list[AlertEvent]]:
    """Timer: clear alerts whose hold expired with no further input, escalate overdue ones, and forget the
    snapshots of alerts cleared longer than `retain_cleared_s` ago (no event: they are final on the topic)."""
    now = _now(state, now)
    keys: dict[str, KeyState] | None = None
    events: list[AlertEvent] = []
    for key, ks in state.keys.items():
        a = ks.alert
        if a is None:
            continue
        if not a.active:
            if a.cleared_at is not None and (now - a.cleared_at).total_seconds() >= policy.retain_cleared_s:
                keys = keys if keys is not None else dict(state.keys)
                keys[key] = ks.model_copy(update={"alert": None})  # keep the occurrence counter: ids stay unique
            continue
        new_ks, evs = tick_key(ks, now, policy)
        if evs:
            keys = keys if keys is not None else dict(state.keys)
            keys[key] = new_ks
            events += evs
    if keys is None:
        return state, []
    return _finish(state, keys, now, events)


def alerts_of(state: SiteAlerts | None) -> dict[str, Alert]:
    """Current occurrence of every key at the site, by alert id (what `rebuild` must agree with)."""
    if state is None:
        return {}
    return {ks.alert.id: ks.alert for ks in state.keys.values() if ks.alert is not None}


def alerts_of_sites(states: Iterable[SiteAlerts]) -> dict[str, Alert]:
    out: dict[str, Alert] = {}
    for s in states:
        out.update(alerts_of(s))
    return out
