"""bench/cpu_window.py: a process's CPU over the window is counted, the machine's busy time includes it, and a
process that is gone by the end is left out instead of failing the bench."""

from __future__ import annotations

import os
import subprocess
import sys
import time

from bench.cpu_window import CpuWindow


def _burn(seconds: float) -> None:
    end = time.process_time() + seconds
    while time.process_time() < end:
        pass


def test_a_busy_process_is_counted_and_the_machine_was_at_least_that_busy() -> None:
    gone = subprocess.Popen([sys.executable, "-c", "pass"])
    window = CpuWindow({"me": [os.getpid()], "gone": [gone.pid], "none": []})
    gone.wait()
    _burn(0.3)
    usage = window.stop()
    assert 0.25 <= usage["me"] <= usage["window_s"] + 0.05
    assert usage["gone"] == 0.0 and usage["none"] == 0.0
    assert usage["machine_busy_s"] >= usage["me"] - 0.05
    assert usage["machine_busy_s"] + usage["machine_idle_s"] <= usage["window_s"] * os.cpu_count() + 0.1
