"""The web console on a running engine: headless chromium against the real bridge, twin worker, decider and
API processes (`python -m omnitrack.cli <role>`), on the test stack's Mosquitto and Kafka.

test_console.py feeds the API's topics directly and plays the decider; here nothing is faked. What an
operator sees is what the engine did:

* the map draws every node of the example network (the default network file), each inside the map;
* a cold-chain breach published over MQTT (QoS 1) reaches the alert list within 2 s of its publication
  (measured: publish call -> the row in the page at the next animation frame; printed);
* a GPS tracker whose fixes stop progressing mid-lane (published over MQTT) stalls its shipment: the twin
  worker's node rows say so, and the map draws the lane stalled with its count, live; a fix far on moves it
  again and the lane is drawn as any other, live;
* a viewer's Ack is disabled and the API refuses the viewer's command (403, shown); the operator's Ack is
  applied by the real alert worker, and both tabs show the alert acknowledged, live;
* the alert's detail shows its transitions and the reefer behind it with its last value; the operator's assign,
  comment and clear are applied by the real alert worker, one after the other, and show in the open detail;
  a viewer's are disabled and refused (403);
* a what-if asked from the console is answered by the real decider: three strategies, in a table and on a
  chart of cost against expected loss; feedback on the best one is applied by the decider's learning agent
  (the priors' version goes up and names the request; the page says so).

Screenshots of each step go to `tmp_path/screenshots` and `.omnitrack/artifacts/console/<test>/` (printed).
"""

from __future__ import annotations

import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import orjson
import pytest
from playwright.sync_api import Page, expect

from omnitrack.ports import free_port_block
from omnitrack.settings import Settings
from streams.network_file import load_network
from tests.streams.api.browser import WAIT_MS, Screenshots, chromium, sign_in
from tests.streams.api.helpers import SECRET, bearer
from tests.streams.api.process import http
from tests.streams.conftest import Engine, Publisher, wait_for

pytestmark = pytest.mark.integration

NETWORK = load_network(Settings().network_file)  # the engine's default: simulators/networks/example_network.json
REEFER = next(d for d in NETWORK.devices if d.kind == "reefer_temperature" and d.node_id is not None)
SITE = REEFER.node_id
BREACH_C = 12.5  # the cold chain's limit is 8 °C
BREACH_BUDGET_S = 2.0
WHAT_IF = {"nodes": ["NA-FAC-004"], "duration_days": 7, "trials": 5000}
TRACKER = next(d for d in NETWORK.devices if d.kind == "gps_tracker" and d.lane_id is not None)
LANE = next(lane for lane in NETWORK.lanes if lane.id == TRACKER.lane_id)


def fix(seconds_ago: float, north_deg: float = 0.0) -> tuple[str, bytes]:
    """A GPS fix of TRACKER at the middle of its lane (moved `north_deg` north), taken `seconds_ago`."""
    a, b = NETWORK.node(LANE.src).location, NETWORK.node(LANE.dst).location
    ts = datetime.fromtimestamp(time.time() - seconds_ago, timezone.utc).isoformat()
    body = {"schema_version": 1, "device_id": TRACKER.id, "ts": ts, "seq": int(time.time() * 1000),
            "metrics": {"position": {"lat": (a.lat + b.lat) / 2 + north_deg, "lon": (a.lon + b.lon) / 2}}}
    return f"dt/{LANE.id}/{TRACKER.id}/telemetry", orjson.dumps(body)


def start_api(engine: Engine) -> str:
    """Start `omnitrack api` among the engine's processes; its URL once /readyz answers 200."""
    port = free_port_block((0,))
    engine.start("api", {"OMNITRACK_API_PORT": str(port), "OMNITRACK_API_JWT_SECRET": SECRET})
    url = f"http://127.0.0.1:{port}"

    def ready() -> bool:
        assert engine.alive("api"), engine.log("api")[-3000:]
        try:
            return http("GET", url + "/readyz")[0] == 200
        except OSError:
            return False

    wait_for(ready, 90, "the API's /readyz")
    return url


