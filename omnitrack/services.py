"""The engine's processes that `omnitrack run` supervises, in data-flow order.

Each later stage adds itself here: MQTT bridge → twin workers → notifier → API.
"""

from __future__ import annotations

from omnitrack.settings import Settings
from omnitrack.supervisor import ProcessSpec


def engine_processes(settings: Settings) -> list[ProcessSpec]:
    """The processes of a complete local engine for these settings."""
    del settings  # the stages read the same environment themselves
    return []
