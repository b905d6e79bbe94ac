"""SIGKILL the notifier five times at random points while alert events stream in, restarting it each time.
Through SNS (moto's server) to one SQS queue per channel, every routed (event, channel) must arrive exactly once,
or - only for a publish a kill interrupted, whose outcome nobody can know - be parked on the notifications
dead-letter topic with reason `in_doubt`. Nothing is lost, nothing is sent twice. Prints the seed and each
kill's recovery time (kill -> the restarted process delivers again)."""

from __future__ import annotations

import asyncio
import os
import random
import threading
import time
from collections import Counter
from pathlib import Path

import orjson
import pytest
import yaml

from omnitrack.settings import Settings
from streams.notify.policy import RoutingPolicy
from streams.notify.topics import notifications_dlq
from streams.notify.worker import ensure_notify_topics
from streams.topics import topics_for
from tests.streams.conftest import read_topic, wait_for
from tests.streams.notify.conftest import (NotifierProc, expected_channels, make_channels, metric_value, mixed_events,
                                           prefixed_policy, produce)

pytestmark = pytest.mark.integration

CHANNELS = ["sms", "push", "email", "slack", "teams"]
KILLS = 5
EVENTS_PER_S = 20
"""Alert events/s fed while the kills happen: a busy alert stream, far above a real fleet's alert rate, and
within what moto's SQS lets the test drain (at 60/s the queues filled faster than they were read)."""


def _delivering(notifier: NotifierProc) -> bool:
    try:
        text = notifier.metrics()
    except OSError:
        return False  # not listening yet
    return metric_value(text, "omnitrack_notify_deliveries_total") > 0


@pytest.mark.timeout(600)
def test_notifier_kill_loop_delivers_once_or_parks(notifier: NotifierProc, moto_url: str, topic_prefix: str,
                                                   tmp_path: Path) -> None:
    seed = int(os.environ.get("OMNITRACK_FAULTS_SEED", random.randrange(1 << 30)))
    rng = random.Random(seed)
    policy_d = prefixed_policy(topic_prefix)
    policy_d["channels"] = {}
    policy = RoutingPolicy.model_validate(policy_d)
    (tmp_path / "routing.yaml").write_text(yaml.safe_dump(policy_d))
    chans = make_channels(moto_url, policy, topic_prefix, CHANNELS)
    notifier.env.update({"OMNITRACK_NOTIFY_POLICY_FILE": str(tmp_path / "routing.yaml"),
                         "OMNITRACK_NOTIFY_SNS_ENDPOINT_URL": moto_url})
    settings = notifier.settings
    asyncio.run(ensure_notify_topics(settings.bootstrap, topics_for(settings)))
    alerts_topic = topics_for(settings).alerts
    events = mixed_events(10_000, "kl")

    notifier.start()
    fed, stop = [0], threading.Event()

    def feed() -> None:
        began = time.monotonic()
        while not stop.is_set() and fed[0] < len(events):
            time.sleep(max(0.0, began + fed[0] / EVENTS_PER_S - time.monotonic()))  # pacing
            produce(settings.bootstrap, alerts_topic, events[fed[0]:fed[0] + 10])
            fed[0] += 10

    feeder = threading.Thread(target=feed, daemon=True)
    feeder.start()
    wait_for(lambda: _delivering(notifier), 90, "first deliveries")

    got: dict[str, Counter] = {ch: Counter() for ch in CHANNELS}
    recoveries: list[float] = []
    for _ in range(KILLS):
        time.sleep(rng.uniform(1.0, 4.0))  # a random point under load is the scenario, not a wait
        assert feeder.is_alive()
        notifier.kill()
        killed = time.monotonic()
        notifier.start()
        wait_for(lambda: _delivering(notifier), 120, "the restarted notifier delivering")
        recoveries.append(time.monotonic() - killed)
    stop.set()
    feeder.join(30)
    sent = events[:fed[0]]
    expected: dict[str, set[str]] = {ch: set() for ch in CHANNELS}
    for ev in sent:
        for ch in expected_channels(ev):
            expected[ch].add(ev.event_id)

    dlq_topic = notifications_dlq(topics_for(settings))
    in_doubt: dict[str, set[str]] = {}
    dlq: list[dict] = []
    end = time.monotonic() + 180
    while True:
        for ch, n in chans.drain({}, deadline_s=0).items():
            got[ch] += n
        dlq = [orjson.loads(r.value) for r in read_topic(settings.bootstrap, dlq_topic, until=lambda r: False,
                                                          deadline_s=1)]
        in_doubt = {ch: {d["event_id"] for d in dlq if ch in d["channels"]} for ch in CHANNELS}
        if all(expected[ch] <= set(got[ch]) | in_doubt[ch] for ch in CHANNELS) or time.monotonic() > end:
            break
    for ch, n in chans.drain({}, deadline_s=0, done=notifier.caught_up).items():  # a duplicate is in by now
        got[ch] += n

    assert {d["reason"] for d in dlq} <= {"in_doubt"}
    for ch in CHANNELS:
        dupes = {k: n for k, n in got[ch].items() if n > 1}
        assert not dupes, (ch, dupes)
        assert set(got[ch]) <= expected[ch], ch
        missing = expected[ch] - set(got[ch])
        assert missing <= in_doubt[ch], (ch, sorted(missing - in_doubt[ch])[:10])
    # at most the round in flight at each kill can be in doubt: notify_batch_max alerts x 2 topics per kill
    assert len(dlq) <= KILLS * 2 * Settings().notify_batch_max, len(dlq)
    delivered = sum(len(got[ch]) for ch in CHANNELS)
    targets = sum(len(expected[ch]) for ch in CHANNELS)
    print(f"\nnotifier SIGKILLed {KILLS} times under load (seed {seed}): {len(sent)} alert events, {targets} "
          f"(event, channel) deliveries due: {delivered} delivered once, {targets - delivered} parked in_doubt "
          f"({len(dlq)} dead-letter records), none lost, none twice; recovery per kill (kill -> delivering "
          f"again) {', '.join(f'{r:.1f}' for r in recoveries)} s")
