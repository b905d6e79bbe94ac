"""The figures of `omnitrack bench e2e`: pydantic models of the JSON report, the reductions, the plot.

WHY separate from the run: the reductions (rates from counters, quantiles, resource means) are what a
reader checks when a figure looks wrong; kept apart from process management they read top to bottom.
"""

from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path

from pydantic import BaseModel

from bench.e2e_monitor import Collected, Sample
from simulators.scoring import Score


class Quantiles(BaseModel):
    source: str
    samples: int | None = None
    p50_ms: float | None = None
    p90_ms: float | None = None
    p99_ms: float | None = None
    max_ms: float | None = None


class WorkerShare(BaseModel):
    worker: int
    client_id: str
    readings: float
    share: float | None
    partitions_assigned: int | None  # every topic, from the worker's "worker assigned N partitions" line
    telemetry_partitions: list[int]  # from the consumer group's assignment


class Throughput(BaseModel):
    readings_sent: int
    readings_bridged: float | None
    readings_applied: float
    sustained_per_s: float | None  # applied / (last increase - simulator start)
    run_p50_per_s: float | None  # median per-second rate while the simulator ran
    peak_per_s: float | None
    catch_up_s: float | None  # after the simulator ended, until the twin applied what was bridged
    workers: list[WorkerShare]


class Lag(BaseModel):
    unit: str = "telemetry records (each carries many readings): end offset - committed offset of the twin group"
    max_records: int | None
    mean_records: float | None
    final_records: int | None


class Resource(BaseModel):
    cpu_mean_pct: float
    cpu_max_pct: float
    rss_mean_mb: float
    rss_max_mb: float


class Series(BaseModel):
    t: list[float]
    readings_per_s: list[float | None]
    per_worker_per_s: list[list[float | None]]
    lag_records: list[int | None]
    twin_p50_ms: list[float | None]
    twin_p99_ms: list[float | None]
    cpu_pct: dict[str, list[float | None]]
    rss_mb: dict[str, list[float | None]]


class E2EReport(BaseModel):
    benchmark: str = "e2e"
    machine: str
    date: str
    command: str
    duration_s: float
    rate: float
    workers: int
    grace_s: float
    topic_prefix: str
    simulator: dict
    throughput: Throughput
    lag: Lag
    resources: dict[str, Resource]
    latency: dict[str, Quantiles]
    detection: Score
    out_dir: str
    files: dict[str, str]
    warnings: list[str] = []
    series: Series | None = None


def quantiles(values: list[float], source: str) -> Quantiles:
    if not values:
        return Quantiles(source=source, samples=0)
    s = sorted(values)
    pick = lambda q: round(s[min(len(s) - 1, int(round(q * (len(s) - 1))))] * 1000, 1)  # noqa: E731
    return Quantiles(source=source, samples=len(s), p50_ms=pick(0.5), p90_ms=pick(0.9), p99_ms=pick(0.99),
                     max_ms=round(s[-1] * 1000, 1))


def _filled(values: list[float | None]) -> list[float]:
    """Carry the last known counter value over seconds whose scrape failed."""
    out, last = [], 0.0
    for v in values:
        last = v if v is not None else last
        out.append(last)
    return out


def rates(samples: list[Sample]) -> tuple[list[float | None], list[list[float | None]]]:
    """Per-second readings/s into the twin (total and per worker) from the cumulative counters."""
    n = len(samples[0].worker_readings) if samples else 0
    per_worker = [_filled([s.worker_readings[i] for s in samples]) for i in range(n)]
    total = [sum(w[k] for w in per_worker) for k in range(len(samples))]

    def diff(xs: list[float]) -> list[float | None]:
        return [None] + [max(0.0, (xs[k] - xs[k - 1]) / max(1e-3, samples[k].t - samples[k - 1].t))
                         for k in range(1, len(xs))]

    return diff(total), [diff(w) for w in per_worker]


