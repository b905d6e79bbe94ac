"""SNS outage: a TCP proxy in front of moto is stopped mid-run (moto keeps its state). Short outages are
bridged by retries; past the retry deadline deliveries go to `notifications.dlq` and `replay_dlq` sends them.
Every routed alert arrives exactly once in the end."""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from pathlib import Path

import orjson
import pytest
import yaml

from streams.notify.policy import RoutingPolicy
from streams.notify.replay import replay_dlq
from streams.notify.settings import NotifySettings
from streams.notify.topics import notifications_dlq
from streams.notify.worker import ensure_notify_topics
from streams.topics import topics_for
from tests.streams.conftest import read_topic, wait_for
from tests.streams.notify.conftest import (AWS_ENV, NotifierProc, TcpProxy, expected_channels, make_channels, metric_value,
                                           mixed_events, prefixed_policy, produce)

pytestmark = pytest.mark.integration

CHANNELS = ["sms", "push", "email", "slack", "teams"]


def _expected(events: list) -> dict[str, Counter]:
    out: dict[str, Counter] = {ch: Counter() for ch in CHANNELS}
    for ev in events:
        for ch in expected_channels(ev):
            out[ch][ev.event_id] += 1
    return out


def _merge(a: dict[str, Counter], b: dict[str, Counter]) -> dict[str, Counter]:
    return {ch: a.get(ch, Counter()) + b.get(ch, Counter()) for ch in CHANNELS}


def test_outage_retries_then_dlq_and_replay(notifier: NotifierProc, moto_url: str, topic_prefix: str,
                                            tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    for k, v in AWS_ENV.items():  # replay_dlq runs in this process and uses boto3's credential chain
        monkeypatch.setenv(k, v)
    policy_d = prefixed_policy(topic_prefix)
    policy_d["channels"] = {}  # slack/teams through SNS (their HTTPS relays), so the proxy cuts every channel
    policy = RoutingPolicy.model_validate(policy_d)
    policy_file = tmp_path / "routing.yaml"
    policy_file.write_text(yaml.safe_dump(policy_d))
    chans = make_channels(moto_url, policy, topic_prefix, CHANNELS)
    proxy = TcpProxy(int(moto_url.rsplit(":", 1)[1]))
    proxy.start()
    retry_env = {"OMNITRACK_NOTIFY_RETRY_MAX_ATTEMPTS": "1000", "OMNITRACK_NOTIFY_RETRY_BASE_S": "0.05",
                 "OMNITRACK_NOTIFY_RETRY_CAP_S": "0.4", "OMNITRACK_NOTIFY_RETRY_DEADLINE_S": "5",
                 "OMNITRACK_NOTIFY_REQUEST_TIMEOUT_S": "2"}
    notifier.env.update({"OMNITRACK_NOTIFY_POLICY_FILE": str(policy_file),
                         "OMNITRACK_NOTIFY_SNS_ENDPOINT_URL": proxy.url, **retry_env})
    settings = notifier.settings
    asyncio.run(ensure_notify_topics(settings.bootstrap, topics_for(settings)))
    alerts_topic = topics_for(settings).alerts
    try:
        # phase A: an outage shorter than the retry deadline, in the middle of a stream
        first, second = mixed_events(40, "a1"), mixed_events(40, "a2")
        produce(settings.bootstrap, alerts_topic, first)
        notifier.start()
        exp_first = _expected(first)
        got = chans.drain(exp_first, deadline_s=60)
        proxy.stop()
        produce(settings.bootstrap, alerts_topic, second)
        wait_for(lambda: metric_value(notifier.metrics(), "omnitrack_notify_retries_total") > 0, 20,
                 "retries during the outage")
        time.sleep(1.5)  # the outage goes on a while (the scenario, not a wait for a condition)
        proxy.start()
        exp_a = _merge(exp_first, _expected(second))
        rest = chans.drain({ch: exp_a[ch] - got[ch] for ch in CHANNELS}, deadline_s=60, done=notifier.caught_up)
        got_a = _merge(got, rest)
        for ch in CHANNELS:
            assert got_a[ch] == exp_a[ch], (ch, notifier.log()[-3000:])
        dlq = notifications_dlq(topics_for(settings))
        assert read_topic(settings.bootstrap, dlq, until=lambda r: False, deadline_s=2) == []

        # phase B: an outage longer than the deadline -> DLQ, then replay once the endpoint is back
        proxy.stop()
        third = mixed_events(12, "b")
        exp_b = _expected(third)
        produce(settings.bootstrap, alerts_topic, third)
        n_targets = sum(1 for ev in third for t in _targets(ev))
        records = read_topic(settings.bootstrap, dlq, until=lambda r: len(r) >= n_targets, deadline_s=60)
        assert len(records) == n_targets, notifier.log()[-3000:]
        reasons = {orjson.loads(r.value)["reason"] for r in records}
        assert reasons == {"connection"}
        m = notifier.metrics()
        assert metric_value(m, "omnitrack_notify_failures_total", reason="connection") == sum(
            len(ch) for ch in exp_b.values())
        assert chans.drain({}, deadline_s=0, done=notifier.caught_up) == {ch: Counter() for ch in CHANNELS}

        proxy.start()
        notify = NotifySettings(policy_file=policy_file, sns_endpoint_url=proxy.url, retry_deadline_s=10)
        report = replay_dlq(settings, notify)
        assert (report.replayed, report.failed) == (n_targets, 0)
        got_b = chans.drain(exp_b, deadline_s=30)
        for ch in CHANNELS:
            assert got_b[ch] == exp_b[ch], ch
        # a second replay finds nothing new: replay progress is committed
        assert replay_dlq(settings, notify).replayed == 0
        # replay_dlq publishes in this process and has returned: all it sent is in the queues
        assert chans.drain({}, deadline_s=0) == {ch: Counter() for ch in CHANNELS}
    finally:
        proxy.stop()


def _targets(ev) -> set[str]:  # noqa: ANN001
    chans = expected_channels(ev)
    return ({"pager"} if chans & {"sms", "push"} else set()) | ({"ops"} if chans & {"email", "slack", "teams"} else set())
