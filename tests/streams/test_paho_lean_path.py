"""The bridge's lean QoS 1 path through paho (`streams/bridge/paho_transport._Client`): the topic, payload and
packet id cut from a PUBLISH are paho's own, whatever the MQTT 5 properties; packets it does not take go
paho's way; a round of PUBACKs is written as one packet. The last test runs it against the real Mosquitto."""

from __future__ import annotations

import socket
import struct
import threading
import time
import uuid
from urllib.parse import urlsplit

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from streams.bridge.paho_transport import PahoTransport, _Client
from streams.bridge.transport import Inbound
from tests.streams.conftest import wait_for


def _publish(topic: bytes, payload: bytes, mid: int, props: bytes = b"", qos: int = 1) -> tuple[int, bytearray]:
    """(command byte, packet after the fixed header) of an MQTT 5 PUBLISH."""
    body = struct.pack("!H", len(topic)) + topic + (struct.pack("!H", mid) if qos else b"")
    n, length = len(props), bytearray()
    while True:
        length.append((n & 0x7F) | (0x80 if n > 0x7F else 0))
        n >>= 7
        if not n:
            break
    return 0x30 | (qos << 1), bytearray(body + bytes(length) + props + payload)


def _client() -> tuple[_Client, list, list]:
    lean, slow = [], []
    c = _Client(mqtt.CallbackAPIVersion.VERSION2, client_id="t", protocol=mqtt.MQTTv5, manual_ack=True,
                fast_publish=lambda topic, payload, mid: lean.append((topic, payload, mid)))
    c.on_message = lambda _c, _u, m: slow.append((m.topic, m.payload, m.mid))
    return c, lean, slow


def _handle(c: _Client, command: int, packet: bytearray) -> None:
    c._in_packet = {"command": command, "packet": packet}
    assert c._handle_publish() == mqtt.MQTTErrorCode.MQTT_ERR_SUCCESS


USER_PROPERTY = b"\x26" + struct.pack("!H", 3) + b"key" + struct.pack("!H", 5) + b"value"


@pytest.mark.parametrize("props", [b"", b"\x01\x01", b"\x02\x00\x00\x00\x3c" + USER_PROPERTY])
@pytest.mark.parametrize("payload", [b"", b"{}", bytes(range(256)) * 40])
def test_the_lean_path_cuts_what_paho_would(props: bytes, payload: bytes) -> None:
    c, lean, slow = _client()
    command, packet = _publish("dt/site-é/dev-1/telemetry".encode(), payload, 0xBEEF, props)
    _handle(c, command, packet)
    c._fast_publish = None                                     # the same packet through paho's own path
    _handle(c, command, packet)
    assert lean == slow == [("dt/site-é/dev-1/telemetry", payload, 0xBEEF)]


def test_what_the_lean_path_does_not_take_goes_paho_s_way() -> None:
    c, lean, slow = _client()
    long_props = USER_PROPERTY * 12                            # 168 bytes: a two-byte length
    for command, packet in (_publish(b"t/long", b"x", 7, long_props), _publish(b"t/qos0", b"y", 0, qos=0)):
        _handle(c, command, packet)
    assert lean == [] and slow == [("t/long", b"x", 7), ("t/qos0", b"y", 0)]


def test_a_round_of_acks_is_one_write_of_pubacks_in_order() -> None:
    c, _, _ = _client()
    a, b = socket.socketpair()
    c._sock = a
    for mid in (1, 258, 65535):
        c.ack_later(mid)
    assert c.loop_write() == mqtt.MQTTErrorCode.MQTT_ERR_SUCCESS
    assert b.recv(64) == b"\x40\x02\x00\x01" + b"\x40\x02\x01\x02" + b"\x40\x02\xff\xff"
    assert c._acks == [] and not c._out_packet
    a.close()
    b.close()


def test_acks_queued_before_a_disconnect_are_written_ahead_of_it(monkeypatch) -> None:
    """Before, the DISCONNECT went first and the socket closed behind it: the broker redelivered these."""
    monkeypatch.setattr("streams.bridge.paho_transport.CLOSE_DRAIN_S", 0.05)   # this peer reads after, not before
    c, _, _ = _client()
    a, b = socket.socketpair()
    c._sock = a
    for mid in (5, 6):
        c.ack_later(mid)
    c.disconnect()
    got = b""
    while chunk := b.recv(64):
        got += chunk
    assert got == b"\x40\x02\x00\x05" + b"\x40\x02\x00\x06" + b"\xe0\x00"     # PUBACK 5, PUBACK 6, DISCONNECT
    assert c._acks == [] and not c._out_packet
    b.close()


