"""The Quix Streams peer of `omnitrack bench ingest`: the twin's ingest work, written the way Quix Streams does it.

Runs in the peer's own venv (bench/ingest_quix_env.py), so it imports nothing from OmniTrack: it is started as
`<venv>/bin/python bench/ingest_quix.py ...` by bench/ingest_replay.py, one process, like one twin worker.

Per telemetry record (the bridge's records, read from the same replayed topic as our worker):
  parse the JSON value, expand its readings into one row each (device id, event time, the metrics flat);
  re-key by device id (`group_by`: Quix keys state and windows by the Kafka message key, and our records are
  keyed by their first reading's device only, so every reading goes through a `repartition__` topic);
  stateful update: the last value and its time per device and metric (RocksDB state, changelog on);
  a 1-minute tumbling window per device on the reading's event time: count, and min/max/mean per metric
  (RocksDB window state, changelog on); each closed window is produced to a history topic (`final()`).
Commit interval 1 s, like the twin's row flush. The protocol with the bench (shared with bench/ingest_raw.py):
print `ready` once the warm-up reading went through, then `result {json}` once `--readings` more did, and exit.
"""

from __future__ import annotations

import argparse
import json
import resource
import sys
import time
from datetime import timedelta

METRICS = ("temperature", "humidity", "battery")
WARM_DEVICE = "warm-0"


def build(args: argparse.Namespace):
    """The Quix application and the counter its stateful step advances."""
    from quixstreams import Application
    from quixstreams.dataframe.windows import aggregations as agg

    app = Application(broker_address=args.bootstrap, consumer_group=args.group, auto_offset_reset="earliest",
                      state_dir=args.state_dir, commit_interval=1.0, use_changelog_topics=True, loglevel="WARNING")
    source = app.topic(args.topic, key_deserializer="str", value_deserializer="json")
    history = app.topic(args.topic + ".quix-history", value_serializer="json")
    progress = {"seen": 0, "ready": False}

    def rows(body: dict) -> list[dict]:
        out = []
        for reading in body["readings"]:
            row = dict(reading["metrics"])
            row["device_id"], row["ts"] = reading["device_id"], reading["ts"]
            out.append(row)
        return out

    def last_values(row: dict, state) -> None:
        ts = row["ts"]
        for metric in METRICS:
            value = row.get(metric)
            if value is not None:
                state.set(metric, [value, ts])
        if row["device_id"] == WARM_DEVICE:
            if not progress["ready"]:
                progress["ready"] = True
                print("ready", flush=True)
            return
        progress["seen"] += 1
        if progress["seen"] == args.readings:
            report(args.readings)
            app.stop()

    sdf = app.dataframe(source)
    sdf = sdf.apply(rows, expand=True)
    sdf = sdf.set_timestamp(lambda row, _key, _ts, _headers: row["ts"])
    sdf = sdf.group_by("device_id")
    sdf = sdf.update(last_values, stateful=True)
    aggregations = {"count": agg.Count()}
    for metric in METRICS:
        aggregations.update({f"{metric}_min": agg.Min(metric), f"{metric}_max": agg.Max(metric),
                             f"{metric}_mean": agg.Mean(metric)})
    sdf = sdf.tumbling_window(timedelta(minutes=1)).agg(**aggregations).final()
    sdf.to_topic(history)
    return app


def peak_rss_mb() -> float:
    """This process's peak RSS: `VmHWM`, the high-water mark of its own address space. Not `ru_maxrss`, which
    Linux carries over exec from the forking parent (the bench process holding the captured records)."""
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmHWM:"):
                return round(int(line.split()[1]) / 1024, 1)
    return 0.0


def report(readings: int) -> None:
    """The end of the measured interval, in the runner's own clocks: wall time, process CPU (all threads,
    librdkafka's included) and the peak RSS so far."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    result = {"readings": readings, "done_wall": time.time(), "done_cpu": usage.ru_utime + usage.ru_stime,
              "peak_rss_mb": peak_rss_mb()}
    print("result " + json.dumps(result), flush=True)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--bootstrap", required=True)
    ap.add_argument("--topic", required=True)
    ap.add_argument("--group", required=True)
    ap.add_argument("--state-dir", required=True)
    ap.add_argument("--readings", type=int, required=True, help="readings to apply after the warm-up one")
    args = ap.parse_args(argv)
    build(args).run()
    return 0


if __name__ == "__main__":
    sys.exit(main())
