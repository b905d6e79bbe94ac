"""Session fixtures: the real local stack (Kafka, Mosquitto) brought up once.

The stack is started through the project's own code (`omnitrack.stack.up`),
exactly as `omnitrack stack up` does; if it was already running (a developer's
stack) it is reused and left running, otherwise it is stopped at the end so no
process outlives the test session.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest

from omnitrack import stack
from omnitrack.settings import Settings
from omnitrack.stack import kafka, moto, mosquitto
from omnitrack.stack.endpoints import Endpoints


@pytest.fixture(scope="session")
def settings() -> Settings:
    return Settings()


@pytest.fixture(scope="session")
def stack_endpoints(settings: Settings) -> Iterator[Endpoints]:
    """The running stack's endpoints; started here unless it already ran."""
    was_running = (
        mosquitto.process(settings).running()
        and (not kafka.managed(settings) or kafka.process(settings).running())
        and (not moto.managed(settings) or moto.process(settings).running())
    )
    endpoints = stack.up(settings)
    yield endpoints
    if not was_running:
        stack.down(settings)


@pytest.fixture
def topic_prefix() -> str:
    """A prefix unique to one test, for its Kafka topics, MQTT topics and consumer groups."""
    return f"t{uuid.uuid4().hex[:12]}"
