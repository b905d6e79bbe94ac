"""One settings object, read from the environment, for every process.

Why one object: the bridge, the workers, the notifier and the tests must agree
on where the broker is and what the topics are called; reading the environment
in one place keeps them from drifting apart. Secrets (AWS keys, JWT keys) are
read from the environment only and are never written to files by the project.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from pydantic import AliasChoices, Field
from pydantic_settings import BaseSettings, SettingsConfigDict


def project_root() -> Path:
    """The checkout this package runs from, or the working directory when installed."""
    here = Path(__file__).resolve().parent.parent
    return here if (here / "pyproject.toml").is_file() else Path.cwd()


class Settings(BaseSettings):
    """Configuration of every OmniTrack process (environment variables, prefix `OMNITRACK_`)."""

    model_config = SettingsConfigDict(env_prefix="OMNITRACK_", extra="ignore", frozen=True)

    home: Path = Field(default_factory=lambda: project_root() / ".omnitrack")
    """Root of everything the project writes locally (cache, stack state)."""

    stack_dir: Path | None = None
    """State of the local stack (data, logs, pids, certificates); default `home/stack`."""

    cache_dir: Path | None = None
    """Downloaded artefacts such as the Kafka jars; default `home/cache`."""

    # --- Kafka -------------------------------------------------------------
    kafka_bootstrap: str | None = Field(
        default=None, validation_alias=AliasChoices("KAFKA_BOOTSTRAP", "OMNITRACK_KAFKA_BOOTSTRAP")
    )
    """An existing cluster to use; when set the local stack starts no broker."""

    kafka_home: Path | None = Field(
        default=None, validation_alias=AliasChoices("KAFKA_HOME", "OMNITRACK_KAFKA_HOME")
    )
    """An Apache Kafka distribution to run instead of the jars resolved from Maven Central."""

    kafka_port: int = 9092
    kafka_controller_port: int = 9093
    kafka_heap: str = "512m"

    # --- MQTT ---------------------------------------------------------------
    mqtt_host: str = "127.0.0.1"
    mqtt_port: int = 1883
    mqtts_port: int = 8883

    topic_prefix: str = ""
    """Prepended to every Kafka topic and consumer group (tests give each run its own)."""

    # --- Bridge (MQTT -> Kafka) --------------------------------------------------
    bridge_transport: str = Field(default="paho", pattern="^(paho|awsiot)$")
    """`paho` for any MQTT broker, `awsiot` for AWS IoT Core (mTLS, awsiotsdk)."""

    bridge_client_id: str = "omnitrack-bridge-0"
    """MQTT client id; stable across restarts so the persistent session keeps unacked messages."""

    bridge_session_expiry_s: int = 7 * 24 * 3600
    """How long the broker keeps the bridge's session (and queues for it) while the bridge is away."""

    bridge_share_group: str = "omnitrack"
    """Shared-subscription group: several bridges with this group split the load."""

    bridge_tls: bool = False
    """Connect the paho transport to the mTLS listener with the bridge's client certificate."""

    iot_endpoint: str | None = None
    """AWS IoT Core data endpoint (xxxx-ats.iot.REGION.amazonaws.com) for the `awsiot` transport."""

    bridge_cert: Path | None = None
    bridge_key: Path | None = None
    bridge_ca: Path | None = None

    device_registry: bool = False
    """Reject readings from devices missing from the network file (reason `unknown_device`)."""

    bridge_linger_ms: float = 5.0
    """How long the bridge gathers readings before producing one Kafka record per partition."""

    bridge_receive_maximum: int = 2000
    """MQTT 5 receive maximum: unacknowledged messages the broker may push to the bridge at once."""

    network_file: Path = Field(default_factory=lambda: project_root() / "simulators" / "networks" / "example_network.json")
    """The supply network (nodes, lanes, devices) the twin is built on: JSON or YAML."""

    decision_fail_stage: str | None = Field(default=None, pattern="^(info|scenario|impact|strategy|negotiation)$")
    """Fault injection: make this pipeline stage raise, to rehearse failure handling end to end."""

    # --- Workers -----------------------------------------------------------------
    worker_id: int = 0
    """Index of this Faust worker on the machine: picks its RocksDB folder and ports."""

    # --- API and metrics -----------------------------------------------------
    api_port: int = 8080
    metrics_host: str = "127.0.0.1"
    """Interface the Prometheus endpoints bind to (0.0.0.0 in containers)."""

    metrics_port: int = 9464
    """First Prometheus port; the bridge and each worker take the next ones (see `metrics_port_for`)."""

    @property
    def resolved_stack_dir(self) -> Path:
        return self.stack_dir or self.home / "stack"

    @property
    def resolved_cache_dir(self) -> Path:
        return self.cache_dir or self.home / "cache"

    @property
    def bootstrap(self) -> str:
        """The Kafka bootstrap servers every client uses."""
        return self.kafka_bootstrap or f"127.0.0.1:{self.kafka_port}"


    def metrics_port_for(self, role: str) -> int:
        """The Prometheus port of one process: bridge = base, worker N = base + 1 + N."""
        return self.metrics_port if role == "bridge" else self.metrics_port + 1 + self.worker_id


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process-wide settings, read once from the environment."""
    return Settings()
