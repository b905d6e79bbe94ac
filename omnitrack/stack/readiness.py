"""Readiness checks with deadlines: wait on a condition, never sleep and hope."""

from __future__ import annotations

import socket
import time
from collections.abc import Callable
from pathlib import Path

from omnitrack.stack.errors import StackError


def port_open(host: str, port: int, timeout_s: float = 0.5) -> bool:
    """True when something accepts TCP connections on host:port."""
    try:
        with socket.create_connection((host, port), timeout=timeout_s):
            return True
    except OSError:
        return False


def wait_until(
    condition: Callable[[], bool],
    *,
    component: str,
    what: str,
    deadline_s: float,
    log: Path | None = None,
    abort: Callable[[], bool] | None = None,
    interval_s: float = 0.2,
) -> None:
    """Poll `condition` until it holds; raise a StackError naming `what` and the log otherwise.

    `abort` is checked on each round so that a server that crashed on start is
    reported at once instead of after the whole deadline.
    """
    end = time.monotonic() + deadline_s
    while True:
        try:
            if condition():
                return
        except Exception:  # noqa: BLE001 - a failing probe means "not ready yet"
            pass
        if abort is not None and abort():
            raise StackError(component, f"process exited before {what}", log)
        if time.monotonic() >= end:
            raise StackError(component, f"not ready after {deadline_s:.0f}s: {what}", log)
        time.sleep(interval_s)
