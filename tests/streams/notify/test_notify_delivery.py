"""Routing through SNS (moto server, SQS stand-ins with filter policies) and Slack/Teams webhooks, end to end:
alert events on Kafka -> the notifier subprocess -> exactly the routed alerts in each queue and webhook."""

from __future__ import annotations

import asyncio
import json
from collections import Counter
from pathlib import Path

import pytest
import yaml

from streams.notify.policy import RoutingPolicy
from streams.notify.replay import replay_dlq
from streams.notify.settings import NotifySettings
from streams.notify.topics import notifications_dlq
from streams.notify.worker import ensure_notify_topics
from streams.produce import produce as send_records
from streams.topics import topics_for
from tests.streams.conftest import read_topic
from tests.streams.notify.conftest import (NotifierProc, WebhookSink, expected_channels, make_channels, metric_value,
                                           mixed_events, prefixed_policy, produce)

pytestmark = pytest.mark.integration

SNS_CHANNELS = ["sms", "push", "email", "slack", "teams"]


def test_routes_each_alert_to_exactly_its_channels(notifier: NotifierProc, moto_url: str, webhook_sink: WebhookSink,
                                                   topic_prefix: str, tmp_path: Path) -> None:
    policy_d = prefixed_policy(topic_prefix)
    policy = RoutingPolicy.model_validate(policy_d)
    (tmp_path / "routing.yaml").write_text(yaml.safe_dump(policy_d))
    chans = make_channels(moto_url, policy, topic_prefix, SNS_CHANNELS)
    notifier.env.update({"OMNITRACK_NOTIFY_POLICY_FILE": str(tmp_path / "routing.yaml"),
                         "OMNITRACK_NOTIFY_SNS_ENDPOINT_URL": moto_url,
                         "TEST_SLACK_URL": webhook_sink.url + "/slack", "TEST_TEAMS_URL": webhook_sink.url + "/teams"})
    settings = notifier.settings
    asyncio.run(ensure_notify_topics(settings.bootstrap, topics_for(settings)))
    events = mixed_events(80, "r")
    alerts_topic = f"{topic_prefix}.alerts"
    produce(settings.bootstrap, alerts_topic, events[:40])
    garbage = b'{"event_id": "no alert here"}'  # a producer that broke the contract
    asyncio.run(send_records(settings.bootstrap, alerts_topic, [(b"site-x", garbage)]))
    assert not notifier.caught_up(), "41 records, none committed yet: the condition drain waits on can fail"
    notifier.start()
    produce(settings.bootstrap, alerts_topic, events[40:])

    expected: dict[str, Counter] = {ch: Counter() for ch in SNS_CHANNELS}
    for ev in events:
        for ch in expected_channels(ev):
            expected[ch][ev.event_id] += 1
    assert all(expected[ch] for ch in SNS_CHANNELS), "the mix must exercise every channel"
    assert sum(map(len, expected.values())) < 5 * len(events), "the mix must also have unrouted events"
    sns_expected = {ch: expected[ch] for ch in ("sms", "push", "email")}
    # once the notifier has acknowledged every alert, all it sent is in: the webhook sink records a POST before
    # answering it, and a delivery is done only once answered
    got = chans.drain(sns_expected, deadline_s=90, done=notifier.caught_up)

    assert got["sms"] == expected["sms"], notifier.log()[-3000:]
    assert got["push"] == expected["push"]
    assert got["email"] == expected["email"]
    # slack and teams have webhooks configured: delivered directly, not through SNS
    assert got["slack"] == Counter() and got["teams"] == Counter()

    slack = webhook_sink.received.get("/slack", [])
    teams = webhook_sink.received.get("/teams", [])
    slack_ids = Counter(_slack_event_id(b) for b in slack)
    teams_ids = Counter(_teams_event_id(b) for b in teams)
    assert slack_ids == expected["slack"]
    assert teams_ids == expected["teams"]
    for body in slack:
        _check_block_kit(body)
    for body in teams:
        _check_adaptive_card(body)

    # the record that was no alert event is parked as it came, with its reason and origin; replay reports it
    dlq = read_topic(settings.bootstrap, notifications_dlq(topics_for(settings)), until=lambda r: len(r) >= 1,
                     deadline_s=10)
    assert [(r.key, r.value) for r in dlq] == [(b"site-x", garbage)]
    headers = dict(dlq[0].headers)
    assert headers["reason"] == b"undecodable_alert" and headers["source"].startswith(alerts_topic.encode() + b"/")
    report = replay_dlq(settings, NotifySettings(policy_file=tmp_path / "routing.yaml", sns_endpoint_url=moto_url))
    assert (report.replayed, report.skipped, report.failed) == (0, 1, 0)

    m = notifier.metrics()
    assert metric_value(m, "omnitrack_notify_undecodable_alerts_total") == 1
    assert metric_value(m, "omnitrack_notify_deliveries_total", channel="sms") == sum(expected["sms"].values())
    assert metric_value(m, "omnitrack_notify_alert_to_publish_seconds_count", channel="email") == sum(
        expected["email"].values())


def _slack_event_id(body: dict) -> str:
    ctx = next(b for b in body["blocks"] if b["type"] == "context")
    return ctx["elements"][0]["text"].split("`")[1]


def _teams_event_id(body: dict) -> str:
    facts = next(b for b in body["attachments"][0]["content"]["body"] if b["type"] == "FactSet")["facts"]
    return next(f["value"] for f in facts if f["title"] == "Event")


def _check_block_kit(body: dict) -> None:
    assert isinstance(body["text"], str) and body["text"]  # notification fallback
    types = [b["type"] for b in body["blocks"]]
    assert types[0] == "header" and "section" in types and "context" in types
    header = body["blocks"][0]
    assert header["text"]["type"] == "plain_text" and len(header["text"]["text"]) <= 150
    section = next(b for b in body["blocks"] if b["type"] == "section")
    assert section["text"]["type"] == "mrkdwn"
    assert "/alerts/" in section["text"]["text"] and "At risk" in section["text"]["text"]
    assert all(f["type"] == "mrkdwn" for f in section["fields"]) and len(section["fields"]) <= 10
    assert all(e["type"] in ("mrkdwn", "plain_text", "image") for e in body["blocks"][-1]["elements"])
    json.dumps(body)


def _check_adaptive_card(body: dict) -> None:
    assert body["type"] == "message"
    att = body["attachments"][0]
    assert att["contentType"] == "application/vnd.microsoft.card.adaptive"
    card = att["content"]
    assert card["type"] == "AdaptiveCard" and card["version"] in ("1.2", "1.3", "1.4", "1.5")
    assert card["body"] and all("type" in el for el in card["body"])
    assert card["body"][0]["type"] == "TextBlock" and card["body"][0]["text"].startswith("[")
    assert any("At risk" in el.get("text", "") for el in card["body"])
    action = card["actions"][0]
    assert action["type"] == "Action.OpenUrl" and action["url"].startswith("http://api.test/alerts/")
