"""The public alert contract: conditions in, alerts and events out, commands back in.

WHY pydantic with ``extra="forbid"``: these records cross process boundaries (Kafka topics, the UI, other
teams' consumers). A misspelt field must fail at the producer, not become a silently ignored key that a
consumer then reads as a default. ``AlertEvent`` carries the transition AND the full alert snapshot after it,
so a consumer can rebuild current alert state from the topic alone, without our tables.
"""

from __future__ import annotations

import uuid
from enum import Enum
from typing import Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, model_validator

__all__ = [
    "SCHEMA_VERSION",
    "Severity",
    "SubjectKind",
    "TransitionKind",
    "Condition",
    "Comment",
    "Alert",
    "AlertTransition",
    "AlertEvent",
    "AlertCommand",
    "dedup_key",
    "alert_id",
    "severity_rank",
]

# Bumped on any incompatible change of AlertEvent/AlertCommand; consumers reject versions they do not know.
SCHEMA_VERSION = 1
# Fixed namespace for uuid5 alert ids: changing it would give every replayed alert a new id (duplicates in UIs).
_ID_NAMESPACE = uuid.UUID("6f1d6c1e-7a52-4f0b-9a57-0a1e7d0c5a11")
# Comments kept on a snapshot: bounds the table value and every event's size (older ones live in the topic).
MAX_COMMENTS = 20
# Longest free text accepted from operators: a pasted log must not blow the Kafka message size.
MAX_TEXT = 2000

Id = str


class Severity(str, Enum):
    """Ordered: info < warning < major < critical (use `severity_rank`, not string order)."""

    info = "info"
    warning = "warning"
    major = "major"
    critical = "critical"


_RANK = {Severity.info: 0, Severity.warning: 1, Severity.major: 2, Severity.critical: 3}
SEVERITIES: tuple[Severity, ...] = (Severity.info, Severity.warning, Severity.major, Severity.critical)


def severity_rank(s: Severity) -> int:
    """0 (info) .. 3 (critical)."""
    return _RANK[s]


class SubjectKind(str, Enum):
    device = "device"
    node = "node"
    site = "site"  # a node or lane as the parent of grouped device alerts


class TransitionKind(str, Enum):
    created = "created"  # a new occurrence opened (notifiers page on this, unless parent_id is set)
    suppressed = "suppressed"  # a new occurrence opened over the site's rate limit: child of the site alert
    grouped = "grouped"  # an existing alert was attached to a newly opened site alert
    updated = "updated"  # value refreshed (rate-limited, see AlertPolicy.update_interval_s)
    severity_changed = "severity_changed"
    acknowledged = "acknowledged"
    assigned = "assigned"
    commented = "commented"
    flapping = "flapping"  # would have cleared, but opened too often: held active instead
    escalated = "escalated"  # major/critical left unacknowledged past its deadline
    cleared = "cleared"


class _Frozen(BaseModel):
    # NaN/inf would serialise as null and come back as None: the rebuilt state would differ from ours.
    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)


def dedup_key(subject_kind: SubjectKind | str, subject_id: str, rule: str) -> str:
    """One alert per (subject, rule): the key every evaluation and command of that pair is routed by."""
    kind = subject_kind.value if isinstance(subject_kind, SubjectKind) else subject_kind
    return f"{kind}:{subject_id}:{rule}"


def alert_id(key: str, occurrence: int) -> str:
    """Deterministic id: a replay rebuilds the same ids, and a recurrence after clearing gets a new one."""
    return str(uuid.uuid5(_ID_NAMESPACE, f"{key}#{occurrence}"))


class Condition(_Frozen):
    """One evaluation of one rule for one subject, produced by the rule catalogue from detector outputs.

    ``level`` is the severity implied by the size of the deviation alone; the engine raises or lowers it with
    what is at risk at the site (`RiskContext`). ``site_id`` is the node (or lane) the subject belongs to:
    the partition key, so rate limits and grouping per site have a single writer.
    """

    subject_kind: SubjectKind
    subject_id: Id = Field(min_length=1, max_length=128)
    site_id: Id = Field(min_length=1, max_length=128)
    rule: str = Field(min_length=1, max_length=64)
    firing: bool
    level: Severity = Severity.warning
    value: float | None = None
    unit: str | None = None
    detail: str = Field("", max_length=MAX_TEXT)

    @property
    def dedup_key(self) -> str:
        return dedup_key(self.subject_kind, self.subject_id, self.rule)


