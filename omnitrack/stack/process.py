"""Background server processes owned by the stack, tracked by pid files.

Why pid files and process groups: `omnitrack stack up` returns while the
servers keep running, so a later `stack down` (or the test fixtures) must find
them again; killing the whole process group leaves no child behind.
"""

from __future__ import annotations

import os
import signal
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

STOP_GRACE_S = 20.0
"""Time a server gets to shut down cleanly on SIGTERM before SIGKILL (Kafka flushes its logs)."""


@dataclass(frozen=True)
class ManagedProcess:
    """A named server process with its pid file, its log and a marker found in its command line."""

    name: str
    run_dir: Path
    marker: str
    """A string found in the process' command line, so a reused pid is never mistaken for ours."""

    @property
    def pidfile(self) -> Path:
        return self.run_dir / f"{self.name}.pid"

    @property
    def log(self) -> Path:
        return self.run_dir / f"{self.name}.log"

    def pid(self) -> int | None:
        """The pid of the running process, or None when it is not running."""
        try:
            pid = int(self.pidfile.read_text().strip())
        except (OSError, ValueError):
            return None
        try:
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
            stat = Path(f"/proc/{pid}/stat").read_text()
        except OSError:
            return None
        if self.marker not in cmdline or stat.rsplit(")", 1)[-1].split()[0] == "Z":
            return None
        return pid

    def running(self) -> bool:
        return self.pid() is not None

    def start(self, argv: list[str], env: dict[str, str] | None = None, cwd: Path | None = None) -> int:
        """Start the process detached in its own session, output appended to its log."""
        self.run_dir.mkdir(parents=True, exist_ok=True)
        with open(self.log, "ab") as log:
            log.write(f"\n--- {time.strftime('%Y-%m-%dT%H:%M:%S')} starting {' '.join(argv)}\n".encode())
            log.flush()
            proc = subprocess.Popen(  # noqa: S603 - argv is built by the project, not from input
                argv,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                env={**os.environ, **(env or {})},
                cwd=cwd,
                start_new_session=True,
            )
        self.pidfile.write_text(str(proc.pid))
        return proc.pid

    def exited_early(self) -> bool:
        """True when the pid file names a process that is gone (it crashed on start).

        Only existence is checked, not the marker: while a launcher such as
        `java` re-executes itself its command line is briefly empty.
        """
        try:
            pid = int(self.pidfile.read_text().strip())
        except (OSError, ValueError):
            return False
        return not _alive(pid)

    def stop(self, grace_s: float = STOP_GRACE_S) -> bool:
        """Stop the process group: SIGTERM, wait up to `grace_s`, then SIGKILL. True if it was running."""
        pid = self.pid()
        if pid is None:
            self.pidfile.unlink(missing_ok=True)
            return False
        _signal_group(pid, signal.SIGTERM)
        deadline = time.monotonic() + grace_s
        while time.monotonic() < deadline and _alive(pid):
            time.sleep(0.1)
        if _alive(pid):
            _signal_group(pid, signal.SIGKILL)
            deadline = time.monotonic() + 5.0
            while time.monotonic() < deadline and _alive(pid):
                time.sleep(0.05)
        self.pidfile.unlink(missing_ok=True)
        return True


def _signal_group(pid: int, sig: signal.Signals) -> None:
    try:
        os.killpg(pid, sig)
    except (ProcessLookupError, PermissionError):
        try:
            os.kill(pid, sig)
        except ProcessLookupError:
            pass


def _alive(pid: int) -> bool:
    """True while the pid exists and is not a zombie; reaps it if it is our child."""
    try:
        done, _ = os.waitpid(pid, os.WNOHANG)
        if done == pid:
            return False
    except ChildProcessError:
        pass
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[-1].split()[0] != "Z"
