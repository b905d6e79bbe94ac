"""Faust agents that keep the digital twin: device twins, 1-minute aggregates, node health.

Data flow:
  telemetry (batched per partition, keyed by device)
    └─ apply_telemetry: device table (twin + the minute being filled),
       windowed `aggregates` history (one write per device per closed minute), status changes
         └─ node-inputs (keyed by node) ─ apply_node_inputs: node table, node health changes
  status and health transitions ─► twin.changes

All the rules live in `twin/`; this module only moves data between Kafka,
the tables and those pure functions. A record is handled as a batch: readings
of one device within it are folded before the device's row is written once.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any, get_args

import faust
import orjson
from prometheus_client import Counter, Gauge, Histogram

from omnitrack.settings import Settings
from streams.alert_agents import register_alerts
from streams.app import OmniTrackApp, STORE_OPTIONS, restoring
from streams.detector_state import TableStore
from streams.latency_metrics import observe_reading_to_twin
from streams.publish import publish
from streams.records import decode_readings, parked_headers
from streams.silence_clock import judged_at
from streams.topics import topics_for
from streams.twin_rules import RuleEvaluator
from streams.twin_writes import FLUSH_INTERVAL_S, CoalescedWrites
from twin.aggregates import WINDOW_SECONDS, MetricAggregate, OpenWindow, add_values, numeric_values
from twin.device_twin import DeviceState, DeviceStatus, OutcomeKind, StatusChange, TwinState, apply_fields, state_json
from twin.history import closed_window_value, late_id, merge_late
from twin.liveness import refresh_in_place
from twin.network import Device, SupplyNetwork
from twin.node_twin import HealthLevel, assess_node

log = logging.getLogger(__name__)

READINGS = Counter("omnitrack_twin_readings_total", "Readings applied to device twins", ["outcome"])
_OUTCOME_COUNTERS = {kind: READINGS.labels(kind) for kind in get_args(OutcomeKind)}  # looked up once
RECORDS = Counter("omnitrack_twin_records_total", "Telemetry records processed")
CHANGES = Counter("omnitrack_twin_changes_total", "Transitions published on twin.changes", ["type"])
LAG = Histogram(
    "omnitrack_twin_apply_latency_seconds", "From the bridge receiving a message to its twin update",
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0),
)
BAD_RECORDS = Counter("omnitrack_twin_bad_records_total", "Telemetry records the worker could not decode (dead-lettered)")
LATE_REPLAYED = Counter("omnitrack_twin_late_merges_skipped_total",
                        "Late readings a closed history window already held (a replay after a crash), not merged again")
DEVICES = Gauge("omnitrack_twin_devices", "Device twins held by this worker")
LAST_RECORD = Gauge("omnitrack_twin_last_record_timestamp_seconds",
                    "When (Unix time) this worker last finished applying a telemetry record")

AGGREGATE_RETENTION = timedelta(hours=24)
"""History kept in the windowed aggregates table; older windows are expired by Faust."""

SILENCE_CHECK_S = 5.0
"""How often device silence is checked: bounds how late a stale/offline transition is noticed."""

DEFAULT_INTERVAL_S = 60.0
"""Expected reporting interval of a device missing from the network file."""

_EPOCH = datetime.fromtimestamp(0, timezone.utc)


class _WindowClock:
    """The event time used for the next windowed write: the readings' own window, not the record's."""

    ts: float = 0.0

    def __call__(self, _event: Any) -> float:
        return self.ts


@dataclass(slots=True)
class DeviceEntry:
    """One device's row: its twin state (updated in place by this worker, the row's only writer) and the
    1-minute window it is filling. Stored as `DeviceState`'s JSON plus the window."""

    state: TwinState | None
    window: OpenWindow | None

    def to_row(self) -> dict[str, Any]:
        row = state_json(self.state) if self.state else {}
        row["window"] = self.window.to_dict() if self.window else None
        return row

    @classmethod
    def from_row(cls, row: dict[str, Any]) -> "DeviceEntry":
        window = row.pop("window", None)
        return cls(TwinState.of(DeviceState.model_validate(row)), OpenWindow.from_dict(window) if window else None)


