"""Which topic filters a bridge subscribes to, and which earlier forms of them it drops.

The bridge's MQTT session is persistent (clean start off, a week's expiry), and a persistent session keeps its
subscriptions. A bridge that once subscribed `$share/omnitrack/dt/+/+/telemetry` and restarts with a plain
subscription (or the other way round) would hold both, and the broker would deliver every reading twice, for as
long as the session lives. So the bridge subscribes to its filters first, then unsubscribes the other forms it
may have held: never a moment with neither (no loss), at most a moment with both (duplicates the twin ignores).
"""

from __future__ import annotations

from dataclasses import dataclass

DEFAULT_SHARE_GROUP = "omnitrack"
"""The settings' default group: the form a bridge held unless someone configured another."""


@dataclass(frozen=True, slots=True)
class Subscriptions:
    """The filters to subscribe to, and the filters to unsubscribe once those are in place."""

    active: list[str]
    retired: list[str]


def shared(topic_filter: str, group: str) -> str:
    """The MQTT 5 shared-subscription form of a filter."""
    return f"$share/{group}/{topic_filter}"


def subscriptions(topic_filters: list[str], share_group: str | None) -> Subscriptions:
    """Plain filters without a group, shared ones with it; the retired list holds the other known forms.

    A group other than the default retires the default group's form too. Groups used before under other names
    are not known here: a new `OMNITRACK_BRIDGE_CLIENT_ID` starts a clean session."""
    if share_group:
        active = [shared(f, share_group) for f in topic_filters]
        retired = list(topic_filters)
        if share_group != DEFAULT_SHARE_GROUP:
            retired += [shared(f, DEFAULT_SHARE_GROUP) for f in topic_filters]
    else:
        active = list(topic_filters)
        retired = [shared(f, DEFAULT_SHARE_GROUP) for f in topic_filters]
    return Subscriptions(active, retired)
