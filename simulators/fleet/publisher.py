"""Transports: paho-mqtt to any broker, awsiotsdk with mTLS per identity, memory.

WHY a Protocol: the shard loop only needs publish/flush/close and counters, so
tests run the whole emitter against an in-memory transport and the lead can
add e.g. a Kafka-direct transport without touching the simulator.

The MQTT transports replay, after a reconnect, what they published in the last
REPLAY_S seconds before the connection was lost (simulators/fleet/replay.py):
a broker that dies between its PUBACK and its next snapshot loses readings the
client already forgot.
"""

from __future__ import annotations

import threading
import time
from pathlib import Path
from collections import deque
from collections.abc import Callable, Sequence
from typing import Protocol

from .replay import ReplayBuffer, start_replay

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
# Longest wait between paho's reconnect attempts (its default is 120 s): a
# restarted broker must not leave the devices idle for minutes.
PAHO_RECONNECT_MAX_S = 10


class Publisher(Protocol):
    """One process's connection(s) to a broker."""

    sent: int  # messages handed to the transport
    acked: int  # of those, messages confirmed (QoS 1 PUBACK; = sent at QoS 0); replays not included
    errors: int  # publish calls that failed
    replayed: int  # messages published again after a reconnect (simulators/fleet/replay.py)

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
        self.sent = self.acked = self.errors = self.replayed = 0

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


def puback_seen(info: object) -> bool:
    """paho's MQTTMessageInfo.is_published(), except for a message published while disconnected: paho keeps
    and sends it after the reconnect, yet its rc stays MQTT_ERR_NO_CONN and is_published() raises."""
    try:
        return bool(info.is_published())  # type: ignore[attr-defined]
    except RuntimeError:
        return bool(getattr(info, "_published", False))


