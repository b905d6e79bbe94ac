"""Fast checks without Kafka: policy validation and routing, gates, message shapes, retry/backoff, the
notifier's dedup / deferral / in-doubt logic on an in-memory store, and idempotent provisioning on moto."""

from __future__ import annotations

import asyncio
import json
import random
import threading
import time
import urllib.parse
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import botocore.exceptions as bex
import pytest

from streams.notify.errors import PermanentDeliveryError, PolicyError, RetryableDeliveryError
from streams.notify.gates import TokenBucket, in_quiet_hours
from streams.notify.messages import SMS_MAX, SUBJECT_MAX, build_entry
from streams.notify.notifier import MemoryStore, Notifier
from streams.notify.policy import QuietHours, RateLimit, RoutingPolicy, load_policy, route_event
from streams.notify.provision import provision
from streams.notify.retry import RetryPolicy
from streams.notify.sns import SnsPublisher, classify_client_error, form_urlencode, make_sns_client
from streams.notify.webhooks import WebhookSender
from tests.streams.notify.conftest import aws_client, local_session, make_event, policy_dict
from twin.alerts.models import Severity, TransitionKind

ROOT = Path(__file__).resolve().parents[3]


def test_default_policy_loads_and_routes() -> None:
    policy = load_policy(ROOT / "deploy" / "notify" / "routing.yaml")
    crit = make_event(1, Severity.critical, "FAC-1")
    assert route_event(policy, crit, "factory") == {"pager": ("sms", "push"), "operations": ("email", "slack", "teams")}
    major = make_event(2, Severity.major, "FAC-1")
    assert route_event(policy, major, "factory")["pager"] == ("push",)
    assert "pager" not in route_event(policy, major, "customer")
    assert route_event(policy, make_event(3, Severity.info, "X"), None) == {}
    child = make_event(4, Severity.critical, "X", parent="p")
    assert route_event(policy, child, None) == {}  # grouped children page through their site alert


@pytest.mark.parametrize("mutate, message", [
    (lambda d: d["routes"][0]["match"].update(severites=["critical"]), "severites"),
    (lambda d: d["routes"][0].update(topic="nope"), "unknown topic"),
    (lambda d: d["channels"].update(sms={"quiet_hours": {"start": "22:00", "end": "06:00", "timezone": "Mars/Base"}}),
     "unknown timezone"),
    (lambda d: d["routes"][0].update(channels=["fax"]), "fax"),
])
def test_policy_errors_name_the_problem(tmp_path: Path, mutate: Any, message: str) -> None:
    d = policy_dict()
    mutate(d)
    f = tmp_path / "p.yaml"
    f.write_text(json.dumps(d))
    with pytest.raises(PolicyError, match=message):
        load_policy(f)


def test_token_bucket_and_quiet_hours() -> None:
    t = [0.0]
    bucket = TokenBucket(RateLimit(burst=2, per_minute=60), clock=lambda: t[0])
    assert bucket.take() and bucket.take() and not bucket.take()
    t[0] += 1.0
    assert bucket.take() and not bucket.take()
    q = QuietHours(start="22:00", end="07:00", timezone="Europe/Berlin")
    assert in_quiet_hours(q, datetime(2026, 1, 10, 23, 30, tzinfo=timezone.utc))  # 00:30 Berlin
    assert in_quiet_hours(q, datetime(2026, 1, 10, 5, 0, tzinfo=timezone.utc))  # 06:00 Berlin
    assert not in_quiet_hours(q, datetime(2026, 1, 10, 12, 0, tzinfo=timezone.utc))


def test_message_shapes() -> None:
    ev = make_event(5, Severity.critical, "SITE-" + "x" * 120, TransitionKind.escalated)
    entry = build_entry(ev, ["sms", "push"], "https://api.example/", "k:1:sns:t")
    bodies = json.loads(entry.message)
    assert {"default", "email", "sms", "APNS", "GCM"} <= set(bodies)
    assert len(bodies["sms"]) <= SMS_MAX and "https://api.example/alerts/" in bodies["default"]
    assert json.loads(bodies["APNS"])["aps"]["alert"]["title"].startswith("CRITICAL")
    assert json.loads(bodies["GCM"])["data"]["alert_id"] == ev.alert.id
    assert entry.subject is not None and len(entry.subject) <= SUBJECT_MAX and "\n" not in entry.subject
    attrs = entry.attributes
    assert len(attrs) <= 10
    assert attrs["severity"] == ("String", "critical") and attrs["transition"] == ("String", "escalated")
    assert json.loads(attrs["channels"][1]) == ["push", "sms"] and attrs["channels"][0] == "String.Array"
    assert set(entry.to_batch_entry()) >= {"Id", "Message", "MessageStructure", "MessageAttributes"}


