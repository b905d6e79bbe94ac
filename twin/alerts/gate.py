"""Which rule evaluations are worth sending to the alert lifecycle.

Why a gate: rules are evaluated on every reading, but the lifecycle only needs
to hear about changes — a rule starting or stopping to fire, a change of level
— plus a periodic refresh while firing (so the alert's value and severity stay
current). Forwarding every normal reading would multiply the lifecycle's input
by the fleet's reading rate for nothing.
"""

from __future__ import annotations

from collections import OrderedDict

from twin.alerts.models import Condition

REFRESH_WHILE_FIRING_S = 10.0
"""A firing rule is re-sent at most this often: keeps the alert's value fresh without a storm of inputs."""

MAX_KEYS = 500_000
"""Remembered (subject, rule) pairs; the least recently seen are forgotten (they re-send once, harmlessly)."""


class ConditionGate:
    """Remembers, per (subject, rule), whether it fired, at what level, and when it was last sent."""

    def __init__(self, refresh_s: float = REFRESH_WHILE_FIRING_S, max_keys: int = MAX_KEYS) -> None:
        self._refresh_s = refresh_s
        self._max = max_keys
        self._last: OrderedDict[str, tuple[bool, str, float]] = OrderedDict()

    def admit(self, cond: Condition, now_s: float) -> bool:
        """True when `cond` should be sent: a first firing, an edge, a level change, or a due refresh."""
        key = cond.dedup_key
        last = self._last.get(key)
        if last is None:
            send = cond.firing  # a never-firing rule tells the lifecycle nothing
        else:
            fired, level, sent_at = last
            send = (cond.firing != fired or (cond.firing and cond.level.value != level)
                    or (cond.firing and now_s - sent_at >= self._refresh_s))
        if send or last is None:
            self._last[key] = (cond.firing, cond.level.value, now_s if send else (last[2] if last else now_s))
            self._last.move_to_end(key)
            if len(self._last) > self._max:
                self._last.popitem(last=False)
        return send
