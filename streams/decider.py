"""`omnitrack decider`: the decision worker (its own Faust app), and the client side of `omnitrack scenario`."""

from __future__ import annotations

import asyncio
import time
import uuid
from typing import Any

import orjson
from prometheus_client import start_http_server

from omnitrack.settings import Settings
from streams.admin import ensure_topics
from streams.app import create_app, make_worker
from streams.decisions import register_decisions
from streams.network_file import load_network
from streams.topics import topics_for


def main(settings: Settings, loglevel: str = "warning") -> int:

    from engine.pipeline import warm_start

    network = load_network(settings.network_file)
    topics = topics_for(settings)
    replication = asyncio.run(ensure_topics(settings.bootstrap, topics))
    warm_start(flow=settings.decision_kernel == "flow")  # compile the kernels now, so the first request is not slow
    app = create_app(settings, app_id=topics.decisions_app_id, role="decider", topic_replication_factor=replication)
    register_decisions(app, settings, network, stages=_stages(settings))
    start_http_server(settings.metrics_port_for("decider"), addr=settings.metrics_host)
    make_worker(app, loglevel).execute_from_commandline()
    return 0


def _stages(settings: Settings):  # noqa: ANN202 - engine.pipeline.Stages
    """The stages of `decision_kernel`, with `decision_fail_stage` replaced by one that raises (fault injection)."""
    import dataclasses

    from engine.pipeline import stages_for

    stages = stages_for(settings.decision_kernel)
    if settings.decision_fail_stage:
        stage = settings.decision_fail_stage

        def fail(*_args: object) -> None:
            raise RuntimeError(f"injected failure in stage {stage} (OMNITRACK_DECISION_FAIL_STAGE)")

        stages = dataclasses.replace(stages, **{stage: fail})
    return stages


async def follow_from_end(consumer: Any, topic: str) -> None:
    """Assign every partition of `topic` to a started group-less consumer, positioned at the end: it then sees
    only answers produced after this call (the request is sent next)."""
    from aiokafka import TopicPartition

    parts = [TopicPartition(topic, p) for p in consumer.partitions_for_topic(topic) or
             (await consumer._client.force_metadata_update() and consumer.partitions_for_topic(topic)) or []]
    consumer.assign(parts)
    await consumer.seek_to_end(*parts)


async def submit(settings: Settings, body: dict[str, Any], *, wait_s: float = 120.0) -> dict[str, Any] | None:
    """Produce a request (or feedback) and wait for its answer on scenarios.results; None on timeout."""
    from aiokafka import AIOKafkaConsumer, AIOKafkaProducer

    topics = topics_for(settings)
    await ensure_topics(settings.bootstrap, topics)
    key = "priors" if body.get("kind") == "feedback" else str(body.setdefault("request_id", f"cli-{uuid.uuid4().hex[:12]}"))
    consumer = AIOKafkaConsumer(bootstrap_servers=settings.bootstrap, enable_auto_commit=False, group_id=None)
    await consumer.start()
    try:
        await follow_from_end(consumer, topics.scenario_results)
        # idempotent: a request retried after a broker failover is asked once
        producer = AIOKafkaProducer(bootstrap_servers=settings.bootstrap, acks="all", enable_idempotence=True)
        await producer.start()
        try:
            await producer.send_and_wait(topics.scenario_requests, key=str(body.get("request_id", key)).encode(),
                                         value=orjson.dumps(body))
        finally:
            await producer.stop()
        end = time.monotonic() + wait_s
        while time.monotonic() < end:
            for records in (await consumer.getmany(timeout_ms=500)).values():
                for record in records:
                    if record.key == key.encode():
                        return orjson.loads(record.value)
        return None
    finally:
        await consumer.stop()
