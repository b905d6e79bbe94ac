"""GET /alerts/stream: alert events as they happen, as Server-Sent Events, for screens that cannot read Kafka.

WHY Server-Sent Events: one long GET of plain text that every browser follows and reconnects by itself
(`EventSource`), through the same bearer token and role check as every route; nothing to install.

What a client gets: `retry`, then one `event: alert` per alert event the read model applies from then on
(`id` = the event id, `data` = what GET /alerts/{id} answers), filtered like GET /alerts; a comment every
`HEARTBEAT_S` so proxies keep the connection open. There is no replay: read GET /alerts first, then follow.
A client that does not keep up is not allowed to hold memory: past `QUEUE_MAX` waiting events it gets one
`event: overflow` and the stream ends (read GET /alerts again, then reconnect).
"""

from __future__ import annotations

import asyncio
import contextlib

import orjson
from aiohttp import web

from streams.api import metrics as m
from streams.api.views import alert_json, matches
from twin.alerts.models import AlertEvent

__all__ = ["AlertHub", "Subscriber", "stream_alerts_response"]

QUEUE_MAX = 1000
"""Events waiting for one slow client at most: a stalled dashboard must not grow the API's memory."""

HEARTBEAT_S = 15.0
"""A comment line at least this often: idle connections through proxies and load balancers stay open."""

RETRY_MS = 3000
"""What an EventSource waits before it reconnects after the stream ends."""


class Subscriber:
    """One client's queue. `ended` is set once it fell `QUEUE_MAX` events behind (`reason` "overflow"; it is fed
    nothing more) or the API is stopping ("closing")."""

    def __init__(self, queue_max: int) -> None:
        self.queue: asyncio.Queue[AlertEvent] = asyncio.Queue(queue_max)
        self.ended = asyncio.Event()
        self.reason = ""

    def end(self, reason: str) -> None:
        if not self.ended.is_set():
            self.reason = reason
            self.ended.set()


class AlertHub:
    """Fans the read model's new alert events out to the connected streams (all on the API's event loop)."""

    def __init__(self, queue_max: int = QUEUE_MAX) -> None:
        self._queue_max = queue_max
        self._subscribers: set[Subscriber] = set()

    def __len__(self) -> int:
        return len(self._subscribers)

    def subscribe(self) -> Subscriber:
        sub = Subscriber(self._queue_max)
        self._subscribers.add(sub)
        m.OPEN_STREAMS.set(len(self._subscribers))
        return sub

    def unsubscribe(self, sub: Subscriber) -> None:
        self._subscribers.discard(sub)
        m.OPEN_STREAMS.set(len(self._subscribers))

    def publish(self, event: AlertEvent) -> None:
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


def _frame(event: AlertEvent) -> bytes:
    body = {"alert": alert_json(event.alert),
            "transition": event.transition.model_dump(mode="json"), "event_id": event.event_id}
    return b"id: " + event.event_id.encode() + b"\nevent: alert\ndata: " + orjson.dumps(body) + b"\n\n"


async def stream_alerts_response(request: web.Request, hub: AlertHub, filters: dict) -> web.StreamResponse:
    """Serve one stream until the client leaves, falls too far behind, or the API stops."""
    response = web.StreamResponse(headers={"Content-Type": "text/event-stream", "Cache-Control": "no-cache",
                                           "X-Accel-Buffering": "no"})
    sub = hub.subscribe()
    try:
        await response.prepare(request)
        await response.write(f"retry: {RETRY_MS}\n\n".encode())
        while True:
            getting = asyncio.ensure_future(sub.queue.get())
            ending = asyncio.ensure_future(sub.ended.wait())
            done, _ = await asyncio.wait({getting, ending}, timeout=HEARTBEAT_S,
                                         return_when=asyncio.FIRST_COMPLETED)
            for task in (getting, ending):
                if task not in done:
                    task.cancel()
                    with contextlib.suppress(asyncio.CancelledError):
                        await task
            if getting in done and sub.reason != "closing":
                event = getting.result()
                if matches(event.alert, **filters):
                    await response.write(_frame(event))
            elif ending in done:
                if sub.reason == "overflow":
                    await response.write(b"event: overflow\ndata: {}\n\n")
                break
            else:
                await response.write(b": keep-alive\n\n")
    except ConnectionResetError:
        pass  # the client left
    finally:
        hub.unsubscribe(sub)
    return response