def reading(seq: int, temperature: float) -> tuple[str, bytes]:
    """One reefer reading as a device publishes it (tests/streams/crash_helpers.py `items()`'s shape)."""
    body = {"schema_version": 1, "device_id": REEFER.id, "ts": datetime.now(timezone.utc).isoformat(), "seq": seq,
            "metrics": {"temperature": temperature}}
    return f"dt/{SITE}/{REEFER.id}/telemetry", orjson.dumps(body)


def twin_readings(url: str) -> int:
    status, body, _ = http("GET", f"{url}/api/v1/twin/device/{REEFER.id}", headers=bearer("viewer"))
    return (body.get("state") or {}).get("readings_applied", 0) if status == 200 else 0


WATCH_ROW = """subject => {
  // the time the breach's row is in the list, taken at the next animation frame (when it is painted)
  window.__rowShownAt = null;
  const body = document.querySelector("#alerts tbody");
  new MutationObserver((_, observer) => {
    if (window.__rowShownAt === null && body.querySelector(`tr[data-subject="${subject}"]`)) {
      window.__rowShownAt = 0;
      observer.disconnect();
      requestAnimationFrame(() => { window.__rowShownAt = Date.now(); });
    }
  }).observe(body, { childList: true });
}"""


def map_shows_every_node(page: Page) -> None:
    circles = page.locator("#map circle.node")
    expect(circles).to_have_count(len(NETWORK.nodes), timeout=WAIT_MS)
    page.wait_for_function("() => document.body.dataset.ready === '1'", timeout=WAIT_MS)
    drawn: dict[str, Any] = page.evaluate("""() => {
      const frame = document.querySelector("#map").getBoundingClientRect();
      const inside = (b) => b.width > 0 && b.left >= frame.left - 1 && b.right <= frame.right + 1
        && b.top >= frame.top - 1 && b.bottom <= frame.bottom + 1;
      const circles = [...document.querySelectorAll("#map circle.node")];
      return { ids: circles.map((c) => c.dataset.id),
               outside: circles.filter((c) => !inside(c.getBoundingClientRect())).map((c) => c.dataset.id),
               lanes: Number(document.querySelector("#map path.lanes").dataset.count),
               segments: (document.querySelector("#map path.lanes").getAttribute("d").match(/M/g) || []).length };
    }""")
    assert sorted(drawn["ids"]) == sorted(n.id for n in NETWORK.nodes)
    assert drawn["outside"] == [], f"nodes drawn outside the map: {drawn['outside'][:10]}"
    assert drawn["lanes"] == drawn["segments"] == len(NETWORK.lanes)
    expect(page.locator("#map-counts")).to_contain_text(f"{len(NETWORK.nodes)} nodes, {len(NETWORK.lanes)} lanes")


def view_box(page: Page) -> list[float]:
    return [float(v) for v in page.locator("#map").get_attribute("viewBox").split()]


def dot_px(page: Page, node_id: str) -> float:
    return page.locator(f'#map circle[data-id="{node_id}"]').bounding_box()["width"]


def centre(page: Page, node_id: str) -> tuple[float, float]:
    box = page.locator(f'#map circle[data-id="{node_id}"]').bounding_box()
    return box["x"] + box["width"] / 2, box["y"] + box["height"] / 2


def near(a: tuple[float, float], b: tuple[float, float], px: float = 2.0) -> bool:
    return abs(a[0] - b[0]) <= px and abs(a[1] - b[1]) <= px


