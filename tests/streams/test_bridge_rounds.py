"""How the bridge cuts its inbox into rounds (`take_round`): bounded in messages and in readings, in order,
nothing lost, refused messages kept with their reason. Pure: the real decoder on real payloads, no broker."""

from __future__ import annotations

import collections
from datetime import datetime, timezone

import orjson

from streams.bridge.bridge import MAX_READINGS_PER_RECORD, MAX_ROUND_READINGS, take_round
from streams.bridge.transport import Inbound
from streams.records import encode_telemetry
from twin.telemetry import MAX_BATCH_READINGS, METRIC_CATALOGUE, TelemetryError, decode_reading

NOW = datetime(2026, 12, 5, 12, 0, tzinfo=timezone.utc)


def _batch(i: int, size: int) -> Inbound:
    readings = [{"schema_version": 1, "device_id": f"d-{i}-{k}", "ts": "2026-12-05T11:59:00Z", "seq": i,
                 "metrics": {"temperature": 4.0}} for k in range(size)]
    body = {"schema_version": 1, "gateway_id": "gw-1", "site_id": "site-1", "readings": readings}
    return Inbound("dt/site-1/gateway/gw-1/batch", orjson.dumps(body), i, lambda: None)


def _decode(message: Inbound) -> list:
    return decode_reading(message.payload, message.topic, NOW)


def test_a_burst_of_gateway_batches_is_cut_by_readings_and_loses_nothing() -> None:
    inbox = collections.deque(_batch(i, 50) for i in range(1000))  # 50,000 readings: one burst
    rounds = []
    while inbox:
        rounds.append(take_round(inbox, _decode))
    sizes = [sum(len(r) for _, r in round_) for round_ in rounds]
    # each round stops once it holds the bound: at most one batch over it
    assert max(sizes) < MAX_ROUND_READINGS + MAX_BATCH_READINGS
    assert all(size >= MAX_ROUND_READINGS for size in sizes[:-1])
    assert sum(sizes) == 50_000
    assert [m.received_ns for round_ in rounds for m, _ in round_] == list(range(1000))  # in arrival order


def test_the_message_bound_still_holds_for_single_readings() -> None:
    inbox = collections.deque(_batch(i, 1) for i in range(30))
    first = take_round(inbox, _decode, max_messages=7)
    assert [m.received_ns for m, _ in first] == list(range(7))
    assert len(inbox) == 23 and inbox[0].received_ns == 7


def test_a_refused_message_is_kept_with_its_reason_and_counts_no_readings() -> None:
    bad = Inbound("dt/site-1/gateway/gw-1/batch", b"{not json", 1, lambda: None)
    inbox = collections.deque([_batch(0, 3), bad, _batch(2, 3)])
    round_ = take_round(inbox, _decode, max_readings=6)
    assert [m.received_ns for m, _ in round_] == [0, 1, 2] and not inbox
    assert isinstance(round_[1][1], TelemetryError) and round_[1][1].reason
    assert [len(r) for _, r in round_ if not isinstance(r, TelemetryError)] == [3, 3]


def test_a_full_record_of_the_longest_readings_stays_under_kafkas_record_limit() -> None:
    """MAX_READINGS_PER_RECORD readings of every metric, each at its longest JSON, in one record: < 1 MB."""
    longest = {"number": -1.2345678901234567e-300, "integer": 99_999_999, "bool": False,
               "position": {"lat": -12.345678901234567, "lon": -123.45678901234567}}
    reading = {"schema_version": 1, "device_id": "d" * 64, "ts": 253402300799999, "seq": 2**63 - 1,
               "metrics": {name: longest[spec.kind] for name, spec in METRIC_CATALOGUE.items()}}
    value = encode_telemetry([reading] * MAX_READINGS_PER_RECORD)
    assert len(value) < 1_000_000 - 10_000  # headers, key and the batch's own framing fit in the rest
