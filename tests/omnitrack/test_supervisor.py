"""`omnitrack run`'s supervisor: children start, a crashed one restarts, Ctrl-C stops them all."""

from __future__ import annotations

import io
import os
import signal
import sys
import threading
import time
from pathlib import Path

from omnitrack.supervisor import ProcessSpec, Supervisor


def _wait(condition, deadline_s: float = 20.0) -> bool:
    end = time.monotonic() + deadline_s
    while time.monotonic() < end:
        if condition():
            return True
        time.sleep(0.05)
    return False


def _alive(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[-1].split()[0] != "Z"
    except OSError:
        return False


def test_supervisor_restarts_crash_and_stops_all_on_sigint(tmp_path: Path) -> None:
    marker = tmp_path / "starts"
    sleeper = ProcessSpec("sleeper", [sys.executable, "-c", "import time; time.sleep(600)"])
    # crashes on its first start, then stays up: the supervisor must restart it
    crasher = ProcessSpec("crasher", [sys.executable, "-c",
        f"import pathlib,sys,time; p=pathlib.Path({str(marker)!r}); n=len(p.read_text()) if p.exists() else 0;"
        "p.write_text('x'*(n+1)); sys.exit(1) if n == 0 else time.sleep(600)"])
    out = io.StringIO()
    sup = Supervisor([sleeper, crasher], out=out)
    result: dict[str, int] = {}

    def send_sigint_when_restarted() -> None:
        _wait(lambda: marker.exists() and len(marker.read_text()) >= 2)
        os.kill(os.getpid(), signal.SIGINT)

    threading.Thread(target=send_sigint_when_restarted, daemon=True).start()
    result["rc"] = sup.run(ready_message="ready")
    assert result["rc"] == 0
    log = out.getvalue()
    assert "crasher exited with 1; restarting" in log
    assert len(marker.read_text()) == 2
    pids = [int(line.split("pid ")[1].rstrip(")")) for line in log.splitlines() if "(pid " in line]
    assert len(pids) == 3
    assert not any(_alive(pid) for pid in pids)