def map_zooms_and_pans(page: Page, shots: Screenshots) -> None:
    """Wheel zooms about the pointer, a drag pans (and opens no node), "fit" comes back; dots keep their size on
    screen, so nodes a few km apart come apart when zoomed in; the Node box zooms to the node it opens."""
    pivot = NETWORK.nodes[0].id
    home, size = view_box(page), dot_px(page, pivot)
    start = centre(page, pivot)
    page.mouse.move(*start)  # zoom about the pointer: the node under it stays under it
    for _ in range(5):
        page.mouse.wheel(0, -200)
    expect(page.locator("#map")).not_to_have_attribute("data-zoom", "1.00")
    zoomed = view_box(page)
    assert zoomed[2] < home[2] / 3 and float(page.locator("#map").get_attribute("data-zoom")) > 3
    assert abs(dot_px(page, pivot) - size) < 1.5, "dots scale with the zoom"
    assert near(centre(page, pivot), start), (centre(page, pivot), start)
    page.mouse.down()
    page.mouse.move(start[0] + 200, start[1] + 100, steps=10)
    page.mouse.up()
    expect(page.locator("#map")).not_to_have_attribute("viewBox", " ".join(str(v) for v in zoomed))
    panned = view_box(page)
    assert panned[0] < zoomed[0] and panned[1] < zoomed[1] and panned[2] == zoomed[2]  # dragged right and down
    assert near(centre(page, pivot), (start[0] + 200, start[1] + 100)), "the map did not follow the pointer"
    expect(page.locator("#node-panel")).to_have_text("Click a node.")  # a drag is not a click
    page.click("#zoom-fit")
    expect(page.locator("#map")).to_have_attribute("data-zoom", "1.00")
    # two nodes of one city, a few km apart: their dots overlap at world scale, not once zoomed to one of them
    a, b = min(((m, n) for m in NETWORK.nodes for n in NETWORK.nodes if m.id < n.id),
               key=lambda p: abs(p[0].location.lat - p[1].location.lat) + abs(p[0].location.lon - p[1].location.lon))
    page.fill('#node-find input[name="node"]', a.id)
    page.click("#node-find button[type=submit]")
    expect(page.locator("#node-panel h3")).to_contain_text(a.id)
    expect(page.locator("#map")).not_to_have_attribute("data-zoom", "1.00")
    page.wait_for_function("() => Number(document.querySelector('#map').dataset.zoom) >= 20")
    boxes = [page.locator(f'#map circle[data-id="{n.id}"]').bounding_box() for n in (a, b)]
    apart = ((boxes[0]["x"] - boxes[1]["x"]) ** 2 + (boxes[0]["y"] - boxes[1]["y"]) ** 2) ** 0.5
    print(f"closest nodes {a.id}, {b.id}: {apart:.0f} px apart at x{page.locator('#map').get_attribute('data-zoom')}")
    assert apart >= 2.5 * boxes[0]["width"], "the focused node still overlaps its neighbour"
    frame = page.locator("#map").bounding_box()
    assert near(centre(page, a.id), (frame["x"] + frame["width"] / 2, frame["y"] + frame["height"] / 2), 3)
    shots.take(page, "01b-map-focused")
    page.click("#zoom-fit")
    expect(page.locator("#map")).to_have_attribute("data-zoom", "1.00")


