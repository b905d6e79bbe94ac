"""simulators/fleet/replay.py and its use by the publishers: what a device publishes again after a lost
connection (the readings of the last REPLAY_S seconds before it, in order), and nothing on the first connect.

The buffer's tests run on an injected clock. The PahoPublisher test runs against a private Mosquitto it
SIGKILLs and restarts (no shared stack); the AwsIotPublisher test drives the CRT's reconnect callbacks on a
fake connection (no TLS endpoint needed).
"""

from __future__ import annotations

import shutil
import signal
import socket
import subprocess
import threading
from concurrent.futures import Future
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt
import pytest

from simulators.fleet.publisher import AwsIotPublisher, MemoryPublisher, NullPublisher, PahoPublisher
from simulators.fleet.replay import REPLAY_MAX_MESSAGES, REPLAY_S, ReplayBuffer
from tests.private_mosquitto import start_mosquitto
from tests.streams.conftest import wait_for


class Clock:
    def __init__(self) -> None:
        self.t = 1000.0

    def __call__(self) -> float:
        return self.t


def _buffer(window_s: float = 20.0, cap: int = 1000) -> tuple[ReplayBuffer, Clock]:
    clock = Clock()
    return ReplayBuffer(window_s, cap, clock=clock), clock


def test_replay_window_exceeds_the_broker_autosave_interval() -> None:
    autosave = next(int(line.split()[1]) for line in
                    (Path(__file__).parents[2] / "deploy/mosquitto/conf.d/omnitrack.conf").read_text().splitlines()
                    if line.startswith("autosave_interval"))
    assert REPLAY_S >= autosave * 1.5
    assert REPLAY_MAX_MESSAGES >= REPLAY_S * 1_000  # the fault test's 1,000 messages/s, with room


def test_nothing_on_first_connect() -> None:
    buf, _ = _buffer()
    assert buf.to_replay() == []
    buf.record("t", b"1")
    assert buf.to_replay() == []  # connected, never lost


def test_replays_what_was_published_before_the_loss_in_order() -> None:
    buf, clock = _buffer()
    for i in range(5):
        buf.record(f"t/{i % 2}", str(i).encode())
        clock.t += 1
    buf.connection_lost()
    buf.record("t/0", b"during-outage")  # queued by the client itself, not a replay
    clock.t += 30  # a long outage does not age the captured readings out
    assert buf.to_replay() == [(f"t/{i % 2}", str(i).encode()) for i in range(5)]
    assert buf.to_replay() == []  # the loss is consumed


def test_only_the_time_window_before_the_loss() -> None:
    buf, clock = _buffer(window_s=20)
    buf.record("t", b"old")
    clock.t += 15
    buf.record("t", b"mid")
    clock.t += 10  # "old" is 25 s old now, "mid" 10 s
    buf.record("t", b"new")
    buf.connection_lost()
    assert [p for _, p in buf.to_replay()] == [b"mid", b"new"]
    assert len(buf) == 2  # "old" was evicted


def test_count_cap_bounds_the_buffer_and_counts_what_it_cut() -> None:
    buf, clock = _buffer(cap=3)
    for i in range(5):
        buf.record("t", bytes([i]))
    assert len(buf) == 3 and buf.overflowed == 2
    buf.connection_lost()
    assert [p for _, p in buf.to_replay()] == [bytes([2]), bytes([3]), bytes([4])]


def test_a_replay_counts_as_published_again() -> None:
    """Lost again 15 s after the replay, 25 s after the original publish: the restarted broker may not have
    saved the replay yet either, so it is replayed again."""
    buf, clock = _buffer(window_s=20)
    buf.record("t", b"a")
    clock.t += 10
    buf.connection_lost()
    assert buf.to_replay() == [("t", b"a")]
    clock.t += 15
    buf.record("t", b"b")
    buf.connection_lost()
    assert buf.to_replay() == [("t", b"a"), ("t", b"b")]
    clock.t += 21
    buf.connection_lost()
    assert buf.to_replay() == []


def test_a_second_loss_before_the_reconnect_adds_what_came_since() -> None:
    buf, clock = _buffer()
    buf.record("t", b"a")
    buf.connection_lost()
    clock.t += 1
    buf.record("t", b"b")
    buf.connection_lost()
    assert buf.to_replay() == [("t", b"a"), ("t", b"b")]


def test_thread_safe_under_concurrent_record_and_loss() -> None:
    buf = ReplayBuffer(60, 100_000)
    stop = threading.Event()
    replayed: list[tuple[str, bytes]] = []

    def losses() -> None:
        while not stop.is_set():
            buf.connection_lost()
            replayed.extend(buf.to_replay())

    t = threading.Thread(target=losses)
    t.start()
    for i in range(20_000):
        buf.record("t", i.to_bytes(4, "big"))
    stop.set()
    t.join()
    buf.connection_lost()
    last = buf.to_replay()
    assert [int.from_bytes(p, "big") for _, p in last] == list(range(20_000))


def test_in_memory_publishers_replay_nothing() -> None:
    assert MemoryPublisher().replayed == 0 and NullPublisher().replayed == 0


# --- PahoPublisher against a Mosquitto that is SIGKILLed -------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _mosquitto(folder: Path, port: int) -> subprocess.Popen:
    """A broker that snapshots only when stopped cleanly: a SIGKILL loses every message it acknowledged since
    (the deployed policy's window, made as wide as the test)."""
    return start_mosquitto(folder, port, f"user root\npersistence true\npersistence_location {folder}/\n"
                           f"autosave_interval 3600\nlistener {port} 127.0.0.1\nallow_anonymous true\n"
                           "max_queued_messages 0\n")


