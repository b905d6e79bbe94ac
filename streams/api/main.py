"""`omnitrack api` (serve until SIGINT/SIGTERM) and `omnitrack api token` (mint a token for local use)."""

from __future__ import annotations

import asyncio
import getpass
import logging
import signal
import sys

from aiohttp import web
from prometheus_client import start_http_server

from omnitrack.settings import Settings
from streams.api.app import create_app
from streams.api.auth import ConfigError, Role, TokenVerifier, mint_token
from streams.api.keys import signing_secret, verifier_for

__all__ = ["serve", "token"]

log = logging.getLogger(__name__)

SHUTDOWN_TIMEOUT_S = 10.0
"""How long open requests (a `?wait=` one included) get to finish on SIGTERM before connections are closed."""


def serve(settings: Settings, loglevel: str = "warning") -> int:
    """Run the API in the foreground; 2 with a clear message when no token key is configured."""
    logging.basicConfig(level=loglevel.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    try:
        verifier, source = verifier_for(settings)
    except ConfigError as exc:
        print(f"omnitrack api: {exc}", file=sys.stderr, flush=True)
        return 2
    return asyncio.run(_serve(settings, verifier, source))


async def _serve(settings: Settings, verifier: TokenVerifier, source: str) -> int:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    runner = web.AppRunner(create_app(settings, verifier), access_log=None, handle_signals=False,
                           shutdown_timeout=SHUTDOWN_TIMEOUT_S)
    await runner.setup()  # topics, producer and the read model's consumer start here
    try:
        await web.TCPSite(runner, settings.api_host, settings.api_port).start()
        metrics_port = settings.metrics_port_for("api")
        if metrics_port > 0:
            start_http_server(metrics_port, addr=settings.metrics_host)
        print(f"api listening on http://{settings.api_host}:{settings.api_port} (tokens checked with {source}; "
              f"metrics on {metrics_port if metrics_port > 0 else 'off'})", flush=True)
        await stop.wait()
    finally:
        await runner.cleanup()
    print("api stopped", flush=True)
    return 0


def token(settings: Settings, *, role: str, sub: str | None, ttl_s: float) -> int:
    """Print a token signed with the environment's secret or the development secret (created if missing)."""
    try:
        secret, algorithm = signing_secret(settings)
        value = mint_token(secret, sub=sub or _default_sub(), roles=[Role[role]], ttl_s=ttl_s,
                           audience=settings.api_jwt_audience, issuer=settings.api_jwt_issuer, algorithm=algorithm)
    except (ConfigError, ValueError) as exc:
        print(f"omnitrack api token: {exc}", file=sys.stderr)
        return 2
    print(value)
    return 0


def _default_sub() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):  # no passwd entry (some containers)
        return "omnitrack-cli"
