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

    # --- API and metrics -----------------------------------------------------
    api_port: int = 8080
    metrics_port: int = 9464

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


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process-wide settings, read once from the environment."""
    return Settings()
