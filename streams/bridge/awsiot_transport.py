"""AWS IoT Core transport: awscrt MQTT 5 over mTLS with manual publish acknowledgement.

The device SDK acknowledges a QoS 1 message when its callback returns unless
the callback takes manual control; we take it, so the PUBACK goes out only
after Kafka has the record, exactly as with the paho transport.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from concurrent.futures import Future

from awscrt import mqtt5
from awsiot import mqtt5_client_builder

from streams.bridge.paho_transport import CONNECT_DEADLINE_S
from streams.bridge.subscriptions import subscriptions
from streams.bridge.transport import Inbound, TransportError


class AwsIotTransport:
    """Subscribes through AWS IoT Core (or any mTLS MQTT 5 broker) with manual PUBACK."""

    def __init__(
        self,
        endpoint: str,
        port: int,
        client_id: str,
        topic_filters: list[str],
        *,
        cert: str,
        key: str,
        ca: str | None,
        share_group: str | None = None,
        receive_maximum: int = 2000,
        session_expiry_s: int = 7 * 24 * 3600,
    ) -> None:
        self._subs = subscriptions(topic_filters, share_group)
        self._deliver: Callable[[Inbound], None] | None = None
        self._connected = threading.Event()
        self._failure: str | None = None
        self._client = mqtt5_client_builder.mtls_from_path(
            endpoint=endpoint,
            port=port,
            cert_filepath=cert,
            pri_key_filepath=key,
            ca_filepath=ca,
            client_id=client_id,
            session_behavior=mqtt5.ClientSessionBehaviorType.REJOIN_ALWAYS,
            session_expiry_interval_sec=session_expiry_s,
            receive_maximum=receive_maximum,
            on_publish_received=self._on_publish,
            on_lifecycle_connection_success=self._on_success,
            on_lifecycle_connection_failure=self._on_failure,
            on_lifecycle_disconnection=lambda _d: self._connected.clear(),
        )

    def _on_success(self, _data: mqtt5.LifecycleConnectSuccessData) -> None:
        packet = mqtt5.SubscribePacket(
            subscriptions=[mqtt5.Subscription(topic_filter=f, qos=mqtt5.QoS.AT_LEAST_ONCE) for f in self._subs.active]
        )
        future: Future = self._client.subscribe(packet)
        future.add_done_callback(self._on_subscribed)

    def _on_subscribed(self, _future: Future) -> None:
        # Then drop the other form a persistent session may still hold (streams/bridge/subscriptions.py); "no
        # subscription existed" is the usual answer.
        done: Future = self._client.unsubscribe(mqtt5.UnsubscribePacket(topic_filters=self._subs.retired))
        done.add_done_callback(lambda _f: self._connected.set())

    def _on_failure(self, data: mqtt5.LifecycleConnectFailureData) -> None:
        self._failure = str(data.exception)

    def _on_publish(self, data: mqtt5.PublishReceivedData) -> None:
        packet = data.publish_packet
        deliver = self._deliver
        if deliver is None:
            return
        if data.acquire_publish_acknowledgement_control is not None:  # QoS 1
            handle = data.acquire_publish_acknowledgement_control()
            ack = lambda: self._client.invoke_publish_acknowledgement(handle)  # noqa: E731
        else:
            ack = lambda: None  # noqa: E731
        deliver(Inbound(packet.topic, bytes(packet.payload or b""), time.time_ns(), ack))

    def start(self, deliver: Callable[[Inbound], None]) -> None:
        self._deliver = deliver
        self._client.start()
        end = time.monotonic() + CONNECT_DEADLINE_S
        while not self._connected.wait(0.1):
            if time.monotonic() > end:
                self._client.stop()
                raise TransportError(f"AWS IoT connect failed: {self._failure or 'timeout'}")

    def stop(self) -> None:
        self._deliver = None
        self._client.stop()

    def connected(self) -> bool:
        return self._connected.is_set()
