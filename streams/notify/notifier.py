"""The delivery logic of one round of alert events, independent of Faust (which `app` wires around it).

A round: route every event (policy), drop targets already delivered (dedup store), let the channel gates admit
or defer, publish what is left - PublishBatch calls of up to 10 per SNS topic, one POST per direct webhook,
concurrently, in `waves` so that two transitions of one alert in the same round still leave in order - then
record each success in the store and each exhausted delivery in the DLQ. The caller acknowledges the
Kafka records only after `handle` returns (produce-then-ack): a crash before that replays the round, and the
store turns the replay into no-ops for everything that was already accepted.

Dedup keys are `{alert_id}:{version}:{target}` with target `sns:<topic>` (one publish reaches all of that
topic's chosen channels) or the webhook channel name: the same transition is never sent twice to a target.
"""

from __future__ import annotations

import asyncio
import logging
import os
import uuid
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime, timezone
from typing import Any, Literal, Protocol, TypeVar

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from streams.notify import metrics as m
from streams.notify.errors import DeliveryError
from streams.notify.gates import ChannelGate
from streams.notify.messages import PublishEntry, build_digest_entry, build_entry
from streams.notify.policy import CHANNELS, RoutingPolicy, route_event
from streams.notify.sns import SnsPublisher
from streams.notify.webhooks import WebhookSender, body_for
from twin.alerts.models import AlertEvent

__all__ = ["DeliveredStore", "DeadLetterSink", "DlqRecord", "RoundResult", "Notifier", "MemoryStore", "waves"]

log = logging.getLogger(__name__)

WEBHOOK_CHANNELS = ("slack", "teams")

T = TypeVar("T")


def waves(items: Sequence[T], key: Callable[[T], Any]) -> list[list[T]]:
    """`items` split so that the n-th item of each key is in wave n (input order kept within a wave).

    WHY: a wave is sent concurrently (several PublishBatch calls in flight, webhook POSTs side by side), which
    would let an alert's `cleared` overtake its `created` when both are in one round (a storm, a backlog).
    Waves go one after the other, so one alert's transitions keep their order, as across rounds.
    """
    out: list[list[T]] = []
    depth: dict[Any, int] = {}
    for item in items:
        k = key(item)
        n = depth.get(k, 0)
        depth[k] = n + 1
        if n == len(out):
            out.append([])
        out[n].append(item)
    return out


class DeliveredStore(Protocol):
    """Where delivery progress is remembered (a Faust table in the worker, a dict in tests).

    `state(key)`: "new", "pending" (a publish was attempted, outcome unknown) or "done". `begin` marks pending,
    `mark` marks done; `sync()` returns once every write so far is durable.
    """

    def state(self, key: str) -> str: ...

    def begin(self, key: str, ctx: Any) -> None: ...

    def mark(self, key: str, ctx: Any) -> None: ...

    async def sync(self) -> None: ...


class DeadLetterSink(Protocol):
    async def put(self, record: "DlqRecord") -> None: ...


class DlqRecord(BaseModel):
    """A delivery that exhausted its retries (or was refused), with everything needed to send it again."""

    model_config = ConfigDict(extra="forbid")

    schema_version: Literal[1] = 1
    key: str
    target: Literal["sns", "webhook"]
    topic: str | None = Field(None, description="SNS topic name (target sns)")
    channel: str | None = Field(None, description="webhook channel (target webhook)")
    channels: list[str]
    entry: PublishEntry | None = None
    body: dict[str, Any] | None = None
    event_id: str
    alert_at: AwareDatetime | None = None
    reason: str
    detail: str = ""
    failed_at: AwareDatetime


class RoundResult(BaseModel):
    delivered: int = 0
    deduplicated: int = 0
    deferred: int = 0
    dead_lettered: int = 0


class MemoryStore:
    """A dict-backed `DeliveredStore` (tests, the benchmark)."""

    def __init__(self) -> None:
        self.keys: dict[str, str] = {}

    def state(self, key: str) -> str:
        return self.keys.get(key, "new")

    def begin(self, key: str, ctx: Any) -> None:
        self.keys[key] = "pending"

    def mark(self, key: str, ctx: Any) -> None:
        self.keys[key] = "done"

    async def sync(self) -> None:
        return None


def _observe(channels: Sequence[str], at: datetime | None) -> None:
    lag = None if at is None else max(0.0, (datetime.now(timezone.utc) - at).total_seconds())
    for ch in channels:
        m.DELIVERIES.labels(ch).inc()
        if lag is not None:
            m.LATENCY.labels(ch).observe(lag)


