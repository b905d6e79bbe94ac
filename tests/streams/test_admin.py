"""streams/admin.py against the test broker. (That new topics are served when `ensure_specs` returns is shown where
it mattered: `omnitrack run`'s first screen, tests/omnitrack/test_run.py, which logged the broker's refusals
before; an idle broker here serves a new topic too fast to show it.)"""

from __future__ import annotations

import asyncio

import pytest
from aiokafka import TopicPartition

from omnitrack.stack.endpoints import Endpoints
from streams.admin import ensure_specs, wait_until_served

pytestmark = pytest.mark.integration


def test_the_wait_for_new_partitions_answers_and_has_a_deadline(stack_endpoints: Endpoints,
                                                                 topic_prefix: str) -> None:
    """Served partitions end the wait at once; a partition no broker serves (beyond the topic's count) does not
    hold a process's start for ever: the wait gives up at its deadline and says so."""
    bootstrap, name = stack_endpoints.kafka_bootstrap, f"{topic_prefix}.short"
    asyncio.run(ensure_specs(bootstrap, {name: (2, {})}))
    served = [TopicPartition(name, 0), TopicPartition(name, 1)]
    assert asyncio.run(wait_until_served(bootstrap, served, deadline_s=20)) is True
    assert asyncio.run(wait_until_served(bootstrap, [TopicPartition(name, 5)], deadline_s=2)) is False
