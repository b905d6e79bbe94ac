"""The `omnitrack` command line: the local stack, the engine, and the tools around it."""

from __future__ import annotations

import argparse
import json
import shlex
import sys

from omnitrack import __version__
from omnitrack.cli_simulate import add_simulate_parser
from omnitrack.settings import MAX_LOCAL_BROKERS, Settings, get_settings


def _stack(args: argparse.Namespace) -> int:
    from omnitrack import stack

    settings = _with_brokers(get_settings(), args.brokers, detect=args.action != "up")
    if args.action == "up":
        endpoints = stack.up(settings)
        print(endpoints.model_dump_json(indent=2) if args.json else _describe(endpoints))
    elif args.action == "down":
        stopped = stack.down(settings)
        print("stopped: " + (", ".join(stopped) if stopped else "nothing was running"))
    elif args.action == "env":
        env = stack.endpoints(settings).process_env()
        print(json.dumps(env) if args.json else "\n".join(f"export {k}={shlex.quote(v)}" for k, v in env.items()))
    else:
        endpoints = stack.endpoints(settings)
        print(endpoints.model_dump_json(indent=2) if args.json else _describe(endpoints))
        return 0 if all(p.running for p in endpoints.processes.values()) else 3
    return 0


def _with_brokers(settings: Settings, brokers: int | None, *, detect: bool) -> Settings:
    """The settings with `--brokers` applied. Without it, and without OMNITRACK_KAFKA_BROKERS, `status`, `env`
    and `down` take the size of a cluster found in the stack folder: after `up --brokers 3`, a plain `status`
    must not call the cluster stopped nor print one broker's bootstrap."""
    if brokers is not None:
        return settings.model_copy(update={"kafka_brokers": brokers})
    if detect and "kafka_brokers" not in settings.model_fields_set:
        from omnitrack.stack import kafka_cluster

        found = kafka_cluster.recorded_nodes(settings)
        if found and max(found) > 1:
            return settings.model_copy(update={"kafka_brokers": max(found)})
    return settings


def _describe(endpoints) -> str:  # noqa: ANN001 - Endpoints, imported lazily
    lines = [
        f"Kafka bootstrap : {endpoints.kafka_bootstrap}",
        f"MQTT            : {endpoints.mqtt_url}",
        f"MQTT over mTLS  : {endpoints.mqtts_url}  (CA {endpoints.tls.ca_cert})",
        f"Device cert/key : {endpoints.tls.device_cert} / {endpoints.tls.device_key}",
        f"API             : {endpoints.api_url}",
        f"Console         : {endpoints.api_url}/console/",
        f"Metrics         : {endpoints.metrics_url}",
        f"SNS             : {endpoints.sns_url or 'AWS (boto3 default chain)'}",
    ]
    for name, proc in endpoints.processes.items():
        state = "running" if proc.running else "stopped"
        where = f"pid {proc.pid}, log {proc.log}" if proc.managed else "external"
        lines.append(f"{name:<16}: {state} ({where})")
    return "\n".join(lines)


def _run(args: argparse.Namespace) -> int:
    from omnitrack import stack
    from omnitrack.run_setup import console_line, create_topics, provision_local_sns
    from omnitrack.services import engine_processes
    from omnitrack.supervisor import Supervisor

    settings = get_settings()
    # A stack that was not up before `run` is `run`'s own, and Ctrl-C stops it too: a newcomer's `make run` must not
    # leave a broker, Mosquitto and moto holding their ports. One that was (`stack up`, another `run`) is left up.
    own_stack = not any(p.running and p.managed for p in stack.endpoints(settings).processes.values())
    try:
        endpoints = stack.up(settings)
        print(_describe(endpoints), flush=True)
        print(console_line(settings, endpoints.api_url), flush=True)
        provision_local_sns(settings)
        create_topics(settings)
        specs = engine_processes(settings, simulate=not args.no_simulator, workers=args.workers)
        from omnitrack.progress import summary

        return Supervisor(specs, status=lambda: summary(settings, args.workers)).run(
            ready_message="engine running; a status line every 10 s; press Ctrl-C to stop")
    finally:
        if own_stack and not args.keep_stack:
            stopped = stack.down(settings)
            print(f"[omnitrack run] stopped the stack: {', '.join(stopped) or 'nothing was running'}", flush=True)
        else:
            print("[omnitrack run] the stack stays up (`omnitrack stack down` stops it)", flush=True)


def _notifier(args: argparse.Namespace) -> int:
    from streams.notify.worker import main as notifier_main

    return notifier_main(get_settings(), loglevel=args.loglevel)


