"""streams/api/routes.py and app.py: every route, its validation and its roles, in process (aiohttp's test
server) against the real broker of the session's stack, with this test's own topic prefix."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator
from pathlib import Path

import orjson
import pytest
from aiohttp.test_utils import TestClient, TestServer
from prometheus_client import REGISTRY

from engine.models import ScenarioRequest
from omnitrack.settings import Settings
from omnitrack.stack.endpoints import Endpoints
from streams.admin import ensure_topics
from streams.api.app import INVALID_TOKEN, create_app
from streams.api.auth import Role, TokenVerifier
from streams.api.routes import required_role
from streams.produce import produce
from streams.topics import Topics
from tests.streams.api.helpers import SECRET, alert_event, alert_records, bearer, consume_until, json_values
from twin.alerts.models import Severity, TransitionKind

pytestmark = pytest.mark.integration

OPERATOR, VIEWER = bearer("operator", "ops@site"), bearer("viewer", "watcher")


@pytest.fixture
def api_settings(stack_endpoints: Endpoints, topic_prefix: str, tmp_path: Path) -> Settings:
    return Settings(home=tmp_path, topic_prefix=topic_prefix, kafka_bootstrap=stack_endpoints.kafka_bootstrap)


@contextlib.asynccontextmanager
async def api(settings: Settings) -> AsyncIterator[TestClient]:
    """The API app on a loopback test server, once /readyz says the read model has caught up."""
    verifier = TokenVerifier(SECRET, algorithms=["HS256"], audience=settings.api_jwt_audience,
                             issuer=settings.api_jwt_issuer)
    async with TestClient(TestServer(create_app(settings, verifier))) as client:
        end = time.monotonic() + 60
        while (await client.get("/readyz")).status != 200:
            assert time.monotonic() < end, "the API never became ready"
            await asyncio.sleep(0.1)
        yield client


async def poll(client: TestClient, path: str, deadline_s: float = 30.0, **kw) -> dict:
    end = time.monotonic() + deadline_s
    while True:
        response = await client.get(path, **kw)
        if response.status == 200:
            return await response.json()
        assert response.status == 404, await response.text()
        assert time.monotonic() < end, f"{path} still 404 after {deadline_s}s"
        await asyncio.sleep(0.1)


def test_alert_routes(api_settings: Settings) -> None:
    settings = api_settings
    topics = Topics(settings.topic_prefix)

    async def run() -> None:
        # written before the API starts: once ready, the API must already show them (catch-up semantics)
        await ensure_topics(settings.bootstrap, topics)
        await produce(settings.bootstrap, topics.alerts, alert_records([
            alert_event("a1", 1, site="S1", severity=Severity.critical, minute=1),
            alert_event("a1", 2, site="S1", severity=Severity.critical, minute=2, kind=TransitionKind.acknowledged),
            alert_event("a2", 1, site="S2", rule="silence", minute=3),
            alert_event("a3", 4, site="S1", active=False, minute=4, kind=TransitionKind.cleared),
        ]))
        async with api(settings) as client:
            listed = await (await client.get("/alerts", headers=VIEWER)).json()
            assert [a["id"] for a in listed["alerts"]] == ["a3", "a2", "a1"] and listed["count"] == 3
            active = await (await client.get("/alerts?active=true&limit=1", headers=VIEWER)).json()
            assert (active["count"], active["total"]) == (1, 2)
            assert listed["alerts"][2]["version"] == 2 and listed["alerts"][2]["status"] == "ACTIVE_UNACK"

            async def ids(query: str) -> list[str]:
                response = await client.get(f"/alerts?{query}", headers=VIEWER)
                assert response.status == 200, await response.text()
                return [a["id"] for a in (await response.json())["alerts"]]

            assert await ids("active=true") == ["a2", "a1"]
            assert await ids("active=false&site=S1") == ["a3"]
            assert await ids("severity=critical") == ["a1"]
            assert await ids("rule=silence") == ["a2"]
            assert await ids("limit=1") == ["a3"]
            # paging: `next` of one page is `after` of the following one; the last page says null
            pages, query = [], "limit=2"
            while True:
                body = await (await client.get(f"/alerts?{query}", headers=VIEWER)).json()
                pages.append([a["id"] for a in body["alerts"]])
                if body["next"] is None:
                    break
                query = f"limit=2&after={body['next']}"
            assert pages == [["a3", "a2"], ["a1"]]
            for bad, field in (("limit=0", "limit"), ("limit=1001", "limit"), ("severity=bogus", "severity"),
                               ("sevrity=critical", "sevrity"), ("active=maybe", "active"),
                               ("after=bm90LWEtY3Vyc29y", "after")):
                response = await client.get(f"/alerts?{bad}", headers=VIEWER)
                body = await response.json()
                assert response.status == 400 and body["error"] == "invalid_request", bad
                assert [d["loc"] for d in body["detail"]] == [[field]], body

            one = await (await client.get("/alerts/a1", headers=VIEWER)).json()
            assert one["alert"]["version"] == 2 and one["transition"]["kind"] == "acknowledged"
            assert one["event_id"] == "a1:2" and one["refused_commands"] == []
            # a command the alert worker could not apply shows with its alert (parked by the worker)
            await produce(settings.bootstrap, topics.alert_commands_dlq, [(None, orjson.dumps(
                {"action": "clear", "site_id": "S1", "alert_id": "a1", "actor": "ops@site"}))], headers=[
                ("reason", b"unknown_alert"), ("message", b"no current alert a1 at site S1")])

            async def refused() -> list:
                return (await (await client.get("/alerts/a1", headers=VIEWER)).json())["refused_commands"]

            for _ in range(100):
                if await refused():
                    break
                await asyncio.sleep(0.1)
            [r] = await refused()
            assert (r["action"], r["actor"], r["reason"]) == ("clear", "ops@site", "unknown_alert")
            assert (await client.get("/alerts/nope", headers=VIEWER)).status == 404

            # authentication and roles
            response = await client.get("/alerts")
            assert response.status == 401 and response.headers["WWW-Authenticate"] == INVALID_TOKEN
            expired = bearer("admin", ttl_s=60, now=time.time() - 3600)
            assert (await client.get("/alerts", headers=expired)).status == 401
            response = await client.post("/alerts/a1/commands", headers=VIEWER, json={"action": "ack"})
            assert response.status == 403 and (await response.json())["error"] == "forbidden"

            # commands: the actor is the token's subject, the site and routing key the alert's
            response = await client.post("/alerts/a1/commands", headers=OPERATOR, json={"action": "ack", "note": "on it"})
            assert response.status == 202, await response.text()
            sent = await response.json()
            assert (sent["action"], sent["actor"], sent["site_id"], sent["alert_id"]) == ("ack", "ops@site", "S1", "a1")
            response = await client.post("/alerts/a2/commands", headers=bearer("admin", "boss"),
                                         json={"action": "assign", "assignee": "tech-7"})
            assert response.status == 202 and (await response.json())["assignee"] == "tech-7"
            records = await consume_until(settings.bootstrap, topics.alert_commands, lambda r: len(r) >= 2)
            assert {(r.key, orjson.loads(r.value)["actor"]) for r in records} == {(b"S1", "ops@site"), (b"S2", "boss")}

            for body, status, field in (({"action": "comment"}, 400, None),  # a comment needs a note
                                        ({"action": "explode"}, 400, "action"),
                                        ({"action": "ack", "actor": "someone-else"}, 400, "actor"),
                                        ({"action": "ack", "assignee": "x"}, 400, None)):
                response = await client.post("/alerts/a1/commands", headers=OPERATOR, json=body)
                answer = await response.json()
                assert response.status == status, (body, answer)
                if field:
                    assert [field] in [d["loc"] for d in answer["detail"]], answer
            assert (await client.post("/alerts/nope/commands", headers=OPERATOR, json={"action": "ack"})).status == 404
            response = await client.post("/alerts/a1/commands", headers=OPERATOR, data=b"{not json")
            assert response.status == 400 and (await response.json())["error"] == "invalid_json"
            response = await client.post("/alerts/a1/commands", headers=OPERATOR, data=b"[1, 2]")
            assert response.status == 400
            response = await client.post("/alerts/a1/commands", headers=OPERATOR, data=b" " * (65 * 1024))
            assert response.status == 413 and (await response.json())["error"] == "too_large"
            assert len(await consume_until(settings.bootstrap, topics.alert_commands, lambda r: len(r) >= 2)) == 2

    asyncio.run(run())


def test_live_alert_stream(api_settings: Settings) -> None:
    settings = api_settings
    topics = Topics(settings.topic_prefix)

    async def run() -> None:
        await ensure_topics(settings.bootstrap, topics)
        await produce(settings.bootstrap, topics.alerts, alert_records([alert_event("before", 1, minute=1)]))
        async with api(settings) as client:
            assert (await client.get("/alerts/stream")).status == 401
            assert (await client.get("/alerts/stream?limit=3", headers=VIEWER)).status == 400  # not a stream filter
            open_before = REGISTRY.get_sample_value("omnitrack_api_open_streams")  # the process's: other tests' too
            response = await client.get("/alerts/stream?severity=critical", headers=VIEWER)
            assert response.status == 200 and response.headers["Content-Type"].startswith("text/event-stream")
            assert await response.content.readline() == b"retry: 3000\n"
            assert REGISTRY.get_sample_value("omnitrack_api_open_streams") == open_before + 1
            # a stream's time is not an answer time: the refused ones above were not timed either
            assert REGISTRY.get_sample_value("omnitrack_api_request_duration_seconds_count",
                                             {"route": "/alerts/stream", "method": "GET"}) is None
            # written after the client connected: the warning is filtered out, the critical one arrives
            await produce(settings.bootstrap, topics.alerts, alert_records([
                alert_event("w1", 1, severity=Severity.warning, minute=2),
                alert_event("c1", 1, severity=Severity.critical, minute=3)]))
            frame: list[bytes] = []
            while not (frame and frame[-1] == b"\n" and any(line.startswith(b"data:") for line in frame)):
                line = await asyncio.wait_for(response.content.readline(), 30)
                if line.strip() and not line.startswith(b":"):
                    frame.append(line)
                elif frame:
                    frame.append(line)
            assert frame[0] == b"id: c1:1\n" and frame[1] == b"event: alert\n", frame
            body = orjson.loads(frame[2].removeprefix(b"data: "))
            assert body["alert"]["id"] == "c1" and body["alert"]["status"] == "ACTIVE_UNACK"
            assert body["event_id"] == "c1:1" and body["transition"]["kind"] == "created"
            response.close()

    asyncio.run(run())


def test_scenario_routes(api_settings: Settings) -> None:
    settings = api_settings
    topics = Topics(settings.topic_prefix)

    async def run() -> None:
        async with api(settings) as client:
            response = await client.post("/scenarios", headers=OPERATOR, json={"nodes": ["WHS-1"], "trails": 5})
            body = await response.json()
            assert response.status == 400
            assert sorted(d["loc"][0] for d in body["detail"]) == ["duration_days", "trails"]
            response = await client.post("/scenarios", headers=OPERATOR,
                                         json={"request_id": "priors", "nodes": ["A"], "duration_days": 2})
            assert response.status == 400
            assert (await client.post("/scenarios?wait=31", headers=OPERATOR, json={})).status == 400
            assert (await client.post("/scenarios", headers=VIEWER, json={})).status == 403

            response = await client.post("/scenarios", headers=OPERATOR, json={"nodes": ["WHS-1"], "duration_days": 3})
            assert response.status == 202
            accepted = await response.json()
            request_id = accepted["request_id"]
            assert response.headers["Location"] == f"/scenarios/{request_id}" == accepted["location"]
            records = await consume_until(settings.bootstrap, topics.scenario_requests,
                                          lambda r: any(x.key == request_id.encode() for x in r))
            sent = orjson.loads(next(r for r in records if r.key == request_id.encode()).value)
            assert ScenarioRequest.model_validate(sent).duration_days == 3.0 and "kind" not in sent
            assert (await client.get(f"/scenarios/{request_id}", headers=VIEWER)).status == 404

            # ?wait: answered 200 with the result when it arrives within the wait
            async def decider_answers() -> None:
                await consume_until(settings.bootstrap, topics.scenario_requests,
                                    lambda r: any(x.key == b"req-wait" for x in r))
                await produce(settings.bootstrap, topics.scenario_results,
                              [(b"req-wait", orjson.dumps({"request_id": "req-wait", "status": "ok"}))])

            answering = asyncio.create_task(decider_answers())
            response = await client.post("/scenarios?wait=20", headers=OPERATOR,
                                         json={"request_id": "req-wait", "nodes": ["WHS-1"], "duration_days": 3})
            await answering
            assert response.status == 200, await response.text()
            assert await response.json() == {"request_id": "req-wait", "status": "ok"}
            assert await poll(client, "/scenarios/req-wait", headers=VIEWER) == {"request_id": "req-wait", "status": "ok"}
            started = time.monotonic()
            response = await client.post("/scenarios?wait=0.5", headers=OPERATOR,
                                         json={"request_id": "never", "nodes": ["A"], "duration_days": 1})
            assert response.status == 202 and 0.4 < time.monotonic() - started < 10

            # priors: the `priors` key is kept apart from request ids
            await produce(settings.bootstrap, topics.scenario_results,
                          [(b"priors", orjson.dumps({"kind": "priors", "version": 7, "request_id": "fb-1"}))])
            assert (await poll(client, "/scenarios/priors", headers=VIEWER))["version"] == 7

            # feedback: request_id from the path, kind=feedback, keyed by the request id
            response = await client.post(f"/scenarios/{request_id}/feedback", headers=OPERATOR,
                                         json={"nodes": ["WHS-1"], "actual_duration_days": 5, "strategy": "expedite"})
            assert response.status == 202, await response.text()
            records = await consume_until(settings.bootstrap, topics.scenario_requests,
                                          lambda r: any(orjson.loads(x.value).get("kind") == "feedback" for x in r))
            feedback = next(r for r in records if orjson.loads(r.value).get("kind") == "feedback")
            assert feedback.key == request_id.encode()
            assert orjson.loads(feedback.value)["request_id"] == request_id
            response = await client.post(f"/scenarios/{request_id}/feedback", headers=OPERATOR,
                                         json={"request_id": "other", "nodes": ["A"], "actual_duration_days": 1})
            assert response.status == 400
            response = await client.post(f"/scenarios/{request_id}/feedback", headers=OPERATOR, json={"nodes": ["A"]})
            assert response.status == 400  # an outage that occurred needs actual_duration_days
            assert len(json_values(await consume_until(settings.bootstrap, topics.scenario_requests,
                                                       lambda r: len(r) >= 4))) == 4  # nothing else was produced

    asyncio.run(run())


def test_twin_health_and_unknown_routes(api_settings: Settings) -> None:
    settings = api_settings
    topics = Topics(settings.topic_prefix)

    async def run() -> None:
        async with api(settings) as client:
            health = await client.get("/healthz")
            assert health.status == 200 and await health.json() == {"status": "ok"}
            assert await (await client.get("/readyz")).json() == {"status": "ready"}
            assert (await client.get("/twin/device/D-1", headers=VIEWER)).status == 404
            await produce(settings.bootstrap, topics.twin_changes, [
                (b"D-1", orjson.dumps({"v": 1, "type": "device_status", "device_id": "D-1", "current": "online"})),
                (b"D-1", orjson.dumps({"v": 1, "type": "device_status", "device_id": "D-1", "current": "stale"})),
                (b"N-1", orjson.dumps({"v": 1, "type": "node_health", "node_id": "N-1", "current": "degraded"})),
            ])
            end = time.monotonic() + 30
            while (await poll(client, "/twin/device/D-1", headers=VIEWER))["last_change"]["current"] != "stale":
                assert time.monotonic() < end
                await asyncio.sleep(0.1)
            node = await poll(client, "/twin/node/N-1", headers=VIEWER)
            assert node["last_change"]["current"] == "degraded" and node["state"] is None
            # the twin rows, as the worker writes them to its tables' changelogs: the current state
            row = {"status": "online", "readings_applied": 7, "last_values": {"temperature": {"value": 4.5}}}
            await produce(settings.bootstrap, topics.changelog("devices"), [(b"D-1", orjson.dumps(row)),
                                                                             (b"D-2", orjson.dumps(row))])
            await produce(settings.bootstrap, topics.changelog("nodes"), [(b"N-1", orjson.dumps({"health": "ok"}))])
            for path in ("/twin/device/D-1", "/twin/device/D-2", "/twin/node/N-1"):  # each topic in its own time
                while (await poll(client, path, headers=VIEWER))["state"] is None:
                    assert time.monotonic() < end, path
                    await asyncio.sleep(0.1)
            device = await poll(client, "/twin/device/D-1", headers=VIEWER)
            assert device["state"] == row and device["last_change"]["current"] == "stale" and device["id"] == "D-1"
            never_changed = await poll(client, "/twin/device/D-2", headers=VIEWER)   # a row, no status change yet
            assert never_changed["state"]["readings_applied"] == 7 and never_changed["last_change"] is None
            assert (await poll(client, "/twin/node/N-1", headers=VIEWER))["state"] == {"health": "ok"}
            listed = await poll(client, "/twin/devices?status=online", headers=VIEWER)
            assert [d["id"] for d in listed["devices"]] == ["D-1", "D-2"] and listed["count"] == 2
            one = await poll(client, "/twin/devices?status=online&limit=1", headers=VIEWER)
            assert (one["count"], one["total"]) == (1, 2)  # "how many are online?" without listing them
            assert (await poll(client, "/twin/devices?status=offline", headers=VIEWER))["count"] == 0
            assert (await poll(client, "/twin/nodes", headers=VIEWER))["nodes"][0]["id"] == "N-1"
            assert (await client.get("/twin/devices?limit=0", headers=VIEWER)).status == 400
            assert (await client.get("/twin/devices")).status == 401
            assert (await client.get("/twin/device/D-1")).status == 401
            assert (await client.get("/twin/lane/L-1", headers=VIEWER)).status == 404
            # unknown paths: a token first (anonymous callers learn nothing), then 404 / 405 as JSON
            assert (await client.get("/admin")).status == 401
            response = await client.get("/admin", headers=VIEWER)
            assert response.status == 404 and (await response.json())["error"] == "not_found"
            assert (await client.delete("/alerts", headers=VIEWER)).status == 405

    asyncio.run(run())


def test_an_undeclared_handler_needs_admin() -> None:
    async def handler(_request):  # noqa: ANN001, ANN202
        return None

    assert required_role(handler) is Role.admin
