"""Cross-origin calls from browsers (CORS), allowed for the origins in `OMNITRACK_API_CORS_ORIGINS` only.

Why: a dashboard served from another origin (an operations portal) calls the API with its bearer token;
the browser sends an `OPTIONS` preflight first and refuses the answer unless the API names the page's
origin. The API's own console is same-origin and needs none of this, so the default list is empty.
No credentials mode: tokens travel in `Authorization`, never in cookies, so `*` gives a page nothing it
could not do with a token it already holds.

A preflight is answered here, before authentication (browsers send it without the token) and before
routing (no route has OPTIONS): 204 with the allowed methods and headers for an allowed origin, 403 for
another. Every other answer to an allowed origin carries `Access-Control-Allow-Origin`, errors included,
so a page can read a 401 or a 429 and its `Retry-After`.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable

from aiohttp import web

__all__ = ["Cors", "ALLOWED_METHODS", "ALLOWED_HEADERS", "EXPOSED_HEADERS"]

ALLOWED_METHODS = "GET, POST, OPTIONS"
ALLOWED_HEADERS = ("authorization", "content-type", "last-event-id")
EXPOSED_HEADERS = "Retry-After, Location, WWW-Authenticate"

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


class Cors:
    """The origin list (`*`: any), a middleware answering preflights, and an `on_response_prepare` hook that
    marks every other answer to an allowed origin (streamed ones included, whose headers leave before any
    middleware sees the response)."""

    def __init__(self, origins: Iterable[str], max_age_s: int) -> None:
        self._origins = frozenset(origins)
        self._any = "*" in self._origins
        self._max_age_s = max_age_s

    def allows(self, origin: str | None) -> bool:
        return origin is not None and (self._any or origin in self._origins)

    @web.middleware
    async def preflight(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        origin = request.headers.get("Origin")
        if origin is not None and _is_preflight(request):
            return self._preflight(request, origin)
        return await handler(request)

    async def on_prepare(self, request: web.Request, response: web.StreamResponse) -> None:
        origin = request.headers.get("Origin")
        if not self.allows(origin) or _is_preflight(request):  # a preflight's answer is complete as made
            return
        response.headers["Access-Control-Allow-Origin"] = origin or ""
        response.headers["Access-Control-Expose-Headers"] = EXPOSED_HEADERS
        vary = response.headers.get("Vary")
        if not vary or "origin" not in vary.lower():
            response.headers["Vary"] = f"{vary}, Origin" if vary else "Origin"

    def _preflight(self, request: web.Request, origin: str) -> web.Response:
        asked = request.headers["Access-Control-Request-Method"].upper()
        wanted = {h.strip().lower() for h in request.headers.get("Access-Control-Request-Headers", "").split(",")
                  if h.strip()}
        if not self.allows(origin) or asked not in ("GET", "POST") or not wanted <= set(ALLOWED_HEADERS):
            return web.Response(status=403, headers={"Vary": "Origin"})
        return web.Response(status=204, headers={
            "Access-Control-Allow-Origin": origin, "Access-Control-Allow-Methods": ALLOWED_METHODS,
            "Access-Control-Allow-Headers": ", ".join(ALLOWED_HEADERS),
            "Access-Control-Max-Age": str(self._max_age_s), "Vary": "Origin"})


def _is_preflight(request: web.Request) -> bool:
    return request.method == "OPTIONS" and "Access-Control-Request-Method" in request.headers
