"""Free local ports for the engine's metrics endpoints (tests and benchmarks start engines side by side).

Why below 32768: the kernel hands out client ports from 32768 up, so a port found free there (or the
one after it) may be any connection's a moment later, and a worker that cannot bind its metrics port
exits (this was a CI failure). Chosen at random in 20000-32000, every requested offset checked.
"""

from __future__ import annotations

import random
import socket
from collections.abc import Iterable

LOW, HIGH = 20000, 32000


def free_port_block(offsets: Iterable[int]) -> int:
    """A base port p such that p + o is free for every o in `offsets`, now."""
    wanted = tuple(offsets)
    rng = random.Random()
    for _ in range(200):
        base = rng.randrange(LOW, HIGH)
        try:
            for offset in wanted:
                with socket.socket() as s:
                    s.bind(("127.0.0.1", base + offset))
        except OSError:
            continue
        return base
    raise RuntimeError(f"no free block of ports {wanted} in {LOW}-{HIGH}")