@pytest.mark.skipif(not (shutil.which("mosquitto") or Path("/usr/sbin/mosquitto").exists()),
                    reason="needs the mosquitto binary")
def test_paho_publisher_replays_after_a_broker_sigkill(tmp_path: Path) -> None:
    """A subscriber's persistent session is snapshotted (clean stop); the publisher's 50 readings are
    acknowledged and delivered, then the broker is SIGKILLed (their state unsaved) and restarted: what the
    subscriber gets from the new broker is the publisher's replay, in order, and the 5 readings it published
    during the outage."""
    port = _free_port()
    broker = _mosquitto(tmp_path, port)
    got: list[bytes] = []
    subscribed = threading.Event()
    sub = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id="replay-test-sub", clean_session=False)
    sub.reconnect_delay_set(1, 1)
    sub.on_subscribe = lambda *a: subscribed.set()
    sub.on_message = lambda c, u, m: got.append(m.payload)
    pub = PahoPublisher("127.0.0.1", port, client_id="replay-test-pub")
    try:
        sub.connect("127.0.0.1", port)
        sub.loop_start()
        wait_for(sub.is_connected, 10, "subscriber connected")
        sub.subscribe("replay/#", 1)
        assert subscribed.wait(10), "no SUBACK"
        broker.send_signal(signal.SIGTERM)  # a clean stop: the subscription is in the snapshot
        broker.wait(10)
        broker = _mosquitto(tmp_path, port)
        wait_for(sub.is_connected, 20, "subscriber reconnected")
        pub.connect()
        for i in range(50):
            pub.publish("replay/t", str(i).encode(), "dev")
        assert pub.flush(10) == 0 and pub.replayed == 0  # nothing replayed on the first connect
        wait_for(lambda: len(got) >= 50, 10, "the readings at the subscriber")
        broker.send_signal(signal.SIGKILL)
        broker.wait(10)
        wait_for(lambda: not sub.is_connected() and not pub._c.is_connected(), 10, "both clients saw the loss")
        got.clear()
        for i in range(50, 55):  # during the outage: paho queues them (not errors), they are no replay
            pub.publish("replay/t", str(i).encode(), "dev")
        assert pub.sent == 55 and pub.errors == 0
        broker = _mosquitto(tmp_path, port)
        wait_for(lambda: pub.replayed >= 50, 30, "the publisher's replay after its reconnect")
        wait_for(lambda: len(got) >= 55, 30, "the replayed and the queued readings at the subscriber")
        assert sorted(got, key=int) == [str(i).encode() for i in range(55)]
        assert [p for p in got if int(p) < 50] == [str(i).encode() for i in range(50)]  # replayed in order
        assert pub.flush(10) == 0 and pub.acked == pub.sent == 55 and pub.replayed == 50 and pub.errors == 0
    finally:
        pub.close()
        sub.disconnect()
        sub.loop_stop()
        if broker.poll() is None:
            broker.send_signal(signal.SIGKILL)
            broker.wait(10)


# --- AwsIotPublisher: the CRT's reconnect callbacks on a fake connection ----------------------------------------


class FakeConnection:
    """The part of awscrt.mqtt.Connection AwsIotPublisher uses; each publish is acknowledged at once."""

    def __init__(self, **kwargs: Any) -> None:
        self.kwargs = kwargs
        self.published: list[tuple[str, bytes]] = []

    def connect(self) -> Future:
        f: Future = Future()
        f.set_result({})
        return f

    def disconnect(self) -> Future:
        return self.connect()

    def publish(self, topic: str, payload: bytes, qos: Any) -> tuple[Future, int]:
        self.published.append((topic, payload))
        f: Future = Future()
        f.set_result({})
        return f, len(self.published)


def test_aws_iot_publisher_replays_after_connection_resumed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from awscrt.mqtt import ConnectReturnCode
    from awsiot import mqtt_connection_builder

    conns: list[FakeConnection] = []

    def build(**kwargs: Any) -> FakeConnection:
        conns.append(FakeConnection(**kwargs))
        return conns[-1]

    monkeypatch.setattr(mqtt_connection_builder, "mtls_from_path", build)
    pub = AwsIotPublisher("localhost", 8883, ca_cert=tmp_path / "ca.pem", client_cert=tmp_path / "c.pem",
                          client_key=tmp_path / "k.pem")
    pub.connect(["dev-1"])
    (conn,) = conns
    for i in range(3):
        pub.publish("dt/s/dev-1/telemetry", bytes([i]), "dev-1")
    resumed, interrupted = conn.kwargs["on_connection_resumed"], conn.kwargs["on_connection_interrupted"]
    resumed(connection=conn, return_code=ConnectReturnCode.ACCEPTED, session_present=False)
    assert pub.replayed == 0  # no loss, nothing to replay
    interrupted(connection=conn, error=RuntimeError("gone"))
    resumed(connection=conn, return_code=ConnectReturnCode.ACCEPTED, session_present=False)
    wait_for(lambda: pub.replayed == 3, 10, "the replay")
    assert conn.published[3:] == conn.published[:3]
    assert pub.flush(5) == 0 and pub.acked == pub.sent == 3 and pub.errors == 0
    pub.close()