def test_breach_reaches_the_console_and_is_acknowledged(engine: Engine, tmp_path: Path) -> None:
    engine.start("bridge")
    engine.start("worker")
    url = start_api(engine)
    wait_for(lambda: "bridge running" in engine.log("bridge"), 60, "bridge subscribed")
    wait_for(lambda: "worker assigned" in engine.log("worker"), 60, "worker assigned its partitions")
    shots = Screenshots(tmp_path, "breach_and_ack")
    pub = Publisher(int(engine.env["OMNITRACK_MQTT_PORT"]))
    try:
        # the reefer reports a normal reading first: the whole path works before anything is timed
        pub.publish_many([reading(0, 4.5)])
        wait_for(lambda: twin_readings(url) >= 1, 60, f"{REEFER.id}'s twin row in the API")

        with chromium() as browser:
            ops = browser.new_page()
            errors: list[str] = []
            ops.on("pageerror", lambda e: errors.append(str(e)))
            sign_in(ops, url, "operator", "ops@engine")
            map_shows_every_node(ops)
            shots.take(ops, "01-map")
            map_zooms_and_pans(ops, shots)

            # the tracker stops mid-lane: two fixes a minute apart at one place, where its lane says ~380 m
            stalled = ops.locator(f'#map path.lane-stalled[data-lane="{LANE.id}"]')
            expect(ops.locator("#twin-live")).to_have_text("on", timeout=WAIT_MS)
            expect(ops.locator("#map path.lane-stalled")).to_have_count(0)
            pub.publish_many([fix(120), fix(60)])
            expect(stalled).to_have_attribute("data-count", "1", timeout=WAIT_MS)
            expect(ops.locator(f'#map text.lane-count[data-lane="{LANE.id}"]')).to_contain_text("1")
            expect(ops.locator("#stalled-counts")).to_have_text("1 lanes, 1 shipments")
            shots.take(ops, "01c-lane-stalled")

            ops.click('#tabs button[data-tab="alerts"]')
            expect(ops.locator("#alerts-live")).to_have_text("on", timeout=WAIT_MS)
            ops.evaluate(WATCH_ROW, REEFER.id)
            published_at = time.time()
            pub.publish_many([reading(1, BREACH_C)])  # returns on the broker's PUBACK
            row = ops.locator(f'#alerts tr[data-subject="{REEFER.id}"]')
            expect(row).to_be_visible(timeout=WAIT_MS)
            ops.wait_for_function("() => window.__rowShownAt > 0", timeout=WAIT_MS)
            latency_s = ops.evaluate("window.__rowShownAt") / 1000 - published_at
            print(f"cold-chain breach: MQTT publish -> alert row in the console {latency_s * 1000:.0f} ms "
                  f"(budget {BREACH_BUDGET_S * 1000:.0f} ms)")
            assert latency_s <= BREACH_BUDGET_S, f"breach took {latency_s:.2f}s to reach the console"
            expect(row).to_have_attribute("data-status", "ACTIVE_UNACK")
            expect(row.locator("td").nth(4)).to_have_text("cold_chain")
            expect(row.locator("td").nth(2)).to_have_text(SITE)
            alert_id = row.get_attribute("data-id")
            shots.take(ops, "02-breach-listed")

            # a viewer sees the alert but cannot act: the button is disabled, and the API refuses (403, shown)
            viewer = browser.new_page()
            sign_in(viewer, url, "viewer", "watcher")
            viewer.click('#tabs button[data-tab="alerts"]')
            viewer_row = viewer.locator(f'#alerts tr[data-id="{alert_id}"]')
            expect(viewer_row).to_have_attribute("data-status", "ACTIVE_UNACK", timeout=WAIT_MS)
            expect(viewer_row.locator("button.ack")).to_be_disabled()
            refused = viewer.evaluate(f"""api("/alerts/{alert_id}/commands",
                                          {{ method: "POST", body: {{ action: "ack" }} }}).then((r) => r.status)""")
            assert refused == 403
            expect(viewer.locator("#status")).to_contain_text("403")
            expect(viewer.locator("#alerts-live")).to_have_text("on", timeout=WAIT_MS)
            shots.take(viewer, "03-viewer-cannot-ack")

            # the operator acknowledges; the real alert worker applies it; both tabs show it, live
            row.locator("button.ack").click()
            expect(row).to_have_attribute("data-status", "ACTIVE_ACK", timeout=WAIT_MS)
            expect(row.locator("td.alert-status")).to_have_text("ACTIVE_ACK (ops@engine)")
            expect(row.locator("button.ack")).to_have_count(0)
            expect(viewer_row).to_have_attribute("data-status", "ACTIVE_ACK", timeout=WAIT_MS)
            status, body, _ = http("GET", f"{url}/api/v1/alerts/{alert_id}", headers=bearer("viewer"))
            assert status == 200 and body["alert"]["acknowledged"] and body["alert"]["acknowledged_by"] == "ops@engine"
            assert body["transition"]["kind"] == "acknowledged" and body["refused_commands"] == []
            shots.take(ops, "04-acknowledged")
            # The detail reads the device's row when it opens (and again on the alert's next event), and the row
            # comes by another road than the alert (the worker's flush, then the devices changelog): after the
            # fault tests it was seen arriving after the detail had opened, which then showed the 4.5 reading.
            wait_for(lambda: twin_readings(url) >= 2, WAIT_MS / 1000, "the breach reading in the API's device row")
            alert_detail_and_actions(ops, viewer, alert_id, url, shots)

            # the tracker moves on (a kilometre further): the lane is drawn as any other again, live
            ops.click('#tabs button[data-tab="map"]')
            pub.publish_many([fix(0, north_deg=0.01)])
            expect(ops.locator("#map path.lane-stalled")).to_have_count(0, timeout=WAIT_MS)
            expect(ops.locator("#stalled-counts")).to_have_text("0 lanes, 0 shipments")
            assert errors == []
    finally:
        pub.close()
    assert engine.alive("bridge") and engine.alive("worker") and engine.alive("api")


