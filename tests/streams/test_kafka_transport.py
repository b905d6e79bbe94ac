"""Our Faust apps consume with a short fetch wait (no broker needed: the consumer is only built)."""

from __future__ import annotations

import asyncio
import socket

from omnitrack.settings import Settings
from streams.app import create_app
from streams.kafka_transport import FETCH_MAX_WAIT_MS, Transport


def _fetch_wait_ms(app) -> int:  # noqa: ANN001
    async def build() -> int:  # aiokafka builds its consumer inside a running loop
        return app.consumer._thread._create_worker_consumer(app.transport)._fetch_max_wait_ms

    return asyncio.run(build())


def test_twin_worker_waits_at_most_the_short_fetch_wait_others_keep_fausts(tmp_path) -> None:
    settings = Settings(home=tmp_path, topic_prefix="t-transport")
    worker = create_app(settings)
    assert isinstance(worker.transport, Transport)
    assert _fetch_wait_ms(worker) == FETCH_MAX_WAIT_MS < 1500
    assert _fetch_wait_ms(create_app(settings, app_id="t-transport-notify", role="notifier")) == 1500


def test_fausts_producer_waits_for_all_replicas_and_is_idempotent(tmp_path) -> None:
    """Even when an app lowers `producer_acks`: a changelog write acknowledged by the leader alone dies with it."""
    app = create_app(Settings(home=tmp_path, topic_prefix="t-transport"), producer_acks=1)

    async def build() -> tuple[int, bool]:
        producer = app.producer._new_producer()
        try:
            return producer._sender._acks, producer._txn_manager is not None
        finally:
            await producer.stop()

    assert asyncio.run(build()) == (-1, True)  # -1 is acks=all


def test_fausts_own_topics_get_the_replication_of_the_engines(tmp_path) -> None:
    one = create_app(Settings(home=tmp_path, topic_prefix="t-transport", kafka_brokers=1))
    three = create_app(Settings(home=tmp_path, topic_prefix="t-transport", kafka_brokers=3))
    passed = create_app(Settings(home=tmp_path, topic_prefix="t-transport", kafka_brokers=1), topic_replication_factor=3)
    assert [a.conf.topic_replication_factor for a in (one, three, passed)] == [1, 3, 3]


def test_each_process_joins_as_a_static_member_of_its_own(tmp_path) -> None:
    """Static membership (docs/operations.md): one instance id per app, role, worker id and host, so a restarted
    process is the member it was, and replicas that share a worker id on other hosts do not fence each other."""
    settings = Settings(home=tmp_path, topic_prefix="t-transport")
    ids = [create_app(settings).conf.consumer_group_instance_id,
           create_app(settings.model_copy(update={"worker_id": 1})).conf.consumer_group_instance_id,
           create_app(settings, app_id="t-transport-notify", role="notifier").conf.consumer_group_instance_id]
    assert len(set(ids)) == 3 and all(i.endswith(socket.gethostname()) for i in ids)
    assert ids[0] == create_app(settings).conf.consumer_group_instance_id    # the same process again: the same id
