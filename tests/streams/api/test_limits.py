"""streams/api/limits.py: the token bucket per subject, on a fake clock (pure; the 429 over HTTP is in
test_http_features.py)."""

from __future__ import annotations

from streams.api.limits import TokenBuckets


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_burst_then_rate_and_retry_after() -> None:
    clock = Clock()
    buckets = TokenBuckets(rate=2.0, burst=5, clock=clock)
    assert all(buckets.take("alice").allowed for _ in range(5))
    refused = buckets.take("alice")
    assert not refused.allowed and refused.retry_after_s == 1  # half a second to the next token, rounded up
    assert buckets.take("bob").allowed  # every subject has its own bucket
    clock.now += 0.5
    assert buckets.take("alice").allowed and not buckets.take("alice").allowed
    clock.now += 60  # a long pause refills to the burst, never beyond
    assert sum(buckets.take("alice").allowed for _ in range(10)) == 5


def test_slow_rates_say_how_long_to_wait() -> None:
    clock = Clock()
    buckets = TokenBuckets(rate=0.1, burst=1, clock=clock)
    assert buckets.take("a").allowed
    assert buckets.take("a").retry_after_s == 10
    clock.now += 4
    assert buckets.take("a").retry_after_s == 6  # a refused request does not spend what was refilled


def test_zero_rate_means_no_limit() -> None:
    buckets = TokenBuckets(rate=0, burst=1)
    assert all(buckets.take("a").allowed for _ in range(1000)) and len(buckets) == 0


def test_memory_is_bounded_full_buckets_first() -> None:
    clock = Clock()
    buckets = TokenBuckets(rate=1.0, burst=2, clock=clock, max_keys=3)
    for _ in range(2):
        buckets.take("drained")  # empty: must be kept, or dropping it would hand out a fresh burst
    buckets.take("x")
    buckets.take("y")
    clock.now += 10  # x and y are full again by now, "drained" too
    buckets.take("drained"), buckets.take("drained")
    buckets.take("z")
    assert len(buckets) <= 3
    assert not buckets.take("drained").allowed  # still remembered as spent
