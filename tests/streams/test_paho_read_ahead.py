"""The bridge's paho client: the read-ahead socket returns the same bytes as the socket, in order, whatever the
read sizes; `pending` says what is buffered; an empty socket raises as the socket does."""

from __future__ import annotations

import select
import socket

import pytest

from streams.bridge import paho_transport
from streams.bridge.paho_transport import _ReadAheadSocket


def test_reads_return_the_stream_in_order_whatever_the_sizes(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(paho_transport, "READ_AHEAD_BYTES", 64)  # several refills
    a, b = socket.socketpair()
    data = bytes(range(256)) * 3
    a.sendall(data)
    a.close()
    sock = _ReadAheadSocket(b)
    out, sizes, k = b"", [1, 1, 5, 100, 2, 64, 63, 1000], 0
    while True:
        size = sizes[k % len(sizes)]
        k += 1
        part = sock.recv(size)
        if not part:
            break
        assert len(part) <= size
        out += part
    assert out == data and sock.pending() == 0
    b.close()


def test_pending_counts_buffered_bytes_and_an_empty_socket_raises() -> None:
    a, b = socket.socketpair()
    b.setblocking(False)
    sock = _ReadAheadSocket(b)
    with pytest.raises(BlockingIOError):
        sock.recv(1)
    a.sendall(b"\x30\x05hello")
    assert select.select([b], [], [], 5)[0], "the bytes sent reach the other end"
    assert sock.recv(1) == b"\x30" and sock.pending() == 6
    assert sock.recv(1) == b"\x05" and sock.recv(5) == b"hello" and sock.pending() == 0
    assert sock.fileno() == b.fileno() and sock.getsockname() == b.getsockname()  # the rest goes to the socket
    a.close()
    b.close()

