"""Static group membership of our Faust apps (streams/app.py `consumer_group_instance_id`) and the leave on a
graceful stop (streams/kafka_transport.leave_on_stop), seen from the broker with the real notifier process:

* a SIGKILLed process comes back as the member it was: the broker swaps the member in place instead of waiting
  out the dead one's session in a rebalance (tests/faults' kill loops print the recovery: ~10 s before, 2-3 s);
* a process stopped with SIGTERM leaves the group before it exits: with static membership alone it would stay
  listed, holding its partitions, for the whole session timeout."""

from __future__ import annotations

import asyncio

import pytest
from aiokafka.admin import AIOKafkaAdminClient

from streams.notify.topics import notify_app_id
from streams.notify.worker import ensure_notify_topics
from streams.topics import topics_for
from tests.streams.conftest import wait_for
from tests.streams.notify.conftest import NotifierProc

pytestmark = pytest.mark.integration


def _group(bootstrap: str, group: str) -> tuple[str, list[str]]:
    """(state, member ids) of a consumer group, as the broker has it now."""
    async def describe() -> tuple[str, list[str]]:
        admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
        await admin.start()
        try:
            (resp,) = await admin.describe_consumer_groups([group])
            (_err, _gid, state, _ptype, _proto, members, *_rest) = resp.groups[0]
            return state, [m[0] for m in members]
        finally:
            await admin.close()

    return asyncio.run(describe())


@pytest.mark.timeout(180)
def test_a_killed_notifier_rejoins_in_place_and_a_stopped_one_leaves(notifier: NotifierProc) -> None:
    settings = notifier.settings
    asyncio.run(ensure_notify_topics(settings.bootstrap, topics_for(settings)))
    group = notify_app_id(topics_for(settings))
    notifier.start()
    wait_for(lambda: _group(settings.bootstrap, group)[0] == "Stable", 90, "the notifier in its group")
    first = _group(settings.bootstrap, group)[1]
    assert len(first) == 1

    notifier.kill()
    assert _group(settings.bootstrap, group)[1] == first     # dead, but still the member (session not over)
    notifier.start()
    seen: list[list[str]] = []

    def replaced() -> bool:
        state, members = _group(settings.bootstrap, group)
        seen.append(members)
        return state == "Stable" and members != first

    wait_for(replaced, 90, "the restarted notifier in place of the killed one")
    # Replaced, never listed beside the dead member (a dynamic member would be, until the dead one's session ends)
    assert max(len(m) for m in seen) == 1 and len(seen[-1]) == 1, seen

    notifier.stop()                                             # SIGTERM: returns once the process has exited
    assert notifier.proc is not None and notifier.proc.returncode is not None
    state, members = _group(settings.bootstrap, group)
    assert members == [], (state, members, notifier.log()[-3000:])  # left before exiting
