"""GET /alerts/stream and /twin/stream: alert events and twin changes as they happen, as Server-Sent Events,
for screens that cannot read Kafka.

WHY Server-Sent Events: one long GET of plain text that every browser follows and reconnects by itself
(`EventSource`), through the same bearer token and role check as every route; nothing to install.

What a client gets: `retry`, then one `event: alert` per alert event the read model applies from then on
(`id` = the event id, `data` = what GET /alerts/{id} answers), filtered like GET /alerts, or one
`event: twin` per `twin.changes` record (device status, node health; `data` = the record), filtered by
`kind`; a comment every `HEARTBEAT_S` so proxies keep the connection open. There is no replay: read the
GET routes first, then follow.
A client that does not keep up is not allowed to hold memory: past `QUEUE_MAX` waiting events it gets one
`event: overflow` and the stream ends (read GET /alerts again, then reconnect).

WHY batched writes: one `write` (and its drain) per event cost more than the events at 1,000 twin changes/s,
so a client's queue filled faster than it emptied and the page was cut off with an overflow. Whatever is
waiting when the stream wakes up (up to `BATCH_MAX` events) goes out in one write.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from typing import Any, Generic, TypeVar

import orjson
from aiohttp import web

from streams.api import metrics as m
from streams.api.lanes import LANE_CHANGE
from streams.api.views import TWIN_SUBJECTS, alert_json, matches
from twin.alerts.models import AlertEvent

__all__ = ["Hub", "AlertHub", "TwinHub", "Subscriber", "stream_alerts_response", "stream_twin_response"]

T = TypeVar("T")

QUEUE_MAX = 1000
"""Events waiting for one slow client at most: a stalled dashboard must not grow the API's memory."""

HEARTBEAT_S = 15.0
"""A comment line at least this often: idle connections through proxies and load balancers stay open."""

RETRY_MS = 3000
"""What an EventSource waits before it reconnects after the stream ends."""

BATCH_MAX = 500
"""Events written at most in one write: a burst goes out in a few writes, not one per event, and one write
stays a bounded buffer (a few hundred KB)."""

STREAM_KINDS = {**{change: subject[0] for change, subject in TWIN_SUBJECTS.items()}, LANE_CHANGE: "lane"}
"""`/twin/stream` record type -> its `kind` (twin.changes records, and the API's own lane records)."""


class Subscriber(Generic[T]):
    """One client's queue. `ended` is set once it fell `QUEUE_MAX` events behind (`reason` "overflow"; it is fed
    nothing more) or the API is stopping ("closing")."""

    def __init__(self, queue_max: int) -> None:
        self.queue: asyncio.Queue[T] = asyncio.Queue(queue_max)
        self.ended = asyncio.Event()
        self.reason = ""

    def end(self, reason: str) -> None:
        if not self.ended.is_set():
            self.reason = reason
            self.ended.set()


class Hub(Generic[T]):
    """Fans the read model's new items out to the connected streams (all on the API's event loop)."""

    def __init__(self, queue_max: int = QUEUE_MAX) -> None:
        self._queue_max = queue_max
        self._subscribers: set[Subscriber[T]] = set()

    def __len__(self) -> int:
        return len(self._subscribers)

    def subscribe(self) -> Subscriber[T]:
        sub: Subscriber[T] = Subscriber(self._queue_max)
        self._subscribers.add(sub)
        m.OPEN_STREAMS.inc()
        return sub

    def unsubscribe(self, sub: Subscriber[T]) -> None:
        if sub in self._subscribers:
            self._subscribers.discard(sub)
            m.OPEN_STREAMS.dec()

    def publish(self, event: T) -> None:
        for sub in list(self._subscribers):
            if sub.ended.is_set():
                continue
            try:
                sub.queue.put_nowait(event)
            except asyncio.QueueFull:
                sub.end("overflow")

    def close(self) -> None:
        """End every stream now (the API is stopping: EventSources reconnect, to another replica or later)."""
        for sub in list(self._subscribers):
            sub.end("closing")


class AlertHub(Hub[AlertEvent]):
    """New alert events (GET /alerts/stream)."""


class TwinHub(Hub[dict[str, Any]]):
    """New `twin.changes` records and lane changes (GET /twin/stream)."""


def _alert_frame(event: AlertEvent) -> bytes:
    body = {"alert": alert_json(event.alert),
            "transition": event.transition.model_dump(mode="json"), "event_id": event.event_id}
    return b"id: " + event.event_id.encode() + b"\nevent: alert\ndata: " + orjson.dumps(body) + b"\n\n"


async def stream_alerts_response(request: web.Request, hub: AlertHub, filters: dict) -> web.StreamResponse:
    """Alert events matching `filters` (those of GET /alerts)."""
    return await _stream(request, hub, lambda e: _alert_frame(e) if matches(e.alert, **filters) else None)


async def stream_twin_response(request: web.Request, hub: TwinHub,
                               kinds: frozenset[str] | None) -> web.StreamResponse:
    """twin.changes records and lane changes; `kinds` (device, node, lane) keeps those only (None: all)."""
    def frame(change: dict[str, Any]) -> bytes | None:
        subject = STREAM_KINDS.get(change.get("type"))  # type: ignore[arg-type]
        if subject is None or (kinds is not None and subject not in kinds):
            return None
        return b"event: twin\ndata: " + orjson.dumps(change) + b"\n\n"
    return await _stream(request, hub, frame)


async def _stream(request: web.Request, hub: Hub[T], frame: Callable[[T], bytes | None]) -> web.StreamResponse:
    """Serve one stream until the client leaves, falls too far behind, or the API stops. Events waiting are
    written together (`BATCH_MAX` at most per write)."""
    response = web.StreamResponse(headers={"Content-Type": "text/event-stream", "Cache-Control": "no-cache",
                                           "X-Accel-Buffering": "no"})
    sub = hub.subscribe()
    queue = sub.queue
    try:
        await response.prepare(request)
        await response.write(f"retry: {RETRY_MS}\n\n".encode())
        while True:
            first: list[T] = []
            if queue.empty() and not sub.ended.is_set():
                if not await _wait(sub, first):
                    await response.write(b": keep-alive\n\n")
                    continue
            if sub.reason == "closing":
                break
            frames = [data for data in map(frame, first) if data is not None]
            while not queue.empty() and len(frames) < BATCH_MAX:
                data = frame(queue.get_nowait())
                if data is not None:
                    frames.append(data)
            if frames:
                await response.write(b"".join(frames))
            if sub.ended.is_set() and queue.empty():
                if sub.reason == "overflow":
                    await response.write(b"event: overflow\ndata: {}\n\n")
                break
    except ConnectionResetError:
        pass  # the client left
    finally:
        hub.unsubscribe(sub)
    return response


async def _wait(sub: Subscriber[T], first: list[T]) -> bool:
    """Wait up to HEARTBEAT_S for an event (put in `first`) or the stream's end; False when neither came."""
    getting = asyncio.ensure_future(sub.queue.get())
    ending = asyncio.ensure_future(sub.ended.wait())
    done, _ = await asyncio.wait({getting, ending}, timeout=HEARTBEAT_S, return_when=asyncio.FIRST_COMPLETED)
    for task in (getting, ending):
        if task not in done:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
    if getting in done:
        first.append(getting.result())
    return bool(done)
