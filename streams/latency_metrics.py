"""Device timestamp -> twin update latency, as a Prometheus histogram of the twin worker.

WHY a separate module: `omnitrack_twin_apply_latency_seconds` starts at the bridge's receipt, so it
misses the device -> MQTT -> bridge hop that an operator feels; the end-to-end bench
(`omnitrack bench e2e`) wants the whole path. Observing it costs one `time.time()` and one histogram
observation per Faust record (the record's oldest reading stands for it: an upper bound), not per reading.

The twin agent (streams/twin_agents.py) observes it once per record.
"""

from __future__ import annotations

import time
from datetime import datetime

from prometheus_client import Histogram

READING_TO_TWIN_METRIC = "omnitrack_twin_reading_to_update_seconds"
"""Its name, for readers of /metrics (the bench); declared below as a literal because tests/deploy checks the
dashboards against the declarations it reads statically."""

READING_TO_TWIN = Histogram(
    "omnitrack_twin_reading_to_update_seconds", "From a reading's device timestamp to its device twin update",
    buckets=(0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0),
)


def observe_reading_to_twin(device_ts: datetime | None, now_s: float | None = None) -> float | None:
    """Record how old the reading stamped `device_ts` is at its twin update; returns the seconds observed.

    A device clock ahead of ours gives a negative age: clamped to 0 rather than dropped, so the count still
    equals the records applied (the bridge already rejects clocks more than 5 minutes ahead)."""
    if device_ts is None:
        return None
    age = max(0.0, (time.time() if now_s is None else now_s) - device_ts.timestamp())
    READING_TO_TWIN.observe(age)
    return age