def test_a_clean_disconnect_returns_once_the_broker_has_read_it_and_closed() -> None:
    """The broker closes after reading the DISCONNECT, so it has read every PUBACK before it: only then may a
    restarted bridge connect the same session (else the broker may take it over with PUBACKs unread)."""
    c, _, _ = _client()
    a, b = socket.socketpair()
    c._sock = a
    c.ack_later(9)
    broker_read: list[bytes] = []
    closed = threading.Event()

    def broker() -> None:
        data = b""
        while not data.endswith(b"\xe0\x00"):
            data += b.recv(64)
        time.sleep(0.2)                                     # a broker busy elsewhere before it reads on
        broker_read.append(data)
        closed.set()
        b.close()

    threading.Thread(target=broker, daemon=True).start()
    c.disconnect()
    assert closed.is_set() and broker_read == [b"\x40\x02\x00\x09\xe0\x00"]


def test_a_clean_disconnect_waits_for_the_broker_no_longer_than_its_deadline(monkeypatch) -> None:
    monkeypatch.setattr("streams.bridge.paho_transport.CLOSE_DRAIN_S", 0.3)
    c, _, _ = _client()
    a, b = socket.socketpair()
    c._sock = a
    start = time.monotonic()
    c.disconnect()                                          # the peer never closes
    assert 0.25 < time.monotonic() - start < 5 and c._sock is None
    b.close()


@pytest.mark.integration
def test_through_mosquitto_every_message_arrives_as_sent_and_acked_ones_are_not_redelivered(stack_endpoints) -> None:
    """A paho MQTT 5 publisher with and without properties (long ones take paho's path) into the real broker;
    after every message was acknowledged the same persistent session reconnects and gets nothing again."""
    port = urlsplit(stack_endpoints.mqtt_url).port
    tag = uuid.uuid4().hex[:8]
    got: list[Inbound] = []
    done = threading.Event()
    n = 600

    def deliver(m: Inbound) -> None:
        got.append(m)
        m.ack()
        if len(got) >= n:
            done.set()

    transport = PahoTransport("127.0.0.1", port, f"lean-{tag}", [f"lean{tag}/+/+/telemetry"], session_expiry_s=300)
    transport.start(deliver)
    pub = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=f"leanpub-{tag}", protocol=mqtt.MQTTv5)
    pub.connect("127.0.0.1", port)
    pub.loop_start()
    sent, infos = [], []
    for i in range(n):
        props = Properties(PacketTypes.PUBLISH)
        if i % 3 == 1:
            props.UserProperty = [("k", "v" * (i % 7))]
        elif i % 3 == 2:
            props.UserProperty = [("k" * 40, "v" * 120)]        # past 127 bytes: paho's path
        topic, payload = f"lean{tag}/s/d{i % 9}/telemetry", str(i).encode() * (i % 50)
        sent.append((topic, payload))
        infos.append(pub.publish(topic, payload, qos=1, properties=props))
    for info in infos:
        info.wait_for_publish(10)
    pub.loop_stop()
    pub.disconnect()
    assert done.wait(60), len(got)
    assert sorted((m.topic, m.payload) for m in got) == sorted(sent)
    transport.stop()                                                # every PUBACK goes ahead of the DISCONNECT
    again: list[Inbound] = []
    second = PahoTransport("127.0.0.1", port, f"lean-{tag}", [f"lean{tag}/+/+/telemetry"], session_expiry_s=300)
    second.start(again.append)                                  # connected and subscribed: the session's queue
    pub2 = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=f"leanpub2-{tag}", protocol=mqtt.MQTTv5)
    pub2.connect("127.0.0.1", port)
    pub2.loop_start()
    pub2.publish(f"lean{tag}/s/marker/telemetry", b"marker", qos=1).wait_for_publish(10)
    pub2.loop_stop()
    pub2.disconnect()
    wait_for(lambda: any(m.payload == b"marker" for m in again), 30, "the marker after the reconnect")
    second.stop()
    assert [m.payload for m in again] == [b"marker"]            # nothing of the first 600 came back
