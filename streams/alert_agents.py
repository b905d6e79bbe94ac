"""Faust agents of the alert lifecycle: conditions in, one alert per (subject, rule) out.

  twin agents ─ conditions (keyed by site) ─┐
  alerts.commands (ack/clear/assign/comment) ┼─► alert-inputs ─► apply_alert_inputs ─► `sites` table
  tick timer (sites with live alerts) ───────┘                                    └─► alerts (keyed by alert id)

Every input for a site goes through one partition, so the site's alert state
(`twin.alerts.site.SiteAlerts`) has a single writer: concurrent readings can
never open duplicate alerts. The rules, hysteresis, severity and storm control
are pure code in `twin/alerts/`; this module only moves data.
"""

from __future__ import annotations

import logging
import time
from datetime import datetime, timezone
from typing import Any

import faust
import orjson
from prometheus_client import Counter, Histogram

from streams.records import parked_headers
from streams.topics import Topics
from streams.app import STORE_OPTIONS, restoring
from twin.alerts.contract import encode_event
from twin.alerts.errors import AlertError, UnknownAlertError
from twin.alerts.models import AlertCommand, Condition
from twin.alerts.severity import risk_table
from twin.alerts.site import SiteAlerts, alerts_of, apply_command, evaluate, tick
from twin.network import SupplyNetwork

log = logging.getLogger(__name__)

EVENTS = Counter("omnitrack_alerts_events_total", "Alert lifecycle events published", ["transition", "severity"])
INPUTS = Counter("omnitrack_alerts_inputs_total", "Inputs to the alert lifecycle", ["type"])
REJECTED = Counter("omnitrack_alerts_commands_rejected_total", "Operator commands that could not be applied")
READING_TO_ALERT = Histogram(
    "omnitrack_alerts_reading_to_alert_seconds", "From the reading's device timestamp to its alert event",
    buckets=(0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0),
)

TICK_INTERVAL_S = 5.0
"""How often sites with live alerts get a tick: bounds how late a hold-to-clear or an escalation fires."""


class AlertInputs:
    """The sending side, used by the twin agents: conditions keyed by their site."""

    def __init__(self, topic: faust.TopicT) -> None:
        self._topic = topic

    async def condition(self, cond: Condition, reading_ts_ms: int | None = None) -> None:
        body = {"type": "condition", "condition": cond.model_dump(mode="json"), "reading_ts_ms": reading_ts_ms}
        await self._topic.send(key=cond.site_id.encode(), value=orjson.dumps(body))


def register_alerts(app: faust.App, topics: Topics, network: SupplyNetwork) -> dict[str, Any]:
    """Declare the alert topics, the per-site table and the agents on `app`."""
    raw = {"key_type": bytes, "value_type": bytes}
    raw_topic = {**raw, "key_serializer": "raw", "value_serializer": "raw"}
    inputs = app.topic(topics.alert_inputs, **raw_topic)
    commands = app.topic(topics.alert_commands, **raw_topic)
    commands_dlq = app.topic(topics.alert_commands_dlq, **raw_topic)
    alerts = app.topic(topics.alerts, **raw_topic)
    sites = app.Table("sites", default=None, options=STORE_OPTIONS, **raw)
    risks = risk_table(network)
    live_sites: set[bytes] = set()

    async def park(value: bytes, reason: str, exc: Exception, event: Any) -> None:
        """A command that cannot be applied, kept as sent with why: the operator's tool can find out (a log
        line on one worker is not an answer), and nothing is dropped."""
        REJECTED.inc()
        log.warning("alert command parked on %s (%s): %s", topics.alert_commands_dlq, reason, exc)
        await commands_dlq.send(key=None, value=value, headers=parked_headers(reason, str(exc), event))

    async def publish(events: list, reading_ts_ms: int | None) -> None:
        for event in events:
            key, value = encode_event(event)
            await alerts.send(key=key, value=value)
            EVENTS.labels(event.transition.kind.value, event.alert.severity.value).inc()
            if reading_ts_ms and event.transition.kind.value in ("created", "suppressed"):
                READING_TO_ALERT.observe(max(0.0, time.time() - reading_ts_ms / 1000))

    @app.agent(inputs)
    async def apply_alert_inputs(stream: faust.StreamT) -> None:
        async for event in stream.events():
            body = orjson.loads(event.value)
            kind = body["type"]
            INPUTS.labels(kind).inc()
            stored = sites.get(event.key)
            state = SiteAlerts.model_validate_json(stored) if stored else None
            now = datetime.now(timezone.utc)
            try:
                if kind == "condition":
                    cond = Condition.model_validate(body["condition"])
                    new, events = evaluate(state, cond, risks.get(cond.site_id), now)
                elif kind == "command":
                    new, events = apply_command(state, AlertCommand.model_validate(body["command"]), now)
                elif state is not None:
                    new, events = tick(state, now)
                else:
                    continue
            except (AlertError, ValueError) as exc:
                if kind == "command":  # the operator's command, as it was sent, with why it did not apply
                    await park(orjson.dumps(body["command"]), _reason(exc), exc, event)
                else:
                    REJECTED.inc()
                    log.warning("alert input for site %s rejected: %s", event.key, exc)
                continue
            if new is not state:
                sites[event.key] = new.model_dump_json().encode()
            if any(a.active for a in alerts_of(new).values()):
                live_sites.add(event.key)
            else:
                live_sites.discard(event.key)
            await publish(events, body.get("reading_ts_ms"))

    @app.agent(commands)
    async def route_commands(stream: faust.StreamT) -> None:
        async for event in stream.events():
            try:
                command = AlertCommand.model_validate_json(event.value)
            except ValueError as exc:
                await park(event.value or b"", "invalid", exc, event)
                continue
            await inputs.send(key=command.site_id.encode(), value=orjson.dumps(
                {"type": "command", "command": command.model_dump(mode="json")}))

    loaded = [False]

    @app.timer(interval=TICK_INTERVAL_S)
    async def tick_live_sites() -> None:
        if not loaded[0]:  # after a start or a rebalance: sites whose alerts still wait for a clear or escalation
            if restoring(app):  # mid-restore the table still holds the old local copy: a site could be missed
                return
            for key, stored in list(sites.items()):
                if stored and any(a.active for a in alerts_of(SiteAlerts.model_validate_json(stored)).values()):
                    live_sites.add(key)
            loaded[0] = True
        for site in list(live_sites):
            await inputs.send(key=site, value=b'{"type":"tick"}')

    @app.on_partitions_revoked.connect
    async def _forget_sites(*_args: Any, **_kwargs: Any) -> None:
        live_sites.clear()  # the new owner of a site ticks it from its own inputs
        loaded[0] = False

    return {"inputs": inputs, "commands": commands, "alerts": alerts, "sites": sites,
            "sender": AlertInputs(inputs)}


def _reason(exc: Exception) -> str:
    """The DLQ `reason` of a command the state machine refused."""
    return "unknown_alert" if isinstance(exc, UnknownAlertError) else "invalid"

