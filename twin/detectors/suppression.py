"""Repeat-alarm suppression: report a score only when it exceeds everything seen in the recent past.

WHY: an incident usually raises the score for many consecutive readings. Operators (and NAB, which rewards only
the first detection in an anomaly window and charges every extra one outside it) want one alarm per incident,
raised as early as possible. A fixed "quiet period after an alarm" would need to know the alarm threshold; this
filter does not: it passes a score through only when it is a new maximum over the last `window` raw scores, and
outputs 0 otherwise. Whatever threshold the caller applies, a sustained episode crosses it once, and only a
genuinely stronger signal raises a second alarm.
"""

from __future__ import annotations

from collections import deque

from twin.detectors.base import clamp01

__all__ = ["NewMaxFilter"]


class NewMaxFilter:
    """Pass `score` through iff it is strictly above (max of the previous `window` scores) + `margin`.

    `margin` > 0 makes a rising episode re-alarm only when the evidence grows by that much (0.1 = a tenfold
    rarer tail on the log scale); it defaults to 0 because on the NAB samples any margin delayed first
    detections that followed sub-threshold activity.

    Uses a monotonic deque, so each update is amortised O(1) and memory is at most `window` entries.
    """

    __slots__ = ("_window", "_margin", "_q", "_i")

    def __init__(self, window: int = 200, margin: float = 0.0) -> None:
        if window < 1 or margin < 0.0:
            raise ValueError("window >= 1 and margin >= 0 are required")
        self._window = window
        self._margin = margin
        self._q: deque[tuple[int, float]] = deque()
        self._i = 0

    def update(self, score: float) -> float:
        """Return `score` if it is a new recent maximum, else 0.0."""
        score = clamp01(score)
        q = self._q
        i = self._i
        self._i = i + 1
        while q and q[0][0] <= i - self._window:
            q.popleft()
        recent_max = q[0][1] if q else 0.0
        while q and q[-1][1] <= score:
            q.pop()
        q.append((i, score))
        return score if score > recent_max + self._margin else 0.0

    @property
    def buffer_len(self) -> int:
        """Entries held (never above `window`)."""
        return len(self._q)
