"""GET /twin/device/{id}/history: a device's 1-minute windows (count/min/max/mean per metric), from Kafka.

Why from the changelog: the twin worker writes each window its device closes to the windowed table
`aggregates` (streams/twin_agents.py), whose durable copy is the compacted topic
`<app id>-aggregates-changelog`, keyed by the JSON `[device id, [window start, window end]]` with the stored
window (twin/history.py) as value. The minute a device is still filling lives in its row of the `devices`
table (`window`), which the read model already has. Both together are the whole history, read the way the
rest of the view is (no worker asked), and a window rewritten after a late reading simply replaces the older
record of the same key.
"""

from __future__ import annotations

import logging
from collections import OrderedDict
from datetime import datetime, timezone
from typing import Any

import orjson

from twin.aggregates import WINDOW_SECONDS, MetricAggregate
from twin.history import window_aggregates

__all__ = ["WindowHistory", "MAX_WINDOWS", "window_json"]

log = logging.getLogger(__name__)

MAX_WINDOWS = 200_000
"""Closed windows held (least recently written evicted first): one per device per minute it reported, for the
24 h the worker keeps (`AGGREGATE_RETENTION`), would be 1.8 M windows for the example network's 1,246 devices
if each reported every minute. This bounds the API's memory (a few hundred bytes a window) at the price of
the oldest hours of a large fleet; the worker's table still has them."""


class WindowHistory:
    """Closed windows per device, from the `aggregates` changelog; bounded by MAX_WINDOWS."""

    def __init__(self, max_windows: int = MAX_WINDOWS) -> None:
        self._by_device: dict[str, dict[int, dict[str, MetricAggregate]]] = {}
        self._order: OrderedDict[tuple[str, int], None] = OrderedDict()  # least recently written first
        self._max = max_windows
        self.rejected = 0
        self.evicted = 0

    def __len__(self) -> int:
        return len(self._order)

    def apply(self, key: bytes | None, value: bytes | None) -> bool:
        """One changelog record: a window written (or rewritten with a late reading), or a tombstone."""
        try:
            device_id, start_s = _parse_key(key)
            stored = orjson.loads(value) if value is not None else None
            if stored is not None and not isinstance(stored, dict):
                raise ValueError("not a JSON object")
            aggregates = window_aggregates(stored) if stored is not None else None
        except (ValueError, KeyError, TypeError) as exc:  # orjson.JSONDecodeError is a ValueError
            self.rejected += 1
            log.warning("skipped an aggregates changelog record the API does not understand: %s", str(exc)[:300])
            return False
        windows = self._by_device.setdefault(device_id, {})
        if aggregates is None:
            self._drop(device_id, start_s)
            return True
        windows[start_s] = aggregates
        self._order[(device_id, start_s)] = None
        self._order.move_to_end((device_id, start_s))
        while len(self._order) > self._max:
            self._drop(*next(iter(self._order)))
            self.evicted += 1
        return True

    def _drop(self, device_id: str, start_s: int) -> None:
        self._order.pop((device_id, start_s), None)
        windows = self._by_device.get(device_id)
        if windows is not None:
            windows.pop(start_s, None)
            if not windows:
                del self._by_device[device_id]

    def knows(self, device_id: str) -> bool:
        return device_id in self._by_device

    def windows(self, device_id: str, *, start_s: float, end_s: float, metric: str | None,
                open_window: dict[str, Any] | None) -> list[dict[str, Any]]:
        """The device's windows starting in [start_s, end_s), oldest first: the closed ones and the one its row
        says is open (unless that minute is already closed: the row is written up to a second after the window,
        so a closed window is the newer of the two). With `metric`, only that metric, and windows without it
        are left out."""
        found: dict[int, tuple[bool, dict[str, MetricAggregate]]] = {
            s: (False, aggs) for s, aggs in self._by_device.get(device_id, {}).items() if start_s <= s < end_s}
        opened = _open_window(open_window)
        if opened is not None and start_s <= opened[0] < end_s and opened[0] not in found:
            found[opened[0]] = (True, opened[1])
        out = []
        for s in sorted(found):
            is_open, aggs = found[s]
            if metric is not None:
                aggs = {metric: aggs[metric]} if metric in aggs else {}
            if aggs:
                out.append(window_json(s, aggs, is_open=is_open))
        return out


def window_json(start_s: int, aggregates: dict[str, MetricAggregate], *, is_open: bool) -> dict[str, Any]:
    """A window as the API shows it."""
    return {"start": _iso(start_s), "end": _iso(start_s + WINDOW_SECONDS), "open": is_open,
            "metrics": {name: {"count": a.count, "min": a.min, "max": a.max, "mean": a.mean}
                        for name, a in sorted(aggregates.items())}}


def _iso(epoch_s: float) -> str:
    return datetime.fromtimestamp(epoch_s, timezone.utc).isoformat().replace("+00:00", "Z")


def _parse_key(key: bytes | None) -> tuple[str, int]:
    """`[device id, [start, end]]` (Faust's windowed key, JSON) -> (device id, start in epoch seconds)."""
    parsed = orjson.loads(key or b"")
    if (not isinstance(parsed, list) or len(parsed) != 2 or not isinstance(parsed[0], str)
            or not isinstance(parsed[1], list) or not parsed[1] or not isinstance(parsed[1][0], (int, float))):
        raise ValueError(f"not a windowed key: {str(parsed)[:100]}")
    return parsed[0], int(parsed[1][0])


def _open_window(window: Any) -> tuple[int, dict[str, MetricAggregate]] | None:
    """The open window of a device row (`{"start_s", "metrics": {name: aggregate}}`), or None."""
    if not isinstance(window, dict) or not isinstance(window.get("metrics"), dict):
        return None
    try:
        return int(window["start_s"]), {m: MetricAggregate.from_dict(a) for m, a in window["metrics"].items()}
    except (KeyError, TypeError, ValueError):
        return None