class PahoPublisher:
    """One paho client per process publishing for all its devices (a load
    generator / field bridge); plain or TLS.

    paho reconnects by itself (loop_start) and re-sends what was not PUBACKed;
    on top, at QoS 1 a ReplayBuffer re-publishes what was PUBACKed in the last
    REPLAY_S seconds before a lost connection (``replayed`` counts them)."""

    def __init__(self, host: str, port: int, *, qos: int = 1, client_id: str = "", ca_cert: Path | None = None,
                 client_cert: Path | None = None, client_key: Path | None = None,
                 replay: ReplayBuffer | None = None) -> None:
        import paho.mqtt.client as mqtt

        self.qos = qos
        self.sent = self.errors = self.replayed = 0
        self._pubacks = 0  # every PUBACK, replays included
        self._replay_acked = 0  # PUBACKs of replays, counted off _replay_infos
        self._replay_infos: deque[object] = deque()  # MQTTMessageInfo of replays not yet seen acked
        self._host, self._port = host, port
        self.last_error: int | None = None  # paho rc of the latest failed publish, for diagnosis
        self._lock = threading.Lock()
        # at QoS 0 nothing is acknowledged, so nothing is replayed
        self._replay = (replay if replay is not None else ReplayBuffer()) if qos >= 1 else None
        self._replay_thread: threading.Thread | None = None
        self._closing = threading.Event()
        self._no_conn = mqtt.MQTT_ERR_NO_CONN
        self._c = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=client_id, clean_session=True)
        self._c.max_inflight_messages_set(PAHO_MAX_INFLIGHT)
        self._c.max_queued_messages_set(PAHO_MAX_QUEUED)
        self._c.reconnect_delay_set(1, PAHO_RECONNECT_MAX_S)
        if ca_cert is not None:
            self._c.tls_set(ca_certs=str(ca_cert), certfile=str(client_cert) if client_cert else None,
                            keyfile=str(client_key) if client_key else None)
        self._connected = threading.Event()
        self._c.on_connect = self._on_connect
        self._c.on_disconnect = self._on_disconnect
        self._c.on_publish = self._on_publish

    def _on_connect(self, client: object, userdata: object, flags: object, rc: object, props: object = None) -> None:
        if rc.is_failure:  # type: ignore[attr-defined]
            return
        self._connected.set()
        items = self._replay.to_replay() if self._replay is not None else []
        if items and not self._closing.is_set():
            self._replay_thread = start_replay(items, self._send_replay, self._pending, self._closing,
                                                self._replay_thread)

    def _on_disconnect(self, client: object, userdata: object, flags: object, rc: object,
                       props: object = None) -> None:
        if self._replay is not None and not self._closing.is_set():
            self._replay.connection_lost()

    def _on_publish(self, client: object, userdata: object, mid: int, rc: object, props: object = None) -> None:
        with self._lock:
            self._pubacks += 1

    def _send_replay(self, topic: str, payload: bytes) -> None:
        info = self._c.publish(topic, payload, qos=1)
        if info.rc in (0, self._no_conn):  # NO_CONN: queued, paho sends it after the next reconnect
            with self._lock:
                self.replayed += 1
                self._replay_infos.append(info)
        else:
            with self._lock:
                self.errors += 1
                self.last_error = info.rc

    def _count_replay_acks(self) -> int:
        """Replays still awaiting their PUBACK (call with the lock held)."""
        infos = self._replay_infos
        while infos and puback_seen(infos[0]):
            infos.popleft()
            self._replay_acked += 1
        return len(infos)

    @property
    def acked(self) -> int:
        """PUBACKs of readings (not of replays): acked <= sent, as the runner's backpressure expects."""
        with self._lock:
            self._count_replay_acks()
            return max(0, min(self.sent, self._pubacks - self._replay_acked))

    def _pending(self) -> int:
        with self._lock:
            return self.sent + self.replayed - self._pubacks

    def connect(self, identities: Sequence[str] = ()) -> None:
        self._c.connect(self._host, self._port, keepalive=KEEPALIVE_S)
        self._c.loop_start()
        if not self._connected.wait(CONNECT_TIMEOUT_S):
            self._c.loop_stop()
            raise ConnectionError(f"no CONNACK from {self._host}:{self._port} within {CONNECT_TIMEOUT_S}s")

    def publish(self, topic: str, payload: bytes, identity: str) -> None:
        if self._replay is not None:  # before the publish: its PUBACK and a loss may come before it returns
            self._replay.record(topic, payload)
        info = self._c.publish(topic, payload, qos=self.qos)
        if info.rc == 0 or (info.rc == self._no_conn and self.qos >= 1):
            # NO_CONN at QoS 1: paho keeps the message and sends it once reconnected
            self.sent += 1
        else:
            self.errors += 1
            self.last_error = info.rc

    def flush(self, timeout_s: float) -> int:
        """Wait for the readings' and the replays' PUBACKs; returns how many readings are still unconfirmed."""
        end = time.monotonic() + timeout_s
        while time.monotonic() < end:
            with self._lock:
                if self._count_replay_acks() == 0 and self._pubacks - self._replay_acked >= self.sent:
                    break
            time.sleep(0.01)
        return max(0, self.sent - self.acked)

    def close(self) -> None:
        self._closing.set()
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

    The CRT reconnects by itself (``on_connection_interrupted`` /
    ``on_connection_resumed``); at QoS 1 each connection's ReplayBuffer
    re-publishes what it published in the last REPLAY_S seconds before the loss.
    """

    def __init__(self, endpoint: str, port: int, *, ca_cert: Path, qos: int = 1, cert_dir: Path | None = None,
                 client_cert: Path | None = None, client_key: Path | None = None, client_prefix: str = "",
                 max_connections: int = MAX_IDENTITY_CONNECTIONS) -> None:
        if cert_dir is None and (client_cert is None or client_key is None):
            raise ValueError("awsiot transport needs cert_dir (per-identity certs) or client_cert and client_key")
        self.sent = self.acked = self.errors = self.replayed = 0
        self._replay_acked = self._replay_failed = 0
        self._endpoint, self._port, self._ca, self._qos = endpoint, port, ca_cert, qos
        self._cert_dir, self._cert, self._key = cert_dir, client_cert, client_key
        self._prefix, self._max = client_prefix, max(1, max_connections)
        self._conns: dict[str, object] = {}
        self._slot: dict[str, str] = {}
        self._lock = threading.Lock()
        self._replays: dict[str, ReplayBuffer] = {}  # connection name -> what it published recently
        self._replay_threads: dict[str, threading.Thread] = {}
        self._closing = threading.Event()

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
            if self._qos >= 1:
                self._replays[name] = ReplayBuffer()
            conn = mqtt_connection_builder.mtls_from_path(
                endpoint=self._endpoint, port=self._port, cert_filepath=str(cert), pri_key_filepath=str(key),
                ca_filepath=str(self._ca), client_id=f"{self._prefix}{name}", clean_session=True,
                keep_alive_secs=KEEPALIVE_S, on_connection_interrupted=self._interrupted_cb(name),
                on_connection_resumed=self._resumed_cb(name))
            conn.connect().result(CONNECT_TIMEOUT_S)
            self._mqtt = mqtt
            self._conns[name] = conn
        return conn

    def _interrupted_cb(self, name: str) -> Callable[..., None]:
        def interrupted(connection: object, error: object, **kwargs: object) -> None:
            buf = self._replays.get(name)
            if buf is not None and not self._closing.is_set():
                buf.connection_lost()
        return interrupted

    def _resumed_cb(self, name: str) -> Callable[..., None]:
        def resumed(connection: object, return_code: object, session_present: bool, **kwargs: object) -> None:
            buf = self._replays.get(name)
            if buf is None or getattr(return_code, "value", return_code) != 0 or self._closing.is_set():
                return
            items = buf.to_replay()
            if items:  # off the CRT's event-loop thread, which delivers the PUBACKs
                self._replay_threads[name] = start_replay(
                    items, lambda topic, payload: self._send_replay(connection, topic, payload),
                    self._replay_pending, self._closing, self._replay_threads.get(name))
        return resumed

    def _send_replay(self, conn: object, topic: str, payload: bytes) -> None:
        try:
            fut, _ = conn.publish(topic=topic, payload=payload,  # type: ignore[attr-defined]
                                  qos=self._mqtt.QoS.AT_LEAST_ONCE)
        except Exception:  # noqa: BLE001 - counted; the replay goes on with the next reading
            with self._lock:
                self._replay_failed += 1
            return
        with self._lock:
            self.replayed += 1
        fut.add_done_callback(self._replay_done)

    def _replay_done(self, fut: object) -> None:
        with self._lock:
            if fut.exception() is None:  # type: ignore[attr-defined]
                self._replay_acked += 1
            else:
                self._replay_failed += 1

    def _replay_pending(self) -> int:
        with self._lock:
            return self.sent - self.acked - self.errors + self.replayed - self._replay_acked - self._replay_failed

    def _done(self, fut: object) -> None:
        with self._lock:
            if fut.exception() is None:  # type: ignore[attr-defined]
                self.acked += 1
            else:
                self.errors += 1

    def publish(self, topic: str, payload: bytes, identity: str) -> None:
        try:
            conn = self._connection(identity)
            buf = self._replays.get(self._slot[identity])
            if buf is not None:  # before the publish: its PUBACK and a loss may come before it returns
                buf.record(topic, payload)
            qos = self._mqtt.QoS.AT_LEAST_ONCE if self._qos == 1 else self._mqtt.QoS.AT_MOST_ONCE
            fut, _ = conn.publish(topic=topic, payload=payload, qos=qos)  # type: ignore[attr-defined]
        except Exception:  # noqa: BLE001 - a failed connect or publish is counted, the run goes on
            self.errors += 1
            return
        self.sent += 1
        fut.add_done_callback(self._done)

    def flush(self, timeout_s: float) -> int:
        """Wait for the readings' and the replays' PUBACKs; returns how many readings are still unconfirmed."""
        end = time.monotonic() + timeout_s
        while time.monotonic() < end:
            with self._lock:
                if (self.acked + self.errors >= self.sent
                        and self._replay_acked + self._replay_failed >= self.replayed):
                    break
            time.sleep(0.01)
        return max(0, self.sent - self.acked)

    def close(self) -> None:
        self._closing.set()
        for conn in self._conns.values():
            try:
                conn.disconnect().result(CONNECT_TIMEOUT_S)  # type: ignore[attr-defined]
            except Exception:  # noqa: BLE001 - closing; nothing left to do
                pass
        self._conns.clear()
