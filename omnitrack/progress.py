"""What `omnitrack run` prints while it runs: one line of the engine's own metrics.

Why scrape the Prometheus endpoints: they are what Grafana shows, so the line a
newcomer reads in the terminal and the dashboard can never disagree.
"""

from __future__ import annotations

import urllib.request

from omnitrack.settings import Settings

SCRAPE_TIMEOUT_S = 0.5
"""A stage that does not answer this fast is reported as '-', never allowed to stall the supervisor."""


def scrape(port: int, name: str) -> float | None:
    """Sum of every sample of metric `name` (all label sets) at a local /metrics endpoint; None if unreachable."""
    try:
        text = urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=SCRAPE_TIMEOUT_S).read().decode()
    except OSError:
        return None
    total, found = 0.0, False
    for line in text.splitlines():
        if line.startswith(name + "{") or line.startswith(name + " "):
            total += float(line.rsplit(" ", 1)[1])
            found = True
    return total if found else 0.0


def summary(settings: Settings, workers: int = 1) -> str:
    """One line: readings bridged and rejected, readings applied to twins, alert events, decisions, notifications,
    API requests, consumer lag (the twin figures summed over the `workers` twin workers)."""

    def show(value: float | None) -> str:
        return "-" if value is None else f"{value:,.0f}"

    def twin(name: str) -> float | None:
        ports = [settings.model_copy(update={"worker_id": i}).metrics_port_for("worker") for i in range(workers)]
        values = [scrape(port, name) for port in ports]
        return None if all(v is None for v in values) else sum(v or 0.0 for v in values)

    bridge = settings.metrics_port_for("bridge")
    parts = [
        f"bridged {show(scrape(bridge, 'omnitrack_bridge_readings_total'))}",
        f"rejected {show(scrape(bridge, 'omnitrack_bridge_rejected_total'))}",
        f"twin applied {show(twin('omnitrack_twin_readings_total'))}",
        f"devices {show(twin('omnitrack_twin_devices'))}",
        f"alert events {show(twin('omnitrack_alerts_events_total'))}",
        f"decisions {show(scrape(settings.metrics_port_for('decider'), 'omnitrack_decisions_results_total'))}",
        f"notifications {show(scrape(settings.metrics_port_for('notifier'), 'omnitrack_notify_deliveries_total'))}",
        f"api requests {show(scrape(settings.metrics_port_for('api'), 'omnitrack_api_requests_total'))}",
        # records the stream processors have not committed yet, all groups together: a stage falling behind
        f"lag {show(scrape(settings.metrics_port_for('api'), 'omnitrack_consumer_lag_records'))}",
    ]
    return " | ".join(parts)
