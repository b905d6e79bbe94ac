"""The routes the console's lane layer, alert detail and alert actions need, and the HTTP features around them:
GET /twin/lanes and `/twin/stream?kind=node,lane`, GET /alerts/{id} with transitions and devices, assign / comment /
clear as commands (operator only), GET /twin/nodes and /twin/devices paging, gzip. The API app in process
(aiohttp's test server) against the session's real broker, with this test's topic prefix."""

from __future__ import annotations

import asyncio
import gzip
import time
from typing import Any

import orjson
import pytest
from aiohttp.test_utils import TestClient

from omnitrack.settings import Settings
from streams.admin import ensure_topics
from streams.api.catalog import API_PREFIX
from streams.api.schemas import AlertDetail, LaneList, NodeList
from streams.network_file import load_network
from streams.produce import produce
from streams.topics import Topics
from tests.streams.api.helpers import T0, alert_event, alert_records, bearer, consume_until, json_values
# the API on a loopback test server and its settings fixture: the route tests', shared
from tests.streams.api.test_routes import api, api_settings  # noqa: F401
from twin.alerts.models import TransitionKind

pytestmark = pytest.mark.integration

VIEWER, OPERATOR = bearer("viewer", "watcher"), bearer("operator", "ops@site")
NETWORK = load_network(Settings().network_file)
LANE = next(lane for lane in NETWORK.lanes if any(d.lane_id == lane.id for d in NETWORK.devices))
TRACKER = next(d.id for d in NETWORK.devices if d.lane_id == LANE.id)
REEFER = next(d for d in NETWORK.devices if d.kind.value == "reefer_temperature" and d.node_id)


async def until(client: TestClient, path: str, check: Any, deadline_s: float = 30.0) -> Any:
    """GET `path` (viewer) until `check(body)` holds; AssertionError at the deadline."""
    end = time.monotonic() + deadline_s
    while True:
        response = await client.get(path, headers=VIEWER)
        body = await response.json() if response.status == 200 else None
        if body is not None and check(body):
            return body
        assert time.monotonic() < end, f"{path}: {response.status} {body}"
        await asyncio.sleep(0.1)


async def next_data(response: Any) -> dict[str, Any]:
    while True:
        line = await asyncio.wait_for(response.content.readline(), 30)
        if line.startswith(b"data:"):
            return orjson.loads(line.removeprefix(b"data: "))


def test_stalled_lanes_listed_and_streamed(api_settings: Settings) -> None:
    settings = api_settings
    topics = Topics(settings.topic_prefix)

    async def run() -> None:
        await ensure_topics(settings.bootstrap, topics)
        async with api(settings) as client:
            stream = await client.get(f"{API_PREFIX}/twin/stream?kind=node,lane", headers=VIEWER)
            assert stream.status == 200 and await stream.content.readline() == b"retry: 3000\n"
            await produce(settings.bootstrap, topics.twin_changes, [(b"D-1", orjson.dumps(
                {"v": 1, "type": "device_status", "device_id": "D-1", "current": "stale"}))])  # not asked for
            # the twin worker's node rows: the tracker's shipment stalled, said by both ends of its lane
            await produce(settings.bootstrap, topics.changelog("nodes"), [
                (LANE.src.encode(), orjson.dumps({"level": "ok", "devices": {}, "stalled": {TRACKER: LANE.id}})),
                (LANE.dst.encode(), orjson.dumps({"level": "ok", "devices": {}, "stalled": {TRACKER: LANE.id}}))])
            change = await next_data(stream)
            assert (change["type"], change["lane_id"], change["stalled_shipments"], change["trackers"]) == (
                "lane_stall", LANE.id, 1, [TRACKER])
            body = await until(client, f"{API_PREFIX}/twin/lanes?stalled=true", lambda b: b["count"] == 1)
            LaneList.model_validate(body)
            [lane] = body["lanes"]
            assert (lane["id"], lane["src"], lane["dst"], lane["stalled_shipments"], lane["trackers"]) == (
                LANE.id, LANE.src, LANE.dst, 1, [TRACKER])
            every = await until(client, "/twin/lanes?limit=2", lambda b: b["total"] == len(NETWORK.lanes))
            assert every["lanes"][0]["id"] == LANE.id and every["next"]  # most stalled first, paged
            second = await until(client, f"/twin/lanes?limit=2&after={every['next']}", lambda b: True)
            assert LANE.id not in {x["id"] for x in second["lanes"]} and second["count"] == 2
            # moving again: both ends let go; the stream says 0 once the second does
            await produce(settings.bootstrap, topics.changelog("nodes"), [
                (LANE.src.encode(), orjson.dumps({"level": "ok", "devices": {}, "stalled": {}})),
                (LANE.dst.encode(), orjson.dumps({"level": "ok", "devices": {}, "stalled": {}}))])
            assert (await next_data(stream))["stalled_shipments"] == 0
            await until(client, "/twin/lanes?stalled=true", lambda b: b["count"] == 0)
            stream.close()
            # refused: no token, a bad filter or cursor, a cursor of another route
            assert (await client.get("/twin/lanes")).status == 401
            for query in ("stalled=maybe", "limit=0", "after=%%%", "after=" + every["next"] + "x", "colour=red"):
                response = await client.get(f"/twin/lanes?{query}", headers=VIEWER)
                answer = await response.json()
                assert response.status == 400 and answer["error"] == "invalid_request", (query, answer)
                assert answer["detail"], answer

    asyncio.run(run())