def _notify(args: argparse.Namespace) -> int:
    import json

    settings = get_settings()
    if args.action == "provision":
        from streams.notify.provision import describe, provision_for

        from streams.notify.errors import PolicyError

        try:
            result = provision_for(settings, sqs_standins=args.sqs_standins, skip_missing=args.skip_missing)
        except PolicyError as exc:
            hint = " (set it, or pass --skip-missing)" if "is not set" in str(exc) else ""
            raise PolicyError(f"{exc}{hint}") from exc
        print(json.dumps(result, indent=2) if args.json else "\n".join(describe(settings, result)))
        return 0
    from streams.notify.replay import replay_dlq

    report = replay_dlq(settings, limit=args.limit)
    print(report.model_dump_json(indent=2))
    return 1 if report.failed else 0


def _bridge(_args: argparse.Namespace) -> int:
    from streams.bridge.main import main as bridge_main

    return bridge_main(get_settings())


def _worker(args: argparse.Namespace) -> int:
    from streams.worker import main as worker_main

    return worker_main(get_settings(), loglevel=args.loglevel)


def _api(args: argparse.Namespace) -> int:
    from streams.api.main import serve, token

    if args.action == "token":
        return token(get_settings(), role=args.role, sub=args.sub, ttl_s=args.ttl)
    return serve(get_settings(), loglevel=args.loglevel)


def _detect(args: argparse.Namespace) -> int:
    import time
    from pathlib import Path

    from omnitrack.detect import Refused, detect_path

    src = Path(args.source)
    if not src.exists():
        print(f"omnitrack detect: {src} does not exist", file=sys.stderr)
        return 2
    out = Path(args.output) if args.output else (src.parent / f"{src.stem}.scored.csv" if src.is_file() else src.with_name(src.name + "-scored"))
    started = time.perf_counter()
    reports = detect_path(src, out, explain_at=args.explain)
    refused = [r for r in reports if isinstance(r, Refused)]
    for r in reports:
        if isinstance(r, Refused):
            print(f"omnitrack detect: refused {r.reason}", file=sys.stderr)
        elif r.unreadable:
            lines = ", ".join(map(str, r.first_unreadable)) + (", ..." if r.unreadable > len(r.first_unreadable) else "")
            print(f"omnitrack detect: {r.src}: {r.unreadable} unreadable row(s) written with score 0 (line {lines})",
                  file=sys.stderr)
    print(f"scored {len(reports) - len(refused)} file(s) into {out} in {time.perf_counter() - started:.1f}s"
          + (f"; {len(refused)} refused" if refused else ""))
    return 1 if refused else 0


def _bench(args: argparse.Namespace) -> int:
    import importlib

    try:
        module = importlib.import_module(f"bench.{args.name}")
    except ModuleNotFoundError:
        print(f"omnitrack bench: no benchmark named {args.name!r}", file=sys.stderr)
        return 2
    return int(module.main(args.rest) or 0)


def _decider(args: argparse.Namespace) -> int:
    from streams.decider import main as decider_main

    return decider_main(get_settings(), loglevel=args.loglevel)


def _scenario(args: argparse.Namespace) -> int:
    import asyncio
    import json

    from streams.decider import submit

    if args.action == "run":
        body: dict = {"nodes": args.node, "lanes": args.lane, "duration_days": args.duration,
                      "horizon_days": args.horizon, "trials": args.trials, "seed": args.seed}
        if args.request_id:
            body["request_id"] = args.request_id
    else:
        body = {"kind": "feedback", "request_id": args.request_id or "cli-feedback", "nodes": args.node,
                "lanes": args.lane, "strategy": args.strategy, "actual_duration_days": args.actual_duration,
                "estimated_duration_days": args.duration}
        if args.actual_loss is not None:
            body["actual_loss"] = args.actual_loss
    answer = asyncio.run(submit(get_settings(), body, wait_s=args.wait))
    if answer is None:
        print(f"omnitrack scenario: no answer within {args.wait:.0f}s; is `omnitrack decider` running?", file=sys.stderr)
        return 3
    print(json.dumps(answer, indent=2))
    return 0 if answer.get("status", "ok") == "ok" or answer.get("kind") == "priors" else 1


