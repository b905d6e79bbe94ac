"""The engine's processes that `omnitrack run` supervises, in data-flow order.

Each later stage adds itself here: MQTT bridge → twin workers → notifier → API.
"""

from __future__ import annotations

import sys

from omnitrack.settings import Settings
from omnitrack.supervisor import ProcessSpec

DEMO_RATE = 500
"""Readings/s of the demo fleet: lively dashboards without loading a laptop."""


def engine_processes(settings: Settings, *, simulate: bool = True) -> list[ProcessSpec]:
    """The processes of a complete local engine for these settings, in data-flow order."""
    cli = [sys.executable, "-m", "omnitrack.cli"]
    specs = [
        ProcessSpec("bridge", [*cli, "bridge"]),
        ProcessSpec("worker-0", [*cli, "worker"], env={"OMNITRACK_WORKER_ID": "0"}),
        ProcessSpec("decider", [*cli, "decider"]),
        ProcessSpec("notifier", [*cli, "notifier"]),
    ]
    if simulate:
        specs.append(ProcessSpec("simulator", [*cli, "simulate", "fleet", "--rate", str(DEMO_RATE),
                                               "--duration", str(365 * 24 * 3600), "--json"]))
    del settings  # every stage reads the same environment itself
    return specs