def alert_detail_and_actions(ops: Page, viewer: Page, alert_id: str, url: str, shots: Screenshots) -> None:
    """The breach's detail: the real worker's transitions, the reefer behind it; assign, comment, clear applied
    by the alert worker one after the other; the viewer's actions disabled and refused."""
    ops.locator(f'#alerts tr[data-id="{alert_id}"] button.open-detail').click()
    detail = ops.locator("#alert-detail")
    expect(detail).to_have_attribute("data-status", "ACTIVE_ACK", timeout=WAIT_MS)
    transitions = ops.locator("#detail-transitions tbody tr")
    expect(transitions).to_have_count(2)
    assert [transitions.nth(i).get_attribute("data-kind") for i in range(2)] == ["created", "acknowledged"]
    expect(transitions.nth(1)).to_contain_text("ops@engine")
    reefer = ops.locator(f'#detail-devices tr[data-device="{REEFER.id}"]')
    expect(reefer).to_contain_text("subject")
    expect(reefer).to_contain_text(f"temperature = {BREACH_C}")
    expect(reefer).to_contain_text("online")

    viewer.locator(f'#alerts tr[data-id="{alert_id}"] button.open-detail').click()
    for action in ("ack", "assign", "comment", "clear"):
        expect(viewer.locator(f"#detail-actions button.{action}")).to_be_disabled(timeout=WAIT_MS)
    refused = viewer.evaluate(f"""api("/alerts/{alert_id}/commands",
        {{ method: "POST", body: {{ action: "assign", assignee: "me" }} }}).then((r) => r.status)""")
    assert refused == 403

    ops.fill("#detail-assignee", "tech-7")
    ops.click("#detail-actions button.assign")
    expect(detail).to_have_attribute("data-assignee", "tech-7", timeout=WAIT_MS)
    ops.fill("#detail-note", "reefer door resealed")
    ops.click("#detail-actions button.comment")
    expect(ops.locator("#detail-comments")).to_contain_text("ops@engine: reefer door resealed", timeout=WAIT_MS)
    ops.click("#detail-actions button.clear")
    expect(detail).to_have_attribute("data-status", "CLEARED_ACK", timeout=WAIT_MS)
    kinds = [transitions.nth(i).get_attribute("data-kind") for i in range(transitions.count())]
    assert kinds == ["created", "acknowledged", "assigned", "commented", "cleared"], kinds
    expect(viewer.locator("#alert-detail")).to_have_attribute("data-status", "CLEARED_ACK", timeout=WAIT_MS)
    # cleared, it leaves both lists (they show active alerts), live
    expect(ops.locator(f'#alerts tr[data-id="{alert_id}"]')).to_have_count(0, timeout=WAIT_MS)
    expect(viewer.locator(f'#alerts tr[data-id="{alert_id}"]')).to_have_count(0, timeout=WAIT_MS)
    status, body, _ = http("GET", f"{url}/api/v1/alerts/{alert_id}", headers=bearer("viewer"))
    assert status == 200 and body["alert"]["assignee"] == "tech-7" and body["alert"]["cleared_by"] == "ops@engine"
    assert body["alert"]["comments"][0]["text"] == "reefer door resealed" and body["refused_commands"] == []
    expect(reefer.locator("svg.spark circle")).to_have_count(1)  # its recent minutes: the open one at least
    shots.take(ops, "04b-detail-assigned-commented-cleared")


