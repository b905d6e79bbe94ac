"""When an alert should start a decision run: not again for the same place within a cool-down.

Why: alerts on one node come in bursts (a severity rise, a recurrence, an
escalation); each would start a Monte Carlo run whose answer the operator
already has, and on a small machine those runs crowd out the twin itself.
"""

from __future__ import annotations

from collections import OrderedDict

TRIGGER_COOLDOWN_S = 900.0
"""A node or lane assessed less than this long ago is not assessed again for a new alert."""

MAX_PLACES = 100_000
"""Remembered places; the least recently triggered are forgotten (they may trigger once more, harmlessly)."""


class TriggerGate:
    """Admits at most one alert-triggered assessment per place per cool-down."""

    def __init__(self, cooldown_s: float = TRIGGER_COOLDOWN_S, max_places: int = MAX_PLACES) -> None:
        self._cooldown_s = cooldown_s
        self._max = max_places
        self._last: OrderedDict[str, float] = OrderedDict()

    def admit(self, place: str, now_s: float) -> bool:
        last = self._last.get(place)
        if last is not None and now_s - last < self._cooldown_s:
            return False
        self._last[place] = now_s
        self._last.move_to_end(place)
        if len(self._last) > self._max:
            self._last.popitem(last=False)
        return True
