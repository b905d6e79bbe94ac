"""Prometheus metrics of the notifier (`omnitrack_notify_*`), defined once per process."""

from __future__ import annotations

from prometheus_client import Counter, Histogram

DELIVERIES = Counter("omnitrack_notify_deliveries_total", "Alert events delivered, per channel", ["channel"])
FAILURES = Counter("omnitrack_notify_failures_total", "Deliveries dead-lettered, per channel and reason",
                   ["channel", "reason"])
RETRIES = Counter("omnitrack_notify_retries_total", "Delivery attempts retried, per channel", ["channel"])
DEDUPLICATED = Counter("omnitrack_notify_deduplicated_total",
                       "Deliveries skipped because the (alert, version, target) was already delivered")
DEFERRED = Counter("omnitrack_notify_deferred_total", "Alert events held back into a digest, per channel",
                   ["channel"])
DIGESTS = Counter("omnitrack_notify_digests_total", "Digest messages sent for deferred alerts", ["channel"])
UNDECODABLE = Counter("omnitrack_notify_undecodable_alerts_total",
                      "Records on the alerts topic that are not alert events, parked on notifications.dlq as they came")
REPLAYED = Counter("omnitrack_notify_replayed_total", "DLQ entries re-delivered by replay_dlq", ["channel"])
LATENCY = Histogram(
    "omnitrack_notify_alert_to_publish_seconds", "From the alert transition to its accepted publish, per channel",
    ["channel"], buckets=(0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0),
)
