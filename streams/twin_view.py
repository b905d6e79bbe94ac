"""The decision pipeline's view of the live twin, read from the twin's node table.

The decision worker replicates the twin worker's `nodes` changelog as a Faust
GlobalTable (all partitions, read-only), so the Info agent snapshots live
inventory and node health whichever worker owns each node.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping, MutableMapping, Sequence
from typing import Any

import orjson

from twin.network import SupplyNetwork, days_of_cover

log = logging.getLogger(__name__)

FOLLOW_RETRY_S = 2.0
"""Pause before reconnecting a changelog follower whose broker went away."""


async def follow_changelog(bootstrap: str, topic: str, into: MutableMapping[bytes, bytes | None]) -> None:
    """Replicate a compacted changelog topic into `into` (last value per key), forever."""
    from aiokafka import AIOKafkaConsumer, TopicPartition

    while True:
        consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, group_id=None, enable_auto_commit=False,
                                    auto_offset_reset="earliest")
        try:
            await consumer.start()
            partitions = consumer.partitions_for_topic(topic)
            while not partitions:
                await asyncio.sleep(FOLLOW_RETRY_S)
                await consumer._client.force_metadata_update()
                partitions = consumer.partitions_for_topic(topic)
            consumer.assign([TopicPartition(topic, p) for p in partitions])
            await consumer.seek_to_beginning()
            async for record in consumer:
                into[record.key] = record.value
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # noqa: BLE001 - a follower must outlive broker hiccups
            log.warning("changelog follower of %s restarting: %r", topic, exc)
            await asyncio.sleep(FOLLOW_RETRY_S)
        finally:
            await consumer.stop()

class TableTwinView:
    """`engine.agents.info.TwinView` over a table of node rows (bytes keys and JSON values)."""

    def __init__(self, network: SupplyNetwork, nodes: Mapping[bytes, bytes | None]) -> None:
        self._net = network
        self._nodes = nodes

    def node_state(self, node_id: str) -> Mapping[str, Any] | None:
        node = self._net.node_by_id[node_id]
        state: dict[str, Any] = {"inventory": node.inventory, "daily_demand": node.daily_demand,
                                 "days_of_cover": node.days_of_cover}
        stored = self._nodes.get(node_id.encode())
        if stored:
            row = orjson.loads(stored)
            if row.get("inventory") is not None:
                state["inventory"] = row["inventory"]
                state["days_of_cover"] = days_of_cover(float(row["inventory"]), node.daily_demand)
            state["health"] = row.get("level")
        return state

    def device_states(self, site_id: str) -> Sequence[Mapping[str, Any]]:
        """A node's devices with their status from its row; a lane's trackers with ``stalled`` true or false.

        The twin worker keeps no row per lane: a tracker whose shipment stalls is written into the row of each
        end of its lane (``row["stalled"]``: tracker id -> lane id, streams/twin_agents.py), which is what the
        lanes API reads too. Without this, every tracker read ``unknown`` and the flow kernel's stall rule
        (engine/agents/flow_stages.stalled_lanes) never saw a stalled shipment."""
        lane = self._net.lane_by_id.get(site_id)
        if lane is not None:
            stalled: set[str] = set()
            for end in (lane.src, lane.dst):
                for tracker, on_lane in self._row(end).get("stalled", {}).items():
                    if on_lane == site_id:
                        stalled.add(tracker)
            return [{"device_id": d.id, "kind": d.kind.value, "stalled": d.id in stalled,
                     "status": "stalled" if d.id in stalled else "unknown"}
                    for d in self._net.devices_of(site_id)]
        statuses = self._row(site_id).get("devices", {}) if site_id in self._net.node_by_id else {}
        return [{"device_id": d.id, "kind": d.kind.value, "status": statuses.get(d.id, "unknown")}
                for d in self._net.devices_of(site_id)]

    def _row(self, node_id: str) -> dict[str, Any]:
        stored = self._nodes.get(node_id.encode())
        return orjson.loads(stored) if stored else {}
