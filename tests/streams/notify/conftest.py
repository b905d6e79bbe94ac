"""Fixtures for the notifier: moto's server mode as the SNS/SQS endpoint, a TCP proxy to cut it off, a webhook
sink, and the notifier as a real subprocess against the session's Kafka."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.request
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import boto3
import pytest

from omnitrack.settings import Settings
from omnitrack.stack.endpoints import Endpoints
from streams.notify.policy import RoutingPolicy, Subscription
from streams.notify.provision import provision
from streams.notify.topics import notify_app_id
from streams.produce import produce as send_records
from streams.topics import topics_for
from tests.streams.conftest import free_port, uncommitted, wait_for
from twin.alerts.contract import encode_event
from twin.alerts.models import (Alert, AlertEvent, AlertTransition, Severity, SubjectKind, TransitionKind,
                                alert_id, dedup_key)

# Dummy credentials for moto only, passed explicitly (never put into this process's environment, where they
# could shadow a developer's real ones for other tests).
AWS_ENV = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing", "AWS_DEFAULT_REGION": "us-east-1",
           "AWS_REGION": "us-east-1"}


def local_session() -> boto3.session.Session:
    return boto3.session.Session(aws_access_key_id="testing", aws_secret_access_key="testing",
                                 region_name="us-east-1")


@pytest.fixture(scope="session")
def moto_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """moto in server mode (real HTTP) on a free port, for the whole session."""
    port = free_port()
    log = open(tmp_path_factory.mktemp("moto") / "moto.log", "wb")
    proc = subprocess.Popen([sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
                            stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    url = f"http://127.0.0.1:{port}"

    def up() -> bool:
        try:
            urllib.request.urlopen(url + "/moto-api/", timeout=1).read()
            return True
        except OSError:
            return False

    try:
        wait_for(up, 30, "moto server")
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)


def aws_client(service: str, url: str) -> Any:
    return local_session().client(service, endpoint_url=url)


class TcpProxy:
    """127.0.0.1:port -> target; `stop()` closes the listener (new connections are refused, as when an endpoint
    is down) and lets requests already inside finish, so no request is half-applied."""

    def __init__(self, target_port: int) -> None:
        self.target_port = target_port
        self.port = free_port()
        self._server: socket.socket | None = None
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        srv = socket.socket()
        srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        srv.bind(("127.0.0.1", self.port))
        srv.listen(64)
        self._server = srv
        self._thread = threading.Thread(target=self._accept, args=(srv,), daemon=True)
        self._thread.start()

    def stop(self) -> None:
        srv, self._server = self._server, None
        if srv is not None:
            try:
                srv.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            srv.close()
        if self._thread is not None:
            self._thread.join(5)

    def _accept(self, srv: socket.socket) -> None:
        while True:
            try:
                client, _ = srv.accept()
            except OSError:
                return
            if self._server is not srv:
                client.close()
                return
            threading.Thread(target=self._pipe_pair, args=(client,), daemon=True).start()

    def _pipe_pair(self, client: socket.socket) -> None:
        try:
            upstream = socket.create_connection(("127.0.0.1", self.target_port), timeout=10)
        except OSError:
            client.close()
            return
        t = threading.Thread(target=_pipe, args=(upstream, client), daemon=True)
        t.start()
        _pipe(client, upstream)
        t.join(30)


def _pipe(src: socket.socket, dst: socket.socket) -> None:
    try:
        while data := src.recv(65536):
            dst.sendall(data)
    except OSError:
        pass
    finally:
        for s in (src, dst):
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass


@dataclass
class WebhookSink:
    """A local HTTP server recording JSON POSTs by path (`/slack`, `/teams`)."""

    server: ThreadingHTTPServer
    received: dict[str, list[dict]] = field(default_factory=dict)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"


@pytest.fixture
def webhook_sink() -> Iterator[WebhookSink]:
    lock = threading.Lock()
    received: dict[str, list[dict]] = {}

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802
            body = json.loads(self.rfile.read(int(self.headers.get("Content-Length", 0))))
            with lock:
                received.setdefault(self.path, []).append(body)
            self.send_response(200)
            self.end_headers()
            self.wfile.write(b"ok")

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield WebhookSink(server, received)
    server.shutdown()
    server.server_close()


# --- alert events ----------------------------------------------------------------------------------------

T0 = datetime.now(timezone.utc).replace(microsecond=0) - timedelta(minutes=5)


def make_event(i: int, severity: Severity, site: str, kind: TransitionKind = TransitionKind.created,
               version: int = 1, parent: str | None = None, tag: str = "") -> AlertEvent:
    key = dedup_key(SubjectKind.device, f"D{tag}{i:04d}", "cold_chain")
    aid = alert_id(key, 1)
    at = T0 + timedelta(seconds=i)
    alert = Alert(id=aid, dedup_key=key, occurrence=1, version=version, subject_kind=SubjectKind.device,
                  subject_id=f"D{tag}{i:04d}", site_id=site, rule="cold_chain", severity=severity,
                  active=kind is not TransitionKind.cleared, parent_id=parent, value=9.5 + i % 5, unit="degC",
                  detail="reefer above 8 degC", created_at=at, updated_at=at, severity_since=at,
                  cleared_at=at if kind is TransitionKind.cleared else None,
                  cleared_by="condition" if kind is TransitionKind.cleared else None)
    return AlertEvent(event_id=f"{aid}:{version}", transition=AlertTransition(kind=kind, at=at), alert=alert)


def produce(bootstrap: str, topic: str, events: list[AlertEvent]) -> None:
    asyncio.run(send_records(bootstrap, topic, map(encode_event, events)))


# --- the test policy and its stand-in subscribers ----------------------------------------------------------

def policy_dict(api_url: str = "http://api.test") -> dict:
    """pager: critical -> sms+push, major at S1 -> push; ops: >= warning created/escalated/cleared -> chat+email."""
    return {
        "version": 1, "api_url": api_url,
        "channels": {"slack": {"webhook_url_env": "TEST_SLACK_URL"}, "teams": {"webhook_url_env": "TEST_TEAMS_URL"}},
        "topics": {"pager": {"name": "pager"}, "ops": {"name": "ops"}},
        "routes": [
            {"name": "crit", "match": {"min_severity": "critical"}, "topic": "pager", "channels": ["sms", "push"]},
            {"name": "major-s1", "match": {"severities": ["major"], "sites": ["S1"]}, "topic": "pager",
             "channels": ["push"]},
            {"name": "ops", "match": {"min_severity": "warning", "transitions": ["created", "escalated", "cleared"]},
             "topic": "ops", "channels": ["email", "slack", "teams"]},
        ],
    }


def expected_channels(ev: AlertEvent) -> set[str]:
    """The test policy written out by hand (independent of `route_event`)."""
    a, kind = ev.alert, ev.transition.kind
    if a.parent_id is not None:
        return set()
    out: set[str] = set()
    paging = {TransitionKind.created, TransitionKind.escalated, TransitionKind.severity_changed,
              TransitionKind.flapping}
    if kind in paging and a.severity is Severity.critical:
        out |= {"sms", "push"}
    if kind in paging and a.severity is Severity.major and a.site_id == "S1":
        out.add("push")
    if kind in {TransitionKind.created, TransitionKind.escalated, TransitionKind.cleared} and a.severity is not Severity.info:
        out |= {"email", "slack", "teams"}
    return out


def mixed_events(n: int, tag: str) -> list[AlertEvent]:
    sevs = [Severity.info, Severity.warning, Severity.major, Severity.critical]
    kinds = [TransitionKind.created, TransitionKind.updated, TransitionKind.escalated, TransitionKind.cleared,
             TransitionKind.created]
    out = []
    for i in range(n):
        parent = "parent-x" if i % 11 == 7 else None
        out.append(make_event(i, sevs[i % 4], f"S{1 + i % 3}", kinds[i % 5], version=1 + i % 3, parent=parent, tag=tag))
    return out


@dataclass
class Channels:
    """One SQS queue per channel, subscribed with the channel's filter to every topic."""

    sqs: Any
    queues: dict[str, str]

    def drain(self, expected: dict[str, Counter], deadline_s: float = 60,
              done: Callable[[], bool] | None = None) -> dict[str, Counter]:
        """Take every message off the queues until `expected` arrived (or `deadline_s`), then, if `done` is given,
        wait until it holds - the notifier has acknowledged every alert, so all it will ever send for them is in
        the queues - and take what is left: a duplicate, if any, is among it. No settle time: moto fans an SNS
        publish out to its SQS subscribers inside the publish call, so the queues hold what was sent once the
        sender has finished."""
        got: dict[str, Counter] = {ch: Counter() for ch in self.queues}

        def poll() -> None:
            for ch, url in self.queues.items():
                while True:
                    r = self.sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, MessageAttributeNames=["All"],
                                                 WaitTimeSeconds=0)
                    msgs = r.get("Messages", [])
                    if not msgs:
                        break
                    for msg in msgs:
                        got[ch][msg["MessageAttributes"]["event_id"]["StringValue"]] += 1
                    self.sqs.delete_message_batch(QueueUrl=url, Entries=[
                        {"Id": str(i), "ReceiptHandle": x["ReceiptHandle"]} for i, x in enumerate(msgs)])

        end = time.monotonic() + deadline_s
        while time.monotonic() < end:
            poll()
            if all(sum(got[ch].values()) >= sum(expected.get(ch, Counter()).values()) for ch in self.queues):
                break
            time.sleep(0.3)
        if done is not None:
            wait_for(done, 60, "the notifier to acknowledge every alert")
        poll()
        return got