def test_backoff_is_full_jitter_and_bounded() -> None:
    p = RetryPolicy(max_attempts=10, base_s=0.1, cap_s=1.0, rng=random.Random(1))
    for attempt in range(1, 10):
        samples = [p.backoff(attempt) for _ in range(200)]
        ceiling = min(1.0, 0.1 * 2 ** (attempt - 1))
        assert all(0 <= s <= ceiling for s in samples)
        assert max(samples) > 0.7 * ceiling and min(samples) < 0.3 * ceiling  # spread over the whole range


def test_error_classification() -> None:
    def ce(code: str, status: int) -> bex.ClientError:
        return bex.ClientError({"Error": {"Code": code, "Message": "m"}, "ResponseMetadata": {"HTTPStatusCode": status}},
                               "PublishBatch")

    assert isinstance(classify_client_error(ce("Throttling", 400)), RetryableDeliveryError)
    assert isinstance(classify_client_error(ce("InternalError", 500)), RetryableDeliveryError)
    assert isinstance(classify_client_error(ce("InvalidParameter", 400)), PermanentDeliveryError)
    assert isinstance(classify_client_error(bex.EndpointConnectionError(endpoint_url="http://x")),
                      RetryableDeliveryError)


class _FlakyClient:
    """PublishBatch that fails entry `k0` transiently the first time, then accepts it; records concurrency."""

    def __init__(self, delay_s: float = 0.0) -> None:
        self.calls: list[list[str]] = []
        self.delay_s = delay_s
        self.in_flight = 0
        self.max_in_flight = 0
        self._lock = threading.Lock()

    def create_topic(self, Name: str) -> dict:  # noqa: N803
        return {"TopicArn": f"arn:{Name}"}

    def publish_batch(self, TopicArn: str, PublishBatchRequestEntries: list[dict]) -> dict:  # noqa: N803
        ids = [e["Id"] for e in PublishBatchRequestEntries]
        with self._lock:
            self.calls.append(ids)
            first_k0 = "k0" in ids and sum(c.count("k0") for c in self.calls) == 1
            self.in_flight += 1
            self.max_in_flight = max(self.max_in_flight, self.in_flight)
        time.sleep(self.delay_s)
        with self._lock:
            self.in_flight -= 1
        if first_k0:
            return {"Successful": [{"Id": i, "MessageId": "m"} for i in ids if i != "k0"],
                    "Failed": [{"Id": "k0", "Code": "InternalError", "SenderFault": False}]}
        return {"Successful": [{"Id": i, "MessageId": "m"} for i in ids], "Failed": []}


def test_partial_batch_failure_retries_only_failed_entries() -> None:
    client = _FlakyClient()
    pub = SnsPublisher(client, RetryPolicy(max_attempts=5, base_s=0.001, cap_s=0.01))
    entries = [build_entry(make_event(i, Severity.critical, "S1"), ["sms"], "http://a", f"k{i}") for i in range(12)]
    res = asyncio.run(pub.publish("t", entries))
    assert all(v is None for v in res.values()) and len(res) == 12
    # two chunks (10 + 2, sent concurrently, either may go first), then the failed entry alone
    assert sorted(len(c) for c in client.calls) == [1, 2, 10] and client.calls[-1] == ["k0"]
    assert sorted(i for c in client.calls for i in c) == sorted([f"k{i}" for i in range(12)] + ["k0"])


def test_chunks_are_in_flight_concurrently_up_to_the_limit() -> None:
    client = _FlakyClient(delay_s=0.05)
    pub = SnsPublisher(client, RetryPolicy(max_attempts=3, base_s=0.001, cap_s=0.01), max_in_flight=3)
    entries = [build_entry(make_event(i, Severity.major, "S2"), ["email"], "http://a", f"c{i}") for i in range(65)]
    res = asyncio.run(pub.publish("t", entries))
    assert len(res) == 65 and all(v is None for v in res.values())
    assert sorted(len(c) for c in client.calls) == [5] + [10] * 6
    assert client.max_in_flight == 3


