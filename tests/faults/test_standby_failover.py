"""Two twin workers with standby replicas (`OMNITRACK_WORKER_STANDBY_REPLICAS=1`, Faust's
`table_standby_replicas`). One is SIGKILLed mid-stream: the other takes over its partitions, the API keeps
answering for every device meanwhile, and the twin equals a recomputation from `telemetry`. The killed worker
comes back and the partitions are shared again. Prints the takeover and rebalance times."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from omnitrack.stack.endpoints import Endpoints
from streams.worker import assignments
from tests.streams.api.helpers import bearer
from tests.streams.api.process import http, run_api
from tests.streams.conftest import Engine, wait_for
from tests.streams.crash_helpers import N_DEVICES, items, publish_in_background, twin_rows_equal_recomputation

pytestmark = pytest.mark.integration

N = 24_000
RATE = 1_500.0


def _partitions(engine: Engine, name: str, after: int = 0) -> list[int]:
    return assignments(engine.log(name)[after:])


def _settled(engine: Engine, names: list[str], after: dict[str, int] | None = None, quiet_s: float = 3.0) -> None:
    """Until every named worker announced partitions (past log offset `after[name]`) and no assignment line
    appeared for `quiet_s`."""
    last, seen, after = time.monotonic(), None, after or {}

    def done() -> bool:
        nonlocal last, seen
        now = tuple(len(engine.log(n)) for n in names)
        if now != seen:
            seen, last = now, time.monotonic()
        return all((_partitions(engine, n, after.get(n, 0)) or [0])[-1] > 0 for n in names) \
            and time.monotonic() - last >= quiet_s

    wait_for(done, 120, f"{names} assigned and settled")


@pytest.mark.timeout(600)
def test_standby_takes_over_and_rebalances_back(engine: Engine, stack_endpoints: Endpoints, topic_prefix: str,
                                                tmp_path: Path) -> None:
    engine.env["OMNITRACK_WORKER_STANDBY_REPLICAS"] = "1"
    engine.start("bridge")
    engine.start("worker", name="worker0")
    engine.start("worker", {"OMNITRACK_WORKER_ID": "1"}, name="worker1")
    wait_for(lambda: "bridge running" in engine.log("bridge"), 60, "bridge subscribed")
    _settled(engine, ["worker0", "worker1"])
    before = (_partitions(engine, "worker0")[-1], _partitions(engine, "worker1")[-1])
    bootstrap, topics = engine.env["KAFKA_BOOTSTRAP"], engine.topics
    thread, progress = publish_in_background(int(engine.env["OMNITRACK_MQTT_PORT"]), items(N, "sb"), rate=RATE)
    viewer = bearer("viewer")

    (tmp_path / "api").mkdir()
    # the probe asks for 200 devices several times a second: above the default per-subject rate limit
    with run_api(stack_endpoints, topic_prefix, tmp_path / "api", {"OMNITRACK_API_RATE_LIMIT_PER_S": "0"}) as api:
        devices = [f"sb-{i:04d}" for i in range(N_DEVICES)]
        wait_for(lambda: progress[0] >= N // 3, 60, "a third published")

        def all_answer() -> bool:
            return all(http("GET", f"{api.url}/twin/device/{d}", headers=viewer)[0] == 200 for d in devices)

        wait_for(all_answer, 60, "the API answering for every device")
        log0 = len(engine.log("worker0"))
        engine.kill("worker1")
        killed = time.monotonic()
        answered_during = all_answer()  # the API reads the changelogs, not the workers
        # a worker's count includes the standby partitions it follows: alone, it has all the active ones and none
        # to stand by for, so the count changes rather than adding up
        wait_for(lambda: any(n > 0 for n in _partitions(engine, "worker0", log0)), 120, "worker0 reassigned")
        takeover_s = time.monotonic() - killed
        solo = _partitions(engine, "worker0", log0)[-1]
        answered_after = all_answer()
        thread.join(180)
        assert not thread.is_alive()
        expected = {(f"sb-{i % N_DEVICES:04d}", i // N_DEVICES) for i in range(N)}
        twin_rows_equal_recomputation(bootstrap, topics.telemetry, f"{topics.app_id}-devices-changelog", expected,
                                      deadline_s=180)
        converged_s = time.monotonic() - killed
        status, body, _ = http("GET", f"{api.url}/twin/device/sb-0000", headers=viewer)
        assert status == 200 and body["state"]["readings_applied"] == N // N_DEVICES, body
    assert answered_during and answered_after

    offsets, back = {n: len(engine.log(n)) for n in ("worker0", "worker1")}, time.monotonic()
    engine.start("worker", {"OMNITRACK_WORKER_ID": "1"}, name="worker1")
    _settled(engine, ["worker0", "worker1"], offsets)
    rebalance_s = time.monotonic() - back
    shared = tuple(_partitions(engine, n, offsets[n])[-1] for n in ("worker0", "worker1"))
    assert all(n > 0 for n in shared) and shared[0] != solo, (before, solo, shared)
    assert engine.alive("worker0") and engine.alive("worker1") and engine.alive("bridge")
    print(f"\nstandby failover: partitions {before} -> worker1 SIGKILLed -> worker0 reassigned ({solo}) after "
          f"{takeover_s:.1f} s; the API answered for all {N_DEVICES} devices throughout; {N} readings, twin equals "
          f"the recomputation {converged_s:.1f} s after the kill; worker1 back -> {shared} after {rebalance_s:.1f} s")
