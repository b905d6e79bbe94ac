"""LeaveGroup for a static member, by its instance id: the request aiokafka does not have.

Why: our Faust apps join their groups as static members (`group_instance_id`, streams/app.py), and a graceful
stop must leave (streams/kafka_transport.leave_on_stop). aiokafka only speaks LeaveGroup v0-v1, which name the
member by the member id the broker gave it; a process stopped before it has read its JoinGroup response (a
SIGTERM while it rejoins, or while a rebalance reset its generation) does not know that id, so it sent nothing
and stayed listed, holding its partitions, for the whole session timeout. Seen once in five clean CI runs of
tests/streams/notify/test_notify_membership.py, which stops the notifier the moment the broker lists it.

LeaveGroup v3 (Kafka 2.4+, KIP-345) names members by instance id, and the broker accepts an unknown member id
beside it (as the admin client's "remove members" does), so the leave no longer depends on how far the join got.
A known member id is still sent, so the broker's fencing check holds (a second process configured with the same
instance id by mistake is not removed by the first one's stop). A broker before 2.4 (static membership came in
2.3) gets aiokafka's leave by member id, when the member knows it.
"""

from __future__ import annotations

import logging
import weakref
from typing import Any

from aiokafka.errors import KafkaError, for_code
from aiokafka.protocol.api import Request, RequestStruct, Response
from aiokafka.protocol.group import LeaveGroupRequest
from aiokafka.protocol.types import Array, Int16, Int32, Schema, String

log = logging.getLogger(__name__)

UNKNOWN_MEMBER_ID = ""
"""What a member that has not read its JoinGroup response knows of its member id (the protocol's null value)."""


class LeaveGroupResponse_v3(Response):
    API_KEY = 13
    API_VERSION = 3
    SCHEMA = Schema(
        ("throttle_time_ms", Int32),
        ("error_code", Int16),
        ("members", Array(("member_id", String("utf-8")), ("group_instance_id", String("utf-8")),
                          ("error_code", Int16))),
    )


class LeaveGroupRequest_v3(RequestStruct):
    API_KEY = 13
    API_VERSION = 3
    RESPONSE_TYPE = LeaveGroupResponse_v3
    SCHEMA = Schema(
        ("group_id", String("utf-8")),
        ("members", Array(("member_id", String("utf-8")), ("group_instance_id", String("utf-8")))),
    )


class StaticLeaveRequest(Request[LeaveGroupRequest_v3]):
    """One static member's leave. Only v3 is offered: v4+ are flexible versions, and v3 carries all we send."""

    API_KEY = 13

    def __init__(self, group_id: str, member_id: str, group_instance_id: str) -> None:
        self._group_id = group_id
        self._member_id = member_id
        self._instance_id = group_instance_id

    def build(self, request_struct_class: type[LeaveGroupRequest_v3]) -> LeaveGroupRequest_v3:
        return request_struct_class(self._group_id, [(self._member_id, self._instance_id)])


def leave_errors(response: Any) -> list[str]:
    """The errors a LeaveGroup v3 response reports, the group's and each member's, by name (empty: it left)."""
    codes = [response.error_code] + [member[2] for member in response.members]
    return [for_code(code).__name__ for code in codes if code != 0]


_left_early: weakref.WeakKeyDictionary[Any, tuple[int, str]] = weakref.WeakKeyDictionary()
"""Each coordinator that left from its stopping app, with the (generation, member id) it left as."""


async def leave_early(coordinator: Any) -> None:
    """Leave now, while the app stops and before the consumer closes (streams/kafka_transport.Consumer.on_stop).

    Why: the close sends the leave only once the coordination routine has ended, and a routine caught in a
    rebalance when the stop came never ends: it waits in Faust's rebalance callback for an app that has stopped
    answering, so the leave was never sent and the member stayed listed for the session timeout (1 run in ~10 of
    tests/streams/notify/test_notify_membership.py, whose SIGTERM comes while the restarted notifier rejoins).
    The generation is kept (resetting it asks the routine to rejoin at once); the close leaves again only if the
    member joined anew in between (a heartbeat told of the leave, a join in flight that completed)."""
    await _leave(coordinator)
    _left_early[coordinator] = (coordinator.generation, coordinator.member_id)


async def leave_on_close(coordinator: Any) -> None:
    """The consumer's close: leave as this static member, whatever the join's state, unless it left early as it
    still is; then forget the generation."""
    if _left_early.pop(coordinator, None) != (coordinator.generation, coordinator.member_id):
        await _leave(coordinator)
    coordinator.reset_generation()


async def _leave(coordinator: Any) -> None:
    """Best effort, as aiokafka's own leave: a failure is logged, never raised, since the process is stopping."""
    instance_id = coordinator._group_instance_id
    try:
        errors = await _send_leave(coordinator, coordinator.member_id or UNKNOWN_MEMBER_ID, instance_id)
        if errors:  # UnknownMemberIdError: the broker had already dropped us; nothing is left to hold
            log.warning("LeaveGroup for %s (instance %s, generation %s) answered %s", coordinator.group_id,
                        instance_id, coordinator.generation, ", ".join(errors))
    except KafkaError as err:
        log.warning("LeaveGroup for %s (instance %s, generation %s) failed: %r", coordinator.group_id,
                    instance_id, coordinator.generation, err)


async def _send_leave(coordinator: Any, member_id: str, instance_id: str) -> list[str]:
    """LeaveGroup v3 by instance id; on a broker before 2.4 (static membership came in 2.3), aiokafka's leave by
    member id, if known. The errors the broker answered, by name (aiokafka's older leave raises its own)."""
    try:
        response = await coordinator._send_req(StaticLeaveRequest(coordinator.group_id, member_id, instance_id))
    except NotImplementedError:
        if member_id:
            await coordinator._send_req(LeaveGroupRequest(coordinator.group_id, member_id))
        return []
    return leave_errors(response)