def test_twin_lists_page_with_a_cursor(api_settings: Settings) -> None:
    settings = api_settings
    topics = Topics(settings.topic_prefix)

    async def run() -> None:
        await ensure_topics(settings.bootstrap, topics)
        await produce(settings.bootstrap, topics.changelog("nodes"), [
            (f"N{i:02d}".encode(), orjson.dumps({"level": ["ok", "critical"][i % 2], "days_of_cover": float(i)}))
            for i in range(25)])
        await produce(settings.bootstrap, topics.changelog("devices"), [
            (f"D{i:02d}".encode(), orjson.dumps({"status": "online", "last_seen": f"2026-01-01T00:00:{i:02d}Z"}))
            for i in range(5)])
        async with api(settings) as client:
            await until(client, "/twin/nodes?limit=1", lambda b: b["total"] == 25)
            seen, after = [], None
            while True:
                page = await until(client, "/twin/nodes?limit=10" + (f"&after={after}" if after else ""),
                                   lambda b: True)
                NodeList.model_validate(page)
                seen += [n["id"] for n in page["nodes"]]
                after = page["next"]
                if after is None:
                    break
            assert len(seen) == 25 == len(set(seen))
            assert seen[:2] == ["N01", "N03"] and seen[-1] == "N24"  # critical, least cover first
            devices = await until(client, "/twin/devices?limit=3", lambda b: b["total"] == 5)
            assert [d["id"] for d in devices["devices"]] == ["D00", "D01", "D02"] and devices["next"]
            response = await client.get(f"/twin/nodes?after={devices['next']}", headers=VIEWER)
            assert response.status == 400 and (await response.json())["detail"][0]["loc"] == ["after"]

    asyncio.run(run())


