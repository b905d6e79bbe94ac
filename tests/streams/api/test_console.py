"""The web console in a real browser: headless Debian chromium (`/usr/bin/chromium`, driven by Playwright) on
the real `omnitrack api` process, whose read model is fed through the session's Kafka.

What an operator does is checked end to end: sign in with a token; the network map draws every node,
coloured by the health the twin rows say, and recolours live from /twin/stream; the alert list shows,
filters, updates live from /alerts/stream and sends an ack that arrives on `alerts.commands` in the token's
name; a device page charts its 1-minute windows; the what-if form posts a scenario and shows the result.
The page loads nothing from anywhere but the API.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import tempfile
import time
from collections.abc import Coroutine, Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest
from playwright.sync_api import BrowserContext, Page, expect, sync_playwright

from omnitrack.settings import Settings
from omnitrack.stack.endpoints import Endpoints
from streams.admin import ensure_topics
from streams.network_file import load_network
from streams.produce import produce
from streams.topics import Topics
from tests.streams.api.helpers import alert_event, alert_records, consume_until, token
from tests.streams.api.process import ApiProcess, run_api
from twin.alerts.models import Severity

pytestmark = pytest.mark.integration

CHROMIUM = "/usr/bin/chromium"
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync"]
WAIT_MS = 30_000

NETWORK = load_network(Settings().network_file)
NODE = NETWORK.nodes[0].id
OTHER = NETWORK.nodes[1].id
DEVICE = next(d.id for d in NETWORK.devices if d.node_id is not None)


def in_thread(coro: Coroutine[Any, Any, Any]) -> Any:
    """Run a Kafka helper on its own event loop: Playwright's sync API owns this thread's."""
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, coro).result()


@pytest.fixture
def console_api(stack_endpoints: Endpoints, topic_prefix: str, tmp_path: Path) -> Iterator[ApiProcess]:
    bootstrap, topics = stack_endpoints.kafka_bootstrap, Topics(topic_prefix)
    start = (int(time.time()) // 60 - 5) * 60

    async def seed() -> None:
        await ensure_topics(bootstrap, topics)
        await produce(bootstrap, topics.alerts, alert_records([
            alert_event("al-warn", 1, site=NODE, severity=Severity.warning, minute=1),
            alert_event("al-crit", 1, site=NODE, severity=Severity.critical, minute=2)]))
        await produce(bootstrap, topics.changelog("nodes"), [
            (NODE.encode(), orjson.dumps({"level": "degraded", "days_of_cover": 2.5, "devices": {}})),
            (OTHER.encode(), orjson.dumps({"level": "ok", "days_of_cover": 30.0, "devices": {}}))])
        windows = [(orjson.dumps([DEVICE, [start + 60 * i, start + 60 * i + 59.9]]), orjson.dumps(
            {"temperature": {"count": 4, "min": 2.0 + i, "max": 6.0 + i, "sum": 16.0 + 4 * i, "mean": 4.0 + i}}))
            for i in range(4)]
        await produce(bootstrap, topics.changelog("aggregates"), windows)
        row = {"status": "online", "last_seen": "2026-01-01T00:00:00+00:00", "readings_applied": 16,
               "last_values": {"temperature": [7.5, 0]}, "window": {"start_s": start + 240, "metrics": {
                   "temperature": {"count": 1, "min": 7.5, "max": 7.5, "sum": 7.5, "mean": 7.5}}}}
        await produce(bootstrap, topics.changelog("devices"), [(DEVICE.encode(), orjson.dumps(row))])

    asyncio.run(seed())
    with run_api(stack_endpoints, topic_prefix, tmp_path) as api:
        yield api


@pytest.fixture
def browser() -> Iterator[BrowserContext]:
    with sync_playwright() as p, tempfile.TemporaryDirectory() as profile:
        context = p.chromium.launch_persistent_context(profile, executable_path=CHROMIUM, headless=True, args=FLAGS)
        try:
            yield context
        finally:
            context.close()


def sign_in(page: Page, api: ApiProcess, sub: str = "ops@console") -> None:
    page.goto(f"{api.url}/console/")
    page.fill("#token", token("operator", sub))
    page.click("#login-form button[type=submit]")
    expect(page.locator("#identity")).to_have_text(f"{sub} (operator)", timeout=WAIT_MS)


def test_console_end_to_end(console_api: ApiProcess, browser: BrowserContext) -> None:
    api, topics = console_api, console_api.topics
    page = browser.new_page()
    requested: list[str] = []
    page.on("request", lambda r: requested.append(r.url))
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))

    response = page.goto(f"{api.url}/console")  # redirected to /console/
    assert response is not None and response.url == f"{api.url}/console/"
    assert "script-src 'self'" in response.headers["content-security-policy"]
    expect(page.locator("#login")).to_be_visible()
    page.fill("#token", "not-a-token")
    page.click("#login-form button[type=submit]")
    expect(page.locator("#login-error")).to_contain_text("not a JWT")
    sign_in(page, api)

    # the map: every node, coloured by its twin row; live recolouring from /twin/stream
    circles = page.locator("#map circle.node")
    expect(circles).to_have_count(len(NETWORK.nodes), timeout=WAIT_MS)
    node = page.locator(f'#map circle[data-id="{NODE}"]')
    expect(node).to_have_attribute("data-level", "degraded")
    expect(page.locator(f'#map circle[data-id="{OTHER}"]')).to_have_class("node level-ok")
    expect(page.locator("#twin-live")).to_have_text("on", timeout=WAIT_MS)
    in_thread(produce(api.bootstrap, topics.twin_changes, [(NODE.encode(), orjson.dumps(
        {"v": 1, "type": "node_health", "node_id": NODE, "previous": "degraded", "current": "critical",
         "reasons": [], "days_of_cover": 0.5, "at": "2026-01-01T00:00:00+00:00"}))]))
    expect(node).to_have_attribute("data-level", "critical", timeout=WAIT_MS)
    expect(node).to_have_class("node level-critical")

    # a node's panel (by a click on the map, or by id: nodes a few km apart overlap on a world map) leads to
    # its devices; a device page charts its windows (closed ones and the open one)
    page.locator(f'#map circle[data-id="{NETWORK.nodes[-1].id}"]').click()
    expect(page.locator("#node-panel h3")).to_contain_text(NETWORK.nodes[-1].id)
    page.fill('#node-find input[name="node"]', NODE)
    page.click("#node-find button[type=submit]")
    expect(page.locator("#node-panel h3")).to_contain_text(NODE)
    page.locator("#node-panel a", has_text=DEVICE).click()
    expect(page.locator("#tab-device")).to_be_visible()
    expect(page.locator("#chart polyline.mean")).to_have_count(1, timeout=WAIT_MS)
    assert len(page.locator("#chart polyline.mean").get_attribute("points").split()) == 5
    expect(page.locator("#chart circle.open")).to_have_count(1)
    expect(page.locator("#chart-caption")).to_contain_text("5 one-minute windows of temperature")
    expect(page.locator("#device-state")).to_contain_text("Status online")

    # alerts: listed, filtered, live, acknowledged in the token's name
    page.click('#tabs button[data-tab="alerts"]')
    rows = page.locator("#alerts tbody tr")
    expect(rows).to_have_count(2)
    expect(page.locator("#alerts-live")).to_have_text("on", timeout=WAIT_MS)
    in_thread(produce(api.bootstrap, topics.alerts, alert_records([
        alert_event("al-live", 1, site=OTHER, severity=Severity.major, minute=3)])))
    expect(rows.first).to_have_attribute("data-id", "al-live", timeout=WAIT_MS)
    expect(rows).to_have_count(3)
    page.locator('#alerts tr[data-id="al-crit"] button.ack').click()
    expect(page.locator('#alerts tr[data-id="al-crit"] button.ack')).to_have_text("ack sent", timeout=WAIT_MS)
    [sent] = in_thread(consume_until(api.bootstrap, topics.alert_commands, lambda r: len(r) >= 1))
    command = orjson.loads(sent.value)
    assert (command["action"], command["alert_id"], command["actor"], sent.key) == ("ack", "al-crit", "ops@console",
                                                                                    NODE.encode())
    page.select_option('#alert-filters select[name="severity"]', "critical")
    page.click("#alert-filters button[type=submit]")
    expect(rows).to_have_count(1, timeout=WAIT_MS)
    expect(rows.first).to_have_attribute("data-id", "al-crit")

    # what-if: the form's request reaches scenarios.requests; the result (written here, as the decider would)
    # is shown
    page.click('#tabs button[data-tab="whatif"]')
    page.fill('#whatif-form input[name="nodes"]', f"{NODE}, {OTHER}")
    page.fill('#whatif-form input[name="duration_days"]', "4")

    async def decide() -> dict[str, Any]:
        records = await consume_until(api.bootstrap, topics.scenario_requests, lambda r: len(r) >= 1)
        request = orjson.loads(records[0].value)
        await produce(api.bootstrap, topics.scenario_results, [(records[0].key, orjson.dumps({
            "request_id": request["request_id"], "status": "ok", "strategies": [{
                "name": "reroute-via-" + OTHER, "kind": "reroute", "expected_loss": 1200.0, "cost_usd": 300.0,
                "time_to_effect_days": 1.5}]}))])
        return request

    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        deciding = pool.submit(asyncio.run, decide())
        page.click("#whatif-form button[type=submit]")
        request = deciding.result(timeout=60)
    assert (request["nodes"], request["duration_days"], request["trials"]) == ([NODE, OTHER], 4.0, 5000)
    expect(page.locator("#whatif-result .result")).to_contain_text(f"Result {request['request_id']}: ok",
                                                                  timeout=WAIT_MS)
    expect(page.locator("#whatif-result tbody tr")).to_have_count(1)
    expect(page.locator("#whatif-chart circle.strategy")).to_have_count(1)  # cost against expected loss

    # sign-out forgets the token; nothing came from anywhere but the API; no script error
    page.click("#signout")
    expect(page.locator("#login")).to_be_visible()
    assert page.evaluate("sessionStorage.getItem('omnitrack.token')") is None
    assert requested and all(url.startswith(api.url + "/") for url in requested), sorted(set(requested))
    assert errors == []


def test_a_viewer_token_cannot_act(console_api: ApiProcess, browser: BrowserContext) -> None:
    page = browser.new_page()
    page.goto(f"{console_api.url}/console/")
    page.fill("#token", token("viewer", "watcher"))
    page.click("#login-form button[type=submit]")
    expect(page.locator("#identity")).to_have_text("watcher (viewer)", timeout=WAIT_MS)
    page.click('#tabs button[data-tab="alerts"]')
    # the console offers a viewer no working Ack; the API refuses the command anyway, and the page says so
    expect(page.locator('#alerts tr[data-id="al-crit"] button.ack')).to_be_disabled(timeout=WAIT_MS)
    refused = page.evaluate("""api("/alerts/al-crit/commands", { method: "POST", body: { action: "ack" } })
                               .then((r) => r.status)""")
    assert refused == 403
    expect(page.locator("#status")).to_contain_text("403")
    expired = token("operator", "late", ttl_s=60, now=time.time() - 3600)
    page.evaluate(f"sessionStorage.setItem('omnitrack.token', {orjson.dumps(expired).decode()})")
    page.reload()
    expect(page.locator("#login-error")).to_contain_text("refused", timeout=WAIT_MS)


def test_a_link_with_a_token_signs_in_and_forgets_the_fragment(console_api: ApiProcess,
                                                                 browser: BrowserContext) -> None:
    """`omnitrack run` prints `<api>/console/#token=...`: the page signs in with it and drops it from the address
    (the fragment never reaches the server; it must not stay in the history either)."""
    page = browser.new_page()
    page.goto(f"{console_api.url}/console/#token={token('operator', 'from-link')}")
    expect(page.locator("#identity")).to_have_text("from-link (operator)", timeout=WAIT_MS)
    assert page.evaluate("location.hash") == ""
    assert page.url == f"{console_api.url}/console/"
