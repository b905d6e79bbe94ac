"""The Kafka broker is SIGKILLed mid-stream and comes back 10 s later, or 60 s later. Every engine process that
talks to Kafka - the bridge, a twin worker, the decider, the notifier and the API - must ride the outage out
without a restart of its own, and none may go silent afterwards:

* every reading the devices published over MQTT reaches `telemetry`, and the twin equals a recomputation from it;
* the decider answers a what-if asked after the broker is back;
* the notifier delivers (SNS -> SQS) an alert event produced after the broker is back, exactly once;
* the API shows each device's twin row as the worker last wrote it.

The 60 s outage is in the long variant (tests/faults/long.py). The broker is a private node (tests/faults/private_kafka.py), so the session's stack is never killed. Prints
the recovery time of each process: broker restart -> its first sign of work after the outage.
"""

from __future__ import annotations

import asyncio
import time
import urllib.request
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from omnitrack.settings import Settings
from streams.decider import submit
from streams.notify.policy import RoutingPolicy
from streams.notify.worker import ensure_notify_topics
from streams.topics import topics_for
from tests.faults.long import long_only
from tests.faults.private_kafka import PrivateKafka, private_kafka  # noqa: F401 - the fixture
from tests.streams.api.helpers import bearer
from tests.streams.api.process import ApiProcess, http, run_api
from tests.streams.conftest import Engine, wait_for
from tests.streams.crash_helpers import N_DEVICES, items, publish_in_background, twin_rows_equal_recomputation
from tests.streams.notify.conftest import NotifierProc, make_channels, make_event, prefixed_policy, produce
from twin.alerts.models import Severity

pytestmark = pytest.mark.integration

RATE = 400.0
"""Readings/s published: the stream spans the kill, the outage and the catch-up after it."""

FACTORY = "NA-FAC-004"
"""A node of the example network the what-if asks about."""


@pytest.fixture
def api(private_kafka: PrivateKafka, stack_endpoints, topic_prefix: str,  # noqa: F811 - the fixture
        tmp_path: Path) -> Iterator[ApiProcess]:
    endpoints = stack_endpoints.model_copy(update={"kafka_bootstrap": private_kafka.bootstrap})
    # the test reads every device's row once a second: more than a principal's default rate limit allows
    with run_api(endpoints, topic_prefix, tmp_path, extra_env={"OMNITRACK_API_RATE_LIMIT_PER_S": "0"}) as handle:
        yield handle


def _notifier_ready(notifier: NotifierProc, moto_url: str, prefix: str, tmp_path: Path, bootstrap: str):
    """Point the notifier at the private broker with a policy whose `sms` channel is an SQS queue."""
    policy_d = prefixed_policy(prefix)
    policy_d["channels"] = {}
    (tmp_path / "routing.yaml").write_text(yaml.safe_dump(policy_d))
    chans = make_channels(moto_url, RoutingPolicy.model_validate(policy_d), prefix, ["sms"])
    notifier.env.update({"KAFKA_BOOTSTRAP": bootstrap, "OMNITRACK_NOTIFY_POLICY_FILE": str(tmp_path / "routing.yaml"),
                         "OMNITRACK_NOTIFY_SNS_ENDPOINT_URL": moto_url})
    asyncio.run(ensure_notify_topics(bootstrap, topics_for(notifier.settings)))
    return chans


def _view_records(api: ApiProcess) -> str:
    """The API's records applied per topic, for a failure message."""
    try:
        text = urllib.request.urlopen(api.metrics_url, timeout=5).read().decode()
    except OSError as exc:
        return repr(exc)
    return "; ".join(line for line in text.splitlines() if line.startswith("omnitrack_api_view_records_total"))


def _delivered(chans, event_id: str, got: Counter, deadline_s: float) -> None:
    def arrived() -> bool:
        got.update(chans.drain({}, deadline_s=0)["sms"])
        return got[event_id] >= 1
    wait_for(arrived, deadline_s, f"alert event {event_id} delivered to sms", interval_s=0.5)


