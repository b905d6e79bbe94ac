"""Exponential backoff with full jitter, bounded by attempts AND a deadline.

WHY full jitter (sleep uniform in [0, min(cap, base * 2**n)]): after an SNS outage every notifier retries at
once; fixed or equal-jitter backoff makes them hit the recovering endpoint in waves, full jitter spreads them
(AWS Architecture Blog, "Exponential Backoff and Jitter"). WHY a deadline: the stream is blocked while one
round retries, so a long outage must end in the DLQ, not in an hour of retries for one batch.
"""

from __future__ import annotations

import random
import time
from dataclasses import dataclass, field

__all__ = ["RetryPolicy", "RetryClock"]


@dataclass(frozen=True)
class RetryPolicy:
    max_attempts: int = 8
    base_s: float = 0.2
    cap_s: float = 20.0
    deadline_s: float = 120.0
    rng: random.Random = field(default_factory=random.Random, compare=False)

    def backoff(self, attempt: int) -> float:
        """Sleep before attempt `attempt + 1` (attempt counts from 1)."""
        ceiling = min(self.cap_s, self.base_s * (2 ** (attempt - 1)))
        return self.rng.uniform(0.0, ceiling)

    def start(self) -> "RetryClock":
        return RetryClock(self)


@dataclass
class RetryClock:
    """The retry state of one delivery round."""

    policy: RetryPolicy
    attempt: int = 0
    started: float = field(default_factory=time.monotonic)

    def next_sleep(self, at_least: float | None = None) -> float | None:
        """Seconds to sleep before the next attempt, or None when attempts or time are used up.

        `at_least`: the server's `Retry-After`. Coming back sooner only earns another 429 (Slack and Teams
        throttle per webhook), so the sleep is never shorter; when it would run past the deadline the delivery
        ends now (dead letter) instead of knocking early."""
        self.attempt += 1
        if self.attempt >= self.policy.max_attempts:
            return None
        remaining = self.policy.deadline_s - (time.monotonic() - self.started)
        if remaining <= 0 or (at_least is not None and at_least > remaining):
            return None
        return min(max(self.policy.backoff(self.attempt), at_least or 0.0), remaining)