def _sent_body(client: Any, call: str, **kwargs: Any) -> bytes | str:
    """The body a botocore client would put on the wire (captured just before sending, after signing)."""
    seen: list[bytes | str] = []

    class _Stop(Exception):
        pass

    def grab(request: Any, **_: Any) -> None:
        seen.append(request.body)
        raise _Stop

    client.meta.events.register("before-send.sns", grab, unique_id="grab")
    try:
        with pytest.raises(_Stop):
            getattr(client, call)(**kwargs)
    finally:
        client.meta.events.unregister("before-send.sns", unique_id="grab")
    return seen[0]


def test_form_body_is_encoded_once_and_byte_identical_to_botocore() -> None:
    ours = make_sns_client("http://127.0.0.1:9", "us-east-1", 1.0, session=local_session())
    plain = local_session().client("sns", endpoint_url="http://127.0.0.1:9")  # botocore's own urlencode
    entries = [build_entry(make_event(i, Severity.critical, "Süd-Ost ✓"), ["sms", "email"], "https://a.example/x?y=1",
                           f"k{i}") for i in range(10)]
    odd = "100% of a+b=c & d ~ é 🚚\\n\n\t\"'<>[]{}|^`"
    batch = {"TopicArn": "arn:aws:sns:us-east-1:123456789012:t",
             "PublishBatchRequestEntries": [e.to_batch_entry() for e in entries] + [{"Id": "odd", "Message": odd}]}
    single = entries[0].to_publish_kwargs("arn:aws:sns:us-east-1:123456789012:t") | {"Subject": odd[:40]}
    for call, kwargs in (("publish_batch", batch), ("publish", single)):
        mine, theirs = _sent_body(ours, call, **kwargs), _sent_body(plain, call, **kwargs)
        # ours was encoded by the hook (bytes); botocore leaves its own urlencode() result a (pure ASCII) str
        assert isinstance(mine, bytes) and isinstance(theirs, str)
        assert mine == theirs.encode("ascii")
    assert form_urlencode({"a b": odd}) == urllib.parse.urlencode({"a b": odd})


class _FakeSns:
    max_in_flight = 4

    def __init__(self) -> None:
        self.published: list[tuple[str, dict]] = []

    async def publish(self, topic: str, entries: list) -> dict:
        for e in entries:
            self.published.append((topic, e.attributes))
        return {e.id: None for e in entries}


class _ListDlq:
    def __init__(self) -> None:
        self.records: list = []

    async def put(self, record: Any) -> None:
        self.records.append(record)


def _notifier(policy_d: dict, store: MemoryStore) -> tuple[Notifier, _FakeSns, _ListDlq]:
    sns, dlq = _FakeSns(), _ListDlq()
    n = Notifier(RoutingPolicy.model_validate(policy_d), sns, WebhookSender(), store, dlq, environ={})  # type: ignore[arg-type]
    return n, sns, dlq


def test_rate_limited_sms_is_deferred_into_a_digest_not_dropped() -> None:
    d = policy_dict()
    d["channels"] = {"sms": {"rate_limit": {"burst": 2, "per_minute": 0.001}}}
    n, sns, _ = _notifier(d, MemoryStore())
    events = [(make_event(i, Severity.critical, "S1"), None) for i in range(5)]
    res = asyncio.run(n.handle(events))
    pager = [json.loads(a["channels"][1]) for t, a in sns.published if t == "pager"]
    assert [("sms" in c) for c in pager] == [True, True, False, False, False]  # push always, sms twice
    assert res.deferred == 3
    assert n.gates["sms"].pending["pager"].count == 3  # waiting for a token, counted
    n.gates["sms"].bucket._tokens = 1.0  # a token frees up
    assert asyncio.run(n.flush_digests()) == 1
    topic, attrs = sns.published[-1]
    assert attrs["transition"] == ("String", "digest") and json.loads(attrs["channels"][1]) == ["sms"]


