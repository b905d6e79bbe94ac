"""Table writes outside an agent: Faust takes a write's partition from the event being processed.

WHY: a Faust table write (`table[key] = value`) sends the change to the changelog partition of the current
event's record and stores it in that partition's local store; with no current event it raises. Writes that must
happen between records — the twin's coalesced rows flushed by a timer or before a rebalance, the detectors saved
at a rebalance or shutdown after the last record — run "as" a record of the right partition: a held one, or a stand-in naming
only the topic and partition (all Faust reads of it).
"""

from __future__ import annotations

import weakref
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from faust import Event
from faust.streams import _current_event  # Faust's own context variable: no public setter
from faust.types import EventT
from faust.types.tuples import Message

__all__ = ["as_current", "stand_in"]


@contextmanager
def as_current(event: EventT) -> Iterator[None]:
    """Table writes in this block belong to `event`'s partition (the caller keeps `event` alive)."""
    token = _current_event.set(weakref.ref(event))
    try:
        yield
    finally:
        _current_event.reset(token)


def stand_in(app: Any, topic: str, partition: int) -> EventT:
    """An event that names a record of `topic`'s `partition` and nothing else (no offset: it is never acked)."""
    return Event(app, None, None, None, Message(topic, partition, -1, 0.0, 0, None, None, None, None))
