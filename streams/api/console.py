"""The web console: a small vanilla-JS page served by the API itself at /console/ (streams/api/console/).

Why served by the API: same origin, so no CORS, one process to run, and the same bearer token and roles as
every route (the page sends the token the operator pastes; the API checks it as always). Nothing is fetched
from a CDN at run time, and a Content-Security-Policy allows this origin only. The files are public: they
hold no data, only code that asks the API with the operator's token.
"""

from __future__ import annotations

from pathlib import Path

from aiohttp import web

from streams.api.routes import public

__all__ = ["console_routes", "CONSOLE_DIR", "CSP", "SCRIPTS"]

CONSOLE_DIR = Path(__file__).with_name("console")

SCRIPTS = ("api.js", "map.js", "pan.js", "alerts.js", "detail.js", "devices.js", "whatif.js", "main.js")
"""The page's scripts, one per concept, in the order index.html loads them (no build step)."""

FILES = {"index.html": "text/html", "style.css": "text/css", **{name: "text/javascript" for name in SCRIPTS}}
"""The only files served: a fixed list, so no path from a request ever reaches the file system."""

CSP = ("default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self' data:; "
       "base-uri 'none'; form-action 'none'; frame-ancestors 'none'")


def _load() -> dict[str, bytes]:
    return {name: (CONSOLE_DIR / name).read_bytes() for name in FILES}


def console_routes() -> list[web.RouteDef]:
    """GET /console (redirect), /console/ (the page) and /console/{file}."""
    files = _load()

    @public
    async def console_redirect(_request: web.Request) -> web.StreamResponse:
        raise web.HTTPFound("/console/")

    @public
    async def console_file(request: web.Request) -> web.Response:
        name = request.match_info.get("name") or "index.html"
        if name not in FILES:
            raise web.HTTPNotFound()
        response = web.Response(body=files[name], content_type=FILES[name], charset="utf-8", headers={
            "Content-Security-Policy": CSP, "X-Content-Type-Options": "nosniff", "Cache-Control": "no-cache",
            "Referrer-Policy": "no-referrer"})
        response.enable_compression()  # gzip or deflate when the browser accepts it: 39 KiB -> 13 KiB
        return response

    return [web.get("/console", console_redirect), web.get("/console/", console_file),
            web.get("/console/{name}", console_file)]
