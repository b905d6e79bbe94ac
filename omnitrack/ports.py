"""Free local ports for the engine's metrics endpoints (tests and benchmarks start engines side by side).

Why below 32768: the kernel hands out client ports from 32768 up, so a port found free there (or the
one after it) may be any connection's a moment later, and a worker that cannot bind its metrics port
exits (this was a CI failure). Chosen at random in 20000-32000 (`Settings.free_ports_low`/`_high`: parallel
test workers each search a slice of their own), every requested offset checked.
"""

from __future__ import annotations

import random
import socket
from collections.abc import Iterable

from omnitrack.settings import Settings


def free_port_block(offsets: Iterable[int], within: tuple[int, int] | None = None) -> int:
    """A base port p such that p + o is free for every o in `offsets`, now; every p + o in `within` (low, high),
    by default the settings' range."""
    wanted = tuple(offsets)
    if within is None:
        settings = Settings()
        within = settings.free_ports_low, settings.free_ports_high
    low, high = within[0], within[1] - max(wanted, default=0)
    if low >= high:
        raise ValueError(f"no room for ports {wanted} in {within}")
    rng = random.Random()
    for _ in range(200):
        base = rng.randrange(low, high)
        try:
            for offset in wanted:
                with socket.socket() as s:
                    s.bind(("127.0.0.1", base + offset))
        except OSError:
            continue
        return base
    raise RuntimeError(f"no free block of ports {wanted} in {low}-{high}")
