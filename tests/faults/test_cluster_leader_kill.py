"""The engine on a three-broker KRaft cluster (`omnitrack stack up --brokers 3`): the leader of a `telemetry`
partition is SIGKILLed mid-stream and restarted 10 s later. The bridge and a twin worker carry on without a
restart of their own: every reading the devices published over MQTT reaches `telemetry`, and the twin equals a
recomputation from it. (tests/omnitrack/test_stack_cluster.py kills a leader under a bare producer and counts
records; this is the same fault under the engine.) Prints the failover and recovery times.

The cluster is private (its own folder and ports), so the session's stack is never touched.
"""

from __future__ import annotations

import asyncio
import os
import signal
import threading
import time
from collections.abc import Iterator

import pytest
from aiokafka.admin import AIOKafkaAdminClient

from omnitrack.ports import free_port_block
from omnitrack.settings import Settings
from omnitrack.stack import kafka, kafka_cluster
from tests.streams.conftest import Engine, wait_for
from tests.streams.crash_helpers import N_DEVICES, items, publish_in_background, start_pipeline, \
    twin_rows_equal_recomputation

pytestmark = pytest.mark.integration

RATE = 500.0
"""Readings/s: the stream spans the kill, the failover (~10 s: KRaft fences a silent broker after 9 s) and the
restart."""

RESTART_AFTER_S = 10.0
AFTER_RESTART_S = 5.0
"""Seconds of readings published once the killed node is back: the stream spans its return too."""

NODE_OFFSETS = (0, 1, 10, 11, 20, 21)
"""The nodes' client and controller ports from the base (Settings.kafka_nodes: a stride of 10)."""


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Settings]:
    if not kafka.managed(Settings()):
        pytest.skip("KAFKA_BOOTSTRAP points at an external cluster: no local cluster to start and kill")
    base = free_port_block(NODE_OFFSETS)
    settings = Settings(stack_dir=tmp_path_factory.mktemp("cluster"), cache_dir=Settings().resolved_cache_dir,
                        kafka_brokers=3, kafka_port=base, kafka_controller_port=base + 1, kafka_bootstrap=None)
    try:
        kafka_cluster.up(settings)
        yield settings
    finally:
        kafka_cluster.down(settings)


async def _partition_state(bootstrap: str, topic: str, partition: int) -> dict:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        [described] = await admin.describe_topics([topic])
        return next(p for p in described["partitions"] if p["partition"] == partition)
    finally:
        await admin.close()


@pytest.mark.timeout(600)
def test_engine_carries_on_when_a_telemetry_leader_is_killed(cluster: Settings, engine: Engine) -> None:
    engine.env["KAFKA_BOOTSTRAP"] = cluster.bootstrap
    start_pipeline(engine)
    topics = engine.topics
    before = asyncio.run(_partition_state(cluster.bootstrap, topics.telemetry, 0))
    assert len(before["replicas"]) == 3 == len(before["isr"]), before
    n = int(RATE * 45)  # at most: the load stops a few seconds after the killed node is back
    stop = threading.Event()
    thread, progress = publish_in_background(int(engine.env["OMNITRACK_MQTT_PORT"]),
                                             items(n, "lk", spacing_s=1 / RATE), rate=RATE, stop=stop)
    wait_for(lambda: progress[0] >= n // 4, 60, "a quarter published")

    victim = before["leader"]
    pid = kafka_cluster.node_process(cluster, victim).pid()
    assert pid is not None
    os.killpg(pid, signal.SIGKILL)
    killed = time.monotonic()
    state: dict = {}

    def new_leader() -> bool:
        try:
            state.update(asyncio.run(_partition_state(cluster.bootstrap, topics.telemetry, 0)))
        except Exception:  # noqa: BLE001 - the dead node may still be the one asked: ask again
            return False
        return state["leader"] not in (victim, -1)

    wait_for(new_leader, 60, "a new leader for telemetry-0", interval_s=0.5)
    failover_s = time.monotonic() - killed
    time.sleep(max(0.0, killed + RESTART_AFTER_S - time.monotonic()))  # the outage is the scenario
    kafka_cluster.up(cluster)  # restarts only the killed node
    restarted = time.monotonic() - killed
    after_restart = progress[0] + int(RATE * AFTER_RESTART_S)
    wait_for(lambda: progress[0] >= after_restart or not thread.is_alive(), 60, "readings after the restart")
    stop.set()
    thread.join(60)
    assert not thread.is_alive() and progress[0] >= after_restart, f"{progress[0]} of {n} published"
    n = progress[0]
    expected = {(f"lk-{i % N_DEVICES:04d}", i // N_DEVICES) for i in range(n)}
    twin_rows_equal_recomputation(cluster.bootstrap, topics.telemetry, f"{topics.app_id}-devices-changelog", expected,
                                  deadline_s=240)
    converged_s = time.monotonic() - killed
    assert engine.alive("bridge") and engine.alive("worker"), "a process died instead of riding out the failover"
    print(f"\nthree brokers, leader of telemetry-0 (node {victim}) SIGKILLed mid-stream: new leader node "
          f"{state['leader']} after {failover_s:.1f} s, node back after {restarted:.1f} s; {n} readings, none lost, "
          f"twin equals the recomputation {converged_s:.1f} s after the kill; bridge and worker never restarted")
