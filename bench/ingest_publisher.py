"""A lean MQTT 3.1.1 QoS 1 publisher for the ingest bench: pre-encoded PUBLISH packets written in bulk.

WHY: with paho, each QoS 1 publish costs the publishing process ~140 µs of Python (message object, locks,
per-packet socket writes); two paho publishers used more CPU than Mosquitto and both bridges together
(`omnitrack bench ingest`, 2026-12-04: 2.8 CPU-s of publishers for 20,000 single readings) and could not offer
more than ~5,000 messages/s on the 2-core VM, so the bench measured its own load generator, not the bridges.
Here a message costs a few µs: the packets are built before the clock starts and written a chunk at a time;
a reader thread counts the broker's PUBACKs. The semantics are paho's QoS 1 ones that matter to the bench: the
broker acknowledged every message before `publish_all` returns, and a message is never sent twice.
"""

from __future__ import annotations

import socket
import struct
import threading
import time

WINDOW = 8_000
"""Messages sent but not yet acknowledged: keeps the pipe full without exceeding the 65,535 packet ids of
MQTT (an id is reused only after its PUBACK) or piling more than a few MB into the broker's socket buffers."""

CHUNK = 256
"""Packets per socket write: large writes are what make this cheap; small enough to keep the window moving."""

ACK_DEADLINE_S = 120.0
"""How long `publish_all` waits for the last acknowledgement before it fails the bench."""


def _varint(n: int) -> bytes:
    out = bytearray()
    while True:
        byte, n = n % 128, n // 128
        out.append(byte | 0x80 if n else byte)
        if not n:
            return bytes(out)


def _string(s: bytes) -> bytes:
    return struct.pack("!H", len(s)) + s


def connect_packet(client_id: str, keepalive_s: int = 60) -> bytes:
    body = _string(b"MQTT") + bytes([4, 0x02]) + struct.pack("!H", keepalive_s) + _string(client_id.encode())
    return b"\x10" + _varint(len(body)) + body


def publish_packet(topic: str, payload: bytes, packet_id: int) -> bytes:
    """A QoS 1 PUBLISH (no retain, no dup)."""
    body = _string(topic.encode()) + struct.pack("!H", packet_id) + payload
    return b"\x32" + _varint(len(body)) + body


def _read_exact(sock: socket.socket, n: int) -> bytes:
    data = b""
    while len(data) < n:
        part = sock.recv(n - len(data))
        if not part:
            raise ConnectionError("broker closed the connection")
        data += part
    return data


class _Acks:
    """Counts PUBACKs read from the socket (a thread); any other packet or a closed socket fails the run."""

    def __init__(self, sock: socket.socket) -> None:
        self.count = 0
        self.error: str | None = None
        self.cond = threading.Condition()
        self._sock = sock
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        buf = b""
        try:
            while True:
                data = self._sock.recv(1 << 16)
                if not data:
                    raise ConnectionError("broker closed the connection")
                buf += data
                whole = len(buf) - len(buf) % 4
                if buf[:whole:4].strip(b"\x40"):
                    raise ConnectionError(f"unexpected packet from the broker: {buf[:8]!r}")
                with self.cond:
                    self.count += whole // 4  # PUBACK: 0x40 0x02 id_hi id_lo
                    self.cond.notify_all()
                buf = buf[whole:]
        except OSError as exc:
            with self.cond:
                self.error = self.error or str(exc)
                self.cond.notify_all()


def publish_all(port: int, items: list[tuple[str, bytes]], client_id: str, started=None,
                host: str = "127.0.0.1") -> int:
    """Publish `items` (topic, payload) at QoS 1 in order; returns once the broker acknowledged all of them.
    `started` (a multiprocessing Value, optional) gets the wall time of the first byte sent."""
    packets = [publish_packet(topic, payload, i % 65535 + 1) for i, (topic, payload) in enumerate(items)]
    sock = socket.create_connection((host, port))
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    try:
        sock.sendall(connect_packet(client_id))
        if _read_exact(sock, 4)[:2] != b"\x20\x02":
            raise ConnectionError("no CONNACK")
        acks = _Acks(sock)
        if started is not None:
            started.value = time.time()
        sent = 0
        while sent < len(packets):
            with acks.cond:
                while sent - acks.count >= WINDOW and acks.error is None:
                    acks.cond.wait(1.0)
                if acks.error:
                    raise ConnectionError(acks.error)
            end = min(len(packets), sent + CHUNK, acks.count + WINDOW)
            sock.sendall(b"".join(packets[sent:end]))
            sent = end
        deadline = time.monotonic() + ACK_DEADLINE_S
        with acks.cond:
            while acks.count < len(packets) and acks.error is None and time.monotonic() < deadline:
                acks.cond.wait(1.0)
            if acks.count < len(packets):
                raise TimeoutError(f"{len(packets) - acks.count} of {len(packets)} messages unacknowledged: "
                                   f"{acks.error or 'timeout'}")
        sock.sendall(b"\xe0\x00")  # DISCONNECT
        return len(packets)
    finally:
        sock.close()