@pytest.mark.timeout(900)
@pytest.mark.parametrize("outage_s", [10.0, pytest.param(60.0, marks=long_only)], ids=["10s", "60s"])
def test_broker_outage_every_process_rides_it_out(
        outage_s: float, private_kafka: PrivateKafka, engine: Engine,  # noqa: F811 - the fixture
        notifier: NotifierProc, api: ApiProcess, moto_url: str, topic_prefix: str, tmp_path: Path) -> None:
    bootstrap = private_kafka.bootstrap
    engine.env["KAFKA_BOOTSTRAP"] = bootstrap
    settings = Settings(topic_prefix=topic_prefix, kafka_bootstrap=bootstrap)
    chans = _notifier_ready(notifier, moto_url, topic_prefix, tmp_path, bootstrap)
    alerts_topic = topics_for(settings).alerts
    for role in ("bridge", "worker", "decider"):
        engine.start(role)
    notifier.start()
    wait_for(lambda: "bridge running" in engine.log("bridge"), 60, "bridge subscribed")
    assert asyncio.run(submit(settings, {"request_id": "before", "nodes": [FACTORY], "duration_days": 1,
                                         "trials": 1000}, wait_s=180)) is not None, engine.log("decider")[-3000:]
    got: Counter = Counter()
    before = make_event(0, Severity.critical, "S2", tag=f"{topic_prefix}b")
    produce(bootstrap, alerts_topic, [before])
    _delivered(chans, before.event_id, got, 90)
    pids = {**{role: engine.procs[role].pid for role in ("bridge", "worker", "decider")},
            "notifier": notifier.proc.pid, "api": api.proc.pid}

    n = int(RATE * (outage_s + 30))
    thread, progress = publish_in_background(int(engine.env["OMNITRACK_MQTT_PORT"]),
                                             items(n, "bout", spacing_s=1 / RATE), rate=RATE)
    wait_for(lambda: progress[0] >= RATE * 10, 60, "10 s of readings published")
    wait_for(lambda: http("GET", f"{api.url}/twin/device/bout-0000", headers=bearer("viewer"))[0] == 200, 60,
             "the API following the twin before the outage")
    private_kafka.sigkill()
    time.sleep(outage_s)  # the outage itself is the scenario, not a wait for a condition
    restart_s = private_kafka.up()
    back = time.monotonic()

    recovery: dict[str, float] = {}
    answer = asyncio.run(submit(settings, {"request_id": "after", "nodes": [FACTORY], "duration_days": 2,
                                           "trials": 1000}, wait_s=240))
    assert answer is not None and answer.get("request_id") == "after", engine.log("decider")[-3000:]
    recovery["decider"] = time.monotonic() - back
    after = make_event(1, Severity.critical, "S2", tag=f"{topic_prefix}a")
    produce(bootstrap, alerts_topic, [after])
    _delivered(chans, after.event_id, got, 240)
    recovery["notifier"] = time.monotonic() - back

    thread.join(300)
    assert not thread.is_alive() and progress[0] == n, f"{progress[0]} of {n} published"
    expected = {(f"bout-{i % N_DEVICES:04d}", i // N_DEVICES) for i in range(n)}
    topics = topics_for(settings)
    twin = twin_rows_equal_recomputation(bootstrap, topics.telemetry, f"{topics.app_id}-devices-changelog",
                                         expected, deadline_s=300)
    recovery["bridge+worker"] = time.monotonic() - back
    viewer = bearer("viewer")

    behind: list[tuple[str, object, int]] = []

    def api_caught_up() -> bool:
        behind.clear()
        for device, row in twin.items():
            status, body, _ = http("GET", f"{api.url}/twin/device/{device}", headers=viewer)
            shown = (body.get("state") or {}).get("readings_applied") if status == 200 else status
            if shown != row["readings_applied"]:
                behind.append((device, shown, row["readings_applied"]))
        return not behind

    try:
        wait_for(api_caught_up, 120, "the API showing every device's last twin row", interval_s=1.0)
    except AssertionError as exc:
        raise AssertionError(f"{exc}: {len(behind)} behind, e.g. {behind[:5]}; {_view_records(api)}") from None
    recovery["api"] = time.monotonic() - back

    # nothing delivered twice: the two events once each, after a last look
    got.update(chans.drain({}, deadline_s=0, done=notifier.caught_up)["sms"])
    assert got == Counter({before.event_id: 1, after.event_id: 1}), got
    now = {**{role: engine.procs[role].pid for role in ("bridge", "worker", "decider")},
           "notifier": notifier.proc.pid, "api": api.proc.pid}
    assert now == pids
    dead = [r for r in ("bridge", "worker", "decider") if not engine.alive(r)]
    dead += [r for r, p in (("notifier", notifier.proc), ("api", api.proc)) if p.poll() is not None]
    assert not dead, f"{dead} died instead of riding out the outage"
    print(f"\nKafka SIGKILLed for {outage_s:.0f} s mid-stream (restart took {restart_s:.1f} s): {n} readings, none "
          f"lost, twin equals the recomputation; no process restarted; recovery after the broker was back: "
          + ", ".join(f"{k} {v:.1f} s" for k, v in recovery.items()))

