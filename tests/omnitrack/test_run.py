"""`omnitrack run`: the whole engine in the foreground — twins update, the notifier's SNS topics exist — and
Ctrl-C stops every process."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import urllib.error
import urllib.request
from collections.abc import Callable
from pathlib import Path

import orjson
import pytest

from omnitrack.ports import free_port_block
from omnitrack.settings import Settings
from omnitrack.stack import moto
from omnitrack.stack.endpoints import Endpoints
from omnitrack.stack.readiness import port_open
from streams.notify.settings import sns_session
from streams.topics import Topics
from tests.streams.conftest import free_port, latest_by_key, metrics_base_port, read_topic, wait_for

pytestmark = pytest.mark.integration


def _descendants(pid: int) -> set[int]:
    """Every live process whose ancestry includes `pid`."""
    parents: dict[int, int] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            fields = stat.rsplit(")", 1)[-1].split()
            if fields[0] != "Z":
                parents[int(entry.name)] = int(fields[1])
    found, frontier = set(), {pid}
    while frontier:
        children = {p for p, pp in parents.items() if pp in frontier}
        frontier = children - found
        found |= children
    return found


def _status(url: str, token: str | None = None) -> int:
    request = urllib.request.Request(url, headers={"Authorization": f"Bearer {token}"} if token else {})
    try:
        with urllib.request.urlopen(request, timeout=5) as response:
            return response.status
    except urllib.error.HTTPError as exc:
        return exc.code
    except OSError:
        return 0


def _ctrl_c(proc: subprocess.Popen, deadline_s: float, on_timeout: Callable[[], object] = lambda: None) -> int:
    """SIGINT `proc` as a terminal's Ctrl-C does and return its exit code; kill it (then `on_timeout`) past the
    deadline."""
    proc.send_signal(signal.SIGINT)
    try:
        return proc.wait(deadline_s)
    except subprocess.TimeoutExpired:
        proc.kill()
        on_timeout()
        raise


def _engine_env(topic_prefix: str, tmp_path: Path, **extra: str) -> dict[str, str]:
    """What both tests give `run`: a private home, topic prefix, bridge identity and ports; then `extra`."""
    return {
        "OMNITRACK_TOPIC_PREFIX": topic_prefix, "OMNITRACK_HOME": str(tmp_path / "home"),
        "OMNITRACK_BRIDGE_CLIENT_ID": f"bridge-{topic_prefix}", "OMNITRACK_BRIDGE_SHARE_GROUP": f"g{topic_prefix}",
        "OMNITRACK_METRICS_PORT": str(metrics_base_port()), "OMNITRACK_NOTIFY_METRICS_PORT": str(free_port()),
        "OMNITRACK_API_PORT": str(free_port_block((0,))), **extra,
    }


ENGINE = {"bridge", "worker-0", "decider", "notifier", "api", "simulator"}


def test_run_updates_twins_and_ctrl_c_stops_everything(stack_endpoints: Endpoints, topic_prefix: str,
                                                       tmp_path: Path) -> None:
    # A private moto (own state dir and port) through the stack's own module: `run` then sees AWS_ENDPOINT_URL
    # pointing elsewhere, starts no moto of its own in the shared stack, and provisions this one.
    sns = Settings(stack_dir=tmp_path / "sns-stack", sns_port=free_port())
    moto.up(sns)
    try:
        _run_engine(stack_endpoints, topic_prefix, tmp_path, sns.sns_local_url)
    finally:
        moto.down(sns)
    assert not port_open("127.0.0.1", sns.sns_port), "the test's moto still listens"


def _run_engine(stack_endpoints: Endpoints, topic_prefix: str, tmp_path: Path, sns_url: str) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OMNITRACK_", "AWS_ACCESS", "AWS_SECRET"))}
    env.update(stack_endpoints.process_env())
    env.pop("OMNITRACK_SNS_PORT", None)  # the private moto above, through AWS_ENDPOINT_URL
    env.update(_engine_env(topic_prefix, tmp_path, OMNITRACK_BRIDGE_SESSION_EXPIRY_S="60", AWS_ENDPOINT_URL=sns_url))
    log = tmp_path / "run.log"
    proc = subprocess.Popen([sys.executable, "-m", "omnitrack.cli", "run"], env=env,
                            stdout=open(log, "wb"), stderr=subprocess.STDOUT)
    try:
        wait_for(lambda: "engine running" in log.read_text(errors="replace"), 90, "engine running")
        started = {line.split()[3] for line in log.read_text().splitlines() if " started " in line}
        assert started == ENGINE
        children = _descendants(proc.pid)
        assert len(children) >= 3

        # the routing policy's SNS topics were provisioned before the notifier started, with one SQS
        # stand-in per channel (no phone or inbox is configured here, so those subscriptions were skipped)
        client = sns_session(sns_url).client("sns", endpoint_url=sns_url)
        topic_names = {t["TopicArn"].rsplit(":", 1)[1] for t in client.list_topics()["Topics"]}
        assert {"omnitrack-alerts-pager", "omnitrack-alerts-operations"} <= topic_names
        assert "SNS topics (local):" in log.read_text()

        # twins update: device rows appear in the twin's changelog, status changes on twin.changes
        topics = Topics(topic_prefix)
        rows = read_topic(stack_endpoints.kafka_bootstrap, topics.changelog("devices"),
                          until=lambda r: len(latest_by_key(r)) >= 50, deadline_s=120)
        assert len(latest_by_key(rows)) >= 50
        assert all(orjson.loads(v)["readings_applied"] >= 1 for v in latest_by_key(rows).values())
        changes = read_topic(stack_endpoints.kafka_bootstrap, topics.twin_changes,
                             until=lambda r: len(r) >= 10, deadline_s=60)
        assert {orjson.loads(r.value)["type"] for r in changes} >= {"device_status"}

        # the newcomer's view: a status line from the stages' own metrics, showing readings applied
        def applied_in_status() -> bool:
            found = re.findall(r"twin applied ([\d,]+)", log.read_text(errors="replace"))
            return bool(found) and int(found[-1].replace(",", "")) > 0

        wait_for(applied_in_status, 60, "a status line with readings applied to the twin")

        # the API answers with the development secret `run` created (no OMNITRACK_API_JWT_SECRET is set)
        api = f"http://127.0.0.1:{env['OMNITRACK_API_PORT']}"
        wait_for(lambda: _status(f"{api}/readyz") == 200, 60, "the API ready")
        minted = subprocess.run([sys.executable, "-m", "omnitrack.cli", "api", "token", "--role", "viewer"], env=env,
                                capture_output=True, text=True, timeout=60, check=True).stdout.strip()
        assert _status(f"{api}/alerts", minted) == 200 and _status(f"{api}/alerts") == 401
    finally:
        code = _ctrl_c(proc, 60)
    assert code == 0, log.read_text()[-3000:]
    wait_for(lambda: not any(Path(f"/proc/{pid}").exists() and
                             Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[-1].split()[0] != "Z"
                             for pid in children if Path(f"/proc/{pid}/stat").exists()),
             20, "every engine process gone")
    text = log.read_text()
    for name in ENGINE:
        assert f"stopped {name}" in text
    # the stack was up before `run` (the tests' own): Ctrl-C leaves it up, and says so
    assert "the stack stays up" in text
    mqtt_port = int(stack_endpoints.mqtt_url.rsplit(":", 1)[1])
    assert port_open("127.0.0.1", mqtt_port), "run stopped a Mosquitto it did not start"
    # a newcomer's first screen is clean: the topics were created and served before any process started, so none
    # logged the broker refusing a partition it had just been named leader of (six such ERROR lines before)
    start = text.split("[omnitrack run] bridged", 1)[0]
    assert not [line for line in start.splitlines() if "ERROR" in line], start[-3000:]


def test_run_stops_the_stack_it_started(stack_endpoints: Endpoints, topic_prefix: str, tmp_path: Path) -> None:
    """`make run` then Ctrl-C leaves nothing listening: Mosquitto and moto, started by this `run` in a stack folder
    of its own, are stopped with the engine (Kafka is the tests' own, through KAFKA_BOOTSTRAP, and stays up)."""
    mqtt, mqtts, sns = free_port(), free_port(), free_port()
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("OMNITRACK_", "AWS_", "KAFKA_"))}
    env.update(_engine_env(topic_prefix, tmp_path, KAFKA_BOOTSTRAP=stack_endpoints.kafka_bootstrap,
                           OMNITRACK_STACK_DIR=str(tmp_path / "stack"), OMNITRACK_MQTT_PORT=str(mqtt),
                           OMNITRACK_MQTTS_PORT=str(mqtts), OMNITRACK_SNS_PORT=str(sns)))
    log = tmp_path / "run.log"
    proc = subprocess.Popen([sys.executable, "-m", "omnitrack.cli", "run", "--no-simulator"], env=env,
                            stdout=open(log, "wb"), stderr=subprocess.STDOUT)
    try:
        wait_for(lambda: "engine running" in log.read_text(errors="replace"), 90, "engine running")
        assert all(port_open("127.0.0.1", p) for p in (mqtt, mqtts, sns)), "run's Mosquitto and moto listen"
    finally:
        code = _ctrl_c(proc, 90, lambda: subprocess.run([sys.executable, "-m", "omnitrack.cli", "stack", "down"],
                                                        env=env, timeout=120, check=False))
    text = log.read_text()
    assert code == 0, text[-3000:]
    assert "stopped the stack: moto, mosquitto" in text, text[-3000:]
    assert not [p for p in (mqtt, mqtts, sns) if port_open("127.0.0.1", p)], "a port is still listening"
    kafka_host, kafka_port = stack_endpoints.kafka_bootstrap.split(",")[0].rsplit(":", 1)
    assert port_open(kafka_host, int(kafka_port)), "run stopped a Kafka it did not start"