def test_what_if_from_the_console_is_answered_by_the_decider(engine: Engine, tmp_path: Path) -> None:
    engine.start("decider")
    url = start_api(engine)
    # the decider's first answer waits for its consumer group and kernels: asked once before the browser is
    status, body, _ = http("POST", f"{url}/api/v1/scenarios?wait=5", {**WHAT_IF, "request_id": "warm-up"},
                           headers=bearer("operator"))
    assert status in (200, 202), body
    wait_for(lambda: http("GET", f"{url}/api/v1/scenarios/warm-up", headers=bearer("viewer"))[0] == 200, 150,
             f"the decider's first answer\n{engine.log('decider')[-2000:]}", interval_s=1)
    shots = Screenshots(tmp_path, "what_if")

    with chromium() as browser:
        page = browser.new_page()
        sign_in(page, url, "operator", "planner")
        page.click('#tabs button[data-tab="whatif"]')
        page.fill('#whatif-form input[name="nodes"]', ", ".join(WHAT_IF["nodes"]))
        page.fill('#whatif-form input[name="duration_days"]', str(WHAT_IF["duration_days"]))
        page.fill('#whatif-form input[name="trials"]', str(WHAT_IF["trials"]))
        page.click("#whatif-form button[type=submit]")
        result = page.locator("#whatif-result .result")
        expect(result).to_contain_text(": ok", timeout=WAIT_MS * 2)
        request_id = result.inner_text().split()[1].rstrip(":")
        status, answer, _ = http("GET", f"{url}/api/v1/scenarios/{request_id}", headers=bearer("viewer"))
        assert status == 200 and answer["status"] == "ok" and len(answer["strategies"]) == 3, answer
        names = [s["name"] for s in answer["strategies"]]

        # the table and the chart show the decider's three strategies, best first, and doing nothing
        rows = page.locator("#whatif-result tbody tr")
        expect(rows).to_have_count(3)
        assert [rows.nth(i).get_attribute("data-strategy") for i in range(3)] == names
        dots = page.locator("#whatif-chart circle.strategy")
        expect(dots).to_have_count(3)
        assert [dots.nth(i).get_attribute("data-name") for i in range(3)] == names
        expect(page.locator("#whatif-chart circle.baseline")).to_have_count(1)
        expect(page.locator("#whatif-caption")).to_contain_text("Cost against expected loss of the top 3")
        # each dot sits where its strategy's cost (x) and expected loss (y) put it: more cost, further right
        placed = page.evaluate("""() => [...document.querySelectorAll("#whatif-chart circle.strategy")]
            .map((c) => [Number(c.getAttribute("cx")), Number(c.getAttribute("cy"))])""")
        by_cost = sorted(range(3), key=lambda i: answer["strategies"][i]["cost_usd"])
        assert [placed[i][0] for i in by_cost] == sorted(p[0] for p in placed)
        by_loss = sorted(range(3), key=lambda i: answer["strategies"][i]["expected_loss"])
        assert [placed[i][1] for i in by_loss] == sorted((p[1] for p in placed), reverse=True)
        page.locator("#whatif-chart").scroll_into_view_if_needed()
        shots.take(page, "05-what-if")

        # feedback on the best strategy, applied by the decider's learning agent: the priors' version goes up
        _, before, _ = http("GET", f"{url}/api/v1/scenarios/priors", headers=bearer("viewer"))
        version = before.get("version", 1) if isinstance(before, dict) and "version" in before else 1
        page.select_option('#feedback-form select[name="strategy"]', names[0])
        page.fill('#feedback-form input[name="actual_duration_days"]', "9")
        page.click("#feedback-form button[type=submit]")
        expect(page.locator("#feedback-status")).to_contain_text("applied: priors version", timeout=WAIT_MS * 2)
        status, priors, _ = http("GET", f"{url}/api/v1/scenarios/priors", headers=bearer("viewer"))
        assert status == 200 and priors["request_id"] == request_id and priors["version"] > version, priors
        expect(page.locator("#feedback-status")).to_have_text(f"applied: priors version {priors['version']}")
        shots.take(page, "06-what-if-feedback")
    assert engine.alive("decider") and engine.alive("api")