def test_dedup_and_in_doubt() -> None:
    store = MemoryStore()
    n, sns, dlq = _notifier(policy_dict() | {"channels": {}}, store)
    ev = make_event(1, Severity.critical, "S1")
    asyncio.run(n.handle([(ev, None)]))
    first = len(sns.published)
    res = asyncio.run(n.handle([(ev, None)]))  # redelivered by Kafka
    assert len(sns.published) == first and res.deduplicated == 2
    ev2 = make_event(2, Severity.critical, "S1")
    store.keys[f"{ev2.alert.id}:1:sns:pager"] = "pending"  # a crash interrupted its publish
    res = asyncio.run(n.handle([(ev2, None)]))
    assert [r.reason for r in dlq.records] == ["in_doubt"] and dlq.records[0].entry is not None
    assert [t for t, _ in sns.published[first:]] == ["ops"]  # not re-sent to pager; ops was new


def test_provision_is_idempotent(moto_url: str) -> None:
    d = policy_dict()
    d["topics"]["pager"]["name"] = "idem-pager"
    d["topics"]["ops"]["name"] = "idem-ops"
    d["topics"]["ops"]["subscriptions"] = [{"channel": "email", "protocol": "email", "endpoint": "ops@example.com",
                                            "filter_policy": {"severity": ["critical", "major"]}}]
    policy = RoutingPolicy.model_validate(d)
    a = provision(policy, session=local_session(), endpoint_url=moto_url, region="us-east-1")
    b = provision(policy, session=local_session(), endpoint_url=moto_url, region="us-east-1")
    assert a == b
    sns = aws_client("sns", moto_url)
    subs = sns.list_subscriptions_by_topic(TopicArn=a["ops"]["arn"])["Subscriptions"]
    assert len(subs) == 1
    fp = json.loads(sns.get_subscription_attributes(SubscriptionArn=subs[0]["SubscriptionArn"])["Attributes"]
                    ["FilterPolicy"])
    assert fp == {"channels": ["email"], "severity": ["critical", "major"]}


def test_waves_put_the_nth_item_of_each_key_in_wave_n() -> None:
    from streams.notify.notifier import waves

    rng = random.Random(7)
    items = [(rng.choice("abcde"), i) for i in range(200)]
    got = waves(items, key=lambda x: x[0])
    assert sorted(x for w in got for x in w) == sorted(items)  # nothing lost or repeated
    for w in got:
        assert len({k for k, _ in w}) == len(w)  # a key at most once per wave
        assert [i for _, i in w] == sorted(i for _, i in w)  # input order within a wave
    for key in "abcde":  # each key's items: one per wave, in input order
        seq = [i for w in got for k, i in w if k == key]
        assert seq == [i for k, i in items if k == key]


class _SlowClient:
    """A boto3 SNS client stand-in whose PublishBatch holds the call that carries one chosen message."""

    def __init__(self, slow_marker: str) -> None:
        self.slow_marker = slow_marker
        self.arrived: list[tuple[str, str, str]] = []  # (topic, event_id, transition) as calls completed
        self.calls = 0
        self.lock = threading.Lock()

    def create_topic(self, Name: str) -> dict:  # noqa: N803 - boto3's parameter name
        return {"TopicArn": f"arn:aws:sns:us-east-1:123456789012:{Name}"}

    def publish_batch(self, TopicArn: str, PublishBatchRequestEntries: list[dict]) -> dict:  # noqa: N803
        entries = PublishBatchRequestEntries
        ids = [e["MessageAttributes"]["event_id"]["StringValue"] for e in entries]
        if any(i == self.slow_marker for i in ids):
            time.sleep(0.3)
        with self.lock:
            self.calls += 1
            self.arrived += [(TopicArn.rsplit(":", 1)[1], i, e["MessageAttributes"]["transition"]["StringValue"])
                             for i, e in zip(ids, entries)]
        return {"Successful": [{"Id": e["Id"], "MessageId": "m"} for e in entries], "Failed": []}


