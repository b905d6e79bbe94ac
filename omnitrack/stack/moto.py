"""Amazon SNS (and SQS) on loopback: moto's server mode, run from this venv.

Why moto's server mode and not an in-process mock: the notifier is a separate process and must talk real HTTP
through boto3, exactly as it does to Amazon SNS; SNS->SQS subscriptions then show what each channel received.
The stack starts it only in `OMNITRACK_SNS_MODE=local` when no `AWS_ENDPOINT_URL` points elsewhere.
"""

from __future__ import annotations

import sys
import urllib.error
import urllib.request

from omnitrack.settings import Settings
from omnitrack.stack.errors import StackError
from omnitrack.stack.process import ManagedProcess
from omnitrack.stack.readiness import port_open, wait_until

READY_DEADLINE_S = 30.0
"""moto imports its service backends on start (~2-5 s on two busy cores); past this it is broken, not slow."""

PROBE_TIMEOUT_S = 2.0
"""One readiness request: a server that accepts but never answers must not stall the deadline loop."""

MARKER = "moto.server"
"""In moto's command line (`python -m moto.server`), so a reused pid is never taken for our server."""

HOST = "127.0.0.1"
"""Loopback only: the mock accepts any credentials, so it must not be reachable from the network."""


def process(settings: Settings) -> ManagedProcess:
    return ManagedProcess("moto", settings.resolved_stack_dir / "run", marker=MARKER)


def managed(settings: Settings) -> bool:
    """False in `aws` mode or when an endpoint override points at another SNS (then the stack starts none)."""
    return settings.sns_managed


def answers(url: str) -> bool:
    """True when moto answers HTTP on its management API (a TCP accept alone is not readiness)."""
    try:
        with urllib.request.urlopen(f"{url}/moto-api/", timeout=PROBE_TIMEOUT_S) as resp:  # noqa: S310 - loopback
            return 200 <= resp.status < 500
    except urllib.error.HTTPError as exc:
        return exc.code < 500
    except OSError:
        return False


def up(settings: Settings) -> None:
    """Start moto unless it already runs; wait until it answers HTTP."""
    proc = process(settings)
    url = settings.sns_local_url
    if not proc.running():
        if port_open(HOST, settings.sns_port):
            raise StackError("moto", f"port {settings.sns_port} is taken by another process; stop it, set "
                                     "OMNITRACK_SNS_PORT, or point AWS_ENDPOINT_URL at that endpoint")
        proc.start([sys.executable, "-m", "moto.server", "-H", HOST, "-p", str(settings.sns_port)])
    wait_until(lambda: answers(url), component="moto", what=f"HTTP answers on {url}",
               deadline_s=READY_DEADLINE_S, log=proc.log, abort=proc.exited_early)


def down(settings: Settings) -> bool:
    """Stop moto; True if it was running. Its state is in memory only, so nothing is left on disk."""
    return process(settings).stop()
