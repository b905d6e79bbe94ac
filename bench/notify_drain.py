"""An alert storm drained by the real notifier process: rounds of 10 against rounds of `notify_batch_max`.

An `omnitrack notifier` process runs (proven live by one warm-up alert); N alert events are then produced at
once - a storm - and the bench watches its `omnitrack_notify_deliveries_total` until all N are delivered. The
same run does it twice, on fresh topics: `OMNITRACK_NOTIFY_BATCH_MAX=10` (one PublishBatch per round, as
before rounds grew) and the default (100: PublishBatch calls of 10, 4 in flight). The ratio is the storm
speed-up of bigger rounds, with everything the notifier does per alert (decode, route, dedup marks on Kafka,
commit) included.

SNS is moto's server mode behind a proxy that holds each response `--rtt-ms` (default 20: a real region's
round trip; `bench.notify`'s proxy). The policy sends every alert to one topic and channel with no rate limit:
under the shipped policy a storm is mostly deferred into digests - what that policy is for, not what this
measures.
Run: `omnitrack bench notify_drain [--json] [-n 2000] [--rtt-ms 20]` (needs the local stack's Kafka; starts it).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import sys
import tempfile
import time
import uuid
from datetime import datetime, timedelta, timezone
from pathlib import Path

from bench.ingest import _spawn, _stop
from bench.notify import _start_moto, start_delay_proxy
from omnitrack import stack
from omnitrack.ports import free_port_block
from omnitrack.progress import scrape
from omnitrack.settings import Settings, get_settings
from streams.admin import delete_topics
from streams.notify.worker import ensure_notify_topics
from streams.produce import produce
from streams.topics import Topics
from twin.alerts.contract import encode_event
from twin.alerts.models import (Alert, AlertEvent, AlertTransition, Severity, SubjectKind, TransitionKind, alert_id,
                                dedup_key)

# moto only, and only in the notifier process started here: never real credentials sent to a local mock.
_MOTO_ENV = {"AWS_ACCESS_KEY_ID": "bench", "AWS_SECRET_ACCESS_KEY": "bench", "AWS_DEFAULT_REGION": "us-east-1",
             "AWS_REGION": "us-east-1"}


def _events(n: int, tag: str) -> list[AlertEvent]:
    now = datetime.now(timezone.utc) - timedelta(seconds=5)
    out = []
    for i in range(n):
        key = dedup_key(SubjectKind.device, f"N{tag}{i}", "device_silent")
        aid = alert_id(key, 1)
        a = Alert(id=aid, dedup_key=key, occurrence=1, version=1, subject_kind=SubjectKind.device,
                  subject_id=f"N{tag}{i}", site_id=f"S{i % 9}", rule="device_silent", severity=Severity.major,
                  active=True, created_at=now, updated_at=now, severity_since=now)
        out.append(AlertEvent(event_id=f"{aid}:1", transition=AlertTransition(kind=TransitionKind.created, at=now),
                              alert=a))
    return out


def _policy(path: Path, topic_name: str) -> None:
    path.write_text(json.dumps({
        "version": 1, "api_url": "https://omnitrack.example.com/api", "channels": {},
        "topics": {"storm": {"name": topic_name}},
        "routes": [{"name": "all", "match": {}, "topic": "storm", "channels": ["email"]}],
    }))


def _drain(settings: Settings, sns_url: str, n: int, batch_max: int | None, tmp: Path) -> dict:
    """One storm on fresh topics: a notifier is started and proven live (one warm-up alert delivered), then n
    alerts are produced at once; alerts/s from the first produce to the last delivery."""
    prefix = f"d{uuid.uuid4().hex[:10]}"
    home = tmp / prefix
    home.mkdir()
    policy = home / "policy.json"
    _policy(policy, f"storm-{prefix}")
    topic = Topics(prefix).alerts
    asyncio.run(ensure_notify_topics(settings.bootstrap, Topics(prefix)))  # as the notifier makes them
    events = _events(n + 1, prefix)
    port = free_port_block((0,))
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OMNITRACK_", "AWS_"))}
    env.update(stack.endpoints(settings).process_env())
    env.update(_MOTO_ENV)
    env.update({"OMNITRACK_TOPIC_PREFIX": prefix, "OMNITRACK_HOME": str(home),
                "OMNITRACK_NOTIFY_POLICY_FILE": str(policy), "OMNITRACK_NOTIFY_SNS_ENDPOINT_URL": sns_url,
                "OMNITRACK_NOTIFY_METRICS_PORT": str(port), "OMNITRACK_NOTIFY_NODE_TYPES_FROM_NETWORK": "false"})
    if batch_max is not None:
        env["OMNITRACK_NOTIFY_BATCH_MAX"] = str(batch_max)
    proc = _spawn("notifier", env, home / "notifier.log")

    def wait_delivered(count: int, deadline_s: float) -> None:
        end = time.monotonic() + deadline_s
        while (got := scrape(port, "omnitrack_notify_deliveries_total") or 0.0) < count:
            if proc.poll() is not None or time.monotonic() > end:
                raise RuntimeError(f"notifier delivered {got:.0f} of {count} (exit {proc.poll()}); "
                                   f"log: {home / 'notifier.log'}")
            time.sleep(0.01)

    try:
        asyncio.run(produce(settings.bootstrap, topic, map(encode_event, events[:1])))
        wait_delivered(1, 120)  # started, assigned, consuming, SNS topic resolved
        t0 = time.perf_counter()
        asyncio.run(produce(settings.bootstrap, topic, map(encode_event, events[1:])))
        wait_delivered(n + 1, 120)
        seconds = time.perf_counter() - t0
        failed = scrape(port, "omnitrack_notify_failures_total") or 0.0
    finally:
        _stop(proc)
        asyncio.run(delete_topics(settings.bootstrap, prefix))
    return {"alerts_per_s": round(n / seconds, 1), "seconds": round(seconds, 3), "failed": int(failed)}


def run(n: int, rtt_ms: float) -> dict:
    settings = get_settings()
    stack.up(settings)
    moto, moto_url = _start_moto()
    proxy = None
    try:
        sns_url = moto_url
        if rtt_ms > 0:
            proxy, sns_url = start_delay_proxy(moto_url, rtt_ms)
        with tempfile.TemporaryDirectory(prefix="omnitrack-notify-drain-") as tmp:
            small = _drain(settings, sns_url, n, 10, Path(tmp))
            default = _drain(settings, sns_url, n, None, Path(tmp))
        return {"bench": "notify_drain", "alerts": n, "rtt_ms": rtt_ms,
                "round_10": small, "round_default": default, "round_default_size": settings.notify_batch_max,
                "speedup": round(default["alerts_per_s"] / small["alerts_per_s"], 2),
                "python": platform.python_version(), "cpus": os.cpu_count()}
    finally:
        if proxy is not None:
            proxy.terminate()
            proxy.join(5)
        moto.terminate()
        moto.wait(10)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="omnitrack bench notify_drain", description=__doc__)
    parser.add_argument("-n", type=int, default=2000, help="alerts in the storm")
    parser.add_argument("--rtt-ms", type=float, default=20.0, help="round trip added to each SNS request")
    parser.add_argument("--json", action="store_true", help="print one JSON object last")
    args = parser.parse_args(argv)
    result = run(args.n, args.rtt_ms)
    if args.json:
        print(json.dumps(result))
    else:
        s, d = result["round_10"], result["round_default"]
        print(f"{args.n} alerts, SNS {args.rtt_ms:g} ms away: rounds of 10 {s['alerts_per_s']:.0f}/s, rounds of "
              f"{result['round_default_size']} {d['alerts_per_s']:.0f}/s  x{result['speedup']:.1f}")
    return 0 if result["round_10"]["failed"] == 0 and result["round_default"]["failed"] == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
