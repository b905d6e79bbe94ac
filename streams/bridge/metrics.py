"""Prometheus metrics of the bridge (conventional names: `_total`, `_seconds`)."""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

MESSAGES = Counter("omnitrack_bridge_mqtt_messages_total", "MQTT messages received", ["kind"])
READINGS = Counter("omnitrack_bridge_readings_total", "Valid readings produced to Kafka")
REJECTED = Counter("omnitrack_bridge_rejected_total", "Messages sent to the dead-letter topic", ["reason"])
RECORDS = Counter("omnitrack_bridge_kafka_records_total", "Kafka records produced", ["topic"])
ACKED = Counter("omnitrack_bridge_mqtt_acks_total", "MQTT messages acknowledged after Kafka acknowledged them")
PENDING = Gauge("omnitrack_bridge_unacked_messages", "MQTT messages received but not yet acknowledged")
LATENCY = Histogram(
    "omnitrack_bridge_produce_latency_seconds",
    "From MQTT receipt to Kafka acknowledgement",
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0),
)
