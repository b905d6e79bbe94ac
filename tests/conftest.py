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

`make test` runs two pytest-xdist workers, one pytest session each as above; each has a Mosquitto and a slice of
the free-port range of its own (tests/parallel.py).
"""

from __future__ import annotations

import asyncio
import fcntl
import os
import uuid
from collections.abc import Iterator

import pytest

from omnitrack import stack
from omnitrack.settings import Settings
from omnitrack.stack import kafka, moto, mosquitto
from omnitrack.stack.endpoints import Endpoints
from streams.admin import delete_topics
from tests.parallel import alive, stop_worker_mosquitto, worker, worker_env, worker_mosquitto
from tests.stack_env import stack_env


STACK_MQTT_PORTS: dict[str, int] = {}
"""The stack's own broker's ports (`mqtt_port`, `mqtts_port`): a parallel worker's settings name its own broker."""


def pytest_configure(config: pytest.Config) -> None:
    # Set before any Settings() is built, and inherited by every process a test starts.
    for key, value in stack_env().items():
        os.environ.setdefault(key, value)
    STACK_MQTT_PORTS.update(mqtt_port=int(os.environ["OMNITRACK_MQTT_PORT"]),
                            mqtts_port=int(os.environ["OMNITRACK_MQTTS_PORT"]))
    if (me := worker()) is not None:
        os.environ.update(worker_env(*me))


@pytest.fixture(scope="session")
def settings() -> Settings:
    return Settings()


@pytest.fixture(scope="session")
def stack_endpoints(settings: Settings) -> Iterator[Endpoints]:
    """The running stack's endpoints; started here unless it already ran."""
    shared = settings.model_copy(update=STACK_MQTT_PORTS)
    sessions = settings.resolved_stack_dir / "test-sessions"
    sessions.mkdir(parents=True, exist_ok=True)
    mine = sessions / str(os.getpid())
    with open(sessions / "lock", "w") as lock:  # parallel workers start at once: one starts the stack, all wait
        fcntl.flock(lock, fcntl.LOCK_EX)
        was_running = (
            mosquitto.process(shared).running()
            and (not kafka.managed(shared) or kafka.process(shared).running())
            and (not moto.managed(shared) or moto.process(shared).running())
        )
        mine.touch()
        if not was_running:
            (sessions / "started-by-tests").touch()
        stack.up(shared)
        own = worker_mosquitto(settings) if worker() is not None else None
    endpoints = stack.endpoints(settings)
    if own is not None:  # the worker's broker, whose log a test reads
        processes = {**endpoints.processes, "mosquitto": stack.endpoints(own).processes["mosquitto"]}
        endpoints = endpoints.model_copy(update={"processes": processes})
    yield endpoints
    if own is not None:
        stop_worker_mosquitto(own)
    mine.unlink(missing_ok=True)
    others = [p for p in sessions.iterdir() if p.name.isdigit() and alive(int(p.name))]
    if others or os.environ.get("OMNITRACK_TEST_KEEP_STACK") == "1":
        return
    if (sessions / "started-by-tests").exists():
        (sessions / "started-by-tests").unlink(missing_ok=True)
        stack.down(shared)


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
