"""`omnitrack bridge`: run one bridge process until SIGTERM/SIGINT."""

from __future__ import annotations

import asyncio
import logging
import signal

from aiokafka import AIOKafkaProducer
from prometheus_client import start_http_server

from omnitrack.settings import Settings
from streams.admin import ensure_topics
from streams.bridge.bridge import Bridge
from streams.bridge.transport import Transport
from streams.topics import topics_for
from twin.telemetry import BATCH_TOPIC_FILTER, TELEMETRY_TOPIC_FILTER

FILTERS = [TELEMETRY_TOPIC_FILTER, BATCH_TOPIC_FILTER]


def make_transport(settings: Settings) -> Transport:
    """The transport the settings choose: paho (any broker) or awsiot (AWS IoT Core)."""
    certs = settings.resolved_stack_dir / "certs"
    ca = str(settings.bridge_ca or certs / "ca.crt")
    cert = str(settings.bridge_cert or certs / "omnitrack-bridge.crt")
    key = str(settings.bridge_key or certs / "omnitrack-bridge.key")
    group = settings.bridge_share_group or None
    if settings.bridge_transport == "awsiot":
        from streams.bridge.awsiot_transport import AwsIotTransport

        return AwsIotTransport(settings.iot_endpoint or "localhost", settings.mqtts_port, settings.bridge_client_id,
                               FILTERS, cert=cert, key=key, ca=ca, share_group=group,
                               receive_maximum=settings.bridge_receive_maximum,
                               session_expiry_s=settings.bridge_session_expiry_s)
    from streams.bridge.paho_transport import PahoTransport

    tls = (ca, cert, key) if settings.bridge_tls else None
    port = settings.mqtts_port if settings.bridge_tls else settings.mqtt_port
    return PahoTransport(settings.mqtt_host, port, settings.bridge_client_id, FILTERS, share_group=group,
                         receive_maximum=settings.bridge_receive_maximum,
                         session_expiry_s=settings.bridge_session_expiry_s, tls=tls)


async def serve(settings: Settings) -> None:
    topics = topics_for(settings)
    await ensure_topics(settings.bootstrap, topics)
    producer = AIOKafkaProducer(
        bootstrap_servers=settings.bootstrap,
        acks="all",
        enable_idempotence=True,  # a retried send never duplicates a record within a session
        linger_ms=2,
        max_batch_size=1 << 20,
        compression_type=None,
    )
    await producer.start()
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    known = None
    if settings.device_registry:
        from streams.network_file import load_network

        known = frozenset(d.id for d in load_network(settings.network_file).devices)
    try:
        bridge = Bridge(make_transport(settings), producer, topics,
                        linger_s=settings.bridge_linger_ms / 1000, known_devices=known)
        await bridge.run(stop)
    finally:
        await producer.stop()


def main(settings: Settings) -> int:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s bridge %(levelname)s %(message)s")
    start_http_server(settings.metrics_port_for("bridge"), addr=settings.metrics_host)
    asyncio.run(serve(settings))
    return 0
