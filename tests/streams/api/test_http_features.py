"""Versioned paths and their aliases, /openapi.json, /network, CORS and per-subject rate limits: the API app in
process (aiohttp's test server on loopback) against the session's real broker, with this test's topic prefix."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import orjson
import pytest
from aiohttp.test_utils import TestClient
from openapi_spec_validator import validate as validate_openapi
from prometheus_client import REGISTRY

from omnitrack.settings import Settings
from streams.admin import ensure_topics
from streams.api.catalog import API_PREFIX, OPERATIONS
from streams.api.schemas import History, Network
from streams.network_file import load_network
from streams.produce import produce
from streams.topics import Topics
from tests.streams.api.helpers import alert_event, alert_records, bearer
# the API on a loopback test server and its settings fixture: the route tests', shared
from tests.streams.api.test_routes import api, api_settings  # noqa: F401

pytestmark = pytest.mark.integration

VIEWER, OPERATOR = bearer("viewer", "watcher"), bearer("operator", "ops@site")
PORTAL = "https://ops.example.com"


async def get_json(client: TestClient, path: str, headers: dict[str, str] | None = None,
                   status: int = 200) -> Any:
    response = await client.get(path, headers=headers)
    assert response.status == status, (path, response.status, await response.text())
    return await response.json()


def test_versioned_paths_aliases_and_the_openapi_document(api_settings: Settings) -> None:
    settings = api_settings
    topics = Topics(settings.topic_prefix)

    async def run() -> None:
        await ensure_topics(settings.bootstrap, topics)
        await produce(settings.bootstrap, topics.alerts, alert_records([alert_event("v1", 1, site="S1")]))
        async with api(settings) as client:
            # the same answer under /api/v1 and the first release's path
            for path in ("/alerts", "/alerts/v1", "/twin/devices", "/healthz"):
                versioned = await get_json(client, API_PREFIX + path, VIEWER)
                assert versioned == await get_json(client, path, VIEWER), path
            assert (await client.get(f"{API_PREFIX}/alerts")).status == 401  # same role check
            # a link the API hands out stays in the family of paths the caller used
            for prefix in (API_PREFIX, ""):
                response = await client.post(f"{prefix}/scenarios", headers=OPERATOR,
                                             json={"request_id": "a/b?c", "nodes": ["N"], "duration_days": 1})
                assert response.status == 202, await response.text()
                assert response.headers["Location"] == f"{prefix}/scenarios/a%2Fb%3Fc"
            # one metric series per route, whichever path was used
            assert REGISTRY.get_sample_value("omnitrack_api_requests_total", {
                "route": "/alerts/{alert_id}", "method": "GET", "status": "200"}) >= 2
            assert REGISTRY.get_sample_value("omnitrack_api_requests_total", {
                "route": f"{API_PREFIX}/alerts/{{alert_id}}", "method": "GET", "status": "200"}) is None

            # the document: viewer or above, OpenAPI 3.1 that validates, every route, generated schemas
            assert (await client.get(f"{API_PREFIX}/openapi.json")).status == 401
            doc = await get_json(client, f"{API_PREFIX}/openapi.json", VIEWER)
            assert doc == await get_json(client, "/openapi.json", VIEWER)
            validate_openapi(doc)
            assert doc["openapi"] == "3.1.0"
            assert {(m.upper(), p) for p, item in doc["paths"].items() for m in item} == {
                (op.method, API_PREFIX + op.path) for op in OPERATIONS}
            generated = History.model_json_schema(mode="serialization", ref_template="#/components/schemas/{model}")
            for name, schema in {"History": generated, **generated.pop("$defs")}.items():
                assert doc["components"]["schemas"][name] == schema, name  # pydantic's, unchanged
            history = doc["paths"][f"{API_PREFIX}/twin/device/{{device_id}}/history"]["get"]
            assert [p["name"] for p in history["parameters"]] == ["device_id", "metric", "from", "to"]
            assert history["x-required-role"] == "viewer" and doc["paths"][f"{API_PREFIX}/healthz"]["get"][
                "security"] == []
            assert doc["paths"][f"{API_PREFIX}/scenarios"]["post"]["x-required-role"] == "operator"
            assert "request_id" not in doc["paths"][f"{API_PREFIX}/scenarios"]["post"]["requestBody"]["content"][
                "application/json"]["schema"]["required"]  # the API makes one up

    asyncio.run(run())


def test_network_route(api_settings: Settings) -> None:
    settings = api_settings

    async def run() -> None:
        async with api(settings) as client:
            body = await get_json(client, f"{API_PREFIX}/network", VIEWER)
            Network.model_validate(body)
            net = load_network(settings.network_file)
            assert body["count"] == {"nodes": len(net.nodes), "lanes": len(net.lanes), "devices": len(net.devices)}
            nodes = {n["id"]: n for n in body["nodes"]}
            first = net.nodes[0]
            assert nodes[first.id]["position"] == {"lat": first.location.lat, "lon": first.location.lon}
            lane = net.lanes[0]
            [shown] = [x for x in body["lanes"] if x["id"] == lane.id]
            assert shown["from_position"] == nodes[lane.src]["position"] and shown["to_position"] == nodes[
                lane.dst]["position"]
            for device in body["devices"]:
                if device["node_id"]:
                    assert device["position"] == nodes[device["node_id"]]["position"]
                    assert device["position_source"] == "node"
                else:
                    assert device["position_source"] == "lane_midpoint"
            assert (await client.get("/network")).status == 401

        broken = settings.model_copy(update={"network_file": settings.home / "missing.json"})
        async with api(broken) as client:  # the API serves on; /network says why it cannot answer
            body = await get_json(client, "/network", VIEWER, status=503)
            assert body["error"] == "unavailable" and "missing.json" in body["message"]

    asyncio.run(run())


def test_rate_limit_per_subject(api_settings: Settings) -> None:
    settings = api_settings.model_copy(update={"api_rate_limit_per_s": 0.5, "api_rate_limit_burst": 3})

    async def run() -> None:
        async with api(settings) as client:
            alice, bob = bearer("viewer", "alice"), bearer("viewer", "bob")
            statuses = [(await client.get("/twin/nodes", headers=alice)).status for _ in range(3)]
            assert statuses == [200, 200, 200]  # the burst
            limited = await client.get(f"{API_PREFIX}/alerts", headers=alice)
            assert limited.status == 429
            assert (await limited.json())["error"] == "rate_limited"
            assert 1 <= int(limited.headers["Retry-After"]) <= 2  # one token at 0.5/s
            assert (await client.get("/twin/nodes", headers=bob)).status == 200  # another subject: its own bucket
            assert (await client.get("/healthz")).status == 200  # probes are never limited
            assert REGISTRY.get_sample_value("omnitrack_api_rate_limited_total") >= 1
            await asyncio.sleep(float(limited.headers["Retry-After"]))  # what it said to wait is enough
            assert (await client.get("/twin/nodes", headers=alice)).status == 200

    asyncio.run(run())


def test_cors_from_configuration(api_settings: Settings) -> None:
    settings = api_settings.model_copy(update={"api_cors_origins": (PORTAL,), "api_cors_max_age_s": 120})

    async def run() -> None:
        async with api(settings) as client:
            preflight = await client.options(f"{API_PREFIX}/alerts/x/commands", headers={
                "Origin": PORTAL, "Access-Control-Request-Method": "POST",
                "Access-Control-Request-Headers": "authorization, content-type"})
            assert preflight.status == 204
            assert preflight.headers["Access-Control-Allow-Origin"] == PORTAL
            assert "POST" in preflight.headers["Access-Control-Allow-Methods"]
            assert "authorization" in preflight.headers["Access-Control-Allow-Headers"].lower()
            assert preflight.headers["Access-Control-Max-Age"] == "120"
            for refused in ({"Origin": "https://evil.example", "Access-Control-Request-Method": "GET"},
                            {"Origin": PORTAL, "Access-Control-Request-Method": "DELETE"},
                            {"Origin": PORTAL, "Access-Control-Request-Method": "GET",
                             "Access-Control-Request-Headers": "x-secret"}):
                response = await client.options("/alerts", headers=refused)
                assert response.status == 403 and "Access-Control-Allow-Origin" not in response.headers, refused
            # the call itself: allowed origin marked, errors too (a page must read a 401 or 429), others not
            ok = await client.get("/alerts", headers={**VIEWER, "Origin": PORTAL})
            assert ok.status == 200 and ok.headers["Access-Control-Allow-Origin"] == PORTAL
            assert "Origin" in ok.headers["Vary"] and "Retry-After" in ok.headers["Access-Control-Expose-Headers"]
            denied = await client.get("/alerts", headers={"Origin": PORTAL})
            assert denied.status == 401 and denied.headers["Access-Control-Allow-Origin"] == PORTAL
            other = await client.get("/alerts", headers={**VIEWER, "Origin": "https://evil.example"})
            assert other.status == 200 and "Access-Control-Allow-Origin" not in other.headers
            stream = await client.get("/alerts/stream", headers={**VIEWER, "Origin": PORTAL})
            assert stream.status == 200 and stream.headers["Access-Control-Allow-Origin"] == PORTAL
            stream.close()

        async with api(api_settings) as client:  # no origins configured: no CORS at all
            response = await client.options("/alerts", headers={"Origin": PORTAL,
                                                                "Access-Control-Request-Method": "GET"})
            assert response.status == 403
            response = await client.get("/alerts", headers={**VIEWER, "Origin": PORTAL})
            assert "Access-Control-Allow-Origin" not in response.headers

    asyncio.run(run())


def test_cors_origins_are_validated() -> None:
    assert Settings(api_cors_origins=("*",)).api_cors_origins == ("*",)
    for bad in ("https://ops.example.com/", "ops.example.com", "https://ops.example.com/console", "ftp://x"):
        with pytest.raises(ValueError):
            Settings(api_cors_origins=(bad,))


def test_history_route_answers_from_the_changelogs(api_settings: Settings) -> None:
    """The route over hand-made changelog records (the worker-made ones: test_history.py): closed windows, the
    open one, a rewritten window, a tombstone, filters and range checks."""
    settings = api_settings
    topics = Topics(settings.topic_prefix)
    start = (int(time.time()) // 60) * 60 - 600

    def window(device: str, s: int, **metrics: tuple[int, float, float, float]) -> tuple[bytes, bytes]:
        return orjson.dumps([device, [s, s + 59.9]]), orjson.dumps(
            {m: {"count": c, "min": lo, "max": hi, "sum": total, "mean": total / c}
             for m, (c, lo, hi, total) in metrics.items()})

    async def run() -> None:
        await ensure_topics(settings.bootstrap, topics)
        await produce(settings.bootstrap, topics.changelog("aggregates"), [
            window("D-1", start, temperature=(2, 1.0, 3.0, 4.0), humidity=(1, 50.0, 50.0, 50.0)),
            window("D-1", start + 60, temperature=(1, 5.0, 5.0, 5.0)),
            window("D-1", start + 60, temperature=(2, 5.0, 7.0, 12.0)),  # rewritten: a late reading merged
            window("D-1", start + 120, temperature=(1, 9.0, 9.0, 9.0)),
            (orjson.dumps(["D-1", [start + 120, start + 179.9]]), None),  # expired
            (b"not json", b"{}"),  # skipped, not fatal
        ])
        row = {"status": "online", "window": {"start_s": start + 180, "metrics": {
            "temperature": {"count": 1, "min": 8.0, "max": 8.0, "sum": 8.0, "mean": 8.0}}}}
        await produce(settings.bootstrap, topics.changelog("devices"), [(b"D-1", orjson.dumps(row))])
        async with api(settings) as client:
            path = f"{API_PREFIX}/twin/device/D-1/history"
            body = await get_json(client, path, VIEWER)
            History.model_validate(body)
            assert [(w["start"], w["open"]) for w in body["windows"]] == [
                (_iso(start), False), (_iso(start + 60), False), (_iso(start + 180), True)]
            assert body["windows"][1]["metrics"]["temperature"] == {"count": 2, "min": 5.0, "max": 7.0, "mean": 6.0}
            assert body["windows"][0]["end"] == _iso(start + 60)
            only = await get_json(client, f"{path}?metric=humidity", VIEWER)
            assert [w["metrics"] for w in only["windows"]] == [{"humidity": {"count": 1, "min": 50.0, "max": 50.0,
                                                                             "mean": 50.0}}]
            ranged = await get_json(client, f"{path}?from={_iso(start + 60)}&to={_iso(start + 180)}", VIEWER)
            assert [w["start"] for w in ranged["windows"]] == [_iso(start + 60)]
            assert ranged["from"] == _iso(start + 60) and ranged["to"] == _iso(start + 180)
            for bad in ("metric=position", "from=2026-01-01T00:00:00", f"from={_iso(start)}&to={_iso(start)}",
                        "from=2026-01-01T00:00:00Z&to=2026-01-03T00:00:00Z", "form=2026-01-01T00:00:00Z",
                        "to=0001-01-01T00:30:00Z", "to=0001-01-01T00:00:00%2B18:00", "from=1969-12-31T23:30:00Z",
                        "from=9999-12-31T23:00:00Z&to=9999-12-31T23:59:00Z"):
                response = await client.get(f"{path}?{bad}", headers=VIEWER)
                assert response.status == 400, bad
            assert (await client.get(f"{API_PREFIX}/twin/device/NOPE/history", headers=VIEWER)).status == 404
            net_device = load_network(settings.network_file).devices[0].id  # known, never reported: empty
            assert (await get_json(client, f"/twin/device/{net_device}/history", VIEWER))["windows"] == []

    asyncio.run(run())


def _iso(epoch_s: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(epoch_s))


def test_twin_change_stream(api_settings: Settings) -> None:
    settings = api_settings
    topics = Topics(settings.topic_prefix)

    async def run() -> None:
        async with api(settings) as client:
            assert (await client.get("/twin/stream")).status == 401
            for kind in ("ship", "node,", "node,lane,device,node", "NODE"):
                assert (await client.get(f"{API_PREFIX}/twin/stream?kind={kind}", headers=VIEWER)).status == 400
            response = await client.get(f"{API_PREFIX}/twin/stream?kind=node", headers=VIEWER)
            assert response.status == 200 and response.headers["Content-Type"].startswith("text/event-stream")
            assert await response.content.readline() == b"retry: 3000\n"
            await produce(settings.bootstrap, topics.twin_changes, [
                (b"D-1", orjson.dumps({"v": 1, "type": "device_status", "device_id": "D-1", "current": "stale"})),
                (b"N-1", orjson.dumps({"v": 1, "type": "node_health", "node_id": "N-1", "current": "critical"}))])
            lines: list[bytes] = []
            while not any(line.startswith(b"data:") for line in lines):
                line = await asyncio.wait_for(response.content.readline(), 30)
                if line.strip() and not line.startswith(b":"):
                    lines.append(line)
            assert lines[0] == b"event: twin\n"  # the device's change was filtered out
            change = orjson.loads(lines[1].removeprefix(b"data: "))
            assert (change["node_id"], change["current"]) == ("N-1", "critical")
            response.close()

    asyncio.run(run())
