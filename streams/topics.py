"""Kafka topic names, in one place so every process agrees on them.

A prefix (OMNITRACK_TOPIC_PREFIX) lets tests and parallel environments share a
cluster without seeing each other's records.
"""

from __future__ import annotations

from dataclasses import dataclass

from omnitrack.settings import Settings


@dataclass(frozen=True)
class Topics:
    """The topics of one OmniTrack deployment."""

    prefix: str = ""

    def _name(self, base: str) -> str:
        return f"{self.prefix}.{base}" if self.prefix else base

    @property
    def telemetry(self) -> str:
        """Validated readings, batched per partition, keyed by device id."""
        return self._name("telemetry")

    @property
    def telemetry_dlq(self) -> str:
        """Rejected MQTT messages: the raw bytes, with topic and reason in headers."""
        return self._name("telemetry.dlq")

    @property
    def twin_changes(self) -> str:
        """Device status and node health transitions, for downstream consumers."""
        return self._name("twin.changes")

    @property
    def alerts(self) -> str:
        return self._name("alerts")

    @property
    def ground_truth(self) -> str:
        """The fleet simulator's injected events (what the engine should find), keyed by subject."""
        return self._name("simulator.ground_truth")

    @property
    def alert_commands(self) -> str:
        """Operator commands (ack, clear, assign, comment) for alerts: `AlertCommand` JSON."""
        return self._name("alerts.commands")

    @property
    def alert_commands_dlq(self) -> str:
        """Commands that could not be applied (not an `AlertCommand`, or no such current alert): the command's
        JSON as sent, `reason`, `message` and `source` in headers."""
        return self._name("alerts.commands.dlq")

    @property
    def alert_inputs(self) -> str:
        """Internal: rule conditions, commands and timer ticks keyed by site (the alert state's single writer)."""
        return f"{self.app_id}-alert-inputs"

    @property
    def notifications_dlq(self) -> str:
        """Notifications whose delivery failed after retries, with the reason."""
        return self._name("notifications.dlq")

    @property
    def scenario_requests(self) -> str:
        """What-if requests and operator feedback for the decision pipeline (one partition: one ordered stream)."""
        return self._name("scenarios.requests")

    @property
    def scenario_results(self) -> str:
        """Decision results keyed by request id (and `priors` updates keyed "priors")."""
        return self._name("scenarios.results")

    @property
    def decisions_app_id(self) -> str:
        return self._name("omnitrack-decisions")

    @property
    def node_inputs(self) -> str:
        """Internal: device status and inventory changes re-keyed by node, for the node twin."""
        return f"{self.app_id}-node-inputs"

    def changelog(self, table: str) -> str:
        """The changelog topic Faust keeps for a table (its durable copy)."""
        return f"{self.app_id}-{table}-changelog"

    @property
    def app_id(self) -> str:
        """Faust application id: also the consumer group and the changelog topics' prefix."""
        return self._name("omnitrack-twin")


def topics_for(settings: Settings) -> Topics:
    return Topics(prefix=settings.topic_prefix)
