"""The tests' own stack: a state folder and ports apart from those of `omnitrack stack up`, and apart from the
tests of another checkout on the same machine (two clones running `make test` at once collided on fixed ports:
the second one's Kafka could not bind and every integration test of both errored).

Ports: a block picked by the checkout's path, base = 12000 + 10 x (crc32(path) mod 500), so 12000-16994: below
20000, where omnitrack/ports.py picks the tests' metrics ports, and clear of the private stack of
tests/omnitrack/test_stack_lifecycle.py (19092, 19093, 11883, 18883, 14566: no base + 0..4 ends in 6).
Two checkouts share a block with probability 1/500.

`python -m tests.stack_env` prints the variables as KEY=VALUE lines (`make test-stack-down` uses them).
"""

from __future__ import annotations

import zlib
from pathlib import Path

from omnitrack.settings import project_root

__all__ = ["stack_env"]

FIRST_BASE, BLOCKS, BLOCK = 12000, 500, 10


def stack_env(root: Path | None = None) -> dict[str, str]:
    """OMNITRACK_* variables of the test stack of the checkout at `root` (default: this one)."""
    root = (root or project_root()).resolve()
    base = FIRST_BASE + BLOCK * (zlib.crc32(str(root).encode()) % BLOCKS)
    return {
        "OMNITRACK_STACK_DIR": str(root / ".omnitrack" / "test-stack"),
        "OMNITRACK_KAFKA_PORT": str(base),
        "OMNITRACK_KAFKA_CONTROLLER_PORT": str(base + 1),
        "OMNITRACK_MQTT_PORT": str(base + 2),
        "OMNITRACK_MQTTS_PORT": str(base + 3),
        "OMNITRACK_SNS_PORT": str(base + 4),
    }


if __name__ == "__main__":
    print("\n".join(f"{k}={v}" for k, v in stack_env().items()))