def throughput(samples: list[Sample], sim_start: float, sim_end: float, sent: int,
               shares: list[WorkerShare]) -> Throughput:
    total_rate, _ = rates(samples)
    applied = [sum(x or 0.0 for x in s.worker_readings) for s in samples]
    final = applied[-1] if applied else 0.0
    last_increase = next((s.t for s, a in zip(samples, applied) if a >= final), None)  # counter's final value
    during = [r for s, r in zip(samples, total_rate) if r is not None and sim_start <= s.t <= sim_end]
    bridged = next((s.bridge_readings for s in reversed(samples) if s.bridge_readings is not None), None)
    caught = next((s.t for s, a in zip(samples, applied) if s.t >= sim_end and bridged is not None
                   and a >= bridged), None)
    return Throughput(
        readings_sent=sent, readings_bridged=bridged, readings_applied=final,
        sustained_per_s=round(final / (last_increase - sim_start), 1) if last_increase and last_increase > sim_start
        else None,
        run_p50_per_s=round(sorted(during)[len(during) // 2], 1) if during else None,
        peak_per_s=round(max(during), 1) if during else None,
        catch_up_s=round(max(0.0, caught - sim_end), 1) if caught is not None else None, workers=shares)


def lag(samples: list[Sample], sim_start: float) -> Lag:
    xs = [s.lag_records for s in samples if s.lag_records is not None and s.t >= sim_start]
    return Lag(max_records=max(xs) if xs else None, mean_records=round(sum(xs) / len(xs), 1) if xs else None,
               final_records=xs[-1] if xs else None)


def resources(samples: list[Sample], sim_start: float) -> dict[str, Resource]:
    by: dict[str, list[tuple[float, float]]] = {}
    for s in samples:
        if s.t >= sim_start:
            for role, value in s.resources.items():
                by.setdefault(role, []).append(value)
    return {role: Resource(cpu_mean_pct=round(sum(c for c, _ in v) / len(v), 1), cpu_max_pct=round(max(c for c, _ in v), 1),
                           rss_mean_mb=round(sum(m for _, m in v) / len(v), 1), rss_max_mb=round(max(m for _, m in v), 1))
            for role, v in by.items() if v}


def series(data: Collected, t0: float) -> Series:
    samples = data.samples
    total, per_worker = rates(samples)
    p50: list[float | None] = []
    p99: list[float | None] = []
    lat = sorted(data.twin_latency)
    k = 0
    for s in samples:  # the changelog writes of the second ending at s.t
        window = []
        while k < len(lat) and lat[k][0] - t0 <= s.t:
            window.append(lat[k][1])
            k += 1
        q = quantiles(window, "")
        p50.append(q.p50_ms)
        p99.append(q.p99_ms)
    roles = sorted({r for s in samples for r in s.resources})
    return Series(t=[round(s.t, 2) for s in samples], readings_per_s=total, per_worker_per_s=per_worker,
                  lag_records=[s.lag_records for s in samples], twin_p50_ms=p50, twin_p99_ms=p99,
                  cpu_pct={r: [s.resources[r][0] if r in s.resources else None for s in samples] for r in roles},
                  rss_mb={r: [s.resources[r][1] if r in s.resources else None for s in samples] for r in roles})


def plot(report: E2EReport, path: Path, sim_start: float, sim_end: float,
         detections: list[tuple[float, float, str]]) -> None:
    """Four panels over run time: readings/s, consumer lag, latency (twin p50/p99, alert time to detect), CPU."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    s = report.series
    assert s is not None
    fig, ax = plt.subplots(4, 1, figsize=(11, 12), sharex=True)
    ax[0].plot(s.t, s.readings_per_s, label="twin, all workers", color="black")
    if len(s.per_worker_per_s) > 1:
        for i, w in enumerate(s.per_worker_per_s):
            ax[0].plot(s.t, w, label=f"worker {i}", alpha=0.7)
    ax[0].axhline(report.rate, ls=":", color="grey", label=f"simulator target {report.rate:,.0f}/s")
    ax[0].set_ylabel("readings/s")
    ax[0].legend(loc="upper right", fontsize=8)
    ax[1].plot(s.t, s.lag_records, color="tab:red")
    ax[1].set_ylabel("lag (records)")
    ax[2].plot(s.t, s.twin_p50_ms, label="device ts → twin write, p50")
    ax[2].plot(s.t, s.twin_p99_ms, label="device ts → twin write, p99")
    for t, seconds, kind in detections:
        ax[2].scatter([t], [seconds * 1000], marker="x", s=30)
        ax[2].annotate(kind, (t, seconds * 1000), fontsize=6)
    ax[2].set_yscale("log")
    ax[2].set_ylabel("ms (log)")
    ax[2].legend(loc="upper right", fontsize=8, title="× = alert time to detect", title_fontsize=7)
    for role, values in s.cpu_pct.items():
        ax[3].plot(s.t, values, label=role)
    ax[3].set_ylabel("CPU % (of one core)")
    ax[3].set_xlabel("seconds since the engine was ready")
    ax[3].legend(loc="upper right", fontsize=7, ncol=3)
    for a in ax:
        a.axvspan(sim_start, sim_end, color="green", alpha=0.05)
        a.grid(alpha=0.3)
    fig.suptitle(f"omnitrack bench e2e: {report.workers} worker(s), {report.rate:,.0f} readings/s target, "
                 f"{report.duration_s:.0f} s ({datetime.now(timezone.utc):%Y-%m-%d %H:%M} UTC)")
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)
