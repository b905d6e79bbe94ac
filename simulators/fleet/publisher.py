"""Transports: paho-mqtt to any broker, awsiotsdk with mTLS per identity, memory.

WHY a Protocol: the shard loop only needs publish/flush/close and counters, so
tests run the whole emitter against an in-memory transport and the lead can
add e.g. a Kafka-direct transport without touching the simulator.
"""

from __future__ import annotations

import threading
import time
from pathlib import Path
from collections.abc import Sequence
from typing import Protocol

# paho's default of 20 in-flight QoS 1 messages caps a loopback publisher at a
# few thousand msg/s (one round trip per 20); unlimited keeps the pipe full.
PAHO_MAX_INFLIGHT = 0  # 0 = unlimited
# Unlimited client-side queue: the rate limiter, not paho, decides what is sent;
# a bounded queue would silently drop (MQTT_ERR_QUEUE_SIZE) under bursts.
PAHO_MAX_QUEUED = 0
# Seconds to wait for CONNACK; a broker that hasn't answered by then is down.
CONNECT_TIMEOUT_S = 10.0
# Keepalive long enough that a busy publisher never misses a PINGREQ.
KEEPALIVE_S = 60
# Per-process cap on mTLS connections (one per identity): thousands of TLS
# sessions from one process would exhaust file descriptors and the CPU.
MAX_IDENTITY_CONNECTIONS = 64


class Publisher(Protocol):
    """One process's connection(s) to a broker."""

    sent: int  # messages handed to the transport
    acked: int  # messages confirmed (QoS 1 PUBACK; = sent at QoS 0)
    errors: int  # publish calls that failed

    def connect(self, identities: Sequence[str]) -> None:
        """Open connections before the clock starts; ``identities`` are the
        gateways/devices this process publishes for."""
        ...

    def publish(self, topic: str, payload: bytes, identity: str) -> None: ...

    def flush(self, timeout_s: float) -> int:
        """Wait for outstanding acknowledgements; returns how many are still missing."""
        ...

    def close(self) -> None: ...


class MemoryPublisher:
    """Keeps every message; for tests and dry runs."""

    def __init__(self) -> None:
        self.messages: list[tuple[str, bytes, str]] = []
        self.sent = self.acked = self.errors = 0

    def connect(self, identities: Sequence[str]) -> None:
        pass

    def publish(self, topic: str, payload: bytes, identity: str) -> None:
        self.messages.append((topic, payload, identity))
        self.sent += 1
        self.acked += 1

    def flush(self, timeout_s: float) -> int:
        return 0

    def close(self) -> None:
        pass


class NullPublisher(MemoryPublisher):
    """Counts and discards: measures the generator alone."""

    def publish(self, topic: str, payload: bytes, identity: str) -> None:
        self.sent += 1
        self.acked += 1


class PahoPublisher:
    """One paho client per process publishing for all its devices (a load
    generator / field bridge); plain or TLS."""

    def __init__(self, host: str, port: int, *, qos: int = 1, client_id: str = "", ca_cert: Path | None = None,
                 client_cert: Path | None = None, client_key: Path | None = None) -> None:
        import paho.mqtt.client as mqtt

        self.qos = qos
        self.sent = self.acked = self.errors = 0
        self._host, self._port = host, port
        self.last_error: int | None = None  # paho rc of the latest failed publish, for diagnosis
        self._lock = threading.Lock()
        self._c = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=client_id, clean_session=True)
        self._c.max_inflight_messages_set(PAHO_MAX_INFLIGHT)
        self._c.max_queued_messages_set(PAHO_MAX_QUEUED)
        if ca_cert is not None:
            self._c.tls_set(ca_certs=str(ca_cert), certfile=str(client_cert) if client_cert else None,
                            keyfile=str(client_key) if client_key else None)
        self._connected = threading.Event()
        self._c.on_connect = lambda c, u, f, rc, p=None: self._connected.set() if not rc.is_failure else None
        self._c.on_publish = self._on_publish

    def _on_publish(self, client: object, userdata: object, mid: int, rc: object, props: object = None) -> None:
        with self._lock:
            self.acked += 1

    def connect(self, identities: Sequence[str] = ()) -> None:
        self._c.connect(self._host, self._port, keepalive=KEEPALIVE_S)
        self._c.loop_start()
        if not self._connected.wait(CONNECT_TIMEOUT_S):
            self._c.loop_stop()
            raise ConnectionError(f"no CONNACK from {self._host}:{self._port} within {CONNECT_TIMEOUT_S}s")

    def publish(self, topic: str, payload: bytes, identity: str) -> None:
        info = self._c.publish(topic, payload, qos=self.qos)
        if info.rc != 0:
            self.errors += 1
            self.last_error = info.rc
        else:
            self.sent += 1

    def flush(self, timeout_s: float) -> int:
        end = time.monotonic() + timeout_s
        while self.acked < self.sent and time.monotonic() < end:
            time.sleep(0.01)
        return max(0, self.sent - self.acked)

    def close(self) -> None:
        self._c.disconnect()
        self._c.loop_stop()


