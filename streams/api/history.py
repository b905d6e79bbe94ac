"""GET /twin/device/{id}/history: a device's 1-minute windows (count/min/max/mean per metric), from Kafka.

Why from the changelog: the twin worker writes each window its device closes to the windowed table
`aggregates` (streams/twin_agents.py), whose durable copy is the compacted topic
`<app id>-aggregates-changelog`, keyed by the JSON `[device id, [window start, window end]]` with the stored
window (twin/history.py) as value. The minute a device is still filling lives in its row of the `devices`
table (`window`), which the read model already has. Both together are the whole history, read the way the
rest of the view is (no worker asked), and a window rewritten after a late reading simply replaces the older
record of the same key.

Why rings of arrays: a dict of MetricAggregate objects per window cost ~400 bytes a window and grew with every
window closed until a global cap (~105 minutes into a soak of the example network), so the API's memory was
not flat. Instead each device gets, when first seen, a preallocated ring of K window slots (numpy arrays), and a
new window overwrites a free slot or the device's oldest one: once every device has been seen, closing windows
allocates nothing.

Memory bound (bytes), steady state and worst case alike:

    per device   ~  K * (8 + 32 * M) + ~1,000     K slots: an int64 start, and per metric count/min/max/total
                                                   as float64; ~1,000 for the arrays' headers, the ring, its
                                                   metric names and the device's dict entries
    total        <= max_devices * K * (8 + 32 * MAX_METRICS) + max_devices * ~1,000

with K = clamp(MAX_WINDOWS // devices, MIN_PER_DEVICE, MAX_PER_DEVICE) (devices: the fleet size the API
expects, DEFAULT_DEVICES when unknown) and max_devices = DEVICE_HEADROOM * MAX_WINDOWS // K, so K * max_devices
= DEVICE_HEADROOM * MAX_WINDOWS slots whatever the fleet. M is the metrics a device reports: 2-3 in the example
network, ~15-18 KB a device with K = 160, 18.4 MB measured (tracemalloc) for 1,246 devices, flat from then on.
Worst case with K = 160: 2,500 devices, ~108 MB if each reports all 8 metrics the schema aggregates, ~210 MB
with MAX_METRICS each (the old store's cap alone was ~80-160 MB at 400-800 bytes a window). A window the arrays
cannot hold exactly (a min/max that is not a float or null, a count beyond 2**53, more than MAX_METRICS metrics:
nothing the worker writes) is kept as parsed, in its slot: still at most K a device, outside the formula.
"""

from __future__ import annotations

import logging
from collections import OrderedDict
from datetime import datetime, timezone
from typing import Any

import numpy as np
import orjson

from twin.aggregates import WINDOW_SECONDS, MetricAggregate
from twin.history import window_aggregates

__all__ = ["WindowHistory", "MAX_WINDOWS", "DEFAULT_DEVICES", "MIN_PER_DEVICE", "MAX_PER_DEVICE", "MAX_METRICS",
           "DEVICE_HEADROOM", "ring_size", "window_json"]

log = logging.getLogger(__name__)

MAX_WINDOWS = 200_000
"""Window budget, split evenly over the fleet into each device's ring: bounds the API's memory (see above)
however large the fleet. The worker keeps 24 h (`AGGREGATE_RETENTION`), 1.8 M windows for the example network's
1,246 devices; the API shows the newest ~2.7 h of each and the worker's table still has the rest."""

DEFAULT_DEVICES = 1_250
"""Fleet size assumed when the API is not told one (the example network has 1,246 devices): K = 160, 2 h 40 min
a device. Prevents a tiny or huge ring when the constructor is not given the network."""

MIN_PER_DEVICE = 15
"""Smallest ring: the quarter hour of windows an alert's page and the console show per device
(`alert_detail.RECENT_WINDOWS`); a fleet beyond MAX_WINDOWS / 15 = 13,333 devices still gets that much, rather
than a ring too short to show anything."""

MAX_PER_DEVICE = 24 * 60
"""Largest ring: the 24 h of windows the worker keeps (`AGGREGATE_RETENTION`). A small fleet must not allocate
slots for windows the worker has already expired (they would stay empty)."""

MAX_METRICS = 16
"""Metric columns per device (the telemetry schema aggregates 8): a record naming many odd metrics must not widen
a device's ring without bound; a window with more is kept as parsed instead (still one slot)."""

DEVICE_HEADROOM = 2
"""Devices held = this many times the expected fleet (MAX_WINDOWS // K): devices the network does not list (a
simulator at `--scale`, renamed devices) fit without evicting a listed one, and a flood of unknown device ids
cannot grow the rings without end (least recently written device evicted first)."""

EMPTY = np.iinfo(np.int64).min
"""Start of a free slot. Below every accepted start (keys are checked), so `argmin` over a device's starts finds
a free slot before the oldest window: no separate free list to keep in step."""

