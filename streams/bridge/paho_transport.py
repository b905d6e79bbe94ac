"""paho-mqtt transport: MQTT 5, persistent session, shared subscription, manual PUBACK."""

from __future__ import annotations

import ssl
import threading
import time
from collections.abc import Callable

import paho.mqtt.client as mqtt
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from streams.bridge.subscriptions import subscriptions
from streams.bridge.transport import Inbound, TransportError


CONNECT_DEADLINE_S = 20.0

READ_AHEAD_BYTES = 1 << 16
"""Bytes taken from the socket per read: many small MQTT messages per system call."""


class _ReadAheadSocket:
    """The client's socket, read a large chunk at a time.

    WHY: paho reads a packet with several small `recv` calls (fixed header, each length byte, body) and waits in
    `select` before every packet: five system calls per message, the largest share of the bridge's MQTT
    thread with single readings (py-spy, issue 17). Served from a buffer, the same reads are slices; `pending`
    (which paho asks of TLS sockets already) tells it more bytes are buffered, so it reads on without waiting.
    Everything else goes to the socket itself.
    """

    def __init__(self, sock: object) -> None:
        self._sock = sock
        self._buf = b""
        self._pos = 0

    def recv(self, size: int) -> bytes:
        if self._pos >= len(self._buf):
            data = self._sock.recv(READ_AHEAD_BYTES)  # raises as the socket does when nothing is there
            if len(data) <= size:
                return data
            self._buf, self._pos = data, 0
        start = self._pos
        self._pos = min(start + size, len(self._buf))
        return self._buf[start:self._pos]

    def pending(self) -> int:
        inner = self._sock.pending() if hasattr(self._sock, "pending") else 0
        return len(self._buf) - self._pos + inner

    def fileno(self) -> int:
        return self._sock.fileno()

    def __getattr__(self, name: str) -> object:
        return getattr(self._sock, name)


class _Client(mqtt.Client):
    """paho's client on a `_ReadAheadSocket` (TCP or TLS alike)."""

    def _create_socket(self):  # type: ignore[no-untyped-def]
        return _ReadAheadSocket(super()._create_socket())


class PahoTransport:
    """Subscribes with QoS 1 and hands each message over unacknowledged."""

    def __init__(
        self,
        host: str,
        port: int,
        client_id: str,
        topic_filters: list[str],
        *,
        share_group: str | None = None,
        receive_maximum: int = 2000,
        session_expiry_s: int = 7 * 24 * 3600,
        tls: tuple[str, str, str] | None = None,
    ) -> None:
        self._session_expiry_s = session_expiry_s
        self._subs = subscriptions(topic_filters, share_group)
        self._host, self._port = host, port
        self._receive_maximum = receive_maximum
        self._connected = threading.Event()
        self._refused: str | None = None
        self._deliver: Callable[[Inbound], None] | None = None
        self._client = _Client(
            mqtt.CallbackAPIVersion.VERSION2, client_id=client_id, protocol=mqtt.MQTTv5, manual_ack=True
        )
        if tls is not None:
            ca, cert, key = tls
            self._client.tls_set(ca_certs=ca, certfile=cert, keyfile=key, cert_reqs=ssl.CERT_REQUIRED)
        self._client.on_connect = self._on_connect
        self._client.on_disconnect = self._on_disconnect
        self._client.on_message = self._on_message
        self._client.on_subscribe = self._on_subscribe
        self._client.on_unsubscribe = self._on_unsubscribe
        self._client.reconnect_delay_set(min_delay=1, max_delay=10)

    def _on_connect(self, client: mqtt.Client, _u, _flags, reason_code, _props) -> None:
        if reason_code.is_failure:
            self._refused = str(reason_code)
            return
        # (Re)subscribing is idempotent and covers a broker that lost the session.
        client.subscribe([(f, mqtt.SubscribeOptions(qos=1)) for f in self._subs.active])

    def _on_subscribe(self, client: mqtt.Client, _u, _mid, reason_codes, _props) -> None:
        failed = [str(rc) for rc in reason_codes if rc.is_failure]
        if failed:
            self._refused = f"subscription refused: {', '.join(failed)}"
            return
        if self._subs.retired:  # the other form a persistent session may still hold (streams/bridge/subscriptions.py)
            client.unsubscribe(self._subs.retired)
        else:
            self._connected.set()

    def _on_unsubscribe(self, *_args) -> None:
        # "No subscription existed" is the usual answer and no failure; either way the old form is gone.
        self._connected.set()  # ready only once the broker routes our filters, and only those, to us

    def _on_disconnect(self, *_args) -> None:
        self._connected.clear()

    def _on_message(self, client: mqtt.Client, _u, msg: mqtt.MQTTMessage) -> None:
        mid, qos = msg.mid, msg.qos
        deliver = self._deliver
        if deliver is not None:
            deliver(Inbound(msg.topic, msg.payload, time.time_ns(), lambda: client.ack(mid, qos)))

    def start(self, deliver: Callable[[Inbound], None]) -> None:
        self._deliver = deliver
        props = Properties(PacketTypes.CONNECT)
        props.SessionExpiryInterval = self._session_expiry_s
        props.ReceiveMaximum = self._receive_maximum
        try:
            self._client.connect(self._host, self._port, keepalive=30, clean_start=False, properties=props)
        except (OSError, ssl.SSLError) as exc:
            raise TransportError(f"cannot reach MQTT broker at {self._host}:{self._port}: {exc}") from exc
        self._client.loop_start()
        end = time.monotonic() + CONNECT_DEADLINE_S
        while not self._connected.wait(0.1):
            if self._refused or time.monotonic() > end:
                self._client.loop_stop()
                raise TransportError(f"MQTT connect to {self._host}:{self._port} failed: {self._refused or 'timeout'}")

    def stop(self) -> None:
        self._deliver = None
        self._client.disconnect()
        self._client.loop_stop()

    def connected(self) -> bool:
        return self._connected.is_set()
