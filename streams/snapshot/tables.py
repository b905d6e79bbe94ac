"""Which changelogs a snapshot covers, by logical name, so that a restore can map them onto another prefix.

Why a catalog and not "every topic ending in -changelog": a restore into a new prefix must know each table's
topic under that prefix and its cleanup policy, and an unknown topic (a tool's, a test's) is no state of ours.
The inputs (`telemetry`, `alerts`, ...) are not snapshotted: they are streams, not state; after a whole-cluster
loss the bridge starts them afresh and the restored tables deduplicate what devices send again.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

from streams.admin import COMPACTED, WINDOWED
from streams.notify.topics import delivered_changelog
from streams.topics import Topics

TABLES: dict[str, tuple[Callable[[Topics], str], Mapping[str, str]]] = {
    "twin.devices": (lambda t: t.changelog("devices"), COMPACTED),
    "twin.nodes": (lambda t: t.changelog("nodes"), COMPACTED),
    "twin.detectors": (lambda t: t.changelog("detectors"), COMPACTED),
    "twin.aggregates": (lambda t: t.changelog("aggregates"), WINDOWED),
    "alerts.sites": (lambda t: t.changelog("sites"), COMPACTED),
    "notifier.delivered": (delivered_changelog, COMPACTED),
    "decider.results": (lambda t: f"{t.decisions_app_id}-results-changelog", COMPACTED),
    "decider.priors": (lambda t: f"{t.decisions_app_id}-priors-changelog", COMPACTED),
}
"""Logical name -> (its changelog under a deployment's topics, the topic's configs)."""


def changelog_topics(topics: Topics) -> dict[str, str]:
    """Logical name -> changelog topic of this deployment."""
    return {name: topic_of(topics) for name, (topic_of, _) in TABLES.items()}


def topic_configs(name: str) -> Mapping[str, str]:
    if name not in TABLES:
        raise KeyError(f"unknown table {name!r} (known: {', '.join(TABLES)})")
    return TABLES[name][1]
