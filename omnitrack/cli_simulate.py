"""`omnitrack simulate fleet|register`: the device fleet simulator's command line (the rest is in `omnitrack.cli`)."""

from __future__ import annotations

import argparse
import sys

from omnitrack.settings import get_settings

__all__ = ["add_simulate_parser"]

MAX_IOT_CONNECTIONS = 100_000
"""Connections per simulator process against IoT Core: no sharing (a shared connection is refused every publish
but its own thing's); the fleet's processes split the identities."""


def _simulate(args: argparse.Namespace) -> int:
    from pathlib import Path

    from simulators.fleet import FleetConfig, run_fleet
    from simulators.fleet.config import DEFAULT_SCENARIO

    settings = get_settings()
    if args.what == "register":
        from simulators.fleet.registry import register_fleet

        report = register_fleet(settings.network_file, Path(args.cert_dir), scale=args.scale, seed=args.seed,
                                name_prefix=args.name_prefix, limit=args.limit)
        print(report.model_dump_json(indent=None if args.json else 2))
        return 0 if not report.key_elsewhere else 4
    certs = settings.resolved_stack_dir / "certs"
    tls = args.tls or args.transport == "awsiot"
    iot = args.iot_endpoint is not None  # AWS IoT Core: its endpoint, Amazon's CA, the registered certificates
    iot_host, _, iot_port = (args.iot_endpoint or "").partition(":")
    if iot and (args.transport != "awsiot" or args.ca is None or args.cert_dir is None):
        print("--iot-endpoint needs --transport awsiot, --ca and --cert-dir (omnitrack simulate register)",
              file=sys.stderr)
        return 2
    scenario = None if args.scenario == "none" else Path(args.scenario) if args.scenario else DEFAULT_SCENARIO
    config = FleetConfig(
        network_path=settings.network_file, scale=args.scale, seed=args.seed, rate=args.rate,
        duration_s=args.duration, qos=args.qos, transport=args.transport,
        host=iot_host if iot else settings.mqtt_host,
        port=int(iot_port or 8883) if iot else settings.mqtts_port if tls else settings.mqtt_port,
        ca_cert=Path(args.ca) if iot else certs / "ca.crt" if tls else None,
        client_cert=certs / "device-0001.crt" if args.tls and args.transport == "paho" else None,
        client_key=certs / "device-0001.key" if args.tls and args.transport == "paho" else None,
        cert_dir=(Path(args.cert_dir) if args.cert_dir else certs / "fleet") if args.transport == "awsiot" else None,
        scenario_path=scenario, ground_truth_path=Path(args.ground_truth) if args.ground_truth else None,
        processes=args.processes or (__import__("os").cpu_count() or 1), progress=not args.json,
        # IoT Core's device policy: client id = thing name, and a connection may only speak for its own thing
        client_prefix="" if iot else args.client_prefix,
        # ... so with IoT Core every identity gets its own connection unless told otherwise
        **({"max_connections": args.max_connections or MAX_IOT_CONNECTIONS} if iot or args.max_connections else {}),
    )
    sink = None
    if args.ground_truth_kafka:
        import asyncio

        from simulators.fleet.scenarios import JsonlGroundTruthSink
        from streams.admin import ensure_topics
        from streams.ground_truth import KafkaGroundTruthSink, TeeSink
        from streams.topics import topics_for

        topics = topics_for(settings)
        asyncio.run(ensure_topics(settings.bootstrap, topics))
        sink = KafkaGroundTruthSink(settings.bootstrap, topics.ground_truth)
        if config.ground_truth_path is not None:
            sink = TeeSink(JsonlGroundTruthSink(config.ground_truth_path), sink)
    import signal

    # `omnitrack run` stops its processes with SIGTERM: leave through the fleet's own clean-up (its processes,
    # their queues and semaphores) rather than dying mid-loop, which left Python warning of leaked semaphores.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(128 + signal.SIGTERM))
    try:
        report = run_fleet(config, sink=sink)
    finally:
        if sink is not None:
            sink.close()
    print(report.model_dump_json(indent=None if args.json else 2))
    return 0



def add_simulate_parser(sub: "argparse._SubParsersAction[argparse.ArgumentParser]") -> None:
    p_sim = sub.add_parser("simulate", help="device fleet simulator")
    sim_sub = p_sim.add_subparsers(dest="what", required=True)
    p_fleet = sim_sub.add_parser("fleet", help="publish a simulated fleet of the example network over MQTT")
    p_fleet.add_argument("--rate", type=float, default=None, help="target readings/s (default: each device at its interval)")
    p_fleet.add_argument("--duration", type=float, default=60.0, help="seconds to run")
    p_fleet.add_argument("--scale", type=int, default=1, help="replicate every device this many times")
    p_fleet.add_argument("--seed", type=int, default=20261126)
    p_fleet.add_argument("--qos", type=int, choices=[0, 1], default=1)
    p_fleet.add_argument("--transport", choices=["paho", "awsiot"], default="paho")
    p_fleet.add_argument("--tls", action="store_true", help="paho over the mTLS listener with the device certificate")
    p_fleet.add_argument("--scenario", default=None, help="disruption file (default: simulators/scenarios/default.yaml; 'none' for none)")
    p_fleet.add_argument("--ground-truth", default=None, help="JSONL file for the injected events")
    p_fleet.add_argument("--client-prefix", default="omnitrack-sim-",
                         help="MQTT client id prefix (+ process number): give concurrent fleets distinct ones")
    p_fleet.add_argument("--ground-truth-kafka", action="store_true",
                         help="also produce the injected events to the simulator.ground_truth topic")
    p_fleet.add_argument("--processes", type=int, default=0, help="publishing processes (default: one per core)")
    p_fleet.add_argument("--iot-endpoint", default=None,
                         help="awsiot: AWS IoT Core's Data-ATS endpoint[:port] (8883) instead of the local stack, "
                              "client id = thing name, one connection per identity (docs/aws.md)")
    p_fleet.add_argument("--ca", default=None, help="with --iot-endpoint: Amazon's root CA file")
    p_fleet.add_argument("--cert-dir", default=None,
                         help="awsiot: per-identity certificates (default: the local stack's, issued on demand)")
    p_fleet.add_argument("--max-connections", type=int, default=0,
                         help="awsiot: connections per process (default 64; past it identities share one)")
    p_fleet.add_argument("--json", action="store_true", help="print the report as one JSON line")
    p_fleet.set_defaults(func=_simulate)
    p_reg = sim_sub.add_parser("register", help="register the fleet's gateways and devices in AWS IoT Core "
                               "(things, certificates, policies; idempotent)")
    p_reg.add_argument("--cert-dir", required=True, help="where each identity's certificate and key are written")
    p_reg.add_argument("--scale", type=int, default=1, help="as for simulate fleet")
    p_reg.add_argument("--seed", type=int, default=20261126, help="as for simulate fleet")
    p_reg.add_argument("--name-prefix", default="omnitrack", help="the template's NamePrefix")
    p_reg.add_argument("--limit", type=int, default=None, help="the first N identities only")
    p_reg.add_argument("--json", action="store_true", help="print the report as one JSON line")
    p_reg.set_defaults(func=_simulate)