def make_channels(moto_url: str, policy: RoutingPolicy, prefix: str, channels: list[str]) -> Channels:
    sqs = aws_client("sqs", moto_url)
    queues, subs = {}, {}
    for ch in channels:
        url = sqs.create_queue(QueueName=f"{prefix}-{ch}")["QueueUrl"]
        arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        queues[ch] = url
        subs[ch] = Subscription(channel=ch, protocol="sqs", endpoint=arn, raw_delivery=True)
    extra = {t: list(subs.values()) for t in policy.topics}
    provision(policy, session=local_session(), endpoint_url=moto_url, extra_subscriptions=extra)
    provision(policy, session=local_session(), endpoint_url=moto_url, extra_subscriptions=extra)  # idempotent
    return Channels(sqs, queues)


def prefixed_policy(prefix: str, **kw: Any) -> dict:
    d = policy_dict(**kw)
    for t in d["topics"].values():
        t["name"] = f"{prefix}-{t['name']}"
    return d


# --- the notifier process ----------------------------------------------------------------------------------

@dataclass
class NotifierProc:
    env: dict[str, str]
    home: Path
    proc: subprocess.Popen | None = None

    @property
    def settings(self) -> Settings:
        return Settings(topic_prefix=self.env["OMNITRACK_TOPIC_PREFIX"], KAFKA_BOOTSTRAP=self.env["KAFKA_BOOTSTRAP"],
                        home=Path(self.env["OMNITRACK_HOME"]))

    def start(self) -> None:
        log = open(self.home / "notifier.log", "ab")
        self.proc = subprocess.Popen([sys.executable, "-m", "streams.notify.worker"], env=self.env, stdout=log,
                                     stderr=subprocess.STDOUT, start_new_session=True)

    def kill(self) -> None:
        assert self.proc is not None
        os.killpg(self.proc.pid, signal.SIGKILL)
        self.proc.wait(10)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(5)

    def caught_up(self) -> bool:
        """Whether the notifier has committed every record of its alerts topic. It acknowledges a record only
        once the record's deliveries (or dead letters) are done, so from then on nothing more is on its way."""
        settings = self.settings
        topics = topics_for(settings)
        return not asyncio.run(uncommitted(settings.bootstrap, notify_app_id(topics), topics.alerts))

    def log(self) -> str:
        p = self.home / "notifier.log"
        return p.read_text(errors="replace") if p.exists() else ""

    def metrics(self) -> str:
        port = self.env["OMNITRACK_NOTIFY_METRICS_PORT"]
        return urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5).read().decode()


def metric_value(text: str, name: str, **labels: str) -> float:
    total = 0.0
    for line in text.splitlines():
        if not line.startswith(name) or line.startswith("#"):
            continue
        head, _, value = line.rpartition(" ")
        if head.split("{")[0] != name:
            continue
        if all(f'{k}="{v}"' in head for k, v in labels.items()):
            total += float(value)
    return total


@pytest.fixture
def notifier_env(stack_endpoints: Endpoints, topic_prefix: str, tmp_path: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("OMNITRACK_")}
    env.update(AWS_ENV)
    env.update(stack_endpoints.process_env())
    env.update({
        "OMNITRACK_TOPIC_PREFIX": topic_prefix,
        "OMNITRACK_HOME": str(tmp_path / "home"),
        "OMNITRACK_NOTIFY_METRICS_PORT": str(free_port()),
        "OMNITRACK_NOTIFY_NODE_TYPES_FROM_NETWORK": "false",
    })
    return env


@pytest.fixture
def notifier(notifier_env: dict[str, str], tmp_path: Path) -> Iterator[NotifierProc]:
    handle = NotifierProc(notifier_env, tmp_path)
    yield handle
    handle.stop()


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:6]}"
