"""The clock the twin worker judges a device's silence at (`streams.silence_clock.judged_at`)."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from streams.silence_clock import SILENCE_LAG_FRESH_S, SILENCE_MAX_LAG_S, STREAM_QUIET_S, judged_at

WALL = datetime(2026, 12, 8, 12, 0, tzinfo=timezone.utc)
BEHIND = SILENCE_MAX_LAG_S + 8.0  # a lag well past "behind"


def ago(s: float) -> datetime:
    return WALL - timedelta(seconds=s)


def judge(newest: datetime | None, partition_newest: datetime | None, lag_s: float, lag_age_s: float,
          started: datetime = ago(3600)) -> datetime | None:
    return judged_at(WALL, newest, partition_newest, lag_s, lag_age_s, started)


def test_caught_up_a_device_is_judged_on_the_whole_streams_newest_reading() -> None:
    # a device alone on a quiet partition is silent relative to the others: its partition's time is not used
    assert judge(ago(1), ago(40), lag_s=0.3, lag_age_s=0.1) == ago(1)
    assert judge(ago(1), None, lag_s=0.3, lag_age_s=0.1) == ago(1)


def test_behind_a_backlog_a_device_is_judged_on_its_own_partition() -> None:
    # partitions are read unevenly: one read ahead is not the others' silence
    assert judge(ago(2), ago(12), lag_s=BEHIND, lag_age_s=0.1) == ago(12)
    assert judge(ago(2), None, lag_s=BEHIND, lag_age_s=0.1) is None  # not seen since the assignment: later


def test_a_lag_measured_on_the_last_record_of_a_backlog_goes_stale() -> None:
    # no record for a while: whatever backlog there was has been read
    assert judge(ago(9), ago(30), lag_s=BEHIND, lag_age_s=SILENCE_LAG_FRESH_S) == ago(9)
    assert judge(ago(9), ago(30), lag_s=BEHIND, lag_age_s=SILENCE_LAG_FRESH_S - 0.5) == ago(30)


def test_a_quiet_stream_is_judged_on_the_wall_clock() -> None:
    for lag in (0.0, BEHIND):  # (a lag measured long ago is no backlog)
        assert judge(ago(STREAM_QUIET_S + 1), ago(STREAM_QUIET_S + 5), lag_s=lag, lag_age_s=99) == WALL
    assert judge(ago(STREAM_QUIET_S - 1), None, lag_s=0.0, lag_age_s=99) == ago(STREAM_QUIET_S - 1)


def test_a_backlog_of_old_readings_is_never_judged_on_the_wall_clock() -> None:
    # a worker restarted after ten minutes reads readings ten minutes old: by the wall clock every device would be
    # offline until read
    assert judge(ago(600), ago(610), lag_s=600.0, lag_age_s=0.1) == ago(610)
    assert judge(ago(600), None, lag_s=600.0, lag_age_s=0.1) is None


def test_readings_from_the_future_never_move_the_clock_past_now() -> None:
    ahead = WALL + timedelta(minutes=3)  # device clocks ahead (the bridge accepts up to 5 minutes)
    assert judge(ahead, ahead, lag_s=0.0, lag_age_s=0.0) == WALL
    assert judge(ago(1), ahead, lag_s=BEHIND, lag_age_s=0.0) == WALL


def test_a_worker_that_has_applied_nothing_yet_waits_before_the_wall_clock() -> None:
    # just (re)started: the devices loaded from the table were last seen before, and their readings since may still
    # be in Kafka; by the wall clock every one would be offline until the first fetch
    assert judge(None, None, lag_s=0.0, lag_age_s=99, started=ago(1)) is None
    assert judge(None, None, lag_s=0.0, lag_age_s=99, started=ago(STREAM_QUIET_S - 1)) is None
    # nothing at all for a while: a worker owning only dead devices still finds them
    assert judge(None, None, lag_s=0.0, lag_age_s=99, started=ago(STREAM_QUIET_S + 1)) == WALL
