"""The figures of `omnitrack bench soak`: memory growth per process, loss and duplication, lag; the plot.

WHY apart from the run (bench/soak.py): these reductions are what a reader checks when a verdict looks wrong.
"""

from __future__ import annotations

import argparse
import os
import platform
from collections import Counter
from datetime import datetime, timezone
from pathlib import Path

import orjson
from pydantic import BaseModel

from bench.e2e_monitor import Collected
from bench.e2e_report import E2EReport
from omnitrack.settings import Settings

ENGINE_ROLES = ("bridge", "worker0", "decider", "notifier", "api")
WARM_UP_SHARE = 0.2
DETECTOR_FILL_READINGS = 300
"""Memory is compared from the warm-up mark on: the later of WARM_UP_SHARE of the run and the time each device
takes to send DETECTOR_FILL_READINGS readings. Before it, caches, JIT-compiled kernels, RocksDB's memtables and
the twin's per-series detectors fill up, which is growth by design, not a leak: a detector holds ~53 KB after
300 readings and 56-66 KB from 2,000 to 20,000 (tracemalloc, 20 random-walk series; docs/BENCHMARKS.md)."""
MEMORY_BOUND_MB = 16.0
MEMORY_BOUND_SHARE = 0.10
"""The stated bound: after warm-up, a process's RSS may grow by at most 16 MB + 10 % of its post-warm-up RSS
over the rest of the run (mean of the last 5 % of samples vs mean of the 5 % at the warm-up mark)."""
NOTIFY_METRICS = ("omnitrack_notify_deliveries_total", "omnitrack_notify_failures_total",
                  "omnitrack_notify_retries_total", "omnitrack_notify_deduplicated_total",
                  "omnitrack_notify_deferred_total")


class Memory(BaseModel):
    after_warm_up_mb: float
    end_mb: float
    growth_mb: float
    bound_mb: float
    slope_mb_per_h: float
    within_bound: bool


class Loss(BaseModel):
    readings_acknowledged: int  # by Mosquitto to the simulator (QoS 1 PUBACK)
    readings_in_twin: int  # sum of readings_applied over the device rows
    readings_lost: int
    sequence_holes: int  # sum of the devices' seq_gaps: readings skipped and never seen
    redeliveries_absorbed: int  # sum of the devices' duplicates: delivered twice, applied once
    alert_events: int
    alert_events_twice: int
    incidents: int
    incidents_without_alert: int
    notifications_received: dict[str, int]  # per channel (SQS stand-in queue)
    notifications_twice: dict[str, int]
    notifications_parked: dict[str, int]  # per reason, from the notifier's failure counter
    notifier: dict[str, float]


class Verdict(BaseModel):
    ok: bool
    problems: list[str]


class SoakReport(BaseModel):
    benchmark: str = "soak"
    machine: str
    date: str
    command: str
    minutes: float
    rate: float
    warm_up_s: float
    memory: dict[str, Memory]
    cpu_mean_pct: dict[str, float]
    lag_max_records: int | None
    lag_final_records: int | None
    loss: Loss
    verdict: Verdict
    files: dict[str, str]


def purge_channels(settings: Settings) -> None:
    """Empty the SQS stand-in queues before the run, so what they hold afterwards is this run's."""
    for url in _standin_queues(settings):
        _sqs(settings).purge_queue(QueueUrl=url)


