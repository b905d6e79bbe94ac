"""Rate control: how many readings are due now, and per-second achieved rates.

WHY a schedule on absolute time instead of "sleep 1/rate": sleeps drift and a
slow tick would be lost forever. Here the readings due by elapsed time t are
floor(rate * t); each tick sends what is due minus what was sent, so a late
tick is caught up on the next one and the long-run rate is exact. The catch-up
is capped so a long stall (GC pause, broker back-pressure) doesn't turn into a
burst that floods the broker; readings beyond the cap are dropped from the
schedule and show up as a lower achieved rate, which is the honest number.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

# 20 ms ticks: ~50 wake-ups/s per process is negligible CPU, and a tick at
# 20,000 readings/s is a few hundred readings -- large enough to vectorise,
# small enough that the rate looks steady even at 100 ms resolution.
TICK_S = 0.02
# At most this many seconds of backlog are caught up at once (prevents a
# post-stall burst from overrunning the broker's socket buffers).
MAX_CATCH_UP_S = 0.25
# Hard cap on one tick's readings: keeps the loop checking the clock and the
# stop flag at least every ~50 ms even when asked for an unreachable rate.
MAX_TICK_READINGS = 5_000


@dataclass
class TickSchedule:
    """Readings due per tick for a steady ``rate`` (readings/s)."""

    rate: float
    tick_s: float = TICK_S
    max_catch_up_s: float = MAX_CATCH_UP_S
    issued: int = 0
    dropped: int = 0

    def due(self, elapsed_s: float) -> int:
        """How many readings to send now, ``elapsed_s`` after the start."""
        target = int(self.rate * max(0.0, elapsed_s))
        n = target - self.issued - self.dropped
        cap = max(1, min(MAX_TICK_READINGS, int(self.rate * self.max_catch_up_s)))
        if n > cap:
            self.dropped += n - cap
            n = cap
        n = max(0, n)
        self.issued += n
        return n

    def skip(self, elapsed_s: float) -> None:
        """Drop everything due now (the transport is backed up): sending it later
        would only queue it in client memory and report a rate the broker never took."""
        self.dropped = max(self.dropped, int(self.rate * max(0.0, elapsed_s)) - self.issued)

    def next_tick(self, elapsed_s: float) -> float:
        """Elapsed time of the next tick boundary."""
        return (int(elapsed_s / self.tick_s) + 1) * self.tick_s


@dataclass
class RateMeter:
    """Achieved rate per wall-clock second from a monotonically growing counter."""

    last_t: float = field(default_factory=time.monotonic)
    last_count: int = 0
    per_second: list[float] = field(default_factory=list)

    def sample(self, count: int, now: float | None = None) -> float:
        now = time.monotonic() if now is None else now
        dt = max(1e-9, now - self.last_t)
        r = (count - self.last_count) / dt
        self.last_t, self.last_count = now, count
        self.per_second.append(r)
        return r
