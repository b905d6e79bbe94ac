"""The ingest bench's lean QoS 1 publisher: every message reaches a subscriber once, in order, and the call
returns only after the broker acknowledged them all."""

from __future__ import annotations

import multiprocessing as mp
import threading
from pathlib import Path

import paho.mqtt.client as mqtt

from bench.ingest_publisher import WINDOW, publish_all, publish_packet
from bench.mosquitto import private_mosquitto


def test_publish_packet_encodes_mqtt_311_qos1() -> None:
    packet = publish_packet("a/b", b"xyz", 258)
    assert packet == b"\x32\x0a\x00\x03a/b\x01\x02xyz"
    big = publish_packet("t", b"x" * 200, 1)
    assert big[:3] == b"\x32\xcd\x01"  # remaining length 205 as a two-byte varint


def test_every_message_arrives_once_in_order(tmp_path: Path) -> None:
    broker, port = private_mosquitto(tmp_path)
    n = WINDOW + 3_000  # more than one window, so acknowledgements must move it
    got: list[bytes] = []
    done = threading.Event()
    subscribed = threading.Event()

    def on_message(_c, _u, msg) -> None:  # noqa: ANN001
        got.append(msg.payload)
        if len(got) == n:
            done.set()

    sub = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id="pub-test-sub")
    sub.on_message = on_message
    sub.on_subscribe = lambda *_a: subscribed.set()
    try:
        sub.connect("127.0.0.1", port)
        sub.subscribe("bench/+/x", qos=1)
        sub.loop_start()
        assert subscribed.wait(10)
        started = mp.Value("d", 0.0)
        items = [(f"bench/{i % 7}/x", str(i).encode()) for i in range(n)]
        assert publish_all(port, items, "pub-test", started) == n
        assert started.value > 0
        assert done.wait(30)
        assert got == [payload for _, payload in items]
    finally:
        sub.loop_stop()
        sub.disconnect()
        broker.terminate()
        broker.wait(10)
