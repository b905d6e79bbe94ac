"""Fleet simulator throughput: a steady 20,000 readings/s, and the maximum, against the local Mosquitto.

WHY: one repeatable command showing the simulator can drive the rest of the
pipeline at the rate the project is sized for, with the rate held steady
(every wall-clock second within 5 % of the target), and how much headroom is left.
Usage: python bench/simulator.py [--rate 20000] [--duration 25] [--scale 10] [--qos 1]
       [--max-duration 10] [--processes N] [--host H --port P] [--json]
No subscriber runs: this measures the simulator and the broker's intake only.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import uuid
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from simulators.fleet import FleetConfig, FleetReport, run_fleet  # noqa: E402

# A target no 2-core box reaches: the schedule then sends as fast as it can.
UNBOUNDED_RATE = 10_000_000.0
# "Steady" means every full second within this fraction of the target.
STEADY_TOLERANCE = 0.05


def _summary(r: FleetReport) -> dict[str, object]:
    return {
        "target_rate": r.target_rate, "achieved_rate": round(r.achieved_rate, 1),
        "mean_per_second": round(r.mean_per_second, 1), "min_per_second": r.min_per_second,
        "max_per_second": max(r.per_second, default=0.0), "per_second": r.per_second,
        "readings_sent": r.readings_sent, "messages_sent": r.messages_sent, "messages_acked": r.messages_acked,
        "unacked_at_end": r.unacked_at_end, "errors": r.errors, "dropped_by_limiter": r.dropped_by_limiter,
        "devices": r.devices, "gateways": r.gateways, "processes": r.processes, "duration_s": r.duration_s,
    }


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rate", type=float, default=20_000.0, help="steady target, readings/s")
    ap.add_argument("--duration", type=float, default=25.0, help="steady run length, s")
    ap.add_argument("--max-duration", type=float, default=10.0, help="max-rate run length, s (0 = skip)")
    ap.add_argument("--scale", type=int, default=10, help="device replication factor")
    ap.add_argument("--qos", type=int, choices=(0, 1), default=1)
    ap.add_argument("--processes", type=int, default=os.cpu_count() or 1)
    ap.add_argument("--gateway-share", type=float, default=0.8)
    ap.add_argument("--batch-size", type=int, default=100)
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, default=1883)
    ap.add_argument("--json", action="store_true", help="print one JSON object last")
    args = ap.parse_args(argv)
    run = uuid.uuid4().hex[:6]
    base = dict(scale=args.scale, qos=args.qos, processes=args.processes, host=args.host, port=args.port,
                gateway_share=args.gateway_share, batch_size=args.batch_size, progress=True)

    steady = run_fleet(FleetConfig(rate=args.rate, duration_s=args.duration, client_prefix=f"bench-{run}-s-", **base))
    ok = steady.min_per_second >= (1 - STEADY_TOLERANCE) * args.rate and \
        max(steady.per_second) <= (1 + STEADY_TOLERANCE) * args.rate
    out: dict[str, object] = {"bench": "simulator", "qos": args.qos, "steady": _summary(steady),
                              "steady_within_5pct": ok}
    print(f"steady: target {args.rate:,.0f}/s mean {steady.mean_per_second:,.0f}/s min {steady.min_per_second:,.0f}/s "
          f"max {max(steady.per_second):,.0f}/s msgs {steady.messages_sent:,} errors {steady.errors} "
          f"unacked {steady.unacked_at_end} -> {'OK' if ok else 'NOT steady'}")
    if args.max_duration > 0:
        peak = run_fleet(FleetConfig(rate=UNBOUNDED_RATE, duration_s=args.max_duration,
                                     client_prefix=f"bench-{run}-m-", **base))
        out["max"] = _summary(peak) | {"target_rate": None}
        print(f"max: achieved {peak.achieved_rate:,.0f} readings/s ({peak.messages_sent / peak.duration_s:,.0f} msg/s), "
              f"acked {peak.messages_acked:,}/{peak.messages_sent:,}, errors {peak.errors}")
    if args.json:
        print(json.dumps(out))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
