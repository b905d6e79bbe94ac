"""Session fixtures: the real local stack (Kafka, Mosquitto, moto) brought up once.

The tests run their own stack (`tests/stack_env.py`: its own state folder, ports picked by the checkout's
path), never the developer's `omnitrack stack up`: on the shared broker, a running `omnitrack run`'s bridge
kept a persistent session that queued every test reading into the dev twin, and the tests' workers could meet
the engine's ports.

It is started through the project's own code (`omnitrack.stack.up`), exactly as `omnitrack stack up` does,
and stopped at the end so no process outlives the session (`OMNITRACK_TEST_KEEP_STACK=1` keeps it for quicker
reruns; it is reused when found running). Several pytest sessions of one checkout share the stack: each marks
itself in `<stack dir>/test-sessions/`, and the last one out stops a stack that a test session started (one
session's teardown stopped Kafka under another's running tests). Any of these variables set in the environment wins, and
`KAFKA_BOOTSTRAP` still points the tests at an existing cluster.
"""

from __future__ import annotations

import asyncio
import os
import uuid
from collections.abc import Iterator

import pytest

from omnitrack import stack
from omnitrack.settings import Settings
from omnitrack.stack import kafka, moto, mosquitto
from omnitrack.stack.endpoints import Endpoints
from streams.admin import delete_topics
from tests.stack_env import stack_env


def pytest_configure(config: pytest.Config) -> None:
    # Set before any Settings() is built, and inherited by every process a test starts.
    for key, value in stack_env().items():
        os.environ.setdefault(key, value)


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
    sessions = settings.resolved_stack_dir / "test-sessions"
    sessions.mkdir(parents=True, exist_ok=True)
    mine = sessions / str(os.getpid())
    mine.touch()
    if not was_running:
        (sessions / "started-by-tests").touch()
    endpoints = stack.up(settings)
    yield endpoints
    mine.unlink(missing_ok=True)
    others = [p for p in sessions.iterdir() if p.name.isdigit() and _alive(int(p.name))]
    if others or os.environ.get("OMNITRACK_TEST_KEEP_STACK") == "1":
        return
    if (sessions / "started-by-tests").exists():
        (sessions / "started-by-tests").unlink(missing_ok=True)
        stack.down(settings)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


@pytest.fixture
def topic_prefix(request: pytest.FixtureRequest) -> Iterator[str]:
    """A prefix unique to one test, for its Kafka topics, MQTT topics and consumer groups.

    Its topics are deleted afterwards when the test used the stack: a developer's
    long-lived broker would otherwise collect thousands of partitions and start
    slowly (seen: 1.8 GB and over 90 s to load after a day of test runs).
    """
    prefix = f"t{uuid.uuid4().hex[:12]}"
    yield prefix
    if "stack_endpoints" in request.fixturenames:
        endpoints = request.getfixturevalue("stack_endpoints")
        asyncio.run(_delete_topics(endpoints.kafka_bootstrap, prefix))


async def _delete_topics(bootstrap: str, prefix: str) -> None:
    try:
        await delete_topics(bootstrap, prefix)
    except Exception:  # noqa: BLE001 - cleanup is best effort; the test's verdict stands
        pass
