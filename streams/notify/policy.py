"""The routing policy: which alert events go to which SNS topics and channels, and the channels' limits.

WHY a declarative YAML validated by pydantic: routing is an operations decision that changes more often than
code (who gets paged at night, which sites are piloting SMS). A typo must fail at start-up with a message
(`PolicyError`), never silently route nothing. The policy decides *who should hear about* an event; whether
they hear now or in a digest (quiet hours, SMS budget) is `gates`' decision.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from datetime import time
from pathlib import Path
from typing import Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from streams.notify.errors import PolicyError
from twin.alerts.models import AlertEvent, Severity, SubjectKind, TransitionKind, severity_rank

__all__ = [
    "CHANNELS",
    "Channel",
    "RateLimit",
    "QuietHours",
    "ChannelPolicy",
    "Subscription",
    "TopicPolicy",
    "Match",
    "Route",
    "RoutingPolicy",
    "load_policy",
    "route_event",
]

Channel = Literal["email", "sms", "push", "slack", "teams"]
CHANNELS: tuple[str, ...] = ("email", "sms", "push", "slack", "teams")

# Transitions that page by default: the ones docs/alerts.md tells notifiers to act on. Paging on every
# `updated`/`commented` event would train people to ignore the pager.
DEFAULT_TRANSITIONS: frozenset[TransitionKind] = frozenset(
    {TransitionKind.created, TransitionKind.escalated, TransitionKind.severity_changed, TransitionKind.flapping}
)


class _Strict(BaseModel):
    # A misspelt key (e.g. `severites`) must be an error, not a route that matches everything.
    model_config = ConfigDict(extra="forbid", frozen=True)


class RateLimit(_Strict):
    """Token bucket: `burst` sends at once, then `per_minute`. Excess is deferred into a digest, not dropped."""

    burst: int = Field(ge=1)
    per_minute: float = Field(gt=0)


class QuietHours(_Strict):
    """A daily window (local time) during which only alerts at or above `min_severity` go out immediately."""

    start: time
    end: time
    timezone: str = "UTC"
    min_severity: Severity = Severity.critical

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, v: str) -> str:
        try:
            ZoneInfo(v)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(f"unknown timezone {v!r}") from exc
        return v


class ChannelPolicy(_Strict):
    quiet_hours: QuietHours | None = None
    rate_limit: RateLimit | None = None
    webhook_url_env: str | None = Field(
        None, description="slack/teams: env var holding an incoming-webhook URL; set -> delivered directly"
    )

    def webhook_url(self, environ: Mapping[str, str] | None = None) -> str | None:
        """The webhook URL from the environment (secrets never live in the policy file)."""
        if not self.webhook_url_env:
            return None
        return (environ if environ is not None else os.environ).get(self.webhook_url_env) or None


class Subscription(_Strict):
    """One SNS subscription standing for a channel: email address, phone, platform endpoint, HTTPS relay, SQS."""

    channel: Channel
    protocol: Literal["email", "email-json", "sms", "application", "http", "https", "sqs", "lambda", "firehose"]
    endpoint: str | None = None
    endpoint_env: str | None = Field(None, description="env var with the endpoint (phone numbers are personal data)")
    raw_delivery: bool = False
    filter_policy: dict[str, Any] | None = Field(None, description="extra conditions ANDed with the channel's")

    @model_validator(mode="after")
    def _one_endpoint(self) -> "Subscription":
        if (self.endpoint is None) == (self.endpoint_env is None):
            raise ValueError("exactly one of endpoint or endpoint_env is required")
        return self


class TopicPolicy(_Strict):
    name: str = Field(pattern=r"^[A-Za-z0-9_-]{1,256}$", description="SNS topic name")
    subscriptions: tuple[Subscription, ...] = ()


class Match(_Strict):
    """All given conditions must hold (an omitted one matches anything)."""

    min_severity: Severity | None = None
    severities: frozenset[Severity] | None = None
    sites: frozenset[str] | None = None
    node_types: frozenset[str] | None = None
    subject_kinds: frozenset[SubjectKind] | None = None
    rules: frozenset[str] | None = None
    transitions: frozenset[TransitionKind] = DEFAULT_TRANSITIONS
    include_children: bool = Field(False, description="also route alerts grouped under a site alert")

    def matches(self, event: AlertEvent, node_type: str | None) -> bool:
        a = event.alert
        if event.transition.kind not in self.transitions:
            return False
        if a.parent_id is not None and not self.include_children:
            return False
        if self.min_severity is not None and severity_rank(a.severity) < severity_rank(self.min_severity):
            return False
        if self.severities is not None and a.severity not in self.severities:
            return False
        if self.sites is not None and a.site_id not in self.sites:
            return False
        if self.node_types is not None and node_type not in self.node_types:
            return False
        if self.subject_kinds is not None and a.subject_kind not in self.subject_kinds:
            return False
        return self.rules is None or a.rule in self.rules


class Route(_Strict):
    name: str
    match: Match = Match()
    topic: str
    channels: tuple[Channel, ...] = Field(min_length=1)


class RoutingPolicy(_Strict):
    version: Literal[1] = 1
    api_url: str = Field(description="Base URL of the OmniTrack API; links are `{api_url}/alerts/{id}`")
    channels: dict[Channel, ChannelPolicy] = Field(default_factory=dict)
    topics: dict[str, TopicPolicy]
    routes: tuple[Route, ...]

    @model_validator(mode="after")
    def _references(self) -> "RoutingPolicy":
        for r in self.routes:
            if r.topic not in self.topics:
                raise ValueError(f"route {r.name!r} names unknown topic {r.topic!r}")
        return self

    def channel(self, name: str) -> ChannelPolicy:
        return self.channels.get(name, ChannelPolicy())  # type: ignore[call-overload]


def load_policy(path: Path | str) -> RoutingPolicy:
    """Read and validate a policy file; any problem is a `PolicyError` naming the file."""
    p = Path(path)
    try:
        data = yaml.safe_load(p.read_text())
        return RoutingPolicy.model_validate(data)
    except (OSError, yaml.YAMLError, ValidationError) as exc:
        raise PolicyError(f"{p}: {exc}") from exc


def route_event(policy: RoutingPolicy, event: AlertEvent, node_type: str | None = None) -> dict[str, tuple[str, ...]]:
    """{topic key: channels} for one event: the union over every matching route, in policy order."""
    out: dict[str, list[str]] = {}
    for r in policy.routes:
        if r.match.matches(event, node_type):
            chans = out.setdefault(r.topic, [])
            chans.extend(c for c in r.channels if c not in chans)
    return {k: tuple(v) for k, v in out.items()}
