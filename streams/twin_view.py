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

from twin.network import SupplyNetwork

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
from twin.network import days_of_cover


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
        stored = self._nodes.get(site_id.encode()) if site_id in self._net.node_by_id else None
        statuses = orjson.loads(stored).get("devices", {}) if stored else {}
        return [{"device_id": d.id, "kind": d.kind.value, "status": statuses.get(d.id, "unknown")}
                for d in self._net.devices_of(site_id)]
