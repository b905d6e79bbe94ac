"""Fixtures that run the engine's real processes (bridge, worker) against the session's stack.

Each test gets its own topic prefix, MQTT client ids, share group, metrics
ports and worker state folder, so tests never see each other's records.
"""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import paho.mqtt.client as mqtt
import pytest
from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from omnitrack.ports import free_port_block
from omnitrack.stack.endpoints import Endpoints
from streams.topics import Topics


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


METRICS_OFFSETS = (0, 1, 2, 3, 30, 40, 50)
"""Ports a test's processes bind above OMNITRACK_METRICS_PORT (bridge, workers 0-2, decider, notifier, api)."""


def metrics_base_port() -> int:
    """A base for the engine's metrics ports whose every offset is free now (see omnitrack/ports.py)."""
    return free_port_block(METRICS_OFFSETS)


async def uncommitted(bootstrap: str, group: str, topic: str) -> dict[int, int]:
    """partition -> records of `topic` that consumer group `group` has not committed. Unlike
    `streams.lag.group_lag` (a lag to export: none before the group's first commit), a partition the group never
    committed counts whole."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, group_id=None)
    await admin.start()
    try:
        await consumer.start()
        try:
            [described] = await admin.describe_topics([topic])
            tps = [TopicPartition(topic, p["partition"]) for p in described["partitions"]]
            assert tps, f"{topic} has no partitions: {described}"  # an empty answer would read as "all committed"
            ends = await consumer.end_offsets(tps)
            committed = {tp.partition: meta.offset
                         for tp, meta in (await admin.list_consumer_group_offsets(group)).items() if tp.topic == topic}
        finally:
            await consumer.stop()
    finally:
        await admin.close()
    left = {tp.partition: ends[tp] - max(0, committed.get(tp.partition, 0)) for tp in tps}
    return {p: n for p, n in left.items() if n > 0}


def wait_for(condition: Callable[[], bool], deadline_s: float, what: str, interval_s: float = 0.2) -> None:
    end = time.monotonic() + deadline_s
    while time.monotonic() < end:
        if condition():
            return
        time.sleep(interval_s)
    raise AssertionError(f"timed out after {deadline_s}s waiting for {what}")


@dataclass
class Engine:
    """The bridge and worker processes of one test, restartable and killable."""

    prefix: str
    env: dict[str, str]
    home: Path
    procs: dict[str, subprocess.Popen] = field(default_factory=dict)

    @property
    def topics(self) -> Topics:
        return Topics(prefix=self.prefix)

    def start(self, role: str, extra_env: dict[str, str] | None = None, name: str | None = None) -> subprocess.Popen:
        """Start `omnitrack <role>`; `name` (default the role) keys it for kill/alive/log: two workers need two."""
        name = name or role
        log = open(self.home / f"{name}.log", "ab")
        proc = subprocess.Popen([sys.executable, "-m", "omnitrack.cli", role], env={**self.env, **(extra_env or {})},
                                stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        self.procs[name] = proc
        return proc

    def kill(self, role: str) -> None:
        proc = self.procs[role]
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(10)

    def alive(self, role: str) -> bool:
        return self.procs[role].poll() is None

    def log(self, role: str) -> str:
        return (self.home / f"{role}.log").read_text(errors="replace")

    def stop_all(self) -> None:
        for proc in self.procs.values():
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGTERM)
        for proc in self.procs.values():
            try:
                proc.wait(20)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(5)


@pytest.fixture
def engine(stack_endpoints: Endpoints, topic_prefix: str, tmp_path: Path) -> Iterator[Engine]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("OMNITRACK_")}
    env.update(stack_endpoints.process_env())
    env.update({
        "OMNITRACK_TOPIC_PREFIX": topic_prefix,
        "OMNITRACK_HOME": str(tmp_path / "home"),
        "OMNITRACK_BRIDGE_CLIENT_ID": f"bridge-{topic_prefix}",
        "OMNITRACK_BRIDGE_SHARE_GROUP": f"g{topic_prefix}",
        # long enough for the kill-and-restart tests, short enough that the broker
        # stops queueing for a test's bridge soon after the test
        "OMNITRACK_BRIDGE_SESSION_EXPIRY_S": "120",
        "OMNITRACK_METRICS_PORT": str(metrics_base_port()),
    })
    handle = Engine(topic_prefix, env, tmp_path)
    yield handle
    handle.stop_all()
    for log in sorted(tmp_path.glob("*.log")):  # shown by pytest only when the test failed
        print(f"----- {log.name} (tail) -----\n{log.read_text(errors='replace')[-6000:]}")
    _forget_session(int(env["OMNITRACK_MQTT_PORT"]), env["OMNITRACK_BRIDGE_CLIENT_ID"])


def _forget_session(port: int, client_id: str) -> None:
    """End the bridge's persistent MQTT session so the broker stops queueing for it."""
    client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=client_id, protocol=mqtt.MQTTv5)
    props = Properties(PacketTypes.CONNECT)
    props.SessionExpiryInterval = 0
    try:
        client.connect("127.0.0.1", port, clean_start=True, properties=props)
        client.loop_start()
        wait_for(client.is_connected, 5, "session cleanup connect")
    except (OSError, AssertionError):
        pass
    finally:
        client.disconnect()
        client.loop_stop()


