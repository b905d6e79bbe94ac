"""Where the running stack can be reached: the contract of `omnitrack stack status --json`."""

from __future__ import annotations

from pathlib import Path

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
