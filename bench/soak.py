"""Soak: the whole engine under a steady moderate load for N minutes, watched for growth and loss.

`omnitrack bench soak --minutes N [--rate R] [--json] [--out DIR]` runs what `omnitrack run` runs - bridge, a
twin worker, decider, notifier, API, against a private Mosquitto and the stack's Kafka and moto - with the
fleet simulator publishing R readings/s and a cold-chain breach and an equipment failure every five minutes.
It samples CPU and RSS of every process each second (bench/e2e_monitor.py), then reports:

* memory: each engine process's RSS after warm-up and at the end, its growth, and whether the growth is
  within the stated bound (MEMORY_BOUND_*);
* loss: readings the simulator had acknowledged vs readings the twin applied (its device rows, from the
  changelog), holes in the devices' sequence numbers, alert events on `alerts` more than once, injected
  incidents without an alert, and notifications per SNS channel (received more than once, or dead-lettered
  with their reason);
* lag of the twin group over time; a PNG (RSS, CPU and lag over time) and the JSON beside it.

WHY a separate bench from `e2e`: e2e asks "does the engine find what was injected"; a soak asks "does it
still behave after an hour", which only shows over time: a cache without a bound, a table that only grows,
a leak per reading. Message faults (malformed, duplicates, silent devices) stay out of the soak's fleet so
that every acknowledged reading must be in the twin: a loss is then a number, not an estimate.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import subprocess
import sys
import tempfile
import uuid
from datetime import datetime, timezone
from pathlib import Path

from bench import e2e
from bench import soak_report as rep
from bench.ingest import _engine_env
from omnitrack import stack
from omnitrack.ports import free_port_block
from omnitrack.settings import get_settings
from streams.admin import delete_topics, ensure_topics
from streams.topics import Topics

DEFAULT_RATE = 500.0
"""Readings/s: `omnitrack run`'s demo fleet rate, a quarter of what one worker applies on this machine."""

INCIDENT_EVERY_S = 300
"""A cold-chain breach and an equipment failure this often: alerts and notifications flow the whole run."""

EXTRA_ROLES = ("decider", "notifier", "api")
"""Beside the bridge and the worker (which bench e2e runs): the rest of `omnitrack run`."""


def scenario(duration_s: float) -> dict:
    """Incidents every INCIDENT_EVERY_S seconds and no message faults (module docstring)."""
    events = []
    for start in range(60, int(duration_s) - 90, INCIDENT_EVERY_S):
        events.append({"type": "cold_chain_breach", "select": {"kind": "reefer_temperature", "count": 1},
                       "start_s": start, "duration_s": 60, "peak_c": 11.0})
        events.append({"type": "equipment_failure", "select": {"kind": "vibration", "count": 1},
                       "start_s": start + 30, "duration_s": 45, "factor": 12.0})
    return {"events": events}


def _parse(argv: list[str] | None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(prog="omnitrack bench soak", description=__doc__.splitlines()[0])
    ap.add_argument("--minutes", type=float, default=30.0, help="minutes the fleet publishes")
    ap.add_argument("--rate", type=float, default=DEFAULT_RATE, help="readings/s of the simulated fleet")
    ap.add_argument("--out", default=None, help="result folder (default .omnitrack/bench/soak-<timestamp>/)")
    ap.add_argument("--json", action="store_true", help="print one JSON object of the figures last")
    return ap.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = _parse(argv)
    settings = get_settings()
    endpoints = stack.up(settings)
    stamp = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%SZ")
    out = Path(args.out) if args.out else settings.home / "bench" / f"soak-{stamp}"
    out.mkdir(parents=True, exist_ok=True)
    duration = args.minutes * 60
    (out / "scenario.json").write_text(json.dumps(scenario(duration), indent=1))
    prefix = f"soak{uuid.uuid4().hex[:6]}"
    topics = Topics(prefix)
    # bridge, worker 0, decider, notifier, api metrics (settings.metrics_port_for), and the API itself at +60
    base = free_port_block([0, 1, 30, 40, 50, 60])
    run_args = argparse.Namespace(duration=duration, workers=1, rate=args.rate, grace=30.0,
                                  scenario=str(out / "scenario.json"), sim_processes=1, shared_mqtt=False,
                                  keep_topics=False, json=False)
    collected: list = []
    with tempfile.TemporaryDirectory(prefix="omnitrack-soak-") as tmp:
        env = _engine_env(settings, prefix, Path(tmp) / "home", base)
        asyncio.run(ensure_topics(settings.bootstrap, topics))
        extra = _extra_roles(settings, env, api_port=base + 60)
        rep.purge_channels(settings)
        try:
            e2e_report = e2e._run(run_args, settings, env, topics, base, out, endpoints, extra, collected)
            notifications = rep.drain_channels(settings)
        finally:
            try:
                asyncio.run(delete_topics(settings.bootstrap, prefix))
            except Exception as exc:  # noqa: BLE001 - cleanup is best effort
                print(f"bench soak: could not delete topics {prefix}.*: {exc}", file=sys.stderr)
    data, scrapes = collected
    report = rep.build(args, e2e_report, data, scrapes, notifications, out)
    (out / "soak.json").write_text(report.model_dump_json(indent=2))
    rep.plot(report, e2e_report, out / "soak.png")
    rep.show(report)
    if args.json:
        print(report.model_dump_json())
    return 0 if report.verdict.ok else 1


def _extra_roles(settings, env: dict[str, str], api_port: int) -> dict[str, dict[str, str]]:  # noqa: ANN001
    """The decider, the notifier (its SNS topics provisioned first, with SQS stand-ins per channel, as
    `omnitrack run` does) and the API on a free port with the development token key."""
    from streams.api.keys import api_process_env

    subprocess.run([sys.executable, "-m", "omnitrack.cli", "notify", "provision", "--sqs-standins",
                    "--skip-missing"], env=env, check=True, stdout=subprocess.DEVNULL)
    return {"decider": {}, "notifier": {},
            "api": {**api_process_env(settings), "OMNITRACK_API_PORT": str(api_port)}}


if __name__ == "__main__":
    sys.exit(main())
