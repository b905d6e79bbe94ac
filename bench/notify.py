"""Notifications/s to a local SNS endpoint: PublishBatch (10 entries per call) vs one Publish per alert.

Both paths publish the same prepared alert messages (`streams.notify.messages.build_entry`) through the same
`SnsPublisher` and client, one after the other in one run, so the ratio isolates the batching. The endpoint is
moto's server mode started here on a free port (or `--endpoint URL`, e.g. LocalStack). `--subscribers N`
adds N SQS subscribers with channel filters to each mode's own topic, so the fan-out cost is included (moto's
SQS gets slower as a queue fills, so the two modes never share a queue).

Two batched paths, both the notifier's own `SnsPublisher.publish`, round after round (see `_measure`):
`batched_per_s`, rounds of 10 entries (one PublishBatch per round: alerts trickling in), and
`batched_concurrent_per_s`, rounds of `--round` entries (default `notify_batch_max`, 100: a storm or a backlog),
whose PublishBatch calls of 10 are in flight `MAX_IN_FLIGHT` at a time.

`--rtt-ms X` puts a proxy in front of the endpoint that holds each response for X ms: the round trip to a
real SNS region, which is what batching saves. Locally, moto's per-request and per-entry CPU cost (both
processes on the same cores) dominates and understates the gain; both figures are reported.
Run: `omnitrack bench notify [--json] [-n 2000] [--subscribers 0] [--rtt-ms 20] [--round 100]`.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing as mp
import os
import platform
import socket
import subprocess
import sys
import time
import urllib.request
import uuid
from datetime import datetime, timedelta, timezone
from multiprocessing.process import BaseProcess

import boto3

from omnitrack.stack.readiness import port_open, wait_until
from streams.notify.messages import PublishEntry, build_entry
from streams.notify.sns import BATCH_LIMIT, MAX_IN_FLIGHT, SnsPublisher, make_sns_client
from twin.alerts.models import (Alert, AlertEvent, AlertTransition, Severity, SubjectKind, TransitionKind, alert_id,
                                dedup_key)

# Dummy credentials for the moto server started here: boto3 refuses to sign without some, and real ones must
# never be sent to a local mock. Passed explicitly, never put into the environment.
_LOCAL_CREDS = {"aws_access_key_id": "bench", "aws_secret_access_key": "bench", "region_name": "us-east-1"}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _entries(n: int, tag: str) -> list[PublishEntry]:
    sevs = [Severity.warning, Severity.major, Severity.critical]
    now = datetime.now(timezone.utc)
    out = []
    for i in range(n):
        key = dedup_key(SubjectKind.device, f"B{tag}{i}", "cold_chain")
        aid = alert_id(key, 1)
        at = now - timedelta(seconds=1)
        a = Alert(id=aid, dedup_key=key, occurrence=1, version=1, subject_kind=SubjectKind.device,
                  subject_id=f"B{tag}{i}", site_id=f"S{i % 7}", rule="cold_chain", severity=sevs[i % 3], active=True,
                  value=9.0, unit="degC", created_at=at, updated_at=at, severity_since=at)
        ev = AlertEvent(event_id=f"{aid}:1", transition=AlertTransition(kind=TransitionKind.created, at=at), alert=a)
        out.append(build_entry(ev, ["email", "sms"], "https://omnitrack.example.com/api", f"{aid}:1:sns:bench"))
    return out


def _start_moto() -> tuple[subprocess.Popen, str]:
    port = _free_port()
    proc = subprocess.Popen([sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    end = time.monotonic() + 30
    while time.monotonic() < end:
        try:
            urllib.request.urlopen(url + "/moto-api/", timeout=1).read()
            return proc, url
        except OSError:
            time.sleep(0.2)
    proc.kill()
    raise RuntimeError("moto server did not start")


def _delay_proxy(listen_port: int, target_port: int, delay_s: float) -> None:
    """A TCP proxy that delays the first response bytes of each connection (moto closes after each request)."""
    import asyncio

    async def pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, delay: float) -> None:
        first = True
        try:
            while data := await reader.read(65536):
                if first and delay:
                    await asyncio.sleep(delay)
                first = False
                writer.write(data)
                await writer.drain()
        except (ConnectionError, OSError):
            pass
        finally:
            writer.close()

    async def handle(cr: asyncio.StreamReader, cw: asyncio.StreamWriter) -> None:
        ur, uw = await asyncio.open_connection("127.0.0.1", target_port)
        await asyncio.gather(pipe(cr, uw, 0.0), pipe(ur, cw, delay_s))

    async def serve() -> None:
        server = await asyncio.start_server(handle, "127.0.0.1", listen_port, backlog=256)
        async with server:
            await server.serve_forever()

    asyncio.run(serve())


def start_delay_proxy(endpoint: str, rtt_ms: float) -> tuple[BaseProcess, str]:
    """A `_delay_proxy` process in front of `endpoint` (http://127.0.0.1:PORT), listening once this returns;
    (the process, the URL to use instead)."""
    port = _free_port()
    proxy = mp.get_context("spawn").Process(target=_delay_proxy, daemon=True,
                                            args=(port, int(endpoint.rsplit(":", 1)[1]), rtt_ms / 1000.0))
    proxy.start()
    wait_until(lambda: port_open("127.0.0.1", port), component="bench", what="the round-trip proxy listening",
               deadline_s=30, abort=lambda: not proxy.is_alive())
    return proxy, f"http://127.0.0.1:{port}"


def _session(endpoint: str) -> boto3.session.Session:
    """Dummy credentials for a local endpoint; boto3's own chain for any other (`--endpoint`)."""
    local = endpoint.startswith(("http://127.0.0.1", "http://localhost"))
    return boto3.session.Session(**_LOCAL_CREDS) if local else boto3.session.Session()


def _subscribe(url: str, topic_arn: str, n: int, tag: str) -> None:
    sess = _session(url)
    sqs = sess.client("sqs", endpoint_url=url)
    sns = sess.client("sns", endpoint_url=url)
    for i in range(n):
        q = sqs.create_queue(QueueName=f"bench-{tag}-{i}")["QueueUrl"]
        arn = sqs.get_queue_attributes(QueueUrl=q, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        sns.subscribe(TopicArn=topic_arn, Protocol="sqs", Endpoint=arn,
                      Attributes={"RawMessageDelivery": "true", "FilterPolicy": json.dumps({"channels": ["sms"]})})


def _cpu_s(pid: int | None) -> float:
    """CPU seconds (user + system) of the endpoint's process so far; 0 when it is not ours to watch."""
    if pid is None:
        return 0.0
    import psutil

    t = psutil.Process(pid).cpu_times()
    return t.user + t.system


def _measure(pub: SnsPublisher, endpoint: str, n: int, subscribers: int, tag: str, round_size: int,
             server_pid: int | None = None) -> tuple[float, float, float, int, dict]:
    """(one-at-a-time /s, batched /s, batched-concurrent /s, failed entries, endpoint CPU ms per notification by
    mode), each mode on a fresh topic with fresh subscribers.

    One at a time: one blocking `Publish` per notification, one after the other. Batched: what the notifier does
    for a topic in a delivery round - `await SnsPublisher.publish(topic, <= 10 entries)` (one PublishBatch in a
    worker thread, per-entry results, retry bookkeeping) - round after round. Batched-concurrent: the same with
    rounds of `round_size` entries, whose chunks of 10 are in flight `MAX_IN_FLIGHT` at a time (a full
    notifier round under load).
    """
    topics = {}
    for mode in ("single", "batch", "conc"):
        topics[mode] = f"bench-{tag}-{mode}"
        arn = pub.arn(topics[mode])
        if subscribers:
            _subscribe(endpoint, arn, subscribers, f"{tag}-{mode}")
    single, batched, conc = _entries(n, "s" + tag), _entries(n, "b" + tag), _entries(n, "c" + tag)
    pub.publish_once(topics["single"], _entries(1, "w" + tag)[0])  # warm the connection pool and the endpoint
    cpu0 = _cpu_s(server_pid)
    t0 = time.perf_counter()
    for e in single:
        pub.publish_once(topics["single"], e)
    t_single = time.perf_counter() - t0
    cpu1 = _cpu_s(server_pid)

    async def rounds() -> tuple[float, float, int]:
        failed = 0
        t0 = time.perf_counter()
        for i in range(0, n, BATCH_LIMIT):
            res = await pub.publish(topics["batch"], batched[i:i + BATCH_LIMIT])
            failed += sum(1 for v in res.values() if v is not None)
        t_batch = time.perf_counter() - t0
        cpu["batched"] = _cpu_s(server_pid)
        t0 = time.perf_counter()
        for i in range(0, n, round_size):
            res = await pub.publish(topics["conc"], conc[i:i + round_size])
            failed += sum(1 for v in res.values() if v is not None)
        t_conc = time.perf_counter() - t0
        return t_batch, t_conc, failed

    cpu: dict[str, float] = {}
    t_batch, t_conc, failed = asyncio.run(rounds())
    server_ms = {}
    if server_pid is not None:
        server_ms = {"one_at_a_time": round((cpu1 - cpu0) * 1000 / n, 3),
                     "batched": round((cpu["batched"] - cpu1) * 1000 / n, 3)}
    return n / t_single, n / t_batch, n / t_conc, failed, server_ms


def run(n: int, endpoint: str | None, subscribers: int, rtt_ms: float, round_size: int | None = None) -> dict:
    if round_size is None:
        from omnitrack.settings import Settings

        round_size = Settings().notify_batch_max
    proc = None
    proxy = None
    if endpoint is None:
        proc, endpoint = _start_moto()
    try:
        tag = uuid.uuid4().hex[:8]
        pub = SnsPublisher(make_sns_client(endpoint, "us-east-1", 10.0, session=_session(endpoint)))
        single, batch, conc, failed, server_ms = _measure(pub, endpoint, n, subscribers, tag, round_size,
                                                          proc.pid if proc else None)
        result = {
            "bench": "notify", "notifications": n, "subscribers": subscribers,
            "endpoint": "moto" if proc else endpoint, "batch_size": BATCH_LIMIT,
            "one_at_a_time_per_s": round(single, 1), "batched_per_s": round(batch, 1),
            "speedup": round(batch / single, 2), "batch_failed": failed,
            "round_size": round_size, "max_in_flight": MAX_IN_FLIGHT, "batched_concurrent_per_s": round(conc, 1),
            "concurrent_speedup": round(conc / single, 2),
            # The endpoint's own CPU per notification in each mode (moto started here only). Their ratio bounds
            # the speed-up on loopback whatever the client does: moto parses a PublishBatch in time that grows
            # faster than linearly with its message attributes (docs/notifications.md).
            "endpoint_cpu_ms_per_notification": server_ms,
            "endpoint_cpu_bound_speedup": (round(server_ms["one_at_a_time"] / server_ms["batched"], 2)
                                           if server_ms.get("batched") else None),
            "python": platform.python_version(), "cpus": os.cpu_count(),
        }
        if rtt_ms > 0:
            proxy, via = start_delay_proxy(endpoint, rtt_ms)
            pub2 = SnsPublisher(make_sns_client(via, "us-east-1", 10.0, session=_session(endpoint)))
            s2, b2, c2, f2, _ = _measure(pub2, endpoint, n, subscribers, tag + "r", round_size)
            result.update({"rtt_ms": rtt_ms, "rtt_one_at_a_time_per_s": round(s2, 1), "rtt_batched_per_s": round(b2, 1),
                           "rtt_speedup": round(b2 / s2, 2), "rtt_batched_concurrent_per_s": round(c2, 1),
                           "rtt_concurrent_speedup": round(c2 / s2, 2)})
            result["batch_failed"] += f2
        return result
    finally:
        if proxy is not None:
            proxy.terminate()
            proxy.join(5)
        if proc is not None:
            proc.terminate()
            proc.wait(10)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="omnitrack bench notify", description=__doc__)
    parser.add_argument("-n", type=int, default=2000, help="notifications per mode")
    parser.add_argument("--subscribers", type=int, default=0, help="SQS subscribers on the topic (fan-out)")
    parser.add_argument("--endpoint", default=None, help="an SNS endpoint to use instead of a fresh moto server")
    parser.add_argument("--rtt-ms", type=float, default=20.0,
                        help="also measure behind a proxy adding this round trip per request (0: skip)")
    parser.add_argument("--round", type=int, default=None,
                        help="entries per round for the concurrent figure (default: notify_batch_max)")
    parser.add_argument("--json", action="store_true", help="print one JSON object last")
    args = parser.parse_args(argv)
    result = run(args.n, args.endpoint, args.subscribers, args.rtt_ms, args.round)
    if args.json:
        print(json.dumps(result))
    else:
        print(f"one at a time: {result['one_at_a_time_per_s']:.0f}/s  batched: {result['batched_per_s']:.0f}/s  "
              f"speedup x{result['speedup']:.1f}  ({args.n} notifications, {args.subscribers} SQS subscriber(s))  "
              f"[rounds of {result['round_size']}, {MAX_IN_FLIGHT} batches in flight: "
              f"{result['batched_concurrent_per_s']:.0f}/s "
              f"x{result['concurrent_speedup']:.1f}]")
        if "rtt_speedup" in result:
            print(f"with {args.rtt_ms:g} ms round trip: one at a time {result['rtt_one_at_a_time_per_s']:.0f}/s  "
                  f"batched {result['rtt_batched_per_s']:.0f}/s  speedup x{result['rtt_speedup']:.1f}  "
                  f"[{MAX_IN_FLIGHT} in flight: {result['rtt_batched_concurrent_per_s']:.0f}/s "
                  f"x{result['rtt_concurrent_speedup']:.1f}]")
    return 0 if result["batch_failed"] == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
