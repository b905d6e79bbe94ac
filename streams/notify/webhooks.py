"""Slack (Block Kit) and Microsoft Teams (Adaptive Card) bodies, and direct delivery to incoming webhooks.

WHY direct webhooks next to SNS: SNS delivers its own JSON envelope to HTTPS subscribers, which Slack and
Teams do not understand; production puts a relay (AWS Chatbot / a Lambda) behind an SNS HTTPS subscription.
Where a team just has an incoming-webhook URL, the notifier posts the platform's native body itself. The
URL is a secret: it comes from the environment variable the policy names, never from the policy file.
"""

from __future__ import annotations

import asyncio
import email.utils
import json
import urllib.error
import urllib.request
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timezone
from typing import Any

from streams.notify.errors import DeliveryError, PermanentDeliveryError, RetryableDeliveryError
from streams.notify.messages import alert_link, headline
from streams.notify.retry import RetryPolicy
from twin.alerts.models import AlertEvent, Severity

__all__ = ["slack_body", "teams_body", "body_for", "WebhookSender"]

# Slack rejects a header block whose plain_text is over 150 characters (invalid_blocks -> HTTP 400).
SLACK_HEADER_MAX = 150
# Slack section text limit (3000): a long detail would make the whole message fail.
SLACK_TEXT_MAX = 3000
# Adaptive Card schema version Teams renders in incoming webhooks / Workflows; newer features would be dropped.
ADAPTIVE_CARD_VERSION = "1.4"

_EMOJI = {Severity.info: ":information_source:", Severity.warning: ":warning:",
          Severity.major: ":large_orange_circle:", Severity.critical: ":red_circle:"}
_TEAMS_COLOR = {Severity.info: "Accent", Severity.warning: "Warning", Severity.major: "Warning",
                Severity.critical: "Attention"}


def _at_risk(event: AlertEvent) -> str:
    a = event.alert
    val = "" if a.value is None else f" ({a.value:g}{(' ' + a.unit) if a.unit else ''})"
    return f"{a.subject_kind.value} {a.subject_id} at site {a.site_id}: rule {a.rule}{val}"


def slack_body(event: AlertEvent, api_url: str) -> dict[str, Any]:
    """A Block Kit message: header, a mrkdwn section with fields, a context line; `text` is the fallback."""
    a, t = event.alert, event.transition
    link = alert_link(api_url, a.id)
    title = f"{a.severity.value.upper()}: {a.rule} at {a.site_id}"[:SLACK_HEADER_MAX]
    text = f"{_EMOJI[a.severity]} *{headline(event)}*\n*At risk:* {_at_risk(event)}"
    if a.detail:
        text += f"\n{a.detail}"
    text += f"\n<{link}|Open alert {a.id[:8]}>"
    return {
        "text": headline(event),
        "blocks": [
            {"type": "header", "text": {"type": "plain_text", "text": title, "emoji": True}},
            {"type": "section", "text": {"type": "mrkdwn", "text": text[:SLACK_TEXT_MAX]},
             "fields": [
                 {"type": "mrkdwn", "text": f"*Severity*\n{a.severity.value}"},
                 {"type": "mrkdwn", "text": f"*Status*\n{a.status}"},
                 {"type": "mrkdwn", "text": f"*Site*\n{a.site_id}"},
                 {"type": "mrkdwn", "text": f"*Transition*\n{t.kind.value}"},
             ]},
            {"type": "context", "elements": [
                {"type": "mrkdwn", "text": f"OmniTrack • event `{event.event_id}` • {t.at.isoformat()}"}]},
        ],
    }


