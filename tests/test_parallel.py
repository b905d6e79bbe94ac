"""tests/parallel.py: parallel workers' slices of the settings' port range never overlap, and each worker's broker
lies in its own."""

from __future__ import annotations

from omnitrack.settings import Settings
from tests.parallel import worker_env


def test_worker_slices_are_disjoint_and_cover_the_range() -> None:
    whole = Settings()
    for count in (1, 2, 3, 8):
        slices = []
        for index in range(count):
            env = worker_env(index, count)
            low, high = int(env["OMNITRACK_FREE_PORTS_LOW"]), int(env["OMNITRACK_FREE_PORTS_HIGH"])
            assert low <= int(env["OMNITRACK_MQTT_PORT"]) < int(env["OMNITRACK_MQTTS_PORT"]) < high
            slices.append((low, high))
        assert slices[0][0] == whole.free_ports_low and slices[-1][1] <= whole.free_ports_high
        assert all(a[1] <= b[0] for a, b in zip(slices, slices[1:]))