def read_topic(bootstrap: str, topic: str, *, until: Callable[[list], bool], deadline_s: float = 60) -> list:
    """Every record of `topic` from the beginning, read until `until(records)` holds (or the deadline)."""

    async def run() -> list:
        consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False,
                                    auto_offset_reset="earliest", group_id=None)
        await consumer.start()
        records: list = []
        try:
            end = time.monotonic() + deadline_s
            partitions = None
            while partitions is None and time.monotonic() < end:
                partitions = consumer.partitions_for_topic(topic)
                if partitions is None:
                    await consumer._client.force_metadata_update()  # topic may not exist yet
                    await asyncio.sleep(0.2)
            if partitions is None:
                return records
            consumer.assign([TopicPartition(topic, p) for p in partitions])
            await consumer.seek_to_beginning()
            while time.monotonic() < end and not until(records):
                batch = await consumer.getmany(timeout_ms=500)
                for recs in batch.values():
                    records.extend(recs)
        finally:
            await consumer.stop()
        return records

    return asyncio.run(run())


def latest_by_key(records: list) -> dict[bytes, bytes]:
    """The compacted view of a changelog: the last value per key."""
    out: dict[bytes, bytes] = {}
    for r in records:
        out[r.key] = r.value
    return out


PUBACK_DEADLINE_S = 120.0
"""How long a test publisher waits for the broker's acknowledgements of one batch (seconds under CI load)."""


class Publisher:
    """A paho QoS 1 publisher that confirms every PUBACK."""

    def __init__(self, port: int) -> None:
        self.client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=f"pub-{uuid.uuid4().hex[:10]}")
        self.client.max_inflight_messages_set(200)
        self.client.max_queued_messages_set(0)
        self.client.connect("127.0.0.1", port)
        self.client.loop_start()
        wait_for(self.client.is_connected, 10, "publisher connect")

    def publish_many(self, items: list[tuple[str, bytes]], qos: int = 1) -> None:
        """Publish and wait for every PUBACK. paho's wait returns silently at its timeout: a message still
        unacknowledged then must fail here, not count as sent (on a loaded CI machine one did, and the test
        blamed the engine for 1,446 readings the broker had never acknowledged)."""
        infos = [self.client.publish(topic, payload, qos=qos) for topic, payload in items]
        for info in infos:
            info.wait_for_publish(PUBACK_DEADLINE_S)
        unacked = sum(1 for info in infos if qos and not info.is_published())
        assert not unacked, f"{unacked} of {len(infos)} messages not acknowledged by the broker in {PUBACK_DEADLINE_S} s"

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()
