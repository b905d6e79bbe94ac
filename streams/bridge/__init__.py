"""The MQTT → Kafka bridge: validate every message, produce it, and only then acknowledge it."""