def test_a_big_round_goes_out_in_batches_in_flight_and_one_alerts_transitions_stay_in_order() -> None:
    # 30 alerts created and, in the same round, alert 3 cleared: per topic >= 3 PublishBatch calls, several in
    # flight. The call carrying alert 3's `created` is slow; its `cleared` must still arrive after it (without
    # waves it came first: it rode a later chunk sent alongside).
    created = [make_event(i, Severity.critical, "S1") for i in range(30)]
    cleared = make_event(3, Severity.critical, "S1", kind=TransitionKind.cleared, version=2)
    client = _SlowClient(slow_marker=created[3].event_id)
    d = policy_dict() | {"channels": {}}
    n = Notifier(RoutingPolicy.model_validate(d), SnsPublisher(client), WebhookSender(), MemoryStore(), _ListDlq(),
                 environ={})
    res = asyncio.run(n.handle([(e, None) for e in created + [cleared]]))
    topics = {t for t, _, _ in client.arrived}
    assert topics, "nothing was published"
    both = 0
    for topic in topics:  # the policy may route `cleared` to fewer topics than `created`
        mine = [tr for t, i, tr in client.arrived if t == topic and i.startswith(created[3].alert.id)]
        assert mine in (["created"], ["created", "cleared"]), (topic, mine)
        both += mine == ["created", "cleared"]
        assert sum(1 for t, _, _ in client.arrived if t == topic) == 30 + (len(mine) == 2)
    assert both >= 1, "no topic got both transitions: the test proves nothing"
    assert res.delivered == len(client.arrived) and res.dead_lettered == 0
    assert len(set(client.arrived)) == len(client.arrived)  # none twice
    assert client.calls >= 3 * len(topics)  # >= 30 entries per topic, 10 per PublishBatch


def test_retry_after_is_read_in_both_forms_and_bounded() -> None:
    from email.utils import format_datetime

    from streams.notify.webhooks import MAX_RETRY_AFTER_S, retry_after

    soon = format_datetime(datetime.now(timezone.utc) + timedelta(seconds=30), usegmt=True)
    assert retry_after({"Retry-After": "7"}) == 7.0
    assert 28.0 <= retry_after({"Retry-After": soon}) <= 30.0
    assert retry_after({"Retry-After": "Wed, 21 Oct 2015 07:28:00 GMT"}) == 0.0  # in the past: now
    assert retry_after({"Retry-After": "99999999"}) == MAX_RETRY_AFTER_S
    assert retry_after({"Retry-After": "soon"}) is None and retry_after({}) is None and retry_after(None) is None


def test_a_retry_never_comes_before_retry_after_and_gives_up_when_it_would_pass_the_deadline() -> None:
    policy = RetryPolicy(max_attempts=5, base_s=0.2, cap_s=1.0, deadline_s=60.0, rng=random.Random(1))
    clock = policy.start()
    assert all(clock.next_sleep(at_least=4.0) >= 4.0 for _ in range(3))
    assert policy.start().next_sleep(at_least=61.0) is None  # later than the round may wait: dead-letter now
    assert policy.start().next_sleep() <= 0.2  # no hint: the jittered backoff as before


def test_a_throttled_webhook_reports_the_servers_retry_after() -> None:
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    from streams.notify.webhooks import _post_once

    class Throttle(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802 - http.server's name
            self.rfile.read(int(self.headers["Content-Length"]))
            self.send_response(429)
            self.send_header("Retry-After", "7")
            self.end_headers()

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Throttle)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        with pytest.raises(RetryableDeliveryError) as info:
            _post_once(f"http://127.0.0.1:{server.server_port}/hook", {"text": "x"}, 5.0)
    finally:
        server.shutdown()
    assert info.value.reason == "http_429" and info.value.retry_after_s == 7.0


def test_a_record_redelivered_within_its_round_is_sent_once_and_not_taken_for_in_doubt() -> None:
    store = MemoryStore()
    n, sns, dlq = _notifier(policy_dict() | {"channels": {}}, store)
    events = [make_event(i, Severity.critical, "S1") for i in range(12)]
    res = asyncio.run(n.handle([(e, None) for e in events] + [(events[5], None)]))  # Kafka gave one twice
    sent = [a["event_id"][1] for _, a in sns.published]
    assert sorted(sent) == sorted(e.event_id for e in events for _ in ("pager", "ops"))  # each once per topic
    assert res.dead_lettered == 0 and dlq.records == []
    assert set(store.keys.values()) == {"done"}
