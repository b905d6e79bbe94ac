"""Tunables of the alert lifecycle, in one frozen object so tests can shrink the clock.

Each default says which failure it prevents; the engine never reads a clock, so every duration here is
measured against the `now` the caller passes.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from twin.alerts.models import Severity

__all__ = ["AlertPolicy", "DEFAULT_POLICY"]

# Condition must stay normal this long before an alert clears: prevents one good reading in a bad minute (a
# door briefly closed, a sensor jittering across 8.0 degC) from clearing and reopening an alert.
CLEAR_HOLD_S = 60.0
# Window over which occurrences are counted for flapping: long enough to span several hold periods.
FLAP_WINDOW_S = 3600.0
# More occurrences than this in the window make the alert "flapping": prevents a marginal signal from paging
# the on-call person every few minutes all night.
FLAP_MAX_OCCURRENCES = 3
# A flapping alert clears only after this long normal: prevents it re-entering the open/clear storm at once.
FLAP_CLEAR_HOLD_S = 900.0
# Per-site token bucket for NEW device alerts: a burst of this many pages at once is still readable...
RATE_BURST = 10.0
# ...and this refill (per second; 1 per minute) keeps a failing site from flooding the topic and the pager.
RATE_REFILL_PER_S = 1.0 / 60.0
# Active device alerts at one site that open one site alert over them: prevents 50 reefer alarms when the
# site's power failed (one root cause, one page).
GROUP_THRESHOLD = 5
# Minimum seconds between "updated" (value refresh) events of one alert: prevents one event per reading.
UPDATE_INTERVAL_S = 300.0
# Unacknowledged deadlines by severity: prevents a major/critical alert from being missed because nobody
# looked (the escalation goes to the next tier).
# Cleared alerts stay in the site's table this long for late acks and comments; after that only the
# occurrence counter is kept: bounds the table value (and each changelog message) on long-lived sites.
RETAIN_CLEARED_S = 86400.0
ESCALATE_AFTER_S: dict[Severity, float] = {Severity.major: 900.0, Severity.critical: 300.0}


@dataclass(frozen=True)
class AlertPolicy:
    clear_hold_s: float = CLEAR_HOLD_S
    flap_window_s: float = FLAP_WINDOW_S
    flap_max_occurrences: int = FLAP_MAX_OCCURRENCES
    flap_clear_hold_s: float = FLAP_CLEAR_HOLD_S
    rate_burst: float = RATE_BURST
    rate_refill_per_s: float = RATE_REFILL_PER_S
    group_threshold: int = GROUP_THRESHOLD
    update_interval_s: float = UPDATE_INTERVAL_S
    retain_cleared_s: float = RETAIN_CLEARED_S
    escalate_after_s: dict[Severity, float] = field(default_factory=lambda: dict(ESCALATE_AFTER_S))

    def __post_init__(self) -> None:
        if min(self.clear_hold_s, self.flap_window_s, self.flap_clear_hold_s, self.update_interval_s,
               self.retain_cleared_s) < 0:
            raise ValueError("durations must be >= 0")
        if self.flap_clear_hold_s < self.clear_hold_s:
            raise ValueError("flap_clear_hold_s must be >= clear_hold_s")
        if self.flap_max_occurrences < 1 or self.group_threshold < 1:
            raise ValueError("flap_max_occurrences and group_threshold must be >= 1")
        if self.rate_burst < 1 or self.rate_refill_per_s < 0:
            raise ValueError("rate_burst must be >= 1 and rate_refill_per_s >= 0")
        if any(v < 0 for v in self.escalate_after_s.values()):
            raise ValueError("escalation deadlines must be >= 0")

    def hold_for(self, flapping: bool) -> float:
        return self.flap_clear_hold_s if flapping else self.clear_hold_s


DEFAULT_POLICY = AlertPolicy()
