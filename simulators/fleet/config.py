"""FleetConfig / FleetReport: the function API the CLI (`omnitrack simulate fleet`) wraps."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from twin.telemetry import MAX_BATCH_READINGS

REPO = Path(__file__).resolve().parents[2]
DEFAULT_NETWORK = REPO / "simulators" / "networks" / "example_network.json"
DEFAULT_SCENARIO = REPO / "simulators" / "scenarios" / "default.yaml"


class FleetConfig(BaseModel):
    """Everything one simulator run needs. Paths may be relative to the cwd."""

    model_config = ConfigDict(extra="forbid")
    network_path: Path = DEFAULT_NETWORK
    scale: int = Field(1, ge=1, le=10_000, description="Replicate every device ×scale at its site (ids get -rN)")
    seed: int = Field(20261126, ge=0, description="Root seed: same seed, same fleet, same readings")
    rate: float | None = Field(None, gt=0, description="Target readings/s; None = every device at its expected interval")
    duration_s: float = Field(30.0, gt=0)
    time_scale: float = Field(1.0, gt=0, description="Simulated seconds per wall second for signal dynamics")
    qos: Literal[0, 1] = 1
    transport: Literal["paho", "awsiot", "memory", "null"] = "paho"
    host: str = "127.0.0.1"
    port: int = Field(1883, ge=1, le=65535)
    ca_cert: Path | None = Field(None, description="TLS CA; set for TLS (paho) and always for awsiot")
    client_cert: Path | None = Field(None, description="One shared client certificate (paho TLS / AWS IoT Core)")
    client_key: Path | None = None
    cert_dir: Path | None = Field(None, description="awsiot: issue one local-CA certificate per gateway/device here")
    max_connections: int = Field(64, ge=1, description="awsiot: mTLS connections per process at most")
    client_prefix: str = Field("omnitrack-sim-", description="MQTT client id prefix (unique per run is best)")
    gateway_share: float = Field(0.8, ge=0.0, le=1.0, description="Fraction of sites whose devices publish via a gateway")
    batch_size: int = Field(100, ge=1, le=MAX_BATCH_READINGS, description="Readings per gateway batch at most")
    scenario_path: Path | None = Field(None, description="Disruption file (YAML/JSON); None = no disruptions")
    ground_truth_path: Path | None = Field(None, description="JSONL ground truth of injected events")
    processes: int = Field(default_factory=lambda: os.cpu_count() or 1, ge=1, le=256)
    flush_timeout_s: float = Field(10.0, ge=0, description="Wait this long at the end for QoS 1 acknowledgements")
    progress: bool = Field(True, description="Print a progress line per second to stderr")


class FleetReport(BaseModel):
    """What a run did. Rates are readings/s (a gateway batch counts its readings)."""

    devices: int
    gateways: int
    publish_groups: int
    processes: int
    target_rate: float
    achieved_rate: float = Field(description="Readings sent / run duration")
    per_second: list[float] = Field(description="Achieved readings/s in each full wall-clock second")
    min_per_second: float
    mean_per_second: float
    readings_sent: int
    messages_sent: int
    messages_acked: int
    unacked_at_end: int
    errors: int
    dropped_by_limiter: int = Field(description="Readings the schedule skipped because the process fell behind")
    messages_replayed: int = Field(0, description="Messages published again after a lost connection "
                                                  "(simulators/fleet/replay.py): a broker restart's cost in duplicates")
    duration_s: float
    started_at: str
    injected: dict[str, int] = Field(default_factory=dict, description="Per-message faults injected, by type")
    ground_truth_events: int = 0
