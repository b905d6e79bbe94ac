"""Run the engine's processes in the foreground and stop them all on Ctrl-C.

Why a supervisor and not threads: each stage (bridge, Faust workers, notifier,
API) is its own OS process, as in production, so a crash in one is contained
and visible; the supervisor restarts a crashed one with backoff and, on
SIGINT/SIGTERM, stops every child and waits for it before returning.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field

STOP_GRACE_S = 15.0
"""Time each child gets to commit offsets and flush on SIGTERM before SIGKILL."""

MAX_BACKOFF_S = 30.0
"""Cap on the restart delay so a crashing stage is retried, but never in a hot loop."""


@dataclass
class ProcessSpec:
    """One supervised process: a name for the logs and the argv to run."""

    name: str
    argv: list[str]
    env: dict[str, str] = field(default_factory=dict)


@dataclass
class _Child:
    spec: ProcessSpec
    proc: subprocess.Popen[bytes]
    restarts: int = 0
    next_start: float = 0.0


class Supervisor:
    """Starts children, restarts crashed ones, stops all on a signal."""

    def __init__(self, specs: list[ProcessSpec], out=sys.stdout,
                 status: Callable[[], str] | None = None, status_every_s: float = 10.0) -> None:
        self._specs = specs
        self._status = status
        self._status_every_s = status_every_s
        self._children: dict[str, _Child] = {}
        self._stopping = False
        self._out = out

    def _say(self, message: str) -> None:
        print(f"[omnitrack run] {message}", file=self._out, flush=True)

    def _spawn(self, spec: ProcessSpec) -> subprocess.Popen[bytes]:
        # Own process group: stopping a stage also stops the processes it started (e.g. the simulator's).
        proc = subprocess.Popen(spec.argv, env={**os.environ, **spec.env}, start_new_session=True)  # noqa: S603
        self._say(f"started {spec.name} (pid {proc.pid})")
        return proc

    def _request_stop(self, signum: int, _frame: object) -> None:
        self._stopping = True

    def run(self, ready_message: str = "") -> int:
        """Block until SIGINT/SIGTERM, then stop every child; returns the exit code."""
        previous = {s: signal.signal(s, self._request_stop) for s in (signal.SIGINT, signal.SIGTERM)}
        try:
            for spec in self._specs:
                self._children[spec.name] = _Child(spec, self._spawn(spec))
            if ready_message:
                self._say(ready_message)
            next_status = time.monotonic() + self._status_every_s
            while not self._stopping:
                self._reap_and_restart()
                if self._status is not None and time.monotonic() >= next_status:
                    self._say(self._status())
                    next_status = time.monotonic() + self._status_every_s
                time.sleep(0.2)
            return 0
        finally:
            self.stop_all()
            for sig, handler in previous.items():
                signal.signal(sig, handler)

    def _reap_and_restart(self) -> None:
        now = time.monotonic()
        for child in self._children.values():
            code = child.proc.poll()
            if code is None:
                continue
            if child.next_start == 0.0:
                delay = min(MAX_BACKOFF_S, 2.0 ** child.restarts)
                child.next_start = now + delay
                self._say(f"{child.spec.name} exited with {code}; restarting in {delay:.0f}s")
            elif now >= child.next_start:
                child.restarts += 1
                child.next_start = 0.0
                child.proc = self._spawn(child.spec)

    def stop_all(self) -> None:
        """SIGTERM every child, wait, SIGKILL stragglers; no child outlives the supervisor."""
        live = [c for c in self._children.values() if c.proc.poll() is None]
        for child in live:
            _signal_group(child.proc.pid, signal.SIGTERM)
        deadline = time.monotonic() + STOP_GRACE_S
        for child in live:
            try:
                child.proc.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                pass
            _signal_group(child.proc.pid, signal.SIGKILL)  # stragglers in its group, if any
            if child.proc.poll() is None:
                child.proc.wait()
            self._say(f"stopped {child.spec.name}")


def stop_group(proc: subprocess.Popen, grace_s: float = 20.0) -> None:
    """SIGTERM a child started with its own session (`start_new_session=True`) and its group; SIGKILL after
    `grace_s`. For one-off processes of benches and tests; the Supervisor stops its own children together."""
    if proc.poll() is None:
        _signal_group(proc.pid, signal.SIGTERM)
    try:
        proc.wait(grace_s)
    except subprocess.TimeoutExpired:
        _signal_group(proc.pid, signal.SIGKILL)
        proc.wait(5)


def _signal_group(pid: int, sig: signal.Signals) -> None:
    try:
        os.killpg(pid, sig)
    except (ProcessLookupError, PermissionError):
        pass
