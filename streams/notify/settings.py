"""Notifier settings (env prefix `OMNITRACK_NOTIFY_`), until the lead folds them into `omnitrack.settings`.

WHY a separate object for now: `omnitrack/settings.py` is shared; these names are proposed there and read
here so the notifier runs today. Secrets (webhook URLs, AWS keys) are NOT fields: they are read from the
environment variables the policy names, and AWS credentials through boto3's own chain.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from omnitrack.settings import project_root


class NotifySettings(BaseSettings):
    """Knobs of the notifier process; defaults suit production, tests shorten the retry budget."""

    model_config = SettingsConfigDict(env_prefix="OMNITRACK_NOTIFY_", extra="ignore", frozen=True)

    policy_file: Path = Field(default_factory=lambda: project_root() / "deploy" / "notify" / "routing.yaml")
    """The routing policy (YAML)."""

    sns_endpoint_url: str | None = None
    """SNS endpoint override (moto, LocalStack); else boto3's chain (`AWS_ENDPOINT_URL`, region endpoint)."""

    region: str | None = None
    """AWS region; else boto3's chain (`AWS_REGION` / `AWS_DEFAULT_REGION`)."""

    batch_max: int = Field(10, ge=1, le=10)
    """Alerts taken from Kafka per delivery round (PublishBatch takes at most 10 entries per call)."""

    batch_linger_s: float = Field(0.2, gt=0)
    """How long a round waits to fill: bounds the added latency of batching."""

    retry_max_attempts: int = Field(8, ge=1)
    """Attempts per delivery before it is dead-lettered."""

    retry_base_s: float = Field(0.2, gt=0)
    """First backoff ceiling; doubles per attempt (full jitter draws in [0, ceiling])."""

    retry_cap_s: float = Field(20.0, gt=0)
    """Largest backoff ceiling: a long outage still gets probed this often."""

    retry_deadline_s: float = Field(120.0, gt=0)
    """Total time one delivery may spend retrying: past it the alert goes to the DLQ and the stream moves on."""

    request_timeout_s: float = Field(5.0, gt=0)
    """Connect/read timeout of one HTTP call (SNS or webhook): a hung endpoint must not stall the stream."""

    dedup_retention_s: float = Field(7 * 24 * 3600.0, gt=0)
    """How long delivered (alert, version, target) keys are kept: longer than any replay of the topic."""

    in_doubt: Literal["dead_letter", "resend"] = "dead_letter"
    """A publish interrupted by a crash has an unknown outcome. `dead_letter` (default): never send twice, put
    it in the DLQ with reason `in_doubt` for an operator. `resend`: at-least-once, a subscriber may get it twice."""

    metrics_port: int = 0
    """Prometheus port of the notifier; 0 = `metrics_port + 40 + worker_id` of the main settings; -1 = off."""

    node_types_from_network: bool = True
    """Load node kinds from the network file so routes can match `node_types`."""
