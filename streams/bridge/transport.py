"""What the bridge needs from an MQTT client, whichever library implements it.

Two transports implement this boundary: paho-mqtt for any MQTT broker and the
AWS IoT Device SDK (awscrt MQTT 5) for AWS IoT Core. Both acknowledge a QoS 1
message only when the bridge calls `ack`, i.e. after Kafka has the record, so a
bridge that dies holding messages gets them again from the broker.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol


@dataclass(frozen=True, slots=True)
class Inbound:
    """One MQTT message as received, with the means to acknowledge it."""

    topic: str
    payload: bytes
    received_ns: int
    """time.time_ns() when the transport handed it over."""
    ack: Callable[[], None]
    """Send the PUBACK (a no-op for QoS 0)."""


class Transport(Protocol):
    """An MQTT subscription that delivers messages and lets the caller acknowledge them later."""

    def start(self, deliver: Callable[[Inbound], None]) -> None:
        """Connect, subscribe, and call `deliver` (from any thread) for every message."""

    def stop(self) -> None:
        """Disconnect without acknowledging anything not yet acknowledged."""

    def connected(self) -> bool:
        """True while the session is up."""


class TransportError(RuntimeError):
    """The MQTT connection could not be made or was refused."""
