"""Per-principal rate limits: a token bucket per token subject (`sub`), answering 429 with `Retry-After`.

Why per subject and not per address: every operator behind one proxy or NAT shares an address, and one
runaway script (a dashboard polling in a loop) must slow down its own token, not everyone's. Why a token
bucket: a screen opening loads a few routes at once (the burst), then polls slowly (the rate).

Limits are per API replica (each holds its own buckets): N replicas behind a balancer allow up to N times the
rate. Public routes (/healthz, /readyz) are never limited: probes must not be refused. Memory is bounded:
past MAX_SUBJECTS buckets, the full ones (a full bucket is the same as none) and then the least recently used
are dropped.
"""

from __future__ import annotations

import math
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass

__all__ = ["TokenBuckets", "Verdict", "MAX_SUBJECTS"]

MAX_SUBJECTS = 10_000
"""Buckets held at most."""


@dataclass(frozen=True, slots=True)
class Verdict:
    allowed: bool
    retry_after_s: int = 0
    """Whole seconds until one request is allowed again (0 when allowed): the `Retry-After` value."""


class TokenBuckets:
    """`rate` requests a second sustained and `burst` at once, per key. rate 0: everything is allowed."""

    def __init__(self, rate: float, burst: int, *, clock: Callable[[], float] = time.monotonic,
                 max_keys: int = MAX_SUBJECTS) -> None:
        self.rate, self.burst = float(rate), float(burst)
        self._clock = clock
        self._max = max_keys
        self._buckets: OrderedDict[str, tuple[float, float]] = OrderedDict()  # key -> (tokens, at), LRU first

    def __len__(self) -> int:
        return len(self._buckets)

    def take(self, key: str) -> Verdict:
        """Spend one token of `key`'s bucket, or say how long until there is one."""
        if self.rate <= 0:
            return Verdict(True)
        now = self._clock()
        tokens, at = self._buckets.pop(key, (self.burst, now))
        tokens = min(self.burst, tokens + (now - at) * self.rate)
        if tokens >= 1.0:
            self._buckets[key] = (tokens - 1.0, now)
            verdict = Verdict(True)
        else:
            self._buckets[key] = (tokens, now)
            verdict = Verdict(False, max(1, math.ceil((1.0 - tokens) / self.rate)))
        if len(self._buckets) > self._max:
            self._shrink(now)
        return verdict

    def _shrink(self, now: float) -> None:
        for key, (tokens, at) in list(self._buckets.items()):
            if tokens + (now - at) * self.rate >= self.burst:
                del self._buckets[key]
        while len(self._buckets) > self._max:
            self._buckets.popitem(last=False)
