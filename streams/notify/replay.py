"""Re-deliver dead-lettered notifications (`omnitrack notify replay`).

WHY a consumer group: its committed offset is the record of what was replayed, so running replay twice after
one outage sends nothing twice. Each record is committed right after its delivery succeeded; the first one
that fails again stops the run (the rest stay queued in order for the next run) - replaying past a still-broken
endpoint would only dead-letter everything a second time.
"""

from __future__ import annotations

import asyncio
import logging
import os
from collections.abc import Mapping

from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.structs import OffsetAndMetadata
from pydantic import BaseModel

from omnitrack.settings import Settings
from streams.notify import metrics as m
from streams.notify.notifier import DlqRecord
from streams.notify.policy import RoutingPolicy, load_policy
from streams.notify.retry import RetryPolicy
from streams.notify.settings import NotifySettings
from streams.notify.sns import SnsPublisher, make_sns_client
from streams.notify.topics import notifications_dlq, replay_group
from streams.notify.webhooks import WebhookSender
from streams.topics import topics_for

__all__ = ["ReplayReport", "replay_dlq"]

log = logging.getLogger(__name__)


class ReplayReport(BaseModel):
    replayed: int = 0
    skipped: int = 0
    failed: int = 0
    last_error: str | None = None


def replay_dlq(settings: Settings, notify: NotifySettings | None = None, *, policy: RoutingPolicy | None = None,
               limit: int | None = None, environ: Mapping[str, str] | None = None,
               timeout_s: float = 30.0) -> ReplayReport:
    """Deliver every DLQ record not replayed yet (up to `limit`), in order; see the module doc."""
    notify = notify or NotifySettings(settings)
    return asyncio.run(_replay(settings, notify, policy or load_policy(notify.policy_file), limit,
                               environ if environ is not None else os.environ, timeout_s))


async def _replay(settings: Settings, notify: NotifySettings, policy: RoutingPolicy, limit: int | None,
                  environ: Mapping[str, str], timeout_s: float) -> ReplayReport:
    topics = topics_for(settings)
    topic = notifications_dlq(topics)
    retry = RetryPolicy(notify.retry_max_attempts, notify.retry_base_s, notify.retry_cap_s, notify.retry_deadline_s)
    client = make_sns_client(notify.sns_endpoint_url, notify.region, notify.request_timeout_s,
                             session=notify.session(environ))
    sns = SnsPublisher(client, retry)
    hooks = WebhookSender(retry, notify.request_timeout_s)
    report = ReplayReport()
    consumer = AIOKafkaConsumer(bootstrap_servers=settings.bootstrap, group_id=replay_group(topics),
                                enable_auto_commit=False, auto_offset_reset="earliest")
    await consumer.start()
    try:
        parts = consumer.partitions_for_topic(topic)
        if not parts:
            await consumer._client.force_metadata_update()  # the topic may be new to this client
            parts = consumer.partitions_for_topic(topic) or set()
        tps = [TopicPartition(topic, p) for p in sorted(parts)]
        if not tps:
            return report
        consumer.assign(tps)
        ends = await consumer.end_offsets(tps)
        for tp in tps:
            committed = await consumer.committed(tp)
            if committed is None:
                await consumer.seek_to_beginning(tp)
            else:
                consumer.seek(tp, committed)
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout_s
        while loop.time() < deadline:
            positions = [await consumer.position(tp) for tp in tps]
            if all(pos >= ends[tp] for pos, tp in zip(positions, tps)):
                break
            batch = await consumer.getmany(timeout_ms=500)
            for tp, records in batch.items():
                for rec in records:
                    if limit is not None and report.replayed >= limit:
                        return report
                    headers = dict(rec.headers or ())
                    try:
                        dl = DlqRecord.model_validate_json(rec.value)
                    except ValueError as exc:
                        # e.g. an `alerts` record that was no alert event, parked as it came: nothing to send
                        log.error("skipping DLQ record at offset %s (reason %s, from %s): not a delivery: %s",
                                  rec.offset, headers.get("reason", b"?").decode(errors="replace"),
                                  headers.get("source", b"?").decode(errors="replace"), exc)
                        report.skipped += 1
                    else:
                        err = await _deliver(dl, policy, sns, hooks, environ)
                        if err is not None:
                            report.failed += 1
                            report.last_error = err
                            return report
                        report.replayed += 1
                        for ch in dl.channels:
                            m.REPLAYED.labels(ch).inc()
                    await consumer.commit({tp: OffsetAndMetadata(rec.offset + 1, "")})
        return report
    finally:
        await consumer.stop()


async def _deliver(dl: DlqRecord, policy: RoutingPolicy, sns: SnsPublisher, hooks: WebhookSender,
                   environ: Mapping[str, str]) -> str | None:
    if dl.target == "sns":
        if dl.entry is None or dl.topic is None:
            return None  # a failed digest: nothing itemised to resend (its alerts are counted)
        name = policy.topics[dl.topic].name if dl.topic in policy.topics else dl.topic
        err = (await sns.publish(name, [dl.entry])).get(dl.entry.id)
        return None if err is None else str(err)
    url = policy.channel(dl.channel or "").webhook_url(environ)
    if url is None or dl.body is None:
        return f"no webhook URL configured for {dl.channel}"
    err = await hooks.post(url, dl.body, dl.channel or "webhook")
    return None if err is None else str(err)
