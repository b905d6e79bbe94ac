"""A single-node Kafka of a test's own, for the scenarios that kill the broker.

WHY: the session's stack broker is shared by every test of the session, and by every other pytest session of
this checkout (tests/conftest.py): killing it for 60 s would fail whatever else runs meanwhile. A private
node costs one JVM start (~10 s) and is killed freely. It uses the shared jar cache, so nothing is resolved.
"""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from omnitrack.ports import free_port_block
from omnitrack.settings import Settings
from omnitrack.stack import kafka
from tests.streams.conftest import wait_for


@dataclass
class PrivateKafka:
    """One broker+controller node under `folder`, on ports of its own."""

    settings: Settings

    @property
    def bootstrap(self) -> str:
        return self.settings.bootstrap

    def up(self) -> float:
        """Start the node (or find it running) and wait until it answers metadata; return the seconds it took."""
        began = time.monotonic()
        kafka.up(self.settings)
        return time.monotonic() - began

    def sigkill(self) -> None:
        """SIGKILL the node's process group (no clean shutdown, no leader hand-over) and wait until it is gone."""
        pid = kafka.process(self.settings).pid()
        assert pid is not None, "the private broker is not running"
        os.killpg(pid, signal.SIGKILL)
        wait_for(lambda: not kafka.process(self.settings).running(), 10, "the private broker gone")

    def down(self) -> None:
        kafka.down(self.settings)


def private_kafka_settings(folder: Path) -> Settings:
    base = free_port_block((0, 1))
    return Settings(stack_dir=folder, cache_dir=Settings().resolved_cache_dir, kafka_port=base,
                    kafka_controller_port=base + 1, kafka_bootstrap=None)


@pytest.fixture(scope="module")
def private_kafka(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PrivateKafka]:
    """A broker for this module's tests (each test uses its own topic prefix), stopped after the module."""
    if not kafka.managed(Settings()):
        pytest.skip("KAFKA_BOOTSTRAP points at an external cluster: no local broker to start and kill")
    node = PrivateKafka(private_kafka_settings(tmp_path_factory.mktemp("private-kafka")))
    node.up()
    try:
        yield node
    finally:
        node.down()
