"""The real Mosquitto of the local stack: QoS 1 delivery, queued sessions, and device mTLS."""

from __future__ import annotations

import ssl
import threading
import time
import uuid

import paho.mqtt.client as mqtt
import pytest
from awscrt import mqtt as crt_mqtt
from awsiot import mqtt_connection_builder

from omnitrack.stack.endpoints import Endpoints

pytestmark = pytest.mark.integration

HOST = "127.0.0.1"


def _port(url: str) -> int:
    return int(url.rsplit(":", 1)[1])


class Collector:
    """A paho subscriber that records payloads and lets a test wait for a count with a deadline."""

    def __init__(self, client_id: str, clean: bool = True) -> None:
        self.payloads: list[bytes] = []
        self._cond = threading.Condition()
        self.client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=client_id, clean_session=clean)
        self.client.max_inflight_messages_set(0)
        self.client.on_message = self._on_message

    def _on_message(self, _c, _u, msg: mqtt.MQTTMessage) -> None:
        with self._cond:
            self.payloads.append(msg.payload)
            self._cond.notify_all()

    def connect(self, port: int, topic: str) -> None:
        subscribed = threading.Event()
        self.client.on_subscribe = lambda *a: subscribed.set()
        self.client.connect(HOST, port)
        self.client.loop_start()
        self.client.subscribe(topic, qos=1)
        assert subscribed.wait(10), "subscription not acknowledged"

    def wait_for(self, count: int, deadline_s: float = 30) -> list[bytes]:
        with self._cond:
            self._cond.wait_for(lambda: len(self.payloads) >= count, timeout=deadline_s)
            return list(self.payloads)

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


def _publisher(port: int) -> mqtt.Client:
    client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=f"pub-{uuid.uuid4().hex[:8]}")
    client.max_inflight_messages_set(100)
    client.max_queued_messages_set(0)
    client.connect(HOST, port)
    client.loop_start()
    return client


def test_qos1_publish_and_receive(stack_endpoints: Endpoints, topic_prefix: str) -> None:
    port = _port(stack_endpoints.mqtt_url)
    sub = Collector(f"sub-{topic_prefix}")
    sub.connect(port, f"{topic_prefix}/dt/#")
    pub = _publisher(port)
    sent = [f"r{i}".encode() for i in range(500)]
    infos = [pub.publish(f"{topic_prefix}/dt/site-1/dev-{i % 5}/telemetry", p, qos=1) for i, p in enumerate(sent)]
    for info in infos:
        info.wait_for_publish(10)
        assert info.rc == mqtt.MQTT_ERR_SUCCESS
    got = sub.wait_for(len(sent))
    pub.loop_stop()
    sub.close()
    assert sorted(got) == sorted(sent)


def test_persistent_session_queues_more_than_default_limit(stack_endpoints: Endpoints, topic_prefix: str) -> None:
    """An offline QoS 1 subscriber gets every message when it returns.

    Mosquitto's default `max_queued_messages 1000` would silently drop the rest;
    the project's config removes that limit.
    """
    port = _port(stack_endpoints.mqtt_url)
    client_id = f"durable-{topic_prefix}"
    topic = f"{topic_prefix}/queued"
    first = Collector(client_id, clean=False)
    first.connect(port, topic)
    first.close()

    pub = _publisher(port)
    sent = [f"q{i}".encode() for i in range(3000)]
    for info in [pub.publish(topic, p, qos=1) for p in sent]:
        info.wait_for_publish(10)
    pub.disconnect()
    pub.loop_stop()

    again = Collector(client_id, clean=False)
    again.client.connect(HOST, port)
    again.client.loop_start()
    got = again.wait_for(len(sent), deadline_s=60)
    again.close()
    assert len(got) == len(sent)
    assert set(got) == set(sent)


def test_device_mtls_with_awsiotsdk(stack_endpoints: Endpoints, topic_prefix: str) -> None:
    """A device with a client certificate connects over TLS through the AWS IoT Device SDK and publishes QoS 1."""
    tls = stack_endpoints.tls
    sub = Collector(f"sub-{topic_prefix}")
    sub.connect(_port(stack_endpoints.mqtt_url), f"{topic_prefix}/dt/#")

    connection = mqtt_connection_builder.mtls_from_path(
        endpoint="localhost",
        port=_port(stack_endpoints.mqtts_url),
        cert_filepath=str(tls.device_cert),
        pri_key_filepath=str(tls.device_key),
        ca_filepath=str(tls.ca_cert),
        client_id=f"device-{topic_prefix}",
        clean_session=True,
        keep_alive_secs=30,
    )
    connection.connect().result(timeout=15)
    try:
        sent = [f"tls-{i}".encode() for i in range(50)]
        for payload in sent:
            future, _ = connection.publish(
                topic=f"{topic_prefix}/dt/site-1/device-0001/telemetry", payload=payload, qos=crt_mqtt.QoS.AT_LEAST_ONCE
            )
            future.result(timeout=10)  # PUBACK received
    finally:
        connection.disconnect().result(timeout=10)
    got = sub.wait_for(len(sent))
    sub.close()
    assert sorted(got) == sorted(sent)


def test_tls_listener_refuses_client_without_certificate(stack_endpoints: Endpoints) -> None:
    client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=f"nocert-{uuid.uuid4().hex[:6]}")
    client.tls_set(ca_certs=str(stack_endpoints.tls.ca_cert), cert_reqs=ssl.CERT_REQUIRED)
    connected = threading.Event()
    client.on_connect = lambda _c, _u, _f, rc, _p: rc == 0 and connected.set()
    refused = False
    try:
        client.connect(HOST, _port(stack_endpoints.mqtts_url), keepalive=5)
        client.loop_start()
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline and not connected.is_set():
            time.sleep(0.05)
        refused = not connected.is_set()
    except (ssl.SSLError, OSError):
        refused = True
    finally:
        client.loop_stop()
    assert refused, "the TLS listener accepted a client without a certificate"


def test_tls_listener_refuses_certificate_from_another_ca(stack_endpoints: Endpoints, tmp_path) -> None:
    from omnitrack.stack import certs

    rogue = certs.issue(tmp_path, "rogue-device", server=False)  # signed by a fresh, untrusted CA
    connection = mqtt_connection_builder.mtls_from_path(
        endpoint="localhost",
        port=_port(stack_endpoints.mqtts_url),
        cert_filepath=str(rogue.cert),
        pri_key_filepath=str(rogue.key),
        ca_filepath=str(stack_endpoints.tls.ca_cert),
        client_id="rogue-device",
        clean_session=True,
        keep_alive_secs=30,
    )
    with pytest.raises(Exception):  # noqa: B017 - awscrt raises its own AwsCrtError subclasses
        connection.connect().result(timeout=15)
