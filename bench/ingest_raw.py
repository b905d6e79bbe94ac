"""The raw baseline of the replayed ingest runs: a plain aiokafka consumer decoding every telemetry record.

A process of its own (`python -m bench.ingest_raw ...`), like one twin worker and the Quix Streams peer, so
its CPU and peak RSS are measured the same way. It does the transport's share of the work only: fetch,
decompress, JSON-decode each record and count its readings; no state, no windows, no writes. Same protocol as
bench/ingest_quix.py: `ready` once the warm-up record arrived, `result {json}` once `--readings` more did.
"""

from __future__ import annotations

import argparse
import asyncio
import sys

from bench.ingest_quix import report
from streams.records import decode_telemetry


async def consume(args: argparse.Namespace) -> None:
    from aiokafka import AIOKafkaConsumer

    consumer = AIOKafkaConsumer(args.topic, bootstrap_servers=args.bootstrap, auto_offset_reset="earliest",
                                group_id=args.group, fetch_max_bytes=50 << 20)
    await consumer.start()
    seen, ready = 0, False
    try:
        while seen < args.readings:
            for records in (await consumer.getmany(timeout_ms=200, max_records=10000)).values():
                for record in records:
                    readings = decode_telemetry(record.value)
                    if not ready and readings and readings[0]["device_id"] == "warm-0":
                        ready = True
                        print("ready", flush=True)
                        continue
                    seen += len(readings)
        report(seen)
    finally:
        await consumer.stop()


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--bootstrap", required=True)
    ap.add_argument("--topic", required=True)
    ap.add_argument("--group", required=True)
    ap.add_argument("--readings", type=int, required=True)
    args = ap.parse_args(argv)
    asyncio.run(consume(args))
    return 0


if __name__ == "__main__":
    sys.exit(main())
