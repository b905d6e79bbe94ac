"""Kafka names used by the notifier; the public ones live in `streams/topics.py`."""

from __future__ import annotations

from streams.topics import Topics


def notifications_dlq(topics: Topics) -> str:
    """Deliveries that exhausted their retries, with the reason; `replay_dlq` re-delivers them."""
    return topics.notifications_dlq


def notify_app_id(topics: Topics) -> str:
    """Faust app id of the notifier: its consumer group and the prefix of its table changelogs."""
    return topics._name("omnitrack-notify")


def delivered_changelog(topics: Topics) -> str:
    """Changelog of the `delivered` dedup table (must have as many partitions as `alerts`)."""
    return f"{notify_app_id(topics)}-delivered-changelog"


def replay_group(topics: Topics) -> str:
    """Consumer group of `replay_dlq`: its committed offset is what has been replayed already."""
    return f"{notify_app_id(topics)}-dlq-replay"
