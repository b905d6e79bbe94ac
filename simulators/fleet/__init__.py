"""Device fleet simulator: thousands of seeded devices publishing telemetry over MQTT.

Public API (the CLI's `omnitrack simulate fleet` wraps :func:`run_fleet`)::

    from simulators.fleet import FleetConfig, run_fleet
    report = run_fleet(FleetConfig(scale=10, rate=20_000, duration_s=30, qos=1))
"""

from .config import FleetConfig, FleetReport
from .emit import Message, ShardEmitter
from .fleet import Fleet, build_fleet, load_network
from .publisher import AwsIotPublisher, MemoryPublisher, NullPublisher, PahoPublisher, Publisher
from .runner import make_fleet, run_fleet
from .scenarios import GroundTruthSink, InjectedEvent, JsonlGroundTruthSink, load_scenario, resolve

__all__ = [
    "AwsIotPublisher", "Fleet", "FleetConfig", "FleetReport", "GroundTruthSink", "InjectedEvent",
    "JsonlGroundTruthSink", "MemoryPublisher", "Message", "NullPublisher", "PahoPublisher", "Publisher",
    "ShardEmitter", "build_fleet", "load_network", "load_scenario", "make_fleet", "resolve", "run_fleet",
]
