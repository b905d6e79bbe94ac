"""paho-mqtt transport: MQTT 5, persistent session, shared subscription, manual PUBACK."""

from __future__ import annotations

import select
import ssl
import struct
import threading
import time
from collections.abc import Callable

import paho.mqtt.client as mqtt
from paho.mqtt.client import PUBACK
from paho.mqtt.enums import _ConnectionState
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from streams.bridge.subscriptions import subscriptions
from streams.bridge.transport import Inbound, TransportError


CONNECT_DEADLINE_S = 20.0
_DISCONNECTING = _ConnectionState.MQTT_CS_DISCONNECTING

READ_AHEAD_BYTES = 1 << 16
"""Bytes taken from the socket per read: many small MQTT messages per system call."""

CLOSE_DRAIN_S = 2.0
"""How long a clean stop waits, after its DISCONNECT, for the broker to close the connection. Prevents the next
connection of the same session overtaking this one's last PUBACKs inside the broker (see `_Client._sock_close`)."""


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


PUBACK_WORD = 0x4002_0000
"""A PUBACK is 4 bytes: type 0x40, remaining length 2 (MQTT 5: reason code omitted = success), the packet id;
as a big-endian 32-bit word that is this | mid, so a round of them packs in one `struct.pack`."""


class _Client(mqtt.Client):
    """paho's client on a `_ReadAheadSocket` (TCP or TLS alike), with a lean path for QoS 1 PUBLISH packets and
    the PUBACKs of a round written as one packet.

    WHY: with single readings the bridge is paho's Python per message (issue 17). A py-spy of a transport that
    only receives and acknowledges (60,000 QoS 1 messages) put 34 % of its samples in `_handle_publish` (an
    MQTT 5 `Properties` object, a `PublishPacket`, an `MQTTMessage`, debug-log formatting and the callback
    machinery, for a topic, a packet id and a payload) and 31 % in system calls for the PUBACKs: each `ack()`
    wakes the network thread through paho's socket pair, and each PUBACK is its own `send`. Here a QoS 1 PUBLISH
    whose properties fit in one length byte is cut into (topic, payload, mid) directly; anything else takes
    paho's own path. Acknowledgements are queued, the first of a round wakes the thread once, and the thread
    writes them all in one packet before its other writes.
    """

    def __init__(self, *args, fast_publish: Callable[[str, bytes, int], None] | None = None, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self._fast_publish = fast_publish
        self._acks_lock = threading.RLock()   # re-entered when paho writes from `disconnect`
        self._acks: list[int] = []

    def _create_socket(self):  # type: ignore[no-untyped-def]
        return _ReadAheadSocket(super()._create_socket())

    def _handle_publish(self) -> mqtt.MQTTErrorCode:
        deliver = self._fast_publish
        packet = self._in_packet["packet"]
        if deliver is None or self._in_packet["command"] & 0x06 != 0x02:     # not QoS 1: paho's path
            return super()._handle_publish()
        end = 2 + ((packet[0] << 8) | packet[1]) if len(packet) >= 2 else 0
        if end < 3 or end + 3 > len(packet) or packet[end + 2] >= 0x80:   # short, empty topic, long properties
            return super()._handle_publish()
        try:
            topic = packet[2:end].decode()
        except UnicodeDecodeError:
            return super()._handle_publish()
        start = end + 3 + packet[end + 2]                                    # packet id, properties
        if start > len(packet):
            return super()._handle_publish()
        deliver(topic, bytes(packet[start:]), (packet[end] << 8) | packet[end + 1])
        return mqtt.MQTTErrorCode.MQTT_ERR_SUCCESS

    def ack_later(self, mid: int) -> None:
        """Queue the PUBACK of `mid` (any thread); the network thread writes the round's PUBACKs together."""
        with self._acks_lock:
            self._acks.append(mid)
            first = len(self._acks) == 1
        if first and self._sockpairW is not None:
            try:
                self._sockpairW.send(b"0")      # wakes the network thread's select, which then calls loop_write
            except (BlockingIOError, OSError):
                pass

    def _queue_acks(self) -> None:
        """The queued PUBACKs onto paho's write queue as one packet; the caller holds `_acks_lock`."""
        mids, self._acks = self._acks, []
        if mids:
            blob = struct.pack(f"!{len(mids)}I", *[PUBACK_WORD | m for m in mids])
            self._out_packet.append({"command": PUBACK, "mid": 0, "qos": 1, "pos": 0, "to_process": len(blob),
                                     "packet": blob, "info": None})

    def loop_write(self) -> mqtt.MQTTErrorCode:
        with self._acks_lock:               # taken and queued in one step: nothing can slip in between
            self._queue_acks()
        return super().loop_write()

    def disconnect(self, reasoncode=None, properties=None) -> mqtt.MQTTErrorCode:  # type: ignore[no-untyped-def]
        """Every acknowledgement given before this call is written ahead of the DISCONNECT.

        WHY: acknowledgements wait in `_acks` until the network thread's next write, and paho writes its queue
        in order and closes the socket after the DISCONNECT. Queued behind it (or taken by the network thread
        a moment before it and queued after), they never left, and the broker redelivered those messages to
        the session's next connection: duplicates after a clean stop. One of two ways the CI run of 2026-12-06
        got two messages back after a stop; `_sock_close` is the other (neither reproduced locally).
        """
        with self._acks_lock:
            self._queue_acks()
            return super().disconnect(reasoncode, properties)

    def _sock_close(self) -> None:
        """After our own DISCONNECT, wait (up to `CLOSE_DRAIN_S`) for the broker to close the connection first.

        WHY: the broker closes a connection once it has read the DISCONNECT, so by then it has read every PUBACK
        written before it. Closing at once left the last PUBACKs unread in the broker's socket while a restarted
        bridge's CONNECT for the same session could be read first: the broker took the session over, dropped the
        old connection unread and redelivered those messages (duplicates after a clean stop; see `disconnect`).
        """
        sock = self._sock
        if sock is not None and self._state == _DISCONNECTING:
            end = time.monotonic() + CLOSE_DRAIN_S
            try:
                while (left := end - time.monotonic()) > 0:
                    if not select.select([sock], [], [], left)[0]:
                        break
                    try:
                        if not sock.recv(READ_AHEAD_BYTES):   # the broker's close
                            break
                    except (BlockingIOError, ssl.SSLWantReadError):
                        continue
            except (OSError, ValueError):
                pass                                            # gone already: nothing left to wait for
        super()._sock_close()


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
            mqtt.CallbackAPIVersion.VERSION2, client_id=client_id, protocol=mqtt.MQTTv5, manual_ack=True,
            fast_publish=self._on_publish,
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
        """paho's path: QoS 0 and 2, and what the lean path leaves to it (`_Client`)."""
        mid, qos = msg.mid, msg.qos
        deliver = self._deliver
        if deliver is not None:
            deliver(Inbound(msg.topic, msg.payload, time.time_ns(), lambda: client.ack(mid, qos)))

    def _on_publish(self, topic: str, payload: bytes, mid: int) -> None:
        """The lean path of a QoS 1 PUBLISH (`_Client._handle_publish`)."""
        deliver = self._deliver
        if deliver is not None:
            client = self._client
            deliver(Inbound(topic, payload, time.time_ns(), lambda: client.ack_later(mid)))

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
