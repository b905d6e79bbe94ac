"""A three-broker KRaft cluster on loopback (`omnitrack stack up --brokers 3`) loses no acknowledged record when
the leader of a `telemetry` partition is SIGKILLed mid-stream.

The cluster is a private one (its own state folder under tmp_path, ports picked free in omnitrack/ports.py's
range, SNS left to `aws` mode so no moto starts), driven through the command line as a user would, and
stopped by `omnitrack stack down` whatever happens. The figures it prints are the ones in docs/operations.md.
Run alone, with the figures: `.venv/bin/python -m pytest -q -s -p no:cacheprovider tests/omnitrack/test_stack_cluster.py`
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient

from omnitrack.ports import free_port_block
from omnitrack import stack
from omnitrack.replication import min_insync_for, replication_for, topic_durability
from omnitrack.settings import Settings
from omnitrack.stack import kafka_cluster
from omnitrack.stack.readiness import port_open
from streams.admin import TELEMETRY_PARTITIONS, ensure_topics
from streams.topics import Topics

N = 20_000
"""Records produced; every one is keyed (device id) and carries its sequence number as its value."""

RATE = 1_000.0
"""Records per second the producer is paced at: the stream then spans the kill, the failover and the restart,
instead of being over before the first of them."""

KILL_AT = 4_000
"""The record after which the leader is killed: a few seconds in, with records in flight on every partition."""

RESTART_AFTER_S = 10.0
"""The killed broker stays down this long (and at least until its partitions have a new leader)."""

RECOVERY_DEADLINE_S = 45.0
"""Kill to first acknowledged record on the victim partition. KRaft fences a silent broker after
broker.session.timeout.ms (9 s) and elects new leaders at once; past this the cluster did not fail over."""

SETTLE_DEADLINE_S = 60.0
"""The restarted broker back in the ISR of every partition, and the consumer at the end of every partition."""

KEYS = 500
"""Devices the records are spread over (all 8 partitions get records)."""

NODE_OFFSETS = (0, 1, 10, 11, 20, 21)
"""The nodes' client and controller ports relative to the base (Settings.kafka_nodes: a stride of 10)."""

EXTERNAL = ("KAFKA_BOOTSTRAP", "OMNITRACK_KAFKA_BOOTSTRAP", "KAFKA_HOME", "OMNITRACK_KAFKA_HOME",
            "OMNITRACK_KAFKA_BROKERS", "AWS_ENDPOINT_URL", "OMNITRACK_AWS_ENDPOINT_URL",
            "OMNITRACK_NOTIFY_SNS_ENDPOINT_URL")
"""Variables that would point the private cluster at something else (the session's stack, a real cluster)."""


@pytest.fixture
def clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """No external cluster nor session stack ports: Settings() shows the defaults."""
    for key in list(os.environ):
        if key.startswith("OMNITRACK_") or key in EXTERNAL:
            monkeypatch.delenv(key)


def test_one_broker_keeps_its_ports_and_three_take_a_stride_of_ten(clean_env: None, tmp_path: Path) -> None:
    one = Settings(stack_dir=tmp_path)
    assert one.kafka_brokers == 1 and one.kafka_nodes == [(1, 9092, 9093)]
    assert one.bootstrap == "127.0.0.1:9092"
    assert 9102 not in stack.ports(one)
    three = Settings(stack_dir=tmp_path, kafka_brokers=3)
    assert three.kafka_nodes == [(1, 9092, 9093), (2, 9102, 9103), (3, 9112, 9113)]
    assert three.bootstrap == "127.0.0.1:9092,127.0.0.1:9102,127.0.0.1:9112"
    assert {9092, 9093, 9102, 9103, 9112, 9113} <= set(stack.ports(three))
    assert set(stack.endpoints(three).processes) >= {"kafka-1", "kafka-2", "kafka-3"}
    assert "kafka" in stack.endpoints(one).processes
    with pytest.raises(ValueError):
        Settings(kafka_brokers=0)


def test_replication_follows_the_cluster_size() -> None:
    assert [replication_for(n) for n in (0, 1, 2, 3, 5)] == [1, 1, 2, 3, 3]
    assert [min_insync_for(rf) for rf in (1, 2, 3)] == [1, 1, 2]
    assert topic_durability(1) == topic_durability(2) == {}
    assert topic_durability(3) == {"min.insync.replicas": "2"}


