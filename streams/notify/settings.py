"""The notifier's view of the one settings object (`omnitrack.settings.Settings`, fields `notify_*`).

WHY a view and not a settings class of its own: every process must read its configuration from one object so
the notifier, the CLI and `omnitrack run` cannot disagree about the endpoint, the policy file or the metrics
port. `NotifySettings` only strips the `notify_` prefix (and accepts overrides, which tests use) and decides
which AWS credentials an SNS client may use.

Secrets (webhook URLs, AWS keys) are NOT fields: they are read from the environment variables the policy
names, and AWS credentials through boto3's own chain.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

import boto3

from omnitrack.settings import Settings, is_loopback_url

__all__ = ["LOCAL_CREDENTIALS", "LOCAL_REGION", "NotifySettings", "sns_session"]

LOCAL_CREDENTIALS = {"aws_access_key_id": "testing", "aws_secret_access_key": "testing"}
"""Dummy keys for a loopback endpoint only: boto3 refuses to sign without some (NoCredentialsError), and a
developer's real keys never need to reach a local mock."""

LOCAL_REGION = "us-east-1"
"""Region for a loopback endpoint when none is configured (NoRegionError otherwise); moto accepts any."""


class NotifySettings:
    """The `notify_*` fields of a `Settings`, without the prefix; read-only."""

    __slots__ = ("settings",)

    def __init__(self, settings: Settings | None = None, **overrides: Any) -> None:
        base = settings if settings is not None else Settings()
        if overrides:
            unknown = sorted(k for k in overrides if f"notify_{k}" not in Settings.model_fields)
            if unknown:
                raise TypeError(f"unknown notifier settings: {', '.join(unknown)}")
            # model_copy skips validation; re-validate through the fields so a bad override fails here.
            data = {**base.model_dump(), **{f"notify_{k}": v for k, v in overrides.items()}}
            data["KAFKA_BOOTSTRAP"] = data.pop("kafka_bootstrap")
            data["KAFKA_HOME"] = data.pop("kafka_home")
            data["AWS_ENDPOINT_URL"] = data.pop("aws_endpoint_url")
            base = Settings.model_validate(data)
        self.settings = base

    # --- fields ---------------------------------------------------------------------------------------
    @property
    def policy_file(self) -> Path:
        return self.settings.notify_policy_file

    @property
    def sns_endpoint_url(self) -> str | None:
        """The resolved endpoint: notify override, `AWS_ENDPOINT_URL`, the stack's moto, or None (real AWS)."""
        return self.settings.sns_endpoint

    @property
    def region(self) -> str | None:
        return self.settings.notify_region

    @property
    def batch_max(self) -> int:
        return self.settings.notify_batch_max

    @property
    def batch_linger_s(self) -> float:
        return self.settings.notify_batch_linger_s

    @property
    def retry_max_attempts(self) -> int:
        return self.settings.notify_retry_max_attempts

    @property
    def retry_base_s(self) -> float:
        return self.settings.notify_retry_base_s

    @property
    def retry_cap_s(self) -> float:
        return self.settings.notify_retry_cap_s

    @property
    def retry_deadline_s(self) -> float:
        return self.settings.notify_retry_deadline_s

    @property
    def request_timeout_s(self) -> float:
        return self.settings.notify_request_timeout_s

    @property
    def dedup_retention_s(self) -> float:
        return self.settings.notify_dedup_retention_s

    @property
    def in_doubt(self) -> Literal["dead_letter", "resend"]:
        return self.settings.notify_in_doubt

    @property
    def metrics_port(self) -> int:
        """The resolved Prometheus port (-1 = off)."""
        return self.settings.metrics_port_for("notifier")

    @property
    def node_types_from_network(self) -> bool:
        return self.settings.notify_node_types_from_network

    def session(self, environ: Mapping[str, str] | None = None) -> boto3.session.Session:
        return sns_session(self.sns_endpoint_url, self.region, environ)


def sns_session(endpoint_url: str | None, region: str | None = None,
                environ: Mapping[str, str] | None = None) -> boto3.session.Session:
    """A boto3 session for `endpoint_url`.

    Real AWS (no endpoint, or a remote one): boto3's own chain, untouched — never dummy keys. A loopback
    endpoint (the stack's moto): the environment's keys and region if set, else `testing` / `us-east-1`.
    """
    if not is_loopback_url(endpoint_url):
        return boto3.session.Session(region_name=region) if region else boto3.session.Session()
    env = environ if environ is not None else os.environ
    keys = {"aws_access_key_id": env.get("AWS_ACCESS_KEY_ID"), "aws_secret_access_key": env.get("AWS_SECRET_ACCESS_KEY")}
    if not all(keys.values()):
        keys = dict(LOCAL_CREDENTIALS)
    region = region or env.get("AWS_REGION") or env.get("AWS_DEFAULT_REGION") or LOCAL_REGION
    return boto3.session.Session(region_name=region, **keys)
