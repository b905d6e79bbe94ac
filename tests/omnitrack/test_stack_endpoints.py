"""omnitrack/stack/endpoints.py: `process_env` points a fresh process at the same stack (pure: starts nothing)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from omnitrack import stack
from omnitrack.settings import Settings

PRIVATE = {"kafka_port": 21092, "kafka_controller_port": 21093, "mqtt_port": 21883, "mqtts_port": 21884,
           "sns_port": 21566}
EXTERNAL = ("KAFKA_BOOTSTRAP", "OMNITRACK_KAFKA_BOOTSTRAP", "AWS_ENDPOINT_URL", "OMNITRACK_AWS_ENDPOINT_URL",
            "OMNITRACK_SNS_MODE", "OMNITRACK_NOTIFY_SNS_ENDPOINT_URL")


def _clean(monkeypatch: pytest.MonkeyPatch) -> None:
    for key in list(os.environ):
        if key.startswith("OMNITRACK_") or key in EXTERNAL:
            monkeypatch.delenv(key)


def test_a_process_given_process_env_sees_the_same_stack(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _clean(monkeypatch)
    original = stack.endpoints(Settings(stack_dir=tmp_path / "s", **PRIVATE))
    env = original.process_env()
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    again = stack.endpoints(Settings())
    assert (again.kafka_bootstrap, again.mqtt_url, again.mqtts_url, again.sns_url, again.stack_dir) == (
        original.kafka_bootstrap, original.mqtt_url, original.mqtts_url, original.sns_url, original.stack_dir)
    assert again.tls == original.tls


def test_an_external_sns_endpoint_is_not_turned_into_a_port(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _clean(monkeypatch)
    env = stack.endpoints(Settings(stack_dir=tmp_path, sns_mode="aws")).process_env()
    assert "OMNITRACK_SNS_PORT" not in env


def test_stack_env_prints_export_lines(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _clean(monkeypatch)
    env = {**os.environ, "OMNITRACK_STACK_DIR": str(tmp_path / "my stack"), "OMNITRACK_MQTT_PORT": "21883"}
    out = subprocess.run([sys.executable, "-m", "omnitrack.cli", "stack", "env"], env=env, capture_output=True,
                         text=True, timeout=60, check=True).stdout
    assert f"export OMNITRACK_STACK_DIR='{tmp_path / 'my stack'}'" in out.splitlines()
    assert "export OMNITRACK_MQTT_PORT=21883" in out.splitlines()
