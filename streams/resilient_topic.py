"""Faust topics whose declaration waits out a broker outage instead of crashing the worker.

Why: after a broker restart the consumer group rebalances and Faust's conductor re-declares every subscribed
topic (a create-topics request, even for topics that exist). With the broker still coming back, that request
fails with NodeNotReadyError or a connection error, the exception crashes the conductor, and the whole worker
stops consuming (seen: tests/faults/test_broker_kill.py, a twin worker dead 1 s after a 10 s outage, its tables
never catching up). Here a transient error is retried with backoff for as long as an outage may last; anything
else, or an outage past the deadline, still raises.
"""

from __future__ import annotations

import asyncio
import logging

import faust
from aiokafka.errors import KafkaConnectionError, KafkaTimeoutError, NodeNotReadyError, RequestTimedOutError

log = logging.getLogger(__name__)

TRANSIENT = (KafkaConnectionError, KafkaTimeoutError, NodeNotReadyError, RequestTimedOutError, asyncio.TimeoutError)
"""Errors that mean "the broker is not reachable yet", not "this topic cannot be declared"."""

DECLARE_DEADLINE_S = 300.0
"""How long a declaration keeps retrying: longer than a broker restart or a leader election; past it, a worker
that cannot reach Kafka should fail loudly rather than wait forever."""

FIRST_BACKOFF_S, MAX_BACKOFF_S = 0.5, 5.0
"""Retry spacing: quick at first (a restart takes seconds), capped so a long outage is not hammered."""


class ResilientTopic(faust.Topic):
    """A Faust topic whose `declare` retries transient broker errors (see the module docstring)."""

    async def declare(self) -> None:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + DECLARE_DEADLINE_S
        backoff = FIRST_BACKOFF_S
        while True:
            try:
                await super().declare()
                return
            except TRANSIENT as exc:
                if loop.time() + backoff > deadline:
                    raise
                log.warning("declaring %s: broker not ready (%s); retrying in %.1f s", self.topics, exc, backoff)
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, MAX_BACKOFF_S)