def test_a_nodes_config_overrides_the_shared_one_for_three_replicas(clean_env: None, tmp_path: Path) -> None:
    settings = Settings(stack_dir=tmp_path, kafka_brokers=3)
    props: dict[str, str] = {}
    for line in kafka_cluster._config(settings, 2, 9102, 9103).read_text().splitlines():
        if "=" in line and not line.startswith("#"):
            key, _, value = line.partition("=")
            props[key] = value  # Java properties: the last one wins
    assert props["node.id"] == "2" and props["process.roles"] == "broker,controller"
    assert props["listeners"] == "PLAINTEXT://127.0.0.1:9102,CONTROLLER://127.0.0.1:9103"
    assert props["controller.quorum.voters"] == "1@127.0.0.1:9093,2@127.0.0.1:9103,3@127.0.0.1:9113"
    assert props["log.dirs"] == str(tmp_path / "kafka-cluster" / "node-2" / "data")
    for key in ("default.replication.factor", "offsets.topic.replication.factor",
                "transaction.state.log.replication.factor", "share.coordinator.state.topic.replication.factor"):
        assert props[key] == "3", key
    for key in ("min.insync.replicas", "transaction.state.log.min.isr", "share.coordinator.state.topic.min.isr"):
        assert props[key] == "2", key


def test_a_clusters_data_is_not_reused_with_another_size(clean_env: None, tmp_path: Path) -> None:
    from omnitrack.stack.errors import StackError

    kafka_cluster._check_size(Settings(stack_dir=tmp_path, kafka_brokers=3))
    kafka_cluster._check_size(Settings(stack_dir=tmp_path, kafka_brokers=3))  # the same size again: fine
    with pytest.raises(StackError, match="3-node cluster"):
        kafka_cluster._check_size(Settings(stack_dir=tmp_path, kafka_brokers=5))


def test_status_finds_a_cluster_started_with_brokers(clean_env: None, tmp_path: Path) -> None:
    """After `up --brokers 3`, a plain `status` reports the three nodes (here: crashed, so exit 3)."""
    run = tmp_path / "run"
    run.mkdir()
    for node in (1, 2, 3):
        (run / f"kafka-{node}.pid").write_text("999999999")  # no such process
    env = {**os.environ, "OMNITRACK_STACK_DIR": str(tmp_path), "OMNITRACK_KAFKA_PORT": "9092"}
    status = _omnitrack(env, "stack", "status", "--json")
    assert status.returncode == 3
    found = json.loads(status.stdout)
    assert found["kafka_bootstrap"] == "127.0.0.1:9092,127.0.0.1:9102,127.0.0.1:9112"
    assert not any(found["processes"][f"kafka-{n}"]["running"] for n in (1, 2, 3))


def _omnitrack(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "omnitrack.cli", *args], env=env,
                          capture_output=True, text=True, timeout=240, check=False)


@pytest.fixture
def cluster_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, str]]:
    """The private cluster's environment (also set in this process, for Settings()); stopped afterwards."""
    base = free_port_block((*NODE_OFFSETS, 2, 3))
    for key in EXTERNAL:
        monkeypatch.delenv(key, raising=False)
    values = {"OMNITRACK_STACK_DIR": str(tmp_path / "stack"), "OMNITRACK_KAFKA_PORT": str(base),
              "OMNITRACK_KAFKA_CONTROLLER_PORT": str(base + 1), "OMNITRACK_MQTT_PORT": str(base + 2),
              "OMNITRACK_MQTTS_PORT": str(base + 3), "OMNITRACK_SNS_MODE": "aws"}
    for key, value in values.items():
        monkeypatch.setenv(key, value)
    env = dict(os.environ)
    ports = [base + o for o in (*NODE_OFFSETS, 2, 3)]
    try:
        yield env
    finally:
        down = _omnitrack(env, "stack", "down")
        left = [p for p in ports if port_open("127.0.0.1", p)]
        assert down.returncode == 0 and not left, f"down: {down.stdout}{down.stderr}; still listening: {left}"


@dataclass
class Report:
    """What the leader kill did to the stream."""

    produced: int = 0
    acknowledged: int = 0
    failed: int = 0
    consumed: int = 0
    lost: int = 0
    duplicated: int = 0
    out_of_order_keys: int = 0
    killed_node: int = 0
    victim_partition: int = 0
    new_leader: int = 0
    recovery_s: float = 0.0
    restart_s: float = 0.0
    isr_back_s: float = 0.0
    errors: Counter[str] = field(default_factory=Counter)


