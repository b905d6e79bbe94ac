"""What subscribers receive: per-protocol bodies (`MessageStructure=json`) and filterable message attributes.

WHY both: one SNS publish fans out to email, SMS, push and HTTPS subscribers, each of which wants a different
body (160-character SMS, a full email, an APNS/GCM payload). The attributes (severity, site, node, rule,
transition, channels) let a subscription's FilterPolicy pick what it gets without a topic per combination;
`channels` is how one publish reaches only the channels the routing policy (and the gates) chose.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence

from pydantic import BaseModel, ConfigDict, Field

from twin.alerts.models import AlertEvent, Severity, severity_rank

__all__ = ["PublishEntry", "alert_link", "headline", "build_entry", "build_digest_entry", "entry_id"]

# SNS caps: a Subject over 100 chars or with a newline is rejected (InvalidParameter -> whole entry fails).
SUBJECT_MAX = 100
# One SMS segment (GSM-7): more is billed as several messages.
SMS_MAX = 160
# SNS allows 10 message attributes per message: a filter attribute past it would reject the publish.
MAX_ATTRIBUTES = 10
# PublishBatch entry ids: alphanumeric, '-' and '_' only, <= 80 chars; anything else fails the batch.
_ID_BAD = re.compile(r"[^A-Za-z0-9_-]")


class PublishEntry(BaseModel):
    """One prepared SNS message (a PublishBatch entry minus the topic), also the DLQ payload."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str = Field(max_length=80)
    message: str
    subject: str | None = Field(None, max_length=SUBJECT_MAX)
    attributes: dict[str, tuple[str, str]] = Field(description="name -> (DataType, StringValue)")

    def to_batch_entry(self) -> dict:
        entry: dict = {
            "Id": self.id,
            "Message": self.message,
            "MessageStructure": "json",
            "MessageAttributes": {k: {"DataType": t, "StringValue": v} for k, (t, v) in self.attributes.items()},
        }
        if self.subject:
            entry["Subject"] = self.subject
        return entry

    def to_publish_kwargs(self, topic_arn: str) -> dict:
        kw = self.to_batch_entry()
        kw.pop("Id")
        kw["TopicArn"] = topic_arn
        return kw


def entry_id(key: str) -> str:
    """A PublishBatch-safe id for a dedup key."""
    return _ID_BAD.sub("_", key)[-80:]


def alert_link(api_url: str, alert_id: str) -> str:
    return f"{api_url.rstrip('/')}/alerts/{alert_id}"


def _value(event: AlertEvent) -> str:
    a = event.alert
    if a.value is None:
        return ""
    return f" = {a.value:g}{(' ' + a.unit) if a.unit else ''}"


def headline(event: AlertEvent) -> str:
    """`[CRITICAL] cold_chain on device:R1 at DC-1 (created)`: the one line every channel starts with."""
    a = event.alert
    return (f"[{a.severity.value.upper()}] {a.rule} on {a.subject_kind.value}:{a.subject_id} at {a.site_id} "
            f"({event.transition.kind.value})")


def _subject(text: str) -> str:
    clean = " ".join(text.split())
    return clean if len(clean) <= SUBJECT_MAX else clean[: SUBJECT_MAX - 1] + "…"


def _sms(text: str) -> str:
    return text if len(text) <= SMS_MAX else text[: SMS_MAX - 1] + "…"


def _email(event: AlertEvent, link: str) -> str:
    a, t = event.alert, event.transition
    lines = [
        headline(event),
        "",
        f"Subject:    {a.subject_kind.value} {a.subject_id}",
        f"Site:       {a.site_id}",
        f"Rule:       {a.rule}{_value(event)}",
        f"Severity:   {a.severity.value}" + (f" (was {t.previous_severity.value})" if t.previous_severity else ""),
        f"Status:     {a.status}",
        f"Transition: {t.kind.value} at {t.at.isoformat()}" + (f" by {t.actor}" if t.actor else ""),
        f"Opened:     {a.created_at.isoformat()}",
    ]
    if a.detail:
        lines += ["", a.detail]
    if t.note:
        lines += ["", f"Note: {t.note}"]
    lines += ["", f"Details and acknowledgement: {link}", f"Event id: {event.event_id}"]
    return "\n".join(lines)


