"""`omnitrack notifier`: one notifier process, until SIGTERM/SIGINT.

Also runnable as `python -m streams.notify.worker`; both read `omnitrack.settings.Settings` (`notify_*`).
"""

from __future__ import annotations

import asyncio
import logging
import os
import sys

from prometheus_client import start_http_server

from omnitrack.settings import Settings
from streams.admin import COMPACTED, TELEMETRY_PARTITIONS, ensure_specs, ensure_topics
from streams.app import make_worker
from streams.notify.app import create_notify_app, register_notifier
from streams.notify.notifier import Notifier
from streams.notify.policy import load_policy
from streams.notify.retry import RetryPolicy
from streams.notify.settings import NotifySettings
from streams.notify.sns import SnsPublisher, make_sns_client
from streams.notify.topics import delivered_changelog, notifications_dlq
from streams.notify.webhooks import WebhookSender
from streams.notify import metrics as m
from streams.topics import Topics, topics_for

__all__ = ["main", "ensure_notify_topics", "node_types"]

log = logging.getLogger(__name__)


async def ensure_notify_topics(bootstrap: str, topics: Topics) -> int:
    """The engine's topics plus the notifier's DLQ and table changelog (created before Faust starts, so the
    changelog has as many partitions as `alerts`: Faust refuses a table whose changelog does not). Returns the
    replication factor they get, for the notifier app's own topics."""
    await ensure_topics(bootstrap, topics)
    retention_ms = str(30 * 24 * 3600 * 1000)
    specs = {
        notifications_dlq(topics): (1, {"retention.ms": retention_ms}),
        delivered_changelog(topics): (TELEMETRY_PARTITIONS, COMPACTED),
    }
    return await ensure_specs(bootstrap, specs)


def node_types(settings: Settings) -> dict[str, str]:
    """node/lane id -> kind from the network file, for `node_types` route matches (empty if unreadable)."""
    try:
        from streams.network_file import load_network

        net = load_network(settings.network_file)
    except Exception as exc:  # noqa: BLE001 - routing by severity/site still works without it
        log.warning("network file unreadable (%s): routes with node_types will not match", exc)
        return {}
    out = {n.id: n.kind.value for n in net.nodes}
    out.update({lane.id: "lane" for lane in net.lanes})
    return out


def main(settings: Settings, notify: NotifySettings | None = None, loglevel: str = "warning") -> int:
    """Run the notifier worker (blocks until stopped)."""

    notify = notify or NotifySettings(settings)
    policy = load_policy(notify.policy_file)
    topics = topics_for(settings)
    replication = asyncio.run(ensure_notify_topics(settings.bootstrap, topics))
    retry = RetryPolicy(notify.retry_max_attempts, notify.retry_base_s, notify.retry_cap_s, notify.retry_deadline_s)
    client = make_sns_client(notify.sns_endpoint_url, notify.region, notify.request_timeout_s,
                             session=notify.session())
    types = node_types(settings) if notify.node_types_from_network else {}

    def on_sns_retry(entries) -> None:  # noqa: ANN001
        for e in entries:
            for ch in _channels_of(e):
                m.RETRIES.labels(ch).inc()

    def factory(store, dlq) -> Notifier:  # noqa: ANN001
        sns = SnsPublisher(client, retry, on_retry=on_sns_retry)
        hooks = WebhookSender(retry, notify.request_timeout_s, on_retry=lambda ch: m.RETRIES.labels(ch).inc())
        return Notifier(policy, sns, hooks, store, dlq, node_types=types, in_doubt=notify.in_doubt)

    app = create_notify_app(settings, notify, topic_replication_factor=replication)
    register_notifier(app, settings, notify, factory)
    port = notify.metrics_port
    if port > 0:
        start_http_server(port, addr=settings.metrics_host)
    worker = make_worker(app, loglevel)
    worker.execute_from_commandline()
    return 0


def _channels_of(entry) -> list[str]:  # noqa: ANN001
    import json

    return json.loads(entry.attributes.get("channels", ("", "[]"))[1])


if __name__ == "__main__":
    logging.basicConfig(level=os.environ.get("OMNITRACK_NOTIFY_LOGLEVEL", "WARNING").upper(),
                        format="%(asctime)s %(levelname)s %(name)s %(message)s")
    sys.argv = sys.argv[:1]  # Faust's Worker parses argv
    sys.exit(main(Settings(), loglevel=os.environ.get("OMNITRACK_NOTIFY_LOGLEVEL", "warning")))
