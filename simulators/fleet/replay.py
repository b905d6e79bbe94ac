"""Device-side replay of recently published readings after a lost connection.

WHY: a QoS 1 PUBACK only says the broker *has* the message, not that it is safe. Mosquitto 2.0 persists by
snapshot (``autosave_interval 10``, deploy/mosquitto/conf.d/omnitrack.conf), so a reading it acknowledged and
had not yet passed to the bridge is gone if the broker is SIGKILLed before its next snapshot, and no Mosquitto
setting closes that window (docs/operations.md, "Mosquitto killed"). The device's MQTT client cannot help: it
already forgot the message when the PUBACK came. So the device keeps what it published during the last
``REPLAY_S`` seconds and, after a reconnect that follows a lost connection, publishes those readings again.
Re-sending is always safe: each reading carries a per-device ``seq`` and the twin counts a repeat as a
duplicate (twin/device_twin.py ``_apply_seq``).

The buffer is transport-independent (paho, the AWS CRT, the fault tests' device) and thread-safe: ``record``
runs on the publishing thread, ``connection_lost`` and ``to_replay`` on the transport's network thread, and
``start_replay`` publishes the replay from a helper thread so that network thread goes on reading PUBACKs.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable

# Seconds of published readings a device keeps for replay. CONTRACT: it must exceed the broker's snapshot
# interval (Mosquitto ``autosave_interval`` = 10 s) with a margin, or a reading the broker acknowledged and
# lost with its unsaved state in a SIGKILL/crash is never re-sent (acknowledged-reading loss). 20 s = the
# interval, plus up to 10 s for the device to notice the dead connection and for a slow snapshot write.
REPLAY_S = 20.0
# Most readings kept, whatever their age: bounds a device's memory at high rates (200,000 messages of
# ~250 bytes ~ 50 MB). It must cover REPLAY_S at the publisher's peak rate (10,000 messages/s here), or the
# oldest readings of the window fall out before a loss (counted in ``ReplayBuffer.overflowed``).
REPLAY_MAX_MESSAGES = 200_000
# A replay pauses while this many QoS 1 messages (readings and replays) await their PUBACK: packet ids are
# 16-bit and the fleet runner alone lets 20,000 readings wait (runner.MAX_PENDING_MESSAGES); a 20 s replay at
# full rate on top would reuse ids still in flight and fail (paho: MQTT_ERR_QUEUE_SIZE).
REPLAY_MAX_PENDING = 20_000
# Seconds a replay waits for the pending count to fall before it goes on anyway: a broker that stops
# acknowledging must not hold the replay thread (and the readings behind it) forever.
REPLAY_PAUSE_MAX_S = 30.0


class _Entry:
    """One published reading and the last time it was handed to a broker."""

    __slots__ = ("t", "topic", "payload")

    def __init__(self, t: float, topic: str, payload: bytes) -> None:
        self.t, self.topic, self.payload = t, topic, payload


class ReplayBuffer:
    """The readings published in the last ``window_s`` seconds (at most ``max_messages``), in publish order.

    Call ``record`` for every QoS 1 publish *before* handing it to the transport (recorded after, its PUBACK
    and the loss could both come in between: the reading would be neither re-sent nor replayed),
    ``connection_lost`` when the transport reports a lost connection, and ``to_replay`` once the connection is
    back: it returns what to publish again (nothing on the first connect, or after a loss with nothing recent).
    A replayed reading counts as published again at replay time: if the connection is lost once more, before
    the restarted broker's own snapshot, it is replayed again.
    """

    def __init__(self, window_s: float = REPLAY_S, max_messages: int = REPLAY_MAX_MESSAGES,
                 clock: Callable[[], float] = time.monotonic) -> None:
        if window_s <= 0 or max_messages <= 0:
            raise ValueError("window_s and max_messages must be positive")
        self.window_s, self.max_messages = window_s, max_messages
        self._clock = clock
        self._ring: deque[_Entry] = deque()
        self._pending: list[_Entry] | None = None  # captured at the loss, handed out by to_replay
        self._lock = threading.Lock()
        self.overflowed = 0  # readings dropped by the count cap while still inside the time window

    def __len__(self) -> int:
        with self._lock:
            return len(self._ring)

    def _evict(self, now: float) -> None:
        """Drop entries older than the window from the head. A re-stamped (replayed) entry at the head may
        keep older ones behind it for one window at most; ``to_replay`` filters by time, the cap bounds memory."""
        horizon = now - self.window_s
        ring = self._ring
        while ring and ring[0].t < horizon:
            ring.popleft()

    def record(self, topic: str, payload: bytes) -> None:
        """Remember a reading about to be handed to the transport (before, not after: see the class)."""
        with self._lock:
            now = self._clock()
            self._evict(now)
            if len(self._ring) >= self.max_messages:
                if self._ring[0].t >= now - self.window_s:
                    self.overflowed += 1
                self._ring.popleft()
            self._ring.append(_Entry(now, topic, payload))

    def connection_lost(self) -> None:
        """The transport lost its connection: capture every reading published within the window before now.
        Captured here, not at the reconnect, so a long outage does not age the readings out of the window. A
        second loss before ``to_replay`` (a reconnect that failed early) adds what was published since."""
        with self._lock:
            now = self._clock()
            self._evict(now)
            horizon = now - self.window_s
            recent = [e for e in self._ring if e.t >= horizon]
            if self._pending is None:
                self._pending = recent
            else:
                known = {id(e) for e in self._pending}
                self._pending.extend(e for e in recent if id(e) not in known)

    def to_replay(self) -> list[tuple[str, bytes]]:
        """After a (re)connect: the (topic, payload) to publish again, in original order; empty on the first
        connect. Each is re-stamped as published now, and the loss is consumed (a second call returns [])."""
        with self._lock:
            pending, self._pending = self._pending, None
            if not pending:
                return []
            now = self._clock()
            for e in pending:
                e.t = now
            return [(e.topic, e.payload) for e in pending]


def start_replay(items: list[tuple[str, bytes]], send: Callable[[str, bytes], None], pending: Callable[[], int],
                 stop: threading.Event, previous: threading.Thread | None) -> threading.Thread:
    """Publish ``items`` again on a helper thread: the caller is the transport's network thread (its reconnect
    callback), which must go on reading PUBACKs. Runs after ``previous`` (an earlier replay) so the order holds;
    pauses while ``pending()`` exceeds REPLAY_MAX_PENDING."""

    def run() -> None:
        if previous is not None:
            previous.join()
        for topic, payload in items:
            end = time.monotonic() + REPLAY_PAUSE_MAX_S
            while pending() > REPLAY_MAX_PENDING and time.monotonic() < end and not stop.is_set():
                time.sleep(0.01)
            if stop.is_set():
                return
            send(topic, payload)

    thread = threading.Thread(target=run, name="mqtt-replay", daemon=True)
    thread.start()
    return thread