def test_alert_detail_and_the_actions_of_an_operator(api_settings: Settings) -> None:
    settings = api_settings
    topics = Topics(settings.topic_prefix)
    created = alert_event("c1", 1, site=REEFER.node_id, rule="cold_chain")
    reefer = created.alert.model_copy(update={"subject_id": REEFER.id, "dedup_key": f"device:{REEFER.id}:cold_chain"})
    events = [created.model_copy(update={"alert": reefer})]
    for version, kind, extra in ((2, TransitionKind.acknowledged, {"acknowledged": True, "acknowledged_by": "ann"}),
                                 (3, TransitionKind.assigned, {"acknowledged": True, "assignee": "tech-7"})):
        later = reefer.model_copy(update={"version": version, "updated_at": T0, **extra})
        transition = alert_event("c1", kind=kind).transition.model_copy(update={"actor": "ann"})
        events.append(alert_event("c1", version, kind=kind).model_copy(update={
            "alert": later, "event_id": f"c1:{version}", "transition": transition}))

    async def run() -> None:
        await ensure_topics(settings.bootstrap, topics)
        await produce(settings.bootstrap, topics.alerts, alert_records(events))
        await produce(settings.bootstrap, topics.changelog("devices"), [(REEFER.id.encode(), orjson.dumps(
            {"status": "online", "last_seen": "2026-01-01T00:01:00+00:00", "readings_applied": 9,
             "last_values": {"temperature": [12.5, 4]}}))])
        async with api(settings) as client:
            detail = await until(client, f"{API_PREFIX}/alerts/c1",
                                 lambda b: len(b["transitions"]) == 3 and b["devices"][0]["status"] == "online")
            AlertDetail.model_validate(detail)
            assert [(t["version"], t["kind"], t["actor"]) for t in detail["transitions"]] == [
                (1, "created", None), (2, "acknowledged", "ann"), (3, "assigned", "ann")]
            assert detail["transitions"][-1]["assignee"] == "tech-7"
            [device] = detail["devices"]
            assert (device["id"], device["why"], device["kind"], device["metric"], device["last_values"]) == (
                REEFER.id, "subject", "reefer_temperature", "temperature", {"temperature": [12.5, 4]})

            # assign, comment, clear: the operator's, in the token's name, keyed by the alert's site
            for body in ({"action": "assign", "assignee": "tech-9"}, {"action": "comment", "note": "door seal"},
                         {"action": "clear", "note": "product moved"}, {"action": "assign"}):
                response = await client.post(f"{API_PREFIX}/alerts/c1/commands", headers=OPERATOR, json=body)
                assert response.status == 202, (body, await response.text())
                refused = await client.post(f"{API_PREFIX}/alerts/c1/commands", headers=VIEWER, json=body)
                assert refused.status == 403 and (await refused.json())["error"] == "forbidden"
            records = await consume_until(settings.bootstrap, topics.alert_commands, lambda r: len(r) >= 4)
            sent = json_values(records)
            assert [(c["action"], c["actor"], c.get("assignee"), c.get("note")) for c in sent] == [
                ("assign", "ops@site", "tech-9", None), ("comment", "ops@site", None, "door seal"),
                ("clear", "ops@site", None, "product moved"), ("assign", "ops@site", None, None)]  # unassign
            assert {r.key for r in records} == {REEFER.node_id.encode()}
            # bad input: a 400 naming the field, nothing produced
            for body, loc in (({"action": "comment"}, None), ({"action": "comment", "note": ""}, ["note"]),
                              ({"action": "assign", "assignee": "x" * 129}, ["assignee"]),
                              ({"action": "clear", "assignee": "x"}, None), ({"action": "close"}, ["action"])):
                response = await client.post(f"{API_PREFIX}/alerts/c1/commands", headers=OPERATOR, json=body)
                answer = await response.json()
                assert response.status == 400 and answer["error"] == "invalid_request" and answer["detail"], answer
                if loc:
                    assert loc in [d["loc"] for d in answer["detail"]], answer
            assert len(await consume_until(settings.bootstrap, topics.alert_commands, lambda r: len(r) >= 4)) == 4

    asyncio.run(run())


def test_large_answers_are_gzipped_when_accepted(api_settings: Settings) -> None:
    settings = api_settings

    async def run() -> None:
        async with api(settings) as client:
            plain = await client.get(f"{API_PREFIX}/network", headers={**VIEWER, "Accept-Encoding": "identity"})
            raw = await plain.read()
            assert plain.status == 200 and "Content-Encoding" not in plain.headers
            assert plain.headers["Vary"] == "Accept-Encoding"
            zipped = await client.get(f"{API_PREFIX}/network", auto_decompress=False,
                                      headers={**VIEWER, "Accept-Encoding": "gzip, deflate, br"})
            body = await zipped.read()
            assert zipped.headers["Content-Encoding"] == "gzip" and gzip.decompress(body) == raw
            print(f"GET /network: {len(raw)} bytes, {len(body)} gzipped")
            assert len(body) < len(raw) / 5
            refused = await client.get(f"{API_PREFIX}/network", auto_decompress=False,
                                       headers={**VIEWER, "Accept-Encoding": "gzip;q=0"})
            assert "Content-Encoding" not in refused.headers
            small = await client.get("/healthz", auto_decompress=False, headers={"Accept-Encoding": "gzip"})
            assert "Content-Encoding" not in small.headers  # not worth it
            stream = await client.get("/twin/stream", auto_decompress=False,
                                      headers={**VIEWER, "Accept-Encoding": "gzip"})
            assert "Content-Encoding" not in stream.headers  # written as it happens, never buffered
            stream.close()

    asyncio.run(run())