class Notifier:
    """Routes, gates, publishes and records one round of events at a time."""

    def __init__(self, policy: RoutingPolicy, sns: SnsPublisher, webhooks: WebhookSender, store: DeliveredStore,
                 dlq: DeadLetterSink, node_types: Mapping[str, str] | None = None,
                 environ: Mapping[str, str] | None = None, now: Callable[[], datetime] | None = None,
                 in_doubt: Literal["dead_letter", "resend"] = "dead_letter") -> None:
        self.policy = policy
        self.sns = sns
        self.webhooks = webhooks
        self.store = store
        self.dlq = dlq
        self.node_types = dict(node_types or {})
        env = environ if environ is not None else os.environ
        self.webhook_urls = {c: url for c in WEBHOOK_CHANNELS if (url := policy.channel(c).webhook_url(env))}
        self.gates = {c: ChannelGate(c, policy.channel(c)) for c in CHANNELS}
        self._now = now or (lambda: datetime.now(timezone.utc))
        self.in_doubt = in_doubt

    def _node_type(self, ev: AlertEvent) -> str | None:
        a = ev.alert
        return self.node_types.get(a.subject_id if a.subject_kind.value == "node" else a.site_id)

    async def handle(self, items: Sequence[tuple[AlertEvent, Any]]) -> RoundResult:
        """Deliver a round; `ctx` of each item is passed back to `store.mark` (the Faust event)."""
        res = RoundResult()
        now = self._now()
        sns_work: dict[str, list[tuple[PublishEntry, str, AlertEvent, Any, tuple[str, ...]]]] = {}
        hook_work: list[tuple[str, str, AlertEvent, Any]] = []
        sns_keys: set[str] = set()  # a record Kafka redelivered within the round: one target, one send
        hook_keys: set[str] = set()
        in_doubt: list[DlqRecord] = []
        for ev, ctx in items:
            routes = route_event(self.policy, ev, self._node_type(ev))
            for topic, channels in routes.items():
                sns_channels = tuple(c for c in channels if c not in self.webhook_urls)
                hook_channels = [c for c in channels if c in self.webhook_urls]
                key = f"{ev.alert.id}:{ev.alert.version}:sns:{topic}"
                if sns_channels and key not in sns_keys:
                    sns_keys.add(key)
                    st = self._check(key, res)
                    if st == "pending":
                        entry = build_entry(ev, sns_channels, self.policy.api_url, key)
                        in_doubt.append(self._record(key, ev, "in_doubt", topic=topic, channels=sns_channels,
                                                     entry=entry))
                        self.store.mark(key, ctx)
                    elif st == "new":
                        admitted = tuple(c for c in sns_channels if self._admit(c, topic, ev, now, res))
                        if admitted:
                            sns_work.setdefault(topic, []).append(
                                (build_entry(ev, admitted, self.policy.api_url, key), key, ev, ctx, admitted))
                            self.store.begin(key, ctx)
                        else:
                            self.store.mark(key, ctx)  # all deferred: the digest carries it
                for ch in hook_channels:
                    key = f"{ev.alert.id}:{ev.alert.version}:{ch}"
                    if key in hook_keys:
                        continue
                    hook_keys.add(key)
                    st = self._check(key, res)
                    if st == "pending":
                        in_doubt.append(self._record(key, ev, "in_doubt", channel=ch,
                                                     body=body_for(ch, ev, self.policy.api_url)))
                        self.store.mark(key, ctx)
                    elif st == "new":
                        if self._admit(ch, topic, ev, now, res):
                            hook_work.append((ch, key, ev, ctx))
                            self.store.begin(key, ctx)
                        else:
                            self.store.mark(key, ctx)
        for rec in in_doubt:
            await self._dead_letter(rec)
            res.dead_lettered += 1
        await self.store.sync()  # pending marks durable before anything leaves: a crash now is detectable
        jobs = [self._publish_topic(t, work, res) for t, work in sns_work.items()]
        jobs.append(self._post_all(hook_work, res))
        await asyncio.gather(*jobs)
        await self.store.sync()
        await self.flush_digests()
        return res

    def _check(self, key: str, res: RoundResult) -> str:
        st = self.store.state(key)
        if st == "pending" and self.in_doubt == "resend":
            return "new"  # at-least-once: a crash mid-publish may duplicate, never needs an operator
        if st == "done":
            m.DEDUPLICATED.inc()
            res.deduplicated += 1
        return st

    def _record(self, key: str, ev: AlertEvent, reason: str, *, topic: str | None = None, channel: str | None = None,
                channels: Sequence[str] = (), entry: PublishEntry | None = None,
                body: dict[str, Any] | None = None, detail: str = "") -> DlqRecord:
        return DlqRecord(key=key, target="sns" if entry is not None else "webhook", topic=topic, channel=channel,
                         channels=list(channels) if channels else [channel or ""], entry=entry, body=body,
                         event_id=ev.event_id, alert_at=ev.transition.at, reason=reason, detail=detail,
                         failed_at=self._now())

    def _admit(self, channel: str, topic: str, ev: AlertEvent, now: datetime, res: RoundResult) -> bool:
        gate = self.gates[channel]
        if gate.admit(ev, now):
            return True
        gate.defer(topic, ev)
        m.DEFERRED.labels(channel).inc()
        res.deferred += 1
        return False

    async def _publish_topic(self, topic: str, work: list, res: RoundResult) -> None:
        for wave in waves(work, key=lambda w: w[2].alert.id):
            results = await self.sns.publish(self.policy.topics[topic].name, [w[0] for w in wave])
            await self._settle(topic, wave, results, res)

    async def _settle(self, topic: str, work: list, results: dict, res: RoundResult) -> None:
        for entry, key, ev, ctx, channels in work:
            err = results.get(entry.id)
            if err is None:
                self.store.mark(key, ctx)
                _observe(channels, ev.transition.at)
                res.delivered += 1
            else:
                await self._dead_letter(self._record(key, ev, err.reason, topic=topic, channels=channels,
                                                     entry=entry, detail=err.detail))
                self.store.mark(key, ctx)  # it is in the DLQ now: replay owns it
                res.dead_lettered += 1

    async def _post_all(self, work: list[tuple[str, str, AlertEvent, Any]], res: RoundResult) -> None:
        for wave in waves(work, key=lambda w: (w[0], w[2].alert.id)):
            await asyncio.gather(*(self._post(ch, key, ev, ctx, res) for ch, key, ev, ctx in wave))

    async def _post(self, channel: str, key: str, ev: AlertEvent, ctx: Any, res: RoundResult) -> None:
        body = body_for(channel, ev, self.policy.api_url)
        err = await self.webhooks.post(self.webhook_urls[channel], body, channel)
        if err is None:
            self.store.mark(key, ctx)
            _observe([channel], ev.transition.at)
            res.delivered += 1
        else:
            await self._dead_letter(self._record(key, ev, err.reason, channel=channel, body=body,
                                                 detail=err.detail))
            self.store.mark(key, ctx)
            res.dead_lettered += 1

    async def _dead_letter(self, rec: DlqRecord) -> None:
        for ch in rec.channels:
            m.FAILURES.labels(ch, rec.reason).inc()
        log.warning("dead-lettering %s (%s): %s %s", rec.key, rec.channels, rec.reason, rec.detail)
        await self.dlq.put(rec)

    async def flush_digests(self) -> int:
        """Send the digests whose gate has opened (end of quiet hours, a token free). Returns how many."""
        sent = 0
        now = self._now()
        for ch, gate in self.gates.items():
            for topic, d in gate.due_digests(now).items():
                key = f"digest:{ch}:{topic}:{uuid.uuid4().hex[:12]}"
                try:
                    await self._send_digest(ch, topic, d.events, d.count, key)
                    m.DIGESTS.labels(ch).inc()
                    sent += 1
                except DeliveryError as err:
                    await self._dead_letter(DlqRecord(key=key, target="sns", topic=topic, channels=[ch],
                                                      event_id=key, reason=err.reason, detail=err.detail,
                                                      failed_at=self._now()))
        return sent

    async def _send_digest(self, channel: str, topic: str, events: list[AlertEvent], count: int, key: str) -> None:
        if channel in self.webhook_urls:
            text = f"{count} alert(s) held back: " + "; ".join(e.event_id for e in events)
            body = {"text": text} if channel == "slack" else {"type": "message", "attachments": [{
                "contentType": "application/vnd.microsoft.card.adaptive", "contentUrl": None,
                "content": {"type": "AdaptiveCard", "version": "1.4",
                            "body": [{"type": "TextBlock", "text": text, "wrap": True}]}}]}
            err = await self.webhooks.post(self.webhook_urls[channel], body, channel)
        else:
            entry = build_digest_entry(channel, events, count, self.policy.api_url, key)
            err = (await self.sns.publish(self.policy.topics[topic].name, [entry])).get(entry.id)
        if err is not None:
            raise err

