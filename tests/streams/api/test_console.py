"""The web console in a real browser: headless Debian chromium (`/usr/bin/chromium`, driven by Playwright) on
the real `omnitrack api` process, whose read model is fed through the session's Kafka.

What an operator does is checked end to end: sign in with a token; the network map draws every node,
coloured by the health the twin rows say, and recolours live from /twin/stream; lanes with a stalled shipment
(the node rows' `stalled` maps) are drawn apart with their count, updated live; the alert list shows,
filters, updates live from /alerts/stream and sends an ack that arrives on `alerts.commands` in the token's
name; one alert's detail shows its transitions and the device behind it, and its assign / comment / clear
arrive on `alerts.commands` (a viewer's are disabled and refused); a device page charts its 1-minute windows;
the what-if form posts a scenario, shows the result and sends feedback on a strategy, shown applied once the
priors name it. The page loads nothing from anywhere but the API. Screenshots: tests/streams/api/browser.py.
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
from tests.streams.api.browser import Screenshots
from tests.streams.api.helpers import alert_event, alert_records, consume_until, token
from tests.streams.api.process import ApiProcess, run_api
from twin.alerts.models import AlertEvent, Severity, TransitionKind

pytestmark = pytest.mark.integration

CHROMIUM = "/usr/bin/chromium"
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync"]
WAIT_MS = 30_000

NETWORK = load_network(Settings().network_file)
NODE = NETWORK.nodes[0].id
OTHER = NETWORK.nodes[1].id
DEVICE = next(d.id for d in NETWORK.devices if d.node_id is not None)
LANE = next(lane for lane in NETWORK.lanes if sum(d.lane_id == lane.id for d in NETWORK.devices) >= 1)
TRACKER = next(d.id for d in NETWORK.devices if d.lane_id == LANE.id and d.kind.value == "gps_tracker")
REEFER = next(d for d in NETWORK.devices if d.kind.value == "reefer_temperature" and d.node_id not in (None, NODE))


def reefer_alert(version: int, kind: TransitionKind = TransitionKind.created, actor: str | None = None,
                 **update: Any) -> AlertEvent:
    """A cold-chain alert on a real reefer of the network, as the alert worker writes version `version`."""
    event = alert_event("al-dev", version, site=REEFER.node_id or "", severity=Severity.major, rule="cold_chain",
                        minute=5 + version, kind=kind)
    alert = event.alert.model_copy(update={"subject_id": REEFER.id, "dedup_key": f"device:{REEFER.id}:cold_chain",
                                           **update})
    return event.model_copy(update={"alert": alert, "transition": event.transition.model_copy(update={"actor": actor})})


def stalled_rows(trackers: list[str]) -> list[tuple[bytes, bytes]]:
    """The node rows of both ends of LANE as the twin worker writes them while these trackers are stalled."""
    row = orjson.dumps({"level": "ok", "devices": {}, "stalled": {t: LANE.id for t in trackers}})
    return [(LANE.src.encode(), row), (LANE.dst.encode(), row)]


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
        await produce(bootstrap, topics.changelog("nodes"), stalled_rows([TRACKER]))
        await produce(bootstrap, topics.changelog("aggregates"), [
            (orjson.dumps([REEFER.id, [start + 60 * i, start + 60 * i + 59.9]]), orjson.dumps(
                {"temperature": {"count": 2, "min": 6.0 + 2 * i, "max": 7.0 + 2 * i, "sum": 13.0 + 4 * i,
                                 "mean": 6.5 + 2 * i}})) for i in range(3)])
        await produce(bootstrap, topics.changelog("devices"), [(REEFER.id.encode(), orjson.dumps(
            {"status": "online", "last_seen": "2026-01-01T00:07:00+00:00", "readings_applied": 6,
             "last_values": {"temperature": [11.5, 5]}}))])

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


def test_console_end_to_end(console_api: ApiProcess, browser: BrowserContext, tmp_path: Path) -> None:
    api, topics = console_api, console_api.topics
    shots = Screenshots(tmp_path, "console_end_to_end")
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

    # the stalled lane: drawn apart (red, dashed) with its count; a second stall arrives live; its label opens the
    # lane's panel, whose trackers lead to their device pages
    stalled = page.locator(f'#map path.lane-stalled[data-lane="{LANE.id}"]')
    expect(stalled).to_have_attribute("data-count", "1", timeout=WAIT_MS)
    expect(page.locator("#map path.lane-stalled")).to_have_count(1)
    label = page.locator(f'#map text.lane-count[data-lane="{LANE.id}"]')
    expect(label).to_contain_text("1")
    assert page.evaluate("getComputedStyle(document.querySelector('#map path.lane-stalled')).strokeDasharray") != "none"
    expect(page.locator("#stalled-counts")).to_have_text("1 lanes, 1 shipments")
    expect(page.locator("#twin-live")).to_have_text("on", timeout=WAIT_MS)
    in_thread(produce(api.bootstrap, topics.changelog("nodes"), stalled_rows([TRACKER, "T-LIVE-2"])))
    expect(stalled).to_have_attribute("data-count", "2", timeout=WAIT_MS)
    expect(label).to_contain_text("2")
    expect(page.locator("#stalled-counts")).to_have_text("1 lanes, 2 shipments")
    shots.take(page, "01-stalled-lane")
    page.evaluate(f"showLane({orjson.dumps(LANE.id).decode()})")  # what a click on its label does (tiny at x1)
    expect(page.locator("#node-panel h3")).to_have_text(f"Lane {LANE.id}")
    expect(page.locator("#node-panel")).to_contain_text("2 stalled shipments")
    expect(page.locator(f'#node-panel a[data-device="{TRACKER}"]')).to_have_count(1)

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

    # one alert's detail: its transitions, the reefer behind it with its last values and recent windows (to its
    # device page); assign, comment and clear go to alerts.commands in the token's name; the alert worker's next
    # version (written here, as it would) shows in the open detail, live
    in_thread(produce(api.bootstrap, topics.alerts, alert_records([
        reefer_alert(1), reefer_alert(2, TransitionKind.acknowledged, "ann", acknowledged=True,
                                      acknowledged_by="ann")])))
    expect(page.locator('#alerts tr[data-id="al-dev"]')).to_have_count(1, timeout=WAIT_MS)
    page.locator('#alerts tr[data-id="al-dev"] button.open-detail').click()
    detail = page.locator("#alert-detail")
    expect(detail).to_be_visible()
    expect(detail).to_have_attribute("data-version", "2")
    expect(page.locator("#detail-transitions tbody tr")).to_have_count(2)
    assert [page.locator("#detail-transitions tbody tr").nth(i).get_attribute("data-kind") for i in range(2)] == [
        "created", "acknowledged"]
    expect(page.locator("#detail-transitions tbody tr").nth(1)).to_contain_text("ann")
    reefer_row = page.locator(f'#detail-devices tr[data-device="{REEFER.id}"]')
    expect(reefer_row).to_contain_text("subject")
    expect(reefer_row).to_contain_text("temperature = 11.5")
    expect(reefer_row.locator("svg.spark")).to_have_attribute("data-points", "3")
    expect(page.locator('#detail-actions button.ack')).to_be_disabled()  # acknowledged already
    page.fill("#detail-assignee", "tech-9")
    page.click('#detail-actions button.assign')
    expect(page.locator("#detail-status")).to_contain_text("assign sent", timeout=WAIT_MS)
    page.fill("#detail-note", "door seal replaced")
    page.click('#detail-actions button.comment')
    expect(page.locator("#detail-status")).to_contain_text("comment sent", timeout=WAIT_MS)
    page.click('#detail-actions button.clear')
    expect(page.locator("#detail-status")).to_contain_text("clear sent", timeout=WAIT_MS)
    records = in_thread(consume_until(api.bootstrap, topics.alert_commands, lambda r: len(r) >= 4))
    # one alert's commands share a key, hence a partition, hence their order; the ack above (another alert,
    # another key) may be read before or after them
    sent_now = [c for c in map(orjson.loads, (r.value for r in records)) if c["alert_id"] == "al-dev"]
    assert [(c["action"], c["alert_id"], c["actor"], c.get("assignee"), c.get("note")) for c in sent_now] == [
        ("assign", "al-dev", "ops@console", "tech-9", None), ("comment", "al-dev", "ops@console", None,
                                                             "door seal replaced"),
        ("clear", "al-dev", "ops@console", None, None)]
    assert {r.key for r in records if orjson.loads(r.value)["alert_id"] == "al-dev"} == {
        (REEFER.node_id or "").encode()}
    in_thread(produce(api.bootstrap, topics.alerts, alert_records([reefer_alert(
        3, TransitionKind.assigned, "ops@console", acknowledged=True, acknowledged_by="ann", assignee="tech-9")])))
    expect(detail).to_have_attribute("data-assignee", "tech-9", timeout=WAIT_MS)
    expect(page.locator("#detail-transitions tbody tr")).to_have_count(3)
    shots.take(page, "02-alert-detail")
    reefer_row.locator(f'a[data-device="{REEFER.id}"]').click()  # the device page, charting the rule's metric
    expect(page.locator("#tab-device")).to_be_visible()
    expect(page.locator("#chart-caption")).to_contain_text("windows of temperature", timeout=WAIT_MS)
    page.click('#tabs button[data-tab="alerts"]')
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

    # feedback on the strategy: to scenarios.requests as `omnitrack scenario feedback` sends it; shown applied once
    # the priors (written here, as the decider's learning agent would) name this request
    page.fill('#feedback-form input[name="actual_duration_days"]', "6")
    page.fill('#feedback-form input[name="actual_loss"]', "90000")
    page.click("#feedback-form button[type=submit]")
    expect(page.locator("#feedback-status")).to_contain_text("waiting for the learning agent", timeout=WAIT_MS)
    records = in_thread(consume_until(api.bootstrap, topics.scenario_requests, lambda r: len(r) >= 2))
    feedback = orjson.loads(records[1].value)
    assert (feedback["kind"], feedback["request_id"], feedback["strategy"], feedback["nodes"], feedback["occurred"],
            feedback["actual_duration_days"], feedback["actual_loss"], feedback["estimated_duration_days"]) == (
        "feedback", request["request_id"], "reroute-via-" + OTHER, [NODE, OTHER], True, 6.0, 90000.0, 4.0)
    in_thread(produce(api.bootstrap, topics.scenario_results, [(b"priors", orjson.dumps(
        {"kind": "priors", "version": 2, "request_id": request["request_id"]}))]))
    expect(page.locator("#feedback-status")).to_have_text("applied: priors version 2", timeout=WAIT_MS)
    shots.take(page, "03-what-if-feedback")

    # sign-out forgets the token; nothing came from anywhere but the API; no script error
    page.click("#signout")
    expect(page.locator("#login")).to_be_visible()
    assert page.evaluate("sessionStorage.getItem('omnitrack.token')") is None
    assert requested and all(url.startswith(api.url + "/") for url in requested), sorted(set(requested))
    assert errors == []


def test_a_viewer_token_cannot_act(console_api: ApiProcess, browser: BrowserContext, tmp_path: Path) -> None:
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
    # the detail offers a viewer no action either; each is refused by the API (403)
    page.locator('#alerts tr[data-id="al-crit"] button.open-detail').click()
    expect(page.locator("#alert-detail")).to_be_visible(timeout=WAIT_MS)
    for action in ("ack", "assign", "comment", "clear"):
        expect(page.locator(f"#detail-actions button.{action}")).to_be_disabled()
    expect(page.locator("#detail-note")).to_be_disabled()
    for body in ('{ action: "assign", assignee: "me" }', '{ action: "comment", note: "hi" }', '{ action: "clear" }'):
        assert page.evaluate(f"""api("/alerts/al-crit/commands", {{ method: "POST", body: {body} }})
                                 .then((r) => r.status)""") == 403
    assert page.evaluate("""api("/scenarios/x/feedback", { method: "POST",
        body: { nodes: ["N"], actual_duration_days: 1 } }).then((r) => r.status)""") == 403
    page.evaluate("""showResult({ request_id: "r-view", status: "ok", strategies: [{ name: "s1", kind: "reroute",
        expected_loss: 1, cost_usd: 1, time_to_effect_days: 1 }] })""")
    expect(page.locator("#feedback-form button[type=submit]")).to_be_disabled()
    Screenshots(tmp_path, "viewer_cannot_act").take(page, "01-viewer-detail-and-feedback")
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
