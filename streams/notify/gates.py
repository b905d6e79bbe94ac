"""Per-channel gates: quiet hours and rate limits decide "now" or "later in a digest", never "never".

WHY defer instead of drop: an SMS budget exists because SMS costs money, not because the alerts matter less.
Whatever a gate holds back is counted (`omnitrack_notify_deferred_total{channel}`) and sent as one digest
message when the window ends or a token is free, so nobody loses the information, only the per-alert ping.
The state is in memory: a crash loses a pending digest (its alerts are still in the counter, the API and the
other channels).
"""

from __future__ import annotations

import time as _time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, time
from zoneinfo import ZoneInfo

from streams.notify.policy import ChannelPolicy, QuietHours, RateLimit
from twin.alerts.models import AlertEvent, severity_rank

__all__ = ["TokenBucket", "in_quiet_hours", "Deferred", "ChannelGate"]

# Most deferred events itemised in one digest: an SMS digest of 500 lines would be split into dozens of
# billed segments; the rest is summarised as a count.
DIGEST_ITEMS = 5


class TokenBucket:
    """Classic token bucket on a monotonic clock (wall-clock jumps must not mint tokens)."""

    def __init__(self, limit: RateLimit, clock: Callable[[], float] = _time.monotonic) -> None:
        self.capacity = float(limit.burst)
        self.rate_per_s = limit.per_minute / 60.0
        self._clock = clock
        self._tokens = self.capacity
        self._at = clock()

    def _refill(self) -> None:
        now = self._clock()
        self._tokens = min(self.capacity, self._tokens + (now - self._at) * self.rate_per_s)
        self._at = now

    def available(self) -> bool:
        self._refill()
        return self._tokens >= 1.0

    def take(self) -> bool:
        """Spend one token if there is one."""
        self._refill()
        if self._tokens >= 1.0:
            self._tokens -= 1.0
            return True
        return False


def in_quiet_hours(q: QuietHours, now: datetime) -> bool:
    """Whether `now` (aware) falls in the daily window, which may wrap midnight (22:00-07:00)."""
    local: time = now.astimezone(ZoneInfo(q.timezone)).time().replace(tzinfo=None)
    if q.start <= q.end:
        return q.start <= local < q.end
    return local >= q.start or local < q.end


@dataclass
class Deferred:
    """What a gate held back for one (channel, topic)."""

    events: list[AlertEvent] = field(default_factory=list)
    count: int = 0


class ChannelGate:
    """The quiet-hours + rate-limit decision for one channel, with its pending digest per topic."""

    def __init__(self, name: str, policy: ChannelPolicy, clock: Callable[[], float] = _time.monotonic) -> None:
        self.name = name
        self.policy = policy
        self.bucket = TokenBucket(policy.rate_limit, clock) if policy.rate_limit else None
        self.pending: dict[str, Deferred] = {}

    def admit(self, event: AlertEvent, now: datetime) -> bool:
        """True: send now (a token was spent). False: the caller must `defer` it."""
        q = self.policy.quiet_hours
        if q is not None and in_quiet_hours(q, now) and severity_rank(event.alert.severity) < severity_rank(q.min_severity):
            return False
        if self.pending and self.bucket is not None:
            return False  # keep order: older deferred alerts go out (in the digest) first
        return self.bucket is None or self.bucket.take()

    def defer(self, topic: str, event: AlertEvent) -> None:
        d = self.pending.setdefault(topic, Deferred())
        d.count += 1
        if len(d.events) < DIGEST_ITEMS:
            d.events.append(event)

    def due_digests(self, now: datetime) -> dict[str, Deferred]:
        """Pending digests that may go out now (quiet hours over and a token free); removes them."""
        if not self.pending:
            return {}
        q = self.policy.quiet_hours
        if q is not None and in_quiet_hours(q, now):
            return {}
        out: dict[str, Deferred] = {}
        for topic in list(self.pending):
            if self.bucket is not None and not self.bucket.take():
                break
            out[topic] = self.pending.pop(topic)
        return out