class Comment(_Frozen):
    actor: str = Field(min_length=1, max_length=128)
    at: AwareDatetime
    text: str = Field(min_length=1, max_length=MAX_TEXT)


class Alert(_Frozen):
    """Snapshot of one occurrence. Active/cleared and acknowledged are independent, as in ThingsBoard."""

    id: Id
    dedup_key: str
    occurrence: int = Field(ge=1)
    version: int = Field(ge=1, description="Incremented on every transition; consumers keep the highest")
    subject_kind: SubjectKind
    subject_id: Id
    site_id: Id
    rule: str
    severity: Severity
    active: bool
    acknowledged: bool = False
    flapping: bool = False
    suppressed: bool = Field(False, description="Opened over the site's rate limit (a child of parent_id)")
    parent_id: Id | None = Field(None, description="The site alert this alert is grouped under")
    value: float | None = None
    unit: str | None = None
    detail: str = ""
    created_at: AwareDatetime
    updated_at: AwareDatetime
    severity_since: AwareDatetime
    cleared_at: AwareDatetime | None = None
    cleared_by: str | None = Field(None, description="An operator, or 'condition' / 'children'")
    acknowledged_at: AwareDatetime | None = None
    acknowledged_by: str | None = None
    assignee: str | None = None
    comments: tuple[Comment, ...] = Field((), max_length=MAX_COMMENTS)
    escalated_severity: Severity | None = Field(None, description="Highest severity already escalated")

    @property
    def status(self) -> str:
        """ThingsBoard-style combined status, e.g. ACTIVE_UNACK."""
        return f"{'ACTIVE' if self.active else 'CLEARED'}_{'ACK' if self.acknowledged else 'UNACK'}"


class AlertTransition(_Frozen):
    kind: TransitionKind
    at: AwareDatetime
    actor: str | None = Field(None, description="Operator for commands; None for engine-made transitions")
    note: str | None = Field(None, max_length=MAX_TEXT)
    previous_severity: Severity | None = None


class AlertEvent(_Frozen):
    """One record on the public `alerts` topic, keyed by ``alert.id``."""

    schema_version: Literal[1] = 1
    event_id: str = Field(description="'<alert id>:<version>': unique, lets consumers drop redeliveries")
    transition: AlertTransition
    alert: Alert

    @model_validator(mode="after")
    def _consistent(self) -> "AlertEvent":
        if self.event_id != f"{self.alert.id}:{self.alert.version}":
            raise ValueError("event_id must be '<alert.id>:<alert.version>'")
        return self


class AlertCommand(_Frozen):
    """An operator action, validated before it reaches the state machine (on the `alert-commands` topic).

    ``site_id`` is the routing key (the same partition as the site's evaluations); the target is the current
    occurrence named by ``alert_id`` or by ``dedup_key`` (exactly one).
    """

    schema_version: Literal[1] = 1
    action: Literal["ack", "clear", "assign", "comment"]
    site_id: Id = Field(min_length=1, max_length=128)
    alert_id: Id | None = None
    dedup_key: str | None = None
    actor: str = Field(min_length=1, max_length=128)
    note: str | None = Field(None, min_length=1, max_length=MAX_TEXT)
    assignee: str | None = Field(None, min_length=1, max_length=128, description="For assign; null unassigns")

    @model_validator(mode="after")
    def _target(self) -> "AlertCommand":
        if (self.alert_id is None) == (self.dedup_key is None):
            raise ValueError("exactly one of alert_id or dedup_key is required")
        if self.action == "comment" and self.note is None:
            raise ValueError("comment requires note")
        if self.action != "assign" and self.assignee is not None:
            raise ValueError("assignee is only valid with action 'assign'")
        return self