def _snapshot(args: argparse.Namespace) -> int:
    """Table snapshots to S3 and their restore (streams/snapshot; docs/operations.md, disaster recovery)."""
    from botocore.exceptions import BotoCoreError, ClientError

    from streams.snapshot import SnapshotError
    from streams.snapshot.store import SnapshotStore
    from streams.topics import Topics

    settings = get_settings()
    store = SnapshotStore.from_settings(settings)
    try:
        if args.action == "take":
            from streams.snapshot.dump import take_snapshot

            manifest = take_snapshot(settings, store)
            print(manifest.model_dump_json(indent=2) if args.json else f"snapshot {manifest.describe()}")
        elif args.action == "list":
            manifests = store.manifests()
            if args.json:
                print(json.dumps([m.model_dump(mode="json") for m in manifests], indent=2))
            else:
                print("\n".join(m.describe() for m in manifests) or "no snapshots")
        elif args.action == "restore":
            from streams.snapshot.restore import restore_snapshot

            manifest = store.manifest(args.id) if args.id else store.latest(settings.topic_prefix)
            into = settings.topic_prefix if args.into_prefix is None else args.into_prefix
            report = restore_snapshot(settings, manifest, Topics(prefix=into), store, force=args.force)
            print(report.model_dump_json(indent=2))
        else:
            from streams.snapshot.dump import run_every

            run_every(settings, args.every or settings.snapshot_interval_s, settings.snapshot_keep)
    except (SnapshotError, BotoCoreError, ClientError) as exc:  # S3 unreachable or refusing: a message, no traceback
        print(f"omnitrack snapshot: {exc}", file=sys.stderr)
        return 2
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="omnitrack", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)

    sub.add_parser("version", help="print the version").set_defaults(func=lambda _a: print(__version__) or 0)

    p_stack = sub.add_parser("stack", help="the local Kafka, Mosquitto and moto (SNS) stack")
    p_stack.add_argument("action", choices=["up", "down", "status", "env"],
                         help="env: `export` lines that point a shell's omnitrack commands at this stack")
    p_stack.add_argument("--json", action="store_true", help="print the endpoints as JSON")
    p_stack.add_argument("--brokers", type=int, choices=range(1, MAX_LOCAL_BROKERS + 1), default=None,
                         metavar="N", help="Kafka brokers of the local stack (default OMNITRACK_KAFKA_BROKERS or 1;"
                                           " 3 survives the loss of one)")
    p_stack.set_defaults(func=_stack)

    p_run = sub.add_parser("run", help="run the whole engine in the foreground against the stack")
    p_run.add_argument("--no-simulator", action="store_true", help="run the engine without the demo device fleet")
    p_run.add_argument("--workers", type=int, default=1,
                       help="twin workers sharing the partitions (one per core for the most readings/s)")
    p_run.add_argument("--keep-stack", action="store_true",
                       help="leave the stack up on exit (it is stopped when `run` started it)")
    p_run.set_defaults(func=_run)

    sub.add_parser("bridge", help="run one MQTT → Kafka bridge process").set_defaults(func=_bridge)

    p_worker = sub.add_parser("worker", help="run one Faust worker keeping the twin (OMNITRACK_WORKER_ID picks its state)")
    p_worker.add_argument("--loglevel", default="warning")
    p_worker.set_defaults(func=_worker)

    p_detect = sub.add_parser("detect", help="replay the detectors over a CSV (timestamp,value) or a folder of them")
    p_detect.add_argument("source", help="a CSV file or a folder of CSV files")
    p_detect.add_argument("-o", "--output", help="output file (for a file) or folder (for a folder)")
    p_detect.add_argument("--explain", type=float, metavar="SCORE", help="add a `reason` column: the detector's words "
                          "for each row scoring at least SCORE (0.067: every offline alarm), as alerts carry them")
    p_detect.set_defaults(func=_detect)

    p_ntf = sub.add_parser("notifier", help="run the notifier: alerts -> SNS topics and chat webhooks")
    p_ntf.add_argument("--loglevel", default="warning")
    p_ntf.set_defaults(func=_notifier)

    p_notify = sub.add_parser("notify", help="notifier tools: create SNS topics/subscriptions, replay the DLQ")
    notify_sub = p_notify.add_subparsers(dest="action", required=True)
    p_prov = notify_sub.add_parser("provision", help="create the routing policy's SNS topics and subscriptions "
                                                    "(idempotent) and print what exists")
    p_prov.add_argument("--sqs-standins", action="store_true",
                        help="also subscribe one SQS queue per channel (local endpoints only): what each channel got")
    p_prov.add_argument("--skip-missing", action="store_true",
                        help="leave out subscriptions whose endpoint env var is unset instead of failing")
    p_prov.add_argument("--json", action="store_true", help="print the topic and subscription ARNs as JSON")
    p_prov.set_defaults(func=_notify)
    p_replay = notify_sub.add_parser("replay", help="re-deliver notifications.dlq (progress is committed)")
    p_replay.add_argument("--limit", type=int, default=None, help="replay at most N records")
    p_replay.set_defaults(func=_notify)

    p_dec = sub.add_parser("decider", help="run the decision worker (scenario requests, feedback, alert triggers)")
    p_dec.add_argument("--loglevel", default="warning")
    p_dec.set_defaults(func=_decider)

    p_api = sub.add_parser("api", help="run the HTTP API (alerts, scenarios, twin; docs/api.md), or mint a token")
    p_api.add_argument("action", nargs="?", choices=["serve", "token"], default="serve",
                       help="serve (default): run the API until Ctrl-C; token: print a bearer token")
    p_api.add_argument("--role", choices=["viewer", "operator", "admin"], default="viewer", help="token: the role")
    p_api.add_argument("--sub", default=None, help="token: the subject (the actor on alert commands; default: $USER)")
    p_api.add_argument("--ttl", type=float, default=3600.0, help="token: lifetime in seconds")
    p_api.add_argument("--loglevel", default="warning")
    p_api.set_defaults(func=_api)

    p_scn = sub.add_parser("scenario", help="ask the decision pipeline a what-if question, or give it feedback")
    p_scn.add_argument("action", choices=["run", "feedback"])
    p_scn.add_argument("--node", action="append", default=[], help="affected node id (repeatable)")
    p_scn.add_argument("--lane", action="append", default=[], help="affected lane id (repeatable)")
    p_scn.add_argument("--duration", type=float, default=7.0, help="outage duration estimate, days")
    p_scn.add_argument("--horizon", type=float, default=90.0, help="horizon, days")
    p_scn.add_argument("--trials", type=int, default=10_000)
    p_scn.add_argument("--seed", type=int, default=0)
    p_scn.add_argument("--request-id", default=None)
    p_scn.add_argument("--strategy", default=None, help="feedback: the strategy chosen")
    p_scn.add_argument("--actual-duration", type=float, default=None, help="feedback: observed outage, days")
    p_scn.add_argument("--actual-loss", type=float, default=None, help="feedback: observed loss")
    p_scn.add_argument("--wait", type=float, default=120.0, help="seconds to wait for the answer")
    p_scn.set_defaults(func=_scenario)

    p_snap = sub.add_parser("snapshot", help="table snapshots to S3 (disaster recovery): take, list, restore, run")
    snap_sub = p_snap.add_subparsers(dest="action", required=True)
    p_take = snap_sub.add_parser("take", help="dump every table changelog to S3 now")
    p_take.add_argument("--json", action="store_true", help="print the manifest as JSON")
    p_take.set_defaults(func=_snapshot)
    p_list = snap_sub.add_parser("list", help="the complete snapshots in the bucket, oldest first")
    p_list.add_argument("--json", action="store_true")
    p_list.set_defaults(func=_snapshot)
    p_rest = snap_sub.add_parser("restore", help="write a snapshot into empty changelogs; start the workers after")
    p_rest.add_argument("--id", default=None, help="snapshot id (default: this prefix's newest)")
    p_rest.add_argument("--into-prefix", default=None,
                        help="topic prefix to restore into (default OMNITRACK_TOPIC_PREFIX)")
    p_rest.add_argument("--force", action="store_true", help="write even into non-empty changelogs (rolls keys back)")
    p_rest.set_defaults(func=_snapshot)
    p_every = snap_sub.add_parser("run", help="take a snapshot every S seconds until Ctrl-C")
    p_every.add_argument("--every", type=float, default=None, metavar="S",
                         help="seconds between snapshots (default OMNITRACK_SNAPSHOT_INTERVAL_S)")
    p_every.set_defaults(func=_snapshot)

    add_simulate_parser(sub)

    p_bench = sub.add_parser("bench", help="run a benchmark: ingest, montecarlo, nab, ... (--json for one JSON object)")
    p_bench.add_argument("name")
    p_bench.add_argument("rest", nargs=argparse.REMAINDER)
    p_bench.set_defaults(func=_bench)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except Exception as exc:  # noqa: BLE001 - the CLI reports, tracebacks are for -X dev
        from omnitrack.stack.errors import StackError

        from streams.notify.errors import PolicyError

        if isinstance(exc, (StackError, PolicyError)):
            print(f"omnitrack: {exc}", file=sys.stderr)
            return 2
        raise


if __name__ == "__main__":
    sys.exit(main())
