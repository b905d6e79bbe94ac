"""`omnitrack stack up|status|down` as a user runs them: idempotent up, clean down.

Runs a second, private stack (own state directory and ports) so the session's
shared stack is not disturbed; the Kafka jars cache is shared.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import urllib.request
from pathlib import Path

import pytest

from omnitrack.stack.readiness import port_open

pytestmark = pytest.mark.integration

PORTS = {"OMNITRACK_KAFKA_PORT": 19092, "OMNITRACK_KAFKA_CONTROLLER_PORT": 19093,
         "OMNITRACK_MQTT_PORT": 11883, "OMNITRACK_MQTTS_PORT": 18883, "OMNITRACK_SNS_PORT": 14566}


def _omnitrack(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "omnitrack.cli", *args], env=env,
                          capture_output=True, text=True, timeout=240, check=False)


def _pid_alive(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[-1].split()[0] != "Z"


def test_up_twice_then_down_leaves_nothing(tmp_path: Path) -> None:
    # Everything that would make the stack use an external component instead of starting its own.
    external = ("KAFKA_BOOTSTRAP", "KAFKA_HOME", "AWS_ENDPOINT_URL", "OMNITRACK_AWS_ENDPOINT_URL",
                "OMNITRACK_SNS_MODE", "OMNITRACK_NOTIFY_SNS_ENDPOINT_URL")
    env = {k: v for k, v in os.environ.items() if k not in external}
    env.update({k: str(v) for k, v in PORTS.items()})
    env["OMNITRACK_STACK_DIR"] = str(tmp_path / "stack")
    for port in PORTS.values():
        assert not port_open("127.0.0.1", port), f"port {port} busy before the test"

    try:
        first = _omnitrack(env, "stack", "up", "--json")
        assert first.returncode == 0, first.stderr
        second = _omnitrack(env, "stack", "up", "--json")
        assert second.returncode == 0, second.stderr
        a, b = json.loads(first.stdout), json.loads(second.stdout)
        # the second `up` found the same processes running and started no others
        assert {n: p["pid"] for n, p in a["processes"].items()} == {n: p["pid"] for n, p in b["processes"].items()}
        assert a["kafka_bootstrap"] == "127.0.0.1:19092"
        assert a["mqtts_url"] == "mqtts://127.0.0.1:18883"
        assert a["sns_url"] == "http://127.0.0.1:14566"
        assert set(a["processes"]) == {"kafka", "mosquitto", "moto"}
        with urllib.request.urlopen(a["sns_url"] + "/moto-api/", timeout=5) as resp:  # moto answers HTTP
            assert resp.status == 200
        for path in a["tls"].values():
            assert Path(path).is_file()

        status = _omnitrack(env, "stack", "status", "--json")
        assert status.returncode == 0
        assert json.loads(status.stdout)["sns_url"] == "http://127.0.0.1:14566"
        pids = [p["pid"] for p in json.loads(status.stdout)["processes"].values()]
        assert all(pid and _pid_alive(pid) for pid in pids)
    finally:
        down = _omnitrack(env, "stack", "down")
    assert down.returncode == 0, down.stderr
    assert "mosquitto" in down.stdout and "kafka" in down.stdout and "moto" in down.stdout
    for port in PORTS.values():
        assert not port_open("127.0.0.1", port), f"port {port} still listening after down"
    assert not any(_pid_alive(pid) for pid in pids)

    after = _omnitrack(env, "stack", "status")
    assert after.returncode == 3  # status reports the stack as stopped
    again = _omnitrack(env, "stack", "down")
    assert again.returncode == 0 and "nothing was running" in again.stdout


def test_real_aws_mode_starts_no_moto(tmp_path: Path) -> None:
    """`OMNITRACK_SNS_MODE=aws` or an `AWS_ENDPOINT_URL` elsewhere: the stack leaves SNS alone."""
    from omnitrack import stack
    from omnitrack.settings import Settings

    for extra in ({"sns_mode": "aws"}, {"AWS_ENDPOINT_URL": "http://sns.example.invalid:4566"}):
        settings = Settings(stack_dir=tmp_path / "stack", sns_port=PORTS["OMNITRACK_SNS_PORT"], **extra)
        assert PORTS["OMNITRACK_SNS_PORT"] not in stack.ports(settings)
        ep = stack.endpoints(settings)
        assert ep.processes["moto"].managed is False and ep.processes["moto"].pid is None
        assert ep.sns_url == (None if "sns_mode" in extra else "http://sns.example.invalid:4566")
