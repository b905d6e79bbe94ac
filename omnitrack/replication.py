"""How many copies of each record the cluster keeps, and how many must have it before the producer hears "ok".

Why one module: the broker configs the local stack writes (internal topics, auto-created ones), the topics the
engine creates (streams/admin.py) and the Faust apps' own topics (streams/app.py) must agree. A topic left at
one replica on a three-broker cluster loses what it holds with that broker; a min.insync.replicas above the
replication factor makes every acks=all produce fail.
"""

from __future__ import annotations

MAX_REPLICATION = 3
"""Copies per partition. Three survive the loss of one broker with two left in sync (so acks=all still
succeeds during the outage); more only costs disk and network on a cluster that small."""

DURABLE_MIN_INSYNC = 2
"""Replicas that must hold a record before an acks=all produce is acknowledged, once there are three.
With 1, a leader that acknowledged alone and then died took acknowledged records with it (an unclean loss);
with 3, the loss of any one broker would stop every producer."""


def replication_for(brokers: int) -> int:
    """Replication factor for a cluster of `brokers` brokers: min(3, brokers), at least 1."""
    return max(1, min(MAX_REPLICATION, brokers))


def min_insync_for(replication: int) -> int:
    """min.insync.replicas for topics of `replication` copies: 2 from three copies on, else 1.

    Two copies with a minimum of 2 would stop every producer on the loss of either broker, which is worse
    than the loss it guards against on a cluster meant to survive one broker."""
    return DURABLE_MIN_INSYNC if replication >= MAX_REPLICATION else 1


def topic_durability(replication: int) -> dict[str, str]:
    """The per-topic config that goes with `replication` copies (empty for one or two: the broker default 1)."""
    if replication >= MAX_REPLICATION:
        return {"min.insync.replicas": str(min_insync_for(replication))}
    return {}