async def _leader_kill(settings: Settings, env: dict[str, str]) -> Report:
    """Produce N keyed records with acks=all while the leader of a telemetry partition is SIGKILLed and later
    restarted; then read every partition to its end."""
    report = Report()
    loop = asyncio.get_running_loop()
    topic = Topics().telemetry
    assert await ensure_topics(settings.bootstrap, Topics()) == 3
    await _assert_durable(settings.bootstrap, topic)

    producer = AIOKafkaProducer(bootstrap_servers=settings.bootstrap, acks="all", enable_idempotence=True,
                                linger_ms=5)
    await producer.start()
    acked: dict[int, tuple[int, int]] = {}
    kill_point, recovered = asyncio.Event(), asyncio.Event()
    t_kill = float("inf")
    sends: list[asyncio.Future] = []

    def on_done(i: int, sent_at: float, fut: asyncio.Future) -> None:
        if fut.exception() is not None:
            report.errors[type(fut.exception()).__name__] += 1
            return
        meta = fut.result()
        acked[i] = (meta.partition, meta.offset)
        if meta.partition == report.victim_partition and sent_at > t_kill and not recovered.is_set():
            report.recovery_s = loop.time() - t_kill
            recovered.set()

    async def produce_all() -> None:
        start = loop.time()
        for i in range(N):
            if i % 50 == 0 and (ahead := start + i / RATE - loop.time()) > 0:
                await asyncio.sleep(ahead)  # pacing (a schedule), not a wait for a condition
            sent_at = loop.time()
            fut = await producer.send(topic, key=f"dev-{i % KEYS:04d}".encode(), value=str(i).encode())
            fut.add_done_callback(lambda f, i=i, s=sent_at: on_done(i, s, f))
            sends.append(fut)
            report.produced += 1
            if i == KILL_AT:
                kill_point.set()
        await producer.flush()

    producing = asyncio.create_task(produce_all())
    try:
        await asyncio.wait_for(kill_point.wait(), 60)
        await producer.client.force_metadata_update()
        report.victim_partition = 0
        report.killed_node = producer.client.cluster.leader_for_partition(TopicPartition(topic, 0))
        pid = kafka_cluster.node_process(settings, report.killed_node).pid()
        assert pid is not None, f"no pid for node {report.killed_node}"
        t_kill = loop.time()
        os.kill(pid, signal.SIGKILL)
        await asyncio.wait_for(recovered.wait(), RECOVERY_DEADLINE_S)
        await producer.client.force_metadata_update()
        report.new_leader = producer.client.cluster.leader_for_partition(TopicPartition(topic, 0))
        assert report.new_leader not in (None, -1, report.killed_node)

        await asyncio.sleep(max(0.0, t_kill + RESTART_AFTER_S - loop.time()))  # the scenario's outage length
        t_restart = loop.time()
        up = await asyncio.create_subprocess_exec(sys.executable, "-m", "omnitrack.cli", "stack", "up",
                                                  "--brokers", "3", "--json", env=env,
                                                  stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
        out, err = await asyncio.wait_for(up.communicate(), 180)
        assert up.returncode == 0, err.decode()
        report.restart_s = loop.time() - t_restart
        restarted = json.loads(out)["processes"][f"kafka-{report.killed_node}"]
        assert restarted["running"] and restarted["pid"] != pid

        await asyncio.wait_for(producing, 120)
        await asyncio.gather(*sends, return_exceptions=True)
    finally:
        producing.cancel()
        await producer.stop()
    report.acknowledged, report.failed = len(acked), N - len(acked)
    report.isr_back_s = await _wait_full_isr(settings.bootstrap, topic) - t_restart

    values = await _read_all(settings.bootstrap, topic)
    counts = Counter(v for _, v in values)
    report.consumed = len(values)
    report.lost = sum(1 for i in acked if counts[i] == 0)
    report.duplicated = sum(c - 1 for c in counts.values() if c > 1)
    by_key: dict[bytes, list[int]] = {}
    for key, value in values:
        by_key.setdefault(key, []).append(value)
    report.out_of_order_keys = sum(1 for seq in by_key.values() if seq != sorted(seq))
    return report


async def _assert_durable(bootstrap: str, topic: str) -> None:
    """Every telemetry partition has 3 replicas, all in sync, and the topic asks for 2 of them on each write."""
    from aiokafka.admin.config_resource import ConfigResource, ConfigResourceType

    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        [described] = await admin.describe_topics([topic])
        assert len(described["partitions"]) == TELEMETRY_PARTITIONS
        assert all(len(p["replicas"]) == 3 == len(p["isr"]) for p in described["partitions"])
        [configs] = await admin.describe_configs([ConfigResource(ConfigResourceType.TOPIC, topic,
                                                                 {"min.insync.replicas": None})])
        assert {e[0]: e[1] for e in configs.resources[0][4]} == topic_durability(replication_for(3))
    finally:
        await admin.close()


async def _wait_full_isr(bootstrap: str, topic: str) -> float:
    """Wait until every partition has its 3 replicas in sync again; return the loop time it happened."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    loop = asyncio.get_running_loop()
    try:
        end = loop.time() + SETTLE_DEADLINE_S
        while True:
            [described] = await admin.describe_topics([topic])
            if all(len(p["isr"]) == 3 for p in described["partitions"]):
                return loop.time()
            assert loop.time() < end, f"ISR not back to 3 after {SETTLE_DEADLINE_S:.0f} s: {described}"
            await asyncio.sleep(0.2)
    finally:
        await admin.close()


async def _read_all(bootstrap: str, topic: str) -> list[tuple[bytes, int]]:
    """Every record of every partition, from the beginning to the end offsets taken now (no group: the read
    needs no offsets topic)."""
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, group_id=None, enable_auto_commit=False,
                                auto_offset_reset="earliest", max_poll_records=5_000)
    await consumer.start()
    try:
        parts = [TopicPartition(topic, p) for p in range(TELEMETRY_PARTITIONS)]
        consumer.assign(parts)
        await consumer.seek_to_beginning(*parts)
        ends = await consumer.end_offsets(parts)
        got: list[tuple[bytes, int]] = []
        async with asyncio.timeout(SETTLE_DEADLINE_S):
            while [tp for tp in parts if await consumer.position(tp) < ends[tp]]:
                for records in (await consumer.getmany(timeout_ms=500)).values():
                    got.extend((r.key, int(r.value)) for r in records)
        return got
    finally:
        await consumer.stop()


@pytest.mark.integration
def test_three_brokers_lose_no_acknowledged_record_when_a_leader_is_killed(cluster_env: dict[str, str]) -> None:
    started = time.monotonic()
    first = _omnitrack(cluster_env, "stack", "up", "--brokers", "3", "--json")
    assert first.returncode == 0, first.stderr
    up_s = time.monotonic() - started
    second = _omnitrack(cluster_env, "stack", "up", "--brokers", "3", "--json")
    assert second.returncode == 0, second.stderr
    a, b = json.loads(first.stdout), json.loads(second.stdout)
    # the second `up` found all three running and started nothing
    assert {n: p["pid"] for n, p in a["processes"].items()} == {n: p["pid"] for n, p in b["processes"].items()}
    assert {"kafka-1", "kafka-2", "kafka-3"} <= set(a["processes"])
    settings = Settings(kafka_brokers=3)
    assert a["kafka_bootstrap"] == settings.bootstrap and len(settings.bootstrap.split(",")) == 3
    status = _omnitrack(cluster_env, "stack", "status", "--json")  # no --brokers: the cluster is found
    assert status.returncode == 0, status.stdout + status.stderr
    assert json.loads(status.stdout)["kafka_bootstrap"] == settings.bootstrap

    report = asyncio.run(_leader_kill(settings, cluster_env))
    print(f"\nthree-broker leader kill: up {up_s:.1f} s; {report.produced} produced, {report.acknowledged} "
          f"acknowledged, {report.failed} not acknowledged, {report.consumed} consumed, {report.lost} lost, "
          f"{report.duplicated} duplicated, {report.out_of_order_keys} keys out of order; killed node "
          f"{report.killed_node} (leader of telemetry-{report.victim_partition}), new leader {report.new_leader}, "
          f"recovery {report.recovery_s:.2f} s (kill -> first ack on the new leader), restart {report.restart_s:.1f} s,"
          f" ISR full {report.isr_back_s:.1f} s after restart; producer errors {dict(report.errors)}; "
          f"test {time.monotonic() - started:.0f} s", flush=True)
    assert report.lost == 0, f"{report.lost} acknowledged records missing"
    assert report.failed == 0, f"the producer gave up on {report.failed} records: {dict(report.errors)}"
    assert report.duplicated == 0, f"{report.duplicated} duplicates despite the idempotent producer"
    assert report.out_of_order_keys == 0
    assert report.consumed == N
