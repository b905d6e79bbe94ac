"""The engine's processes that `omnitrack run` supervises, in data-flow order.

Each later stage adds itself here: MQTT bridge → twin workers → notifier → API.
"""

from __future__ import annotations

import sys

from omnitrack.settings import Settings
from omnitrack.supervisor import ProcessSpec

DEMO_RATE = 500
"""Readings/s of the demo fleet: lively dashboards without loading a laptop."""


MAX_WORKERS = 29
"""Twin workers' metrics ports are base + 1 + N and the decider's is base + 30: more would collide."""


def _single_bridge_env(settings: Settings) -> dict[str, str]:
    """The one bridge `omnitrack run` starts takes a plain subscription unless a share group was configured.

    Mosquitto 2.0.11 restores a shared subscription from its snapshot after a crash but does not queue for it
    while the bridge is away: whatever reaches the restarted broker before the bridge resubscribes is lost. A
    plain persistent subscription is queued for (docs/operations.md, "Mosquitto SIGKILL"). A shared group is
    for several bridges (and AWS IoT Core's template), which `omnitrack run` does not start."""
    if settings.bridge_transport != "paho" or "bridge_share_group" in settings.model_fields_set:
        return {}
    return {"OMNITRACK_BRIDGE_SHARE_GROUP": ""}


def engine_processes(settings: Settings, *, simulate: bool = True, workers: int = 1) -> list[ProcessSpec]:
    """The processes of a complete local engine for these settings, in data-flow order.

    `workers` twin workers share the telemetry partitions (one per core uses the machine; see
    docs/scaling.md and `omnitrack bench ingest`). Every stage reads the same environment itself; the API
    also gets the development JWT secret (created once under `settings.home`) when no key is configured."""
    if not 1 <= workers <= MAX_WORKERS:
        raise ValueError(f"workers must be 1..{MAX_WORKERS}, not {workers}")
    from streams.api.keys import api_process_env  # the dev JWT secret, when the environment has none
    cli = [sys.executable, "-m", "omnitrack.cli"]
    specs = [
        ProcessSpec("bridge", [*cli, "bridge"], env=_single_bridge_env(settings)),
        *(ProcessSpec(f"worker-{i}", [*cli, "worker"], env={"OMNITRACK_WORKER_ID": str(i)}) for i in range(workers)),
        ProcessSpec("decider", [*cli, "decider"]),
        ProcessSpec("notifier", [*cli, "notifier"]),
        ProcessSpec("api", [*cli, "api"], env=api_process_env(settings)),
    ]
    if simulate:
        specs.append(ProcessSpec("simulator", [*cli, "simulate", "fleet", "--rate", str(DEMO_RATE),
                                               "--duration", str(365 * 24 * 3600), "--json"]))
    return specs
