"""A record the producer could not deliver is counted and logged, not lost silently (streams/publish.py); the
records themselves reach Kafka in the twin's cross-process tests (test_ingest_pipeline, test_alerts_e2e)."""

from __future__ import annotations

import asyncio
import logging

from streams.publish import FAILURES, _delivered


def _failures(topic: str) -> float:
    return FAILURES.labels(topic)._value.get()


def test_a_failed_delivery_is_counted_and_logged_and_a_good_one_is_not(caplog) -> None:
    loop = asyncio.new_event_loop()
    try:
        ok, failed, cancelled = loop.create_future(), loop.create_future(), loop.create_future()
        ok.set_result(object())
        failed.set_exception(TimeoutError("no leader"))
        cancelled.cancel()
        before = _failures("t.changes")
        with caplog.at_level(logging.ERROR, logger="streams.publish"):
            for delivery in (ok, failed, cancelled):
                _delivered("t.changes", b"dev-1", delivery)
        assert _failures("t.changes") == before + 1
        assert [r.getMessage() for r in caplog.records] == [
            "record for t.changes (key b'dev-1') not delivered: TimeoutError('no leader')"]
    finally:
        loop.close()
