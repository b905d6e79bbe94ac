"""CPU seconds each process of a bench run spent over the run's window, and how busy the whole machine was.

WHY: a ratio of two rates does not say why it is what it is. Until 2026-12-05 the twin/raw ratio of `bench
ingest` was read as "CPU-bound: the two cores are shared by the transport and the worker". Measured per process
and machine-wide, the twin run left a quarter of the CPU idle: the bridge decoded a burst of gateway batches as
one round while the worker had nothing to read (docs/BENCHMARKS.md, issue 17). Two snapshots per run (start and
end), so the measurement costs nothing while the run goes.
"""

from __future__ import annotations

import time

import psutil


def kafka_pids() -> list[int]:
    """The local Kafka broker's JVM, if it runs on this machine (none with an external `KAFKA_BOOTSTRAP`)."""
    pids = []
    for proc in psutil.process_iter(["name", "cmdline"]):
        cmdline = proc.info.get("cmdline") or []
        if proc.info.get("name") == "java" and any("kafka" in part.lower() for part in cmdline):
            pids.append(proc.pid)
    return pids


def process_cpu_s(pid: int) -> float | None:
    """CPU seconds (user + system) of a process so far; None once it is gone."""
    try:
        times = psutil.Process(pid).cpu_times()
    except psutil.Error:
        return None
    return times.user + times.system


def _all(t: psutil._common.scputimes) -> float:
    # Linux counts guest time inside user time already: left out here, not counted twice
    return sum(getattr(t, f) for f in ("user", "nice", "system", "idle", "iowait", "irq", "softirq", "steal")
               if hasattr(t, f))


class CpuWindow:
    """Started when the run starts; `stop()` gives each role's CPU seconds and the machine's busy cores."""

    def __init__(self, roles: dict[str, list[int]]) -> None:
        self._roles = roles
        self._start = {pid: process_cpu_s(pid) for pids in roles.values() for pid in pids}
        self._machine = psutil.cpu_times()
        self._wall = time.monotonic()

    def stop(self) -> dict[str, float]:
        """CPU seconds per role since the start (a process that ended meanwhile is left out), the window's
        length, and the machine's busy and idle core-seconds over it (all processes, the kernel included)."""
        wall = time.monotonic() - self._wall
        machine = psutil.cpu_times()
        out: dict[str, float] = {}
        for role, pids in self._roles.items():
            total = 0.0
            for pid in pids:
                start, end = self._start.get(pid), process_cpu_s(pid)
                if start is not None and end is not None:
                    total += end - start
            out[role] = round(total, 3)
        idle = (machine.idle + machine.iowait) - (self._machine.idle + self._machine.iowait)
        total = _all(machine) - _all(self._machine)
        out["window_s"] = round(wall, 3)
        out["machine_busy_s"] = round(total - idle, 3)
        out["machine_idle_s"] = round(idle, 3)
        return out
