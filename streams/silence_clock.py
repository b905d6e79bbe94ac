"""When the twin worker judges a device's silence: the clock it reads, or not now.

A device that stops sends nothing to update it, so the worker's timer judges every device it owns against a clock.
Which clock matters more than how often: the wall clock would call a whole fleet silent whenever the pipeline
pauses, and the newest reading the worker applied would call devices silent whose readings are still waiting in a
backlog. So (docs/alerts.md, "Device silence"):

- caught up: the newest reading of the whole stream (event time), so a device is silent relative to the others;
- behind a backlog: the newest reading of the device's own partition, which holds the device's readings in the
  order they came, so a partition read ahead of another is not the other's silence (a device not seen since the
  worker's assignment has no partition yet and waits until the worker is caught up);
- caught up and the whole stream quiet for `STREAM_QUIET_S`: the wall clock, so a worker owning only dead devices
  still finds them. Never while reading a backlog, however old its readings: a worker restarted after ten minutes
  would find every device offline by the wall clock until it had read them. Nor, for the same reason, before the
  worker has applied anything: the stream counts as quiet from the worker's first check.

Pure: the worker passes what it knows; nothing here reads Kafka or the time.
"""

from __future__ import annotations

from datetime import datetime

__all__ = ["SILENCE_LAG_FRESH_S", "SILENCE_MAX_LAG_S", "STREAM_QUIET_S", "judged_at"]

SILENCE_MAX_LAG_S = 2.0
"""The worker is behind a backlog while its last record was applied more than this after the bridge took it."""

SILENCE_LAG_FRESH_S = 5.0
"""How long the lag measured on a record says the worker is behind. WHY: it is measured only as a record is applied,
so the last record of a backlog (read seconds late) said "behind" for good and silence was never judged again; a
backlog is read far faster than one record in this long."""

STREAM_QUIET_S = 60.0
"""After this long without a reading applied, silence is judged on the wall clock. WHY: when every device stops at
once, the likelier cause is upstream of them (the bridge, the broker, a gateway uplink, a rebalance), and one
pipeline pause must not open an alert per device; a worker owning only dead devices still finds them, this late."""


def judged_at(wall: datetime, newest: datetime | None, partition_newest: datetime | None, lag_s: float,
              lag_age_s: float, started: datetime) -> datetime | None:
    """The time to judge one device's silence at, or None to leave it for a later check.

    `wall` is now; `newest` the newest reading the worker applied (event time), None if none yet; `partition_newest`
    the newest on the device's partition, None if the worker has applied none of the device's readings since its
    assignment; `lag_s` the processing lag measured on the last record applied, `lag_age_s` how long ago that was
    (monotonic); `started` when the worker first judged silence. With nothing applied yet the stream counts as quiet
    since `started`: the devices loaded from the table were last seen before the worker (re)started, and their
    readings since may be waiting in Kafka for its first fetch.

    WHY the partition while behind: the fleet bench at 5,000 readings/s kept the worker ~10 s behind for the whole
    run, and with silence judged only while caught up, none of its 5 silent devices was found (2026-12-08)."""
    if lag_s > SILENCE_MAX_LAG_S and lag_age_s < SILENCE_LAG_FRESH_S:  # reading a backlog: never the wall clock,
        return None if partition_newest is None else min(partition_newest, wall)  # however old what it reads
    if newest is None:
        return wall if (wall - started).total_seconds() > STREAM_QUIET_S else None
    newest = min(newest, wall)
    return wall if (wall - newest).total_seconds() > STREAM_QUIET_S else newest