def _push(title: str, body: str, link: str, alert_id: str, severity: Severity) -> tuple[str, str]:
    data = {"alert_id": alert_id, "severity": severity.value, "url": link}
    apns = {"aps": {"alert": {"title": title, "body": body},
                    "sound": "default" if severity_rank(severity) >= 2 else None}, **data}
    apns["aps"] = {k: v for k, v in apns["aps"].items() if v is not None}
    gcm = {"notification": {"title": title, "body": body}, "data": data,
           "priority": "high" if severity_rank(severity) >= 2 else "normal"}
    return json.dumps(apns), json.dumps(gcm)


def _attributes(event: AlertEvent, channels: Sequence[str], transition: str | None = None) -> dict[str, tuple[str, str]]:
    a = event.alert
    node = a.subject_id if a.subject_kind.value == "node" else a.site_id
    attrs = {
        "severity": ("String", a.severity.value),
        "severity_rank": ("Number", str(severity_rank(a.severity))),
        "site": ("String", a.site_id),
        "node": ("String", node),
        "subject": ("String", f"{a.subject_kind.value}:{a.subject_id}"),
        "rule": ("String", a.rule),
        "transition": ("String", transition or event.transition.kind.value),
        "channels": ("String.Array", json.dumps(sorted(channels))),
        "event_id": ("String", event.event_id),
    }
    assert len(attrs) <= MAX_ATTRIBUTES
    return attrs


def build_entry(event: AlertEvent, channels: Sequence[str], api_url: str, key: str) -> PublishEntry:
    """The SNS message for one event to the given channels of one topic."""
    a = event.alert
    link = alert_link(api_url, a.id)
    head = headline(event)
    short = f"{head}{_value(event)} {link}"
    apns, gcm = _push(f"{a.severity.value.upper()}: {a.rule}", f"{a.subject_id} at {a.site_id}{_value(event)}",
                      link, a.id, a.severity)
    # No "sqs" key: SNS sends `default` to every protocol without its own body, and an identical copy only
    # made each PublishBatch entry bigger (the endpoint parses it, PublishBatch caps the request at 256 KiB).
    bodies = {
        "default": short,
        "email": _email(event, link),
        "email-json": event.model_dump_json(),
        "sms": _sms(short),
        "https": event.model_dump_json(),  # chat relays (Chatbot / Lambda) get the contract record
        "APNS": apns,
        "APNS_SANDBOX": apns,
        "GCM": gcm,
    }
    return PublishEntry(id=entry_id(key), message=json.dumps(bodies), subject=_subject(head),
                        attributes=_attributes(event, channels))


def build_digest_entry(channel: str, events: Sequence[AlertEvent], count: int, api_url: str, key: str) -> PublishEntry:
    """One message summarising `count` deferred events (the first few itemised) for a single channel."""
    worst = max(events, key=lambda e: severity_rank(e.alert.severity))
    lines = [f"{count} alert(s) held back ({channel} quiet hours / rate limit):"]
    lines += [f"- {headline(e)} {alert_link(api_url, e.alert.id)}" for e in events]
    if count > len(events):
        lines.append(f"... and {count - len(events)} more: {api_url.rstrip('/')}/alerts")
    text = "\n".join(lines)
    bodies = {"default": text, "email": text, "sms": _sms(f"OmniTrack: {count} alerts held back, worst "
              f"{worst.alert.severity.value}. {api_url.rstrip('/')}/alerts")}
    attrs = _attributes(worst, [channel], transition="digest")
    attrs["event_id"] = ("String", f"digest:{key}")
    return PublishEntry(id=entry_id(key), message=json.dumps(bodies), subject=_subject(f"OmniTrack digest: {count} alerts"),
                        attributes=attrs)