def teams_body(event: AlertEvent, api_url: str) -> dict[str, Any]:
    """An Adaptive Card in the `message`/`attachments` envelope of Teams incoming webhooks and Workflows."""
    a, t = event.alert, event.transition
    link = alert_link(api_url, a.id)
    card = {
        "$schema": "http://adaptivecards.io/schemas/adaptive-card.json",
        "type": "AdaptiveCard",
        "version": ADAPTIVE_CARD_VERSION,
        "body": [
            {"type": "TextBlock", "text": headline(event), "weight": "Bolder", "size": "Medium", "wrap": True,
             "color": _TEAMS_COLOR[a.severity]},
            {"type": "TextBlock", "text": f"At risk: {_at_risk(event)}", "wrap": True},
            {"type": "FactSet", "facts": [
                {"title": "Severity", "value": a.severity.value},
                {"title": "Status", "value": a.status},
                {"title": "Site", "value": a.site_id},
                {"title": "Transition", "value": f"{t.kind.value} at {t.at.isoformat()}"},
                {"title": "Event", "value": event.event_id},
            ]},
        ] + ([{"type": "TextBlock", "text": a.detail, "wrap": True, "isSubtle": True}] if a.detail else []),
        "actions": [{"type": "Action.OpenUrl", "title": "Open alert", "url": link}],
    }
    return {"type": "message",
            "attachments": [{"contentType": "application/vnd.microsoft.card.adaptive", "contentUrl": None,
                             "content": card}]}


def body_for(channel: str, event: AlertEvent, api_url: str) -> dict[str, Any]:
    if channel == "slack":
        return slack_body(event, api_url)
    if channel == "teams":
        return teams_body(event, api_url)
    raise ValueError(f"no webhook body for channel {channel!r}")


MAX_CONCURRENT_POSTS = 8
"""Webhook POSTs in flight at once, all channels together."""

# A Retry-After past this is not a throttle worth waiting out inside one delivery round: the round's deadline
# (retry_deadline_s) decides, and the delivery is dead-lettered rather than blocking the stream.
MAX_RETRY_AFTER_S = 3600.0


def retry_after(headers: Any) -> float | None:
    """Seconds from an HTTP `Retry-After` header (delta-seconds or an HTTP date), or None when absent or unusable."""
    value = headers.get("Retry-After") if headers is not None else None
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return min(float(value), MAX_RETRY_AFTER_S)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        return None
    return min(max(0.0, (when - datetime.now(timezone.utc)).total_seconds()), MAX_RETRY_AFTER_S)


def _post_once(url: str, body: dict[str, Any], timeout_s: float) -> None:
    req = urllib.request.Request(url, data=json.dumps(body).encode(), method="POST",
                                 headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(req, timeout=timeout_s) as resp:  # noqa: S310 - URL from operator config
            resp.read()
    except urllib.error.HTTPError as exc:
        if exc.code == 429 or exc.code >= 500:
            raise RetryableDeliveryError(f"http_{exc.code}", retry_after_s=retry_after(exc.headers)) from exc
        raise PermanentDeliveryError(f"http_{exc.code}") from exc
    except (urllib.error.URLError, OSError) as exc:
        raise RetryableDeliveryError("connection", type(exc).__name__) from exc


class WebhookSender:
    """POSTs JSON bodies with retries; blocking I/O runs in a thread."""

    def __init__(self, retry: RetryPolicy | None = None, timeout_s: float = 5.0,
                 on_retry: Callable[[str], None] | None = None) -> None:
        self.retry = retry or RetryPolicy()
        self.timeout_s = timeout_s
        self.on_retry = on_retry
        # At most this many POSTs at once, on threads of its own (not asyncio's default pool, which the SNS
        # calls used to share): a storm of 100 alerts is not 100 simultaneous requests to one Slack webhook.
        self._threads = ThreadPoolExecutor(MAX_CONCURRENT_POSTS, thread_name_prefix="webhook")

    async def post(self, url: str, body: dict[str, Any], channel: str = "webhook") -> DeliveryError | None:
        """None when delivered, else the final error (the caller dead-letters it)."""
        clock = self.retry.start()
        while True:
            try:
                await asyncio.get_running_loop().run_in_executor(self._threads, _post_once, url, body, self.timeout_s)
                return None
            except PermanentDeliveryError as exc:
                return exc
            except RetryableDeliveryError as exc:
                sleep = clock.next_sleep(at_least=exc.retry_after_s)
                if sleep is None:
                    return exc
                if self.on_retry:
                    self.on_retry(channel)
                await asyncio.sleep(sleep)