_FIELDS = 4  # columns per metric: count, min, max, total (count NaN: metric absent from that window)
_EXACT_COUNT = 2 ** 53  # counts a float64 holds exactly
_NAN = float("nan")


def ring_size(devices: int | None, max_windows: int = MAX_WINDOWS) -> int:
    """K: the windows kept per device when the API expects `devices` devices (None: DEFAULT_DEVICES)."""
    return max(MIN_PER_DEVICE, min(MAX_PER_DEVICE, max_windows // max(1, devices or DEFAULT_DEVICES)))


class _Ring:
    """One device's newest K windows: slot i holds the window starting at starts[i] (EMPTY: free), and its
    metric names[j] in cells[i, 4j:4j+4] as count/min/max/total (min/max NaN: None; count NaN: absent)."""

    __slots__ = ("starts", "cells", "names", "columns", "held", "newest", "odd")

    def __init__(self, size: int) -> None:
        self.starts = np.full(size, EMPTY, dtype=np.int64)
        self.cells = np.full((size, 0), _NAN)  # widened to the device's metrics by its first window
        self.names: list[str] = []
        self.columns: dict[str, int] = {}
        self.held = 0
        self.newest = int(EMPTY)  # an upper bound of the starts held (not lowered by a delete)
        self.odd: dict[int, dict[str, MetricAggregate]] = {}  # slot -> a window the arrays cannot hold exactly

    def find(self, start: int) -> int:
        """The slot holding `start`, or -1."""
        if start > self.newest:
            return -1
        slot = int((self.starts == start).argmax())
        return slot if self.starts[slot] == start else -1

    def write(self, start: int, aggregates: dict[str, MetricAggregate]) -> int:
        """Store a window (replacing the one of the same start); returns the windows evicted (0 or 1): the
        oldest when the ring is full, or this one if it is older than every window held."""
        evicted = 0
        slot = self.find(start)
        if slot < 0:
            slot = int(self.starts.argmin())
            oldest = int(self.starts[slot])
            if oldest != EMPTY:
                if start < oldest:
                    return 1
                evicted = 1
            else:
                self.held += 1
            self.starts[slot] = start
            if start > self.newest:
                self.newest = start
        self.odd.pop(slot, None)
        if not self._fill(slot, aggregates):
            self.odd[slot] = aggregates
        return evicted

    def _fill(self, slot: int, aggregates: dict[str, MetricAggregate]) -> bool:
        """Write the window's aggregates into its cells; False when the arrays cannot hold them exactly."""
        new = []
        for name, agg in aggregates.items():
            low, high = agg.min, agg.max
            if ((low is not None and type(low) is not float) or (high is not None and type(high) is not float)
                    or not -_EXACT_COUNT <= agg.count <= _EXACT_COUNT):
                return False
            if name not in self.columns:
                new.append(name)
        if new:
            if len(self.names) + len(new) > MAX_METRICS:
                return False
            self._widen(new)
        row = [_NAN] * self.cells.shape[1]
        columns = self.columns
        for name, agg in aggregates.items():
            at = _FIELDS * columns[name]
            row[at] = agg.count
            row[at + 1] = _NAN if agg.min is None else agg.min
            row[at + 2] = _NAN if agg.max is None else agg.max
            row[at + 3] = agg.total
        self.cells[slot] = row
        return True

    def _widen(self, names: list[str]) -> None:
        """Columns for metrics this device had not reported yet (rare: a device's metrics rarely change)."""
        cells = np.full((len(self.starts), _FIELDS * (len(self.names) + len(names))), _NAN)
        cells[:, :self.cells.shape[1]] = self.cells
        self.cells = cells
        for name in names:
            self.columns[name] = len(self.names)
            self.names.append(name)

    def delete(self, slot: int) -> None:
        self.starts[slot] = EMPTY
        self.odd.pop(slot, None)
        self.held -= 1

    def json(self, slot: int, row: list[float], start: int, metric: str | None) -> dict[str, Any] | None:
        """The window in `slot` (`row`: its cells) as `window_json` shows it, or only `metric`; None when that
        leaves no metric (such a window is not shown, but still hides the open window of its minute)."""
        aggregates = self.odd.get(slot)
        if aggregates is not None:
            if metric is not None:
                aggregates = {metric: aggregates[metric]} if metric in aggregates else {}
            return window_json(start, aggregates, is_open=False) if aggregates else None
        if metric is None:
            columns: list[tuple[str, int]] = sorted(self.columns.items())
        else:
            columns = [(metric, self.columns[metric])] if metric in self.columns else []
        metrics = {}
        for name, column in columns:  # what window_json makes of MetricAggregate, without making them
            at = _FIELDS * column
            count = row[at]
            if count == count:  # NaN: the metric is not in this window
                low, high, n = row[at + 1], row[at + 2], int(count)
                metrics[name] = {"count": n, "min": None if low != low else low,
                                 "max": None if high != high else high, "mean": row[at + 3] / n if n else None}
        if not metrics:
            return None
        return {"start": _iso(start), "end": _iso(start + WINDOW_SECONDS), "open": False, "metrics": metrics}


class WindowHistory:
    """Closed windows per device, from the `aggregates` changelog: each device's newest K (by start), for at
    most max_devices devices (least recently written evicted first)."""

    def __init__(self, max_windows: int = MAX_WINDOWS, *, devices: int | None = None,
                 per_device: int | None = None, max_devices: int | None = None) -> None:
        """`devices`: the fleet size expected (the network's devices); `per_device` and `max_devices` override
        K and the device bound that `max_windows` and `devices` give."""
        self._per_device = per_device if per_device is not None else ring_size(devices, max_windows)
        if self._per_device < 1:
            raise ValueError("per_device must be at least 1")
        self._max_devices = max(1, max_devices if max_devices is not None
                                else DEVICE_HEADROOM * max_windows // self._per_device)
        self._devices: OrderedDict[str, _Ring] = OrderedDict()  # least recently written first
        self._held = 0
        self.rejected = 0
        self.evicted = 0

    @property
    def per_device(self) -> int:
        """K: windows kept per device."""
        return self._per_device

    @property
    def max_devices(self) -> int:
        """Devices held at most."""
        return self._max_devices

    def __len__(self) -> int:
        return self._held

    def apply(self, key: bytes | None, value: bytes | None) -> bool:
        """One changelog record: a window written (or rewritten with a late reading), or a tombstone."""
        try:
            device_id, start_s = _parse_key(key)
            stored = orjson.loads(value) if value is not None else None
            if stored is not None and not isinstance(stored, dict):
                raise ValueError("not a JSON object")
            aggregates = window_aggregates(stored) if stored is not None else None
        except (ValueError, KeyError, TypeError, OverflowError) as exc:  # orjson.JSONDecodeError is a ValueError
            self.rejected += 1
            log.warning("skipped an aggregates changelog record the API does not understand: %s", str(exc)[:300])
            return False
        if aggregates is None:
            self._delete(device_id, start_s)
            return True
        ring = self._devices.get(device_id)
        if ring is None:
            ring = self._devices[device_id] = _Ring(self._per_device)
            while len(self._devices) > self._max_devices:
                _, gone = self._devices.popitem(last=False)
                self._held -= gone.held
                self.evicted += gone.held
        else:
            self._devices.move_to_end(device_id)
        held = ring.held
        self.evicted += ring.write(start_s, aggregates)
        self._held += ring.held - held
        return True

    def _delete(self, device_id: str, start_s: int) -> None:
        ring = self._devices.get(device_id)
        if ring is None:
            return
        slot = ring.find(start_s)
        if slot >= 0:
            ring.delete(slot)
            self._held -= 1
            if not ring.held:  # a device whose every window expired is forgotten, as if never seen
                del self._devices[device_id]

    def knows(self, device_id: str) -> bool:
        return device_id in self._devices

    def windows(self, device_id: str, *, start_s: float, end_s: float, metric: str | None,
                open_window: dict[str, Any] | None) -> list[dict[str, Any]]:
        """The device's windows starting in [start_s, end_s), oldest first: the closed ones and the one its row
        says is open (unless that minute is already closed: the row is written up to a second after the window,
        so a closed window is the newer of the two). With `metric`, only that metric, and windows without it
        are left out."""
        found: dict[int, dict[str, Any] | None] = {}
        ring = self._devices.get(device_id)
        if ring is not None:
            starts = ring.starts.tolist()
            slots = [i for i, s in enumerate(starts) if s != EMPTY and start_s <= s < end_s]
            for slot, row in zip(slots, ring.cells[slots].tolist()):
                found[starts[slot]] = ring.json(slot, row, starts[slot], metric)
        opened = _open_window(open_window)
        if opened is not None and start_s <= opened[0] < end_s and opened[0] not in found:
            aggs = opened[1]
            if metric is not None:
                aggs = {metric: aggs[metric]} if metric in aggs else {}
            found[opened[0]] = window_json(opened[0], aggs, is_open=True) if aggs else None
        return [window for _, window in sorted(found.items(), key=lambda item: item[0]) if window is not None]


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
    start = int(parsed[1][0])
    if not EMPTY < start <= np.iinfo(np.int64).max:  # what an int64 slot holds (EMPTY marks a free one)
        raise ValueError(f"window start out of range: {start}")
    return parsed[0], start


def _open_window(window: Any) -> tuple[int, dict[str, MetricAggregate]] | None:
    """The open window of a device row (`{"start_s", "metrics": {name: aggregate}}`), or None."""
    if not isinstance(window, dict) or not isinstance(window.get("metrics"), dict):
        return None
    try:
        return int(window["start_s"]), {m: MetricAggregate.from_dict(a) for m, a in window["metrics"].items()}
    except (KeyError, TypeError, ValueError):
        return None
