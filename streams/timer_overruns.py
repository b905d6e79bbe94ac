"""Ticks of Faust's periodic timers (the offset commit above all) that overran their interval: a Prometheus
histogram, and a log line only for a long one.

WHY: mode's `Timer` warns "Timer commit is overlapping" whenever one commit takes longer than its interval (1 s in
the twin worker, `streams.app`). On a loaded machine that is every few seconds: `make run` on a 2-core VM (the
broker, the bridge, a worker and the decider's first compile sharing it) printed 14 such warnings in 8 minutes, 13
of them 1-3 s. They told a newcomer that something was broken and an operator nothing that a metric would not tell
better. So every overrun is observed in `omnitrack_stream_timer_overrun_seconds{timer}`, and only one of
`LOUD_OVERRUN_S` or longer is still logged as mode logs it.
"""

from __future__ import annotations

import logging

from prometheus_client import Histogram

__all__ = ["LOUD_OVERRUN_S", "OVERRUNS", "TimerOverruns", "watch_timer_overruns"]

LOUD_OVERRUN_S = 10.0
"""A tick this long is still logged: offsets left uncommitted for 10 s are 10 s of readings a crash would make the
worker read again, and a stall that long is worth a line (one commit of 31 s was seen during `make run`'s first
minute)."""

OVERRUNS = Histogram("omnitrack_stream_timer_overrun_seconds",
                     "Run time of a Faust timer tick that took longer than the timer's interval", ["timer"],
                     buckets=(1.0, 2.0, 5.0, 10.0, 30.0, 60.0, 120.0))

_OVERLAPPING = "Timer %s is overlapping"
"""The start of mode's message (mode/timers.py); its arguments are (name, interval, runtime)."""


class TimerOverruns(logging.Filter):
    """On mode's timer logger: observes each overrun and keeps the record only when it lasted `LOUD_OVERRUN_S`."""

    def filter(self, record: logging.LogRecord) -> bool:
        if not isinstance(record.msg, str) or not record.msg.startswith(_OVERLAPPING):
            return True
        try:
            name, _interval, runtime = record.args  # type: ignore[misc]
            seconds = float(runtime)
        except (TypeError, ValueError):
            return True  # another shape of message than the one this was written for: leave it as it is
        OVERRUNS.labels(str(name)).observe(seconds)
        return seconds >= LOUD_OVERRUN_S


def watch_timer_overruns() -> None:
    """Install the filter on mode's timer logger (idempotent). Mode's logging set-up keeps existing loggers and
    their filters, so this may run before the worker starts."""
    logger = logging.getLogger("mode.timers")
    if not any(isinstance(f, TimerOverruns) for f in logger.filters):
        logger.addFilter(TimerOverruns())
