"""A Faust timer tick longer than its interval is observed in `omnitrack_stream_timer_overrun_seconds`; only a long
one is logged. Driven through mode's own `Timer`, so a change of its message shape fails here."""

from __future__ import annotations

import logging

import pytest
from mode.timers import Timer
from prometheus_client import REGISTRY

from streams.timer_overruns import LOUD_OVERRUN_S, watch_timer_overruns


def _count(name: str) -> float:
    return REGISTRY.get_sample_value("omnitrack_stream_timer_overrun_seconds_count", {"timer": name}) or 0.0


def _tick_that_ran(seconds: float, name: str) -> None:
    """One tick of a 1 s timer whose callback ran `seconds` (a fake clock: no waiting)."""
    now = [0.0]
    timer = Timer(1.0, name=name, clock=lambda: now[0])
    timer.tick()  # the first tick only starts the clock
    now[0] += 1.0  # slept its interval
    timer.on_before_yield()
    now[0] += seconds  # the callback (a commit) ran this long
    timer.tick()


def test_short_overruns_are_counted_not_logged_and_long_ones_still_logged(caplog: pytest.LogCaptureFixture) -> None:
    watch_timer_overruns()
    watch_timer_overruns()  # idempotent: one observation per tick below
    caplog.set_level(logging.INFO, logger="mode.timers")
    before = _count("commit-test")
    _tick_that_ran(2.5, "commit-test")
    assert _count("commit-test") == before + 1
    assert not [r for r in caplog.records if "overlapping" in r.getMessage()]

    _tick_that_ran(LOUD_OVERRUN_S + 2.0, "commit-test")
    assert _count("commit-test") == before + 2
    loud = [r for r in caplog.records if "overlapping" in r.getMessage()]
    assert len(loud) == 1 and loud[0].levelno == logging.WARNING and "commit-test" in loud[0].getMessage()


def test_a_tick_within_its_interval_is_not_an_overrun() -> None:
    watch_timer_overruns()
    before = _count("quick-test")
    _tick_that_ran(0.5, "quick-test")
    assert _count("quick-test") == before
