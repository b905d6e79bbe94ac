"""Where the running stack can be reached: the contract of `omnitrack stack status --json`."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import urlsplit

from pydantic import BaseModel


class ProcessStatus(BaseModel):
    running: bool
    pid: int | None
    log: Path | None
    managed: bool = True
    """False when the component is external (KAFKA_BOOTSTRAP, AWS_ENDPOINT_URL, real AWS) and the stack does not
    run it."""


class TlsFiles(BaseModel):
    ca_cert: Path
    device_cert: Path
    device_key: Path
    bridge_cert: Path
    bridge_key: Path


class Endpoints(BaseModel):
    """Everything a script or tool needs to talk to the stack."""

    kafka_bootstrap: str
    mqtt_url: str
    mqtts_url: str
    tls: TlsFiles
    api_url: str
    metrics_url: str
    sns_url: str | None = None
    """The SNS endpoint the notifier uses: the stack's moto, an `AWS_ENDPOINT_URL`, or None for real AWS."""
    stack_dir: Path
    processes: dict[str, ProcessStatus]

    def process_env(self) -> dict[str, str]:
        """The environment that points an OmniTrack process at this stack rather than at the default one.

        WHY: a process started with a cleaned environment (tests, `omnitrack run` under a supervisor) would
        otherwise read the default ports and talk to another stack: a developer's, whose bridge then queued
        the test's readings into the dev twin.
        """
        mqtt, mqtts = urlsplit(self.mqtt_url), urlsplit(self.mqtts_url)
        env = {
            "OMNITRACK_STACK_DIR": str(self.stack_dir),
            "KAFKA_BOOTSTRAP": self.kafka_bootstrap,
            "OMNITRACK_MQTT_HOST": mqtt.hostname or "127.0.0.1",
            "OMNITRACK_MQTT_PORT": str(mqtt.port),
            "OMNITRACK_MQTTS_PORT": str(mqtts.port),
        }
        moto = self.processes.get("moto")
        if moto is not None and moto.managed and self.sns_url:
            env["OMNITRACK_SNS_PORT"] = str(urlsplit(self.sns_url).port)
        return env