def drain_channels(settings: Settings) -> dict[str, Counter]:
    """channel -> Counter of event ids received (a count above 1 is a duplicate)."""
    sqs, out = _sqs(settings), {}
    for url in _standin_queues(settings):
        channel = url.rsplit("/", 1)[1].removeprefix("omnitrack-channel-")
        got: Counter = Counter()
        while True:
            msgs = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, MessageAttributeNames=["All"],
                                       WaitTimeSeconds=0).get("Messages", [])
            if not msgs:
                break
            for m in msgs:
                got[m.get("MessageAttributes", {}).get("event_id", {}).get("StringValue", "?")] += 1
            sqs.delete_message_batch(QueueUrl=url, Entries=[{"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]}
                                                            for i, m in enumerate(msgs)])
        out[channel] = got
    return out


def _sqs(settings: Settings):  # noqa: ANN202 - boto3 client
    import boto3

    return boto3.session.Session(aws_access_key_id=os.environ.get("AWS_ACCESS_KEY_ID", "testing"),
                                 aws_secret_access_key=os.environ.get("AWS_SECRET_ACCESS_KEY", "testing"),
                                 region_name=os.environ.get("AWS_REGION", "us-east-1")).client(
        "sqs", endpoint_url=settings.sns_endpoint)


def _standin_queues(settings: Settings) -> list[str]:
    return _sqs(settings).list_queues(QueueNamePrefix="omnitrack-channel-").get("QueueUrls", [])


def warm_up_s(duration_s: float, rate: float, devices: int) -> float:
    """Seconds from the start of the fleet to the warm-up mark (DETECTOR_FILL_READINGS)."""
    return max(WARM_UP_SHARE * duration_s, DETECTOR_FILL_READINGS * devices / rate if rate > 0 else 0.0)


def memory(t: list[float], rss: list[float | None], start: float, end: float, warm_up: float) -> Memory | None:
    """Growth of one process's RSS between the warm-up mark (`start + warm_up`) and the end of the run."""
    pts = [(x, y) for x, y in zip(t, rss) if y is not None and start <= x <= end]
    if len(pts) < 20:
        return None
    k = max(1, len(pts) // 20)
    mark = next((i for i, (x, _) in enumerate(pts) if x >= start + warm_up), len(pts) - k)
    if len(pts) - mark < 2 * k:
        return None
    after = sum(y for _, y in pts[mark:mark + k]) / k
    final = sum(y for _, y in pts[-k:]) / k
    steady = pts[mark:]
    n = len(steady)
    mx, my = sum(x for x, _ in steady) / n, sum(y for _, y in steady) / n
    var = sum((x - mx) ** 2 for x, _ in steady)
    slope = sum((x - mx) * (y - my) for x, y in steady) / var * 3600 if var else 0.0
    bound = MEMORY_BOUND_MB + MEMORY_BOUND_SHARE * after
    return Memory(after_warm_up_mb=round(after, 1), end_mb=round(final, 1), growth_mb=round(final - after, 1),
                  bound_mb=round(bound, 1), slope_mb_per_h=round(slope, 1), within_bound=final - after <= bound)


def _metric_totals(text: str | None, name: str, label: str) -> dict[str, float]:
    out: dict[str, float] = {}
    for line in (text or "").splitlines():
        if line.startswith(name + "{") or line.startswith(name + " "):
            head, value = line.rsplit(" ", 1)
            key = head.split(f'{label}="', 1)[1].split('"', 1)[0] if f'{label}="' in head else ""
            out[key] = out.get(key, 0.0) + float(value)
    return out


def build(args: argparse.Namespace, e2e: E2EReport, data: Collected, scrapes: dict[str, str | None],
          notifications: dict[str, Counter], out: Path) -> SoakReport:
    s = e2e.series
    assert s is not None
    start, end = (s.t[0] if s.t else 0.0), (s.t[-1] if s.t else 0.0)
    warm_up = warm_up_s(e2e.duration_s, e2e.rate, int(e2e.simulator.get("devices") or 0))
    mem = {role: m for role in ENGINE_ROLES if role in s.rss_mb
           and (m := memory(s.t, s.rss_mb[role], start, end, warm_up)) is not None}
    rows = [orjson.loads(v) for v in data.twin_rows.values()]
    acked = int(e2e.simulator.get("readings_sent") or 0)
    in_twin = sum(int(r.get("readings_applied", 0)) for r in rows)
    events = Counter()
    for value in data.alert_values:
        try:
            events[orjson.loads(value)["event_id"]] += 1
        except (ValueError, KeyError):
            continue
    per_type = e2e.detection.per_type
    incidents = sum(v.injected for v in per_type.values())
    missed = sum(v.injected - v.detected for v in per_type.values())
    notifier_text = scrapes.get("notifier")
    loss = Loss(
        readings_acknowledged=acked, readings_in_twin=in_twin, readings_lost=max(0, acked - in_twin),
        sequence_holes=sum(int(r.get("seq_gaps", 0)) for r in rows),
        redeliveries_absorbed=sum(int(r.get("duplicates", 0)) for r in rows),
        alert_events=sum(events.values()), alert_events_twice=sum(1 for n in events.values() if n > 1),
        incidents=incidents, incidents_without_alert=missed,
        notifications_received={ch: sum(c.values()) for ch, c in notifications.items()},
        notifications_twice={ch: sum(1 for n in c.values() if n > 1) for ch, c in notifications.items()},
        notifications_parked=_metric_totals(notifier_text, "omnitrack_notify_failures_total", "reason"),
        notifier={name: sum(_metric_totals(notifier_text, name, "channel").values()) for name in NOTIFY_METRICS})
    problems = [f"{role}: RSS grew {m.growth_mb} MB > bound {m.bound_mb} MB" for role, m in mem.items()
                if not m.within_bound]
    problems += [f"{role}: no memory samples" for role in ENGINE_ROLES if role not in mem]
    if loss.readings_lost or loss.sequence_holes:
        problems.append(f"{loss.readings_lost} readings lost, {loss.sequence_holes} sequence holes")
    if loss.alert_events_twice:
        problems.append(f"{loss.alert_events_twice} alert events on `alerts` more than once")
    if loss.incidents_without_alert:
        problems.append(f"{loss.incidents_without_alert} of {incidents} incidents raised no alert")
    if any(loss.notifications_twice.values()):
        problems.append(f"notifications received twice: {loss.notifications_twice}")
    if notifier_text is None:
        problems.append("the notifier's metrics could not be read at the end")
    return SoakReport(
        machine=f"{platform.node()} {os.cpu_count()} cores", date=datetime.now(timezone.utc).isoformat(),
        command=f"omnitrack bench soak --minutes {args.minutes:g} --rate {args.rate:g}", minutes=args.minutes,
        rate=args.rate, warm_up_s=round(warm_up, 1), memory=mem, cpu_mean_pct={r: v.cpu_mean_pct for r, v in e2e.resources.items()},
        lag_max_records=e2e.lag.max_records, lag_final_records=e2e.lag.final_records, loss=loss,
        verdict=Verdict(ok=not problems, problems=problems),
        files={"json": str(out / "soak.json"), "png": str(out / "soak.png"), "e2e": str(out / "report.json"),
               "logs": str(out)})


def plot(report: SoakReport, e2e: E2EReport, path: Path) -> None:
    """Three panels over run time: RSS per process (the bound from the warm-up mark), CPU per process, lag."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    s = e2e.series
    assert s is not None
    minutes = [t / 60 for t in s.t]
    fig, ax = plt.subplots(3, 1, figsize=(11, 10), sharex=True)
    for role, values in s.rss_mb.items():
        if "shared" in role or "bench" in role:
            continue
        ax[0].plot(minutes, values, label=role)
        m = report.memory.get(role)
        if m is not None:
            ax[0].axhline(m.after_warm_up_mb + m.bound_mb, ls=":", lw=0.8, color=ax[0].lines[-1].get_color())
    ax[0].set_ylabel("RSS (MB)")
    ax[0].legend(loc="upper left", fontsize=7, ncol=3, title="dotted: the bound", title_fontsize=7)
    for role, values in s.cpu_pct.items():
        if "shared" in role or "bench" in role:
            continue
        ax[1].plot(minutes, values, label=role, lw=0.6)
    ax[1].set_ylabel("CPU % (of one core)")
    ax[1].legend(loc="upper left", fontsize=7, ncol=3)
    ax[2].plot(minutes, s.lag_records, color="tab:red")
    ax[2].set_ylabel("twin lag (records)")
    ax[2].set_xlabel("minutes since the engine was ready")
    for a in ax:
        a.grid(alpha=0.3)
    fig.suptitle(f"omnitrack bench soak: {report.minutes:g} min at {report.rate:,.0f} readings/s "
                 f"({datetime.now(timezone.utc):%Y-%m-%d %H:%M} UTC) - {'OK' if report.verdict.ok else 'PROBLEMS'}")
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)


def show(report: SoakReport) -> None:
    print(f"soak: {report.minutes:g} min at {report.rate:,.0f} readings/s on {report.machine}; memory compared "
          f"from {report.warm_up_s / 60:.1f} min on")
    for role, m in report.memory.items():
        print(f"  {role:9s} RSS {m.after_warm_up_mb:7.1f} -> {m.end_mb:7.1f} MB (growth {m.growth_mb:+.1f}, bound "
              f"{m.bound_mb:.1f}, slope {m.slope_mb_per_h:+.1f} MB/h) {'ok' if m.within_bound else 'OVER'}")
    lo = report.loss
    print(f"  readings: {lo.readings_acknowledged:,} acknowledged, {lo.readings_in_twin:,} in the twin, "
          f"{lo.readings_lost} lost, {lo.sequence_holes} holes, {lo.redeliveries_absorbed} redeliveries absorbed")
    print(f"  alerts: {lo.alert_events} events, {lo.alert_events_twice} twice; {lo.incidents} incidents, "
          f"{lo.incidents_without_alert} without an alert")
    print(f"  notifications: received {lo.notifications_received}, twice {lo.notifications_twice}, "
          f"parked {lo.notifications_parked}")
    print(f"  lag: max {report.lag_max_records} records, final {report.lag_final_records}")
    print(f"  verdict: {'OK' if report.verdict.ok else 'PROBLEMS: ' + '; '.join(report.verdict.problems)}")
    print(f"  files: {report.files['png']}, {report.files['json']}")
