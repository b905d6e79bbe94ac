"""What a parallel test worker (pytest-xdist, `make test` runs two) keeps to itself, and what it shares.

Shared by every worker: the test stack's Kafka and moto (tests/stack_env.py). Each test names its Kafka topics and
consumer groups with a `topic_prefix` of its own; the notifier's tests run a moto per worker besides
(tests/streams/notify/conftest.py).

Each worker's own:
- a Mosquitto broker. MQTT topics carry no prefix (`dt/<site>/<device>/telemetry`, as devices publish them), so on
  one shared broker every test's bridge received every other test's readings: run two at a time, the rebalance
  storm's twin held the leader-kill test's devices. The worker's broker uses the stack's configuration and its
  certificates (one CA, so the TLS tests' client certificates are accepted by any worker's broker).
- a slice of the range where `omnitrack.ports.free_port_block` picks engines' ports: two workers searching the
  whole range could each find the same block free at the same moment (about 1 in 300 per pair of engines started
  together, for the 7 metrics ports of a test's engine), and one of the two processes could then not bind.
"""

from __future__ import annotations

import os
import shutil

from omnitrack.ports import free_port_block
from omnitrack.settings import Settings
from omnitrack.stack import mosquitto

__all__ = ["alive", "worker", "worker_env", "worker_mosquitto", "stop_worker_mosquitto", "stop_worker_brokers"]

WORKERS_DIR = "workers"
"""Under the stack folder: `<stack>/workers/<pid>/`, the state and config of the broker of the worker process
<pid> (by pid, not gw0/gw1: two `make test` of one checkout at once share the stack, each with its own gw0)."""


def worker() -> tuple[int, int] | None:
    """(index, count) of this pytest-xdist worker; None in a plain, single-process session."""
    name = os.environ.get("PYTEST_XDIST_WORKER")
    if not name:
        return None
    return int(name.removeprefix("gw")), int(os.environ["PYTEST_XDIST_WORKER_COUNT"])


def worker_env(index: int, count: int) -> dict[str, str]:
    """This worker's slice of the settings' free-port range and the two ports of its own broker (picked in it)."""
    settings = Settings()
    first, width = settings.free_ports_low, (settings.free_ports_high - settings.free_ports_low) // count
    low, high = first + index * width, first + (index + 1) * width
    mqtt = free_port_block((0, 1), within=(low, high))
    return {"OMNITRACK_FREE_PORTS_LOW": str(low), "OMNITRACK_FREE_PORTS_HIGH": str(high),
            "OMNITRACK_MQTT_PORT": str(mqtt), "OMNITRACK_MQTTS_PORT": str(mqtt + 1)}


def worker_mosquitto(settings: Settings) -> Settings:
    """Start this worker's broker (the stack's config and certificates) and return its settings; first stop and
    remove the brokers of worker processes that are gone (a killed run's). `settings`: this worker's, whose
    stack folder already holds the certificates."""
    stop_worker_brokers(settings, only_of_gone_workers=True)
    folder = settings.resolved_stack_dir / WORKERS_DIR / str(os.getpid())
    folder.mkdir(parents=True, exist_ok=True)
    certs = folder / "certs"
    if not certs.is_symlink():
        certs.symlink_to(mosquitto.certs_dir(settings))
    own = settings.model_copy(update={"stack_dir": folder})
    mosquitto.up(own)
    return own


def stop_worker_mosquitto(own: Settings) -> None:
    mosquitto.down(own)
    shutil.rmtree(own.resolved_stack_dir, ignore_errors=True)


def stop_worker_brokers(settings: Settings, only_of_gone_workers: bool = False) -> list[str]:
    """Stop and remove the workers' brokers under the stack folder of `settings` (those whose worker process is
    gone only, if asked); return the pids they were named for. `make test-stack-down` stops them all."""
    workers = settings.resolved_stack_dir / WORKERS_DIR
    stopped = []
    for folder in sorted(workers.iterdir()) if workers.is_dir() else ():
        if folder.name.isdigit() and not (only_of_gone_workers and alive(int(folder.name))):
            stop_worker_mosquitto(settings.model_copy(update={"stack_dir": folder}))
            stopped.append(folder.name)
    return stopped


def alive(pid: int) -> bool:
    """Whether process `pid` exists (a session or worker that is gone left its marker or its broker behind)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


if __name__ == "__main__":  # `make test-stack-down`: the brokers a killed parallel run left behind
    gone = stop_worker_brokers(Settings())
    print(f"stopped the brokers of test workers {', '.join(gone)}" if gone else "no test worker's broker left")