class AwsIotPublisher:
    """awsiotsdk (AWS CRT) mTLS connections, one per publishing identity
    (gateway or device) as AWS IoT Core expects: a thing's certificate and
    client id belong to that thing.

    With ``client_cert``/``client_key`` every identity shares that one
    registered certificate (real AWS IoT Core, where certificates are issued by
    AWS); with ``cert_dir`` each identity gets its own certificate from the
    local CA (``omnitrack.stack.certs.issue``), as the local mTLS listener
    accepts. Identities beyond ``max_connections`` share connections round-robin.
    """

    def __init__(self, endpoint: str, port: int, *, ca_cert: Path, qos: int = 1, cert_dir: Path | None = None,
                 client_cert: Path | None = None, client_key: Path | None = None, client_prefix: str = "",
                 max_connections: int = MAX_IDENTITY_CONNECTIONS) -> None:
        if cert_dir is None and (client_cert is None or client_key is None):
            raise ValueError("awsiot transport needs cert_dir (per-identity certs) or client_cert and client_key")
        self.sent = self.acked = self.errors = 0
        self._endpoint, self._port, self._ca, self._qos = endpoint, port, ca_cert, qos
        self._cert_dir, self._cert, self._key = cert_dir, client_cert, client_key
        self._prefix, self._max = client_prefix, max(1, max_connections)
        self._conns: dict[str, object] = {}
        self._slot: dict[str, str] = {}
        self._lock = threading.Lock()

    def connect(self, identities: Sequence[str]) -> None:
        """Open every identity's connection now: a TLS handshake inside the
        timed loop would stall the schedule (and count as a rate drop)."""
        for identity in identities:
            self._connection(identity)

    def _connection(self, identity: str) -> object:
        name = self._slot.get(identity)
        if name is None:
            if len(self._conns) < self._max:
                name = identity
            else:
                name = list(self._conns)[len(self._slot) % self._max]
            self._slot[identity] = name
        conn = self._conns.get(name)
        if conn is None:
            from awscrt import mqtt
            from awsiot import mqtt_connection_builder

            if self._cert_dir is not None:
                from omnitrack.stack.certs import issue

                pair = issue(self._cert_dir, name, server=False)
                cert, key = pair.cert, pair.key
            else:
                cert, key = self._cert, self._key
            conn = mqtt_connection_builder.mtls_from_path(
                endpoint=self._endpoint, port=self._port, cert_filepath=str(cert), pri_key_filepath=str(key),
                ca_filepath=str(self._ca), client_id=f"{self._prefix}{name}", clean_session=True,
                keep_alive_secs=KEEPALIVE_S)
            conn.connect().result(CONNECT_TIMEOUT_S)
            self._mqtt = mqtt
            self._conns[name] = conn
        return conn

    def _done(self, fut: object) -> None:
        with self._lock:
            if fut.exception() is None:  # type: ignore[attr-defined]
                self.acked += 1
            else:
                self.errors += 1

    def publish(self, topic: str, payload: bytes, identity: str) -> None:
        try:
            conn = self._connection(identity)
            qos = self._mqtt.QoS.AT_LEAST_ONCE if self._qos == 1 else self._mqtt.QoS.AT_MOST_ONCE
            fut, _ = conn.publish(topic=topic, payload=payload, qos=qos)  # type: ignore[attr-defined]
        except Exception:  # noqa: BLE001 - a failed connect or publish is counted, the run goes on
            self.errors += 1
            return
        self.sent += 1
        fut.add_done_callback(self._done)

    def flush(self, timeout_s: float) -> int:
        end = time.monotonic() + timeout_s
        while self.acked + self.errors < self.sent and time.monotonic() < end:
            time.sleep(0.01)
        return max(0, self.sent - self.acked)

    def close(self) -> None:
        for conn in self._conns.values():
            try:
                conn.disconnect().result(CONNECT_TIMEOUT_S)  # type: ignore[attr-defined]
            except Exception:  # noqa: BLE001 - closing; nothing left to do
                pass
        self._conns.clear()