def register_twin(app: faust.App, settings: Settings, network: SupplyNetwork) -> dict[str, Any]:
    """Declare the twin's topics, tables and agents on `app`; returns them for tests and the API."""
    topics = topics_for(settings)
    devices_by_id = {d.id: d for d in network.devices}
    nodes_by_id = {n.id: n for n in network.nodes}
    devices_of_node: dict[str, list[str]] = {}
    for d in network.devices:
        if d.node_id is not None:
            devices_of_node.setdefault(d.node_id, []).append(d.id)

    telemetry = app.topic(topics.telemetry, key_type=bytes, value_type=bytes,
                          key_serializer="raw", value_serializer="raw")
    node_inputs = app.topic(topics.node_inputs, key_type=bytes, value_type=bytes,
                            key_serializer="raw", value_serializer="raw")
    changes = app.topic(topics.twin_changes, key_type=bytes, value_type=bytes,
                        key_serializer="raw", value_serializer="raw")
    dead_letters = app.topic(topics.telemetry_dlq, key_type=bytes, value_type=bytes,
                             key_serializer="raw", value_serializer="raw")

    # key_type/value_type bytes make Faust use the raw codec for both the
    # changelog and the local RocksDB store (a Schema alone only covers the changelog).
    device_table = app.Table("devices", key_type=bytes, value_type=bytes, default=None, options=STORE_OPTIONS)
    node_table = app.Table("nodes", key_type=bytes, value_type=bytes, default=None, options=STORE_OPTIONS)
    detector_table = app.Table("detectors", key_type=bytes, value_type=bytes, default=None, options=STORE_OPTIONS)
    clock = _WindowClock()
    aggregates = app.Table("aggregates", default=dict, options=STORE_OPTIONS, schema=faust.Schema(key_serializer="json", value_serializer="json")).tumbling(
        WINDOW_SECONDS, expires=AGGREGATE_RETENTION
    ).relative_to(clock)

    cache: dict[str, DeviceEntry] = {}
    alert_parts = register_alerts(app, topics, network)

    async def stall_to_nodes(device: Device, lane_id: str, stalled: bool, at_s: float) -> None:
        """A shipment stalled or moves again: both ends of its lane re-judge their lanes (`lanes_stalled`)."""
        lane = lanes_by_id.get(lane_id)
        if lane is None:
            return
        body = orjson.dumps({"device_id": device.id, "lane_id": lane_id, "stalled": stalled, "at": at_s})
        for node_id in (lane.src, lane.dst):
            await publish(app, topics.node_inputs, node_id.encode(), body)

    lanes_by_id = {lane.id: lane for lane in network.lanes}
    rules = RuleEvaluator(network, alert_parts["sender"], on_stall=stall_to_nodes,
                          detector_store=TableStore(detector_table, telemetry.get_topic_name()))
    if isinstance(app, OmniTrackApp):  # a rebalance or shutdown, after the last record: what detectors learned since
        app.on_drained.append(rules.save_detectors)
    loaded_all = [False]  # the timer loads every owned row once per assignment (silent devices included)
    stream_time = [datetime.fromtimestamp(0, timezone.utc)]  # newest reading timestamp processed (event time)
    # The same per partition: a record's devices are judged on their own partition's event time. WHY: while a
    # backlog is read, partitions are read unevenly, and one read ahead made devices of the others that had just
    # reported look stale, then online again (a status change per device and reading, published; py-spy: 8 % of
    # the worker in a replay, issue 17). Silence (`watch_silence`) is judged on the newest of all while caught up,
    # on this while behind (`streams.silence_clock`).
    partition_time: dict[int, datetime] = {}
    partition_of: dict[str, int] = {}  # the partition each device's readings came on, since the assignment
    lag_s = [0.0, 0.0]  # processing lag of the last record (bridge receipt to then), and then (monotonic)
    first_check: list[datetime | None] = [None]  # when this worker first judged silence (`judged_at`'s `started`)

    def load(device_id: str) -> DeviceEntry | None:
        entry = cache.get(device_id)
        if entry is None:
            stored = device_table.get(device_id.encode())
            if stored is not None:
                entry = DeviceEntry.from_row(orjson.loads(stored))
                cache[device_id] = entry
        return entry

    async def publish_change(key: str, body: dict[str, Any]) -> None:
        await publish(app, topics.twin_changes, key.encode(), orjson.dumps(body))
        CHANGES.labels(body["type"]).inc()

    async def announce_status(device_id: str, device: Device | None, change: StatusChange, now: datetime) -> None:
        """A device went online/stale/offline: tell twin.changes, its node's twin and the silence rule."""
        node_id = device.node_id if device else None
        if device is not None:
            await rules.silence(device, change.current, now.timestamp())
        await publish_change(device_id, {
            "v": 1, "type": "device_status", "device_id": device_id, "node_id": node_id,
            "previous": change.previous.value if change.previous else None,
            "current": change.current.value, "at": now.isoformat(),
        })
        if node_id:
            await publish(app, topics.node_inputs, node_id.encode(),
                          orjson.dumps({"device_id": device_id, "status": change.current.value}))

    def merge_history(device_id: str, start_s: int, metrics: dict[str, MetricAggregate],
                      late: str | None) -> None:
        """Write a window into the history table: a window the device just closed (`late` None) is written
        whole (no read: nothing of it was written before, and a replay after a crash rewrites the same
        value); a late reading's contribution to an already closed window (`late`: the reading's `late_id`)
        is merged into what is stored, once (twin/history.py: the window lists its late readings, so a replay
        does not count one twice).

        WHY no read for closing windows: every device closes its minute at about the same time, and the
        read (a windowed-table lookup) doubled the cost of that burst, which delayed alerts behind it."""
        clock.ts = float(start_s)
        if late is None:
            aggregates[device_id] = closed_window_value(metrics)
            return
        merged = merge_late(aggregates[device_id].value(), late, metrics)
        if merged is None:
            LATE_REPLAYED.inc()
            return
        aggregates[device_id] = merged

    writes: CoalescedWrites[DeviceEntry] = CoalescedWrites(
        lambda device_id, entry: device_table.__setitem__(device_id.encode(), orjson.dumps(entry.to_row())),
        lambda device_id, start_s, metrics: merge_history(device_id, start_s, metrics, None))

    @app.timer(interval=FLUSH_INTERVAL_S / 2)
    async def flush_idle_partitions() -> None:
        """Flush partitions whose traffic paused, so their rows are current even without a next record."""
        writes.flush_outside_agent(writes.idle())

    if isinstance(app, OmniTrackApp):
        # before a rebalance or shutdown: Faust waits for these records' acknowledgements
        app.before_revoke.append(writes.flush_outside_agent)

    @app.agent(telemetry)
    async def apply_telemetry(stream: faust.StreamT) -> None:
        async for event in stream.noack().events():
            partition = event.message.partition
            touched: dict[str, DeviceEntry] = {}
            inventory_changed: set[str] = set()
            outcomes: dict[str, int] = {}
            try:
                readings = decode_readings(event.value)
            except ValueError as exc:
                # not a record our bridge wrote: parked with its reason, never a crash loop
                await dead_letters.send(key=event.key, value=event.value,
                                        headers=parked_headers("bad_record", repr(exc), event))
                BAD_RECORDS.inc()
                writes.hold(event)
                continue
            newest = partition_time.get(partition, _EPOCH)
            for reading in readings:  # plain dicts (`RecordReading`): no model is built per reading
                device_id, ts, present = reading["device_id"], reading["ts"], reading["metrics"]
                seq = reading.get("seq")
                if ts > newest:
                    newest = ts
                entry = touched.get(device_id) or load(device_id) or DeviceEntry(None, None)
                entry.state, outcome = apply_fields(entry.state, device_id, ts, seq, present)
                outcomes[outcome.kind] = outcomes.get(outcome.kind, 0) + 1
                if outcome.accepted:
                    # The row (state and window) takes the whole reading before the first await: a flush from the
                    # timer or a rebalance runs at an await, and a row written with the reading in its state but
                    # not in its window would, replayed after a crash, skip it as a duplicate and lose it.
                    values = numeric_values(present)
                    opened = entry.window.start_s if entry.window is not None else None
                    entry.window, closed = add_values(entry.window, ts, values)
                    for start_s, metrics in closed:
                        if start_s == opened:
                            writes.closed(partition, device_id, start_s, metrics)
                        else:  # a late reading merges into what is stored: write every closed window first
                            writes.write_closed(partition)
                            merge_history(device_id, start_s, metrics, late_id(ts, seq, present))
                    if "inventory" in outcome.changed_metrics:
                        inventory_changed.add(device_id)
                    if (device := devices_by_id.get(device_id)) is not None:
                        await rules.observe(device, ts.timestamp(), values, present.get("position"))
                touched[device_id] = entry
            # Status is judged on event time: a worker catching up a backlog must not
            # find every device "stale" merely because it reads old readings late.
            partition_time[partition] = newest
            if newest > stream_time[0]:
                stream_time[0] = newest
            now = min(newest, datetime.now(timezone.utc))
            for device_id, entry in touched.items():
                partition_of[device_id] = partition
                device = devices_by_id.get(device_id)
                interval = device.expected_interval_s if device else DEFAULT_INTERVAL_S
                change = refresh_in_place(entry.state, now, interval)
                cache[device_id] = entry
                writes.row(partition, device_id, entry)
                node_id = device.node_id if device else None
                if change is not None:
                    await announce_status(device_id, device, change, now)
                if node_id and device_id in inventory_changed:
                    inventory = entry.state.last_values["inventory"].value
                    await publish(app, topics.node_inputs, node_id.encode(),
                                  orjson.dumps({"device_id": device_id, "inventory": inventory}))
            writes.record_done(event)
            for kind, count in outcomes.items():
                _OUTCOME_COUNTERS[kind].inc(count)
            RECORDS.inc()
            LAST_RECORD.set_to_current_time()
            DEVICES.set(len(cache))
            if readings:
                observe_reading_to_twin(min(r["ts"] for r in readings))  # the record's oldest: an upper bound
            received = dict(event.headers or {}).get("bridge_received_ms")
            if received:
                lag_s[0], lag_s[1] = max(0.0, time.time() - int(received) / 1000), time.monotonic()
                LAG.observe(lag_s[0])

    @app.agent(node_inputs)
    async def apply_node_inputs(stream: faust.StreamT) -> None:
        async for event in stream.events():
            node_id = event.key.decode()
            node = nodes_by_id.get(node_id)
            if node is None:
                continue
            update = orjson.loads(event.value)
            stored = node_table.get(event.key)
            row = orjson.loads(stored) if stored else {
                "inventory": None, "devices": {d: DeviceStatus.online.value for d in devices_of_node.get(node_id, [])},
                "level": None,
            }
            if "status" in update:
                row["devices"][update["device_id"]] = update["status"]
            if "inventory" in update:
                row["inventory"] = update["inventory"]
                await rules.inventory(node_id, float(update["inventory"]), time.time())
            if "stalled" in update:
                stalled = row.setdefault("stalled", {})  # tracker id -> its lane, while its shipment is stalled
                if update["stalled"]:
                    stalled[update["device_id"]] = update["lane_id"]
                else:
                    stalled.pop(update["device_id"], None)
                await rules.lanes(node_id, sorted(set(stalled.values())), float(update.get("at") or time.time()))
            previous = HealthLevel(row["level"]) if row["level"] else None
            health, transitioned = assess_node(
                node_id, row["inventory"] if row["inventory"] is not None else node.inventory, node.daily_demand,
                [DeviceStatus(s) for s in row["devices"].values()], previous,
            )
            row["level"] = health.level.value
            row["days_of_cover"] = health.days_of_cover
            node_table[event.key] = orjson.dumps(row)
            if transitioned:
                await publish_change(node_id, {
                    "v": 1, "type": "node_health", "node_id": node_id,
                    "previous": previous.value if previous else None, "current": health.level.value,
                    "reasons": list(health.reasons), "days_of_cover": health.days_of_cover,
                    "at": datetime.now(timezone.utc).isoformat(),
                })

    @app.timer(interval=SILENCE_CHECK_S)
    async def watch_silence() -> None:
        """Devices that stop reporting get no reading to update them: find them here, each judged at the time
        `streams.silence_clock.judged_at` gives (event time; behind a backlog, its own partition's)."""
        if restoring(app):
            return
        if not loaded_all[0]:
            for key, stored in list(device_table.items()):
                if stored is not None:
                    cache.setdefault(key.decode(), DeviceEntry.from_row(orjson.loads(stored)))
            loaded_all[0] = True
        wall = datetime.now(timezone.utc)
        started = first_check[0] = first_check[0] or wall
        newest = stream_time[0] if stream_time[0] > _EPOCH else None
        lag, lag_age = lag_s[0], time.monotonic() - lag_s[1]
        for device_id, entry in list(cache.items()):
            device = devices_by_id.get(device_id)
            if entry.state is None or device is None:
                continue
            part = partition_of.get(device_id)
            now = judged_at(wall, newest, partition_time.get(part) if part is not None else None, lag, lag_age, started)
            if now is None:
                continue
            change = refresh_in_place(entry.state, now, device.expected_interval_s)
            if change is None:
                continue
            # the row is rewritten with this status by the device's next reading
            await announce_status(device_id, device, change, now)

    @app.on_partitions_revoked.connect
    async def _forget_cache(*_args: Any, **_kwargs: Any) -> None:
        # A partition may move to another worker: its rows must be re-read, not served stale.
        cache.clear()
        rules.partitions_revoked()
        loaded_all[0] = False
        # unwritten rows of revoked partitions are dropped with their unacknowledged records:
        # the partition's next owner processes those records again
        writes.forget()
        partition_time.clear()
        partition_of.clear()

    return {"devices": device_table, "nodes": node_table, "detectors": detector_table, "aggregates": aggregates,
            "telemetry": telemetry, "changes": changes, "node_inputs": node_inputs}
