"""Web console: page weight, first paint, time to interactive and map frame times: `omnitrack bench console`.

Why: the console must paint within a second and its map must stay smooth on a network of 1,000 nodes (issue
16). The bench runs the real `omnitrack api` (its own topics on the stack's Kafka) twice, on the example
network and on a generated one of `--nodes` nodes in tight city clusters (nodes a few km apart), with every
node's twin row seeded so the map is fully coloured, and drives headless Debian chromium through Playwright:

* cold loads of /console/ with a token already in the tab (`--loads` of them): bytes transferred (Resource
  Timing `transferSize` of the page, its files and the API answers it waits for (gzipped when large); the live streams never
  finish and are not counted), first paint and first contentful paint (Paint Timing), and time to
  interactive: the console's `console-interactive` mark, set at the frame after the map is drawn, the alert
  list loaded and every handler bound;
* frame times (requestAnimationFrame deltas: p50, p95, max, dropped frames, long tasks) on the big network
  while idle (the baseline), while zooming (wheel) and panning (drag), and while the twin recolours every node
  `--rounds` times, `--rate` node changes a second, produced to `twin.changes` and streamed to the page by the
  API, and how long after the last change the page shows every node's final level.

Run: `omnitrack bench console [--nodes 1000] [--loads 5] [--rounds 5] [--rate 1000] [--json]` against a running
stack (`omnitrack stack up`; the test stack: `env $(.venv/bin/python -m tests.stack_env) ...`).
"""

from __future__ import annotations

import argparse
import asyncio
import concurrent.futures
import contextlib
import json
import logging
import os
import platform
import random
import secrets
import statistics
import subprocess
import tempfile
import threading
import time
import urllib.request
import uuid
from collections.abc import Iterator
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import orjson
from aiokafka import AIOKafkaProducer
from playwright.sync_api import BrowserContext, Page, sync_playwright

from bench.ingest import _engine_env, _spawn, _stop
from omnitrack import stack
from omnitrack.ports import free_port_block
from omnitrack.settings import get_settings
from streams.admin import delete_topics, ensure_topics
from streams.api.auth import mint_token
from streams.produce import produce
from streams.topics import Topics

CHROMIUM = "/usr/bin/chromium"
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync"]
VIEWPORT = {"width": 1400, "height": 900}
LEVELS = ("ok", "degraded", "critical")
CITIES = [(51.9, 4.5), (53.5, 10.0), (48.9, 2.4), (50.1, 8.7), (45.5, 9.2), (40.4, -3.7), (52.2, 21.0),
          (41.0, 29.0), (25.2, 55.3), (19.1, 72.9), (13.1, 80.3), (1.3, 103.8), (22.3, 114.2), (31.2, 121.5),
          (35.7, 139.7), (37.6, 127.0), (-33.9, 151.2), (-23.5, -46.6), (19.4, -99.1), (29.8, -95.4),
          (41.9, -87.6), (40.7, -74.0), (34.1, -118.2), (47.6, -122.3), (-26.2, 28.0)]


def generated_network(n: int, seed: int = 7) -> dict[str, Any]:
    """`n` nodes in clusters around world cities (within ~20 km of the centre: they overlap at world scale),
    a lane from each node to an earlier one of its cluster, a lane between neighbouring hubs, a device per node."""
    rng = random.Random(seed)
    kinds = ("supplier", "factory", "warehouse", "distribution_centre", "customer", "port")
    nodes, lanes, devices = [], [], []
    for i in range(n):
        c = i % len(CITIES)
        lat, lon = CITIES[c]
        nodes.append({"id": f"G-{i:04d}", "kind": kinds[i % len(kinds)], "name": f"generated {i}", "region": f"city-{c}",
                      "location": {"lat": round(lat + rng.uniform(-0.2, 0.2), 4),
                                   "lon": round(lon + rng.uniform(-0.2, 0.2), 4)},
                      "capacity": 1000, "inventory": 5000, "daily_demand": 100.0, "daily_revenue_at_risk": 10_000.0,
                      "criticality": 1 + i % 5})
        devices.append({"id": f"G-{i:04d}-INV", "kind": "inventory", "node_id": f"G-{i:04d}", "expected_interval_s": 60})
        if i >= len(CITIES):
            lanes.append({"id": f"GL-{i:04d}", "src": f"G-{rng.randrange(c, i, len(CITIES)):04d}", "dst": f"G-{i:04d}",
                          "mode": "road", "lead_time_days": 1})
    for c in range(len(CITIES)):
        lanes.append({"id": f"GH-{c:02d}", "src": f"G-{c:04d}", "dst": f"G-{(c + 1) % len(CITIES):04d}", "mode": "sea",
                      "lead_time_days": 14})
    return {"nodes": nodes, "lanes": lanes, "devices": devices}


def _async(coro) -> Any:
    """Run a Kafka coroutine on its own loop in a thread: Playwright's sync API owns this thread's loop."""
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, coro).result()


def _ready(url: str) -> bool:
    try:
        with urllib.request.urlopen(url + "/readyz", timeout=2) as r:
            return r.status == 200
    except OSError:
        return False


@contextlib.contextmanager
def api_process(settings, network: Path, workdir: Path, secret: str) -> Iterator[tuple[str, Topics]]:
    """`omnitrack api` on `network`, with its own topics and every node's twin row seeded; (url, topics)."""
    prefix = f"con{uuid.uuid4().hex[:6]}"
    topics = Topics(prefix)
    ids = [n["id"] for n in orjson.loads(network.read_bytes())["nodes"]]
    rows = [(i.encode(), orjson.dumps({"level": LEVELS[k % 3], "days_of_cover": 10.0 + k % 7, "devices": {}}))
            for k, i in enumerate(ids)]

    async def seed() -> None:
        await ensure_topics(settings.bootstrap, topics)
        await produce(settings.bootstrap, topics.changelog("nodes"), rows)

    _async(seed())
    port = free_port_block((0,))
    env = _engine_env(settings, prefix, workdir / f"home-{prefix}", free_port_block((0,)),
                      OMNITRACK_NETWORK_FILE=str(network), OMNITRACK_API_PORT=str(port),
                      OMNITRACK_API_METRICS_PORT="-1", OMNITRACK_API_JWT_SECRET=secret)
    log = workdir / f"api-{prefix}.log"
    proc = _spawn("api", env, log)
    url = f"http://127.0.0.1:{port}"
    try:
        end = time.monotonic() + 90
        while not _ready(url):
            if proc.poll() is not None or time.monotonic() > end:
                raise RuntimeError(f"the API did not get ready:\n{log.read_text()[-3000:]}")
            time.sleep(0.1)
        yield url, topics
    finally:
        _stop(proc)
        _async(delete_topics(settings.bootstrap, prefix))


LOAD_FIGURES = """() => {
  const nav = performance.getEntriesByType("navigation")[0];
  const res = performance.getEntriesByType("resource");
  const paint = Object.fromEntries(performance.getEntriesByType("paint").map((p) => [p.name, p.startTime]));
  const mark = performance.getEntriesByName("console-interactive")[0];
  const isStatic = (r) => new URL(r.name).pathname.startsWith("/console/");
  const sum = (rs, k) => rs.reduce((a, r) => a + (r[k] || 0), 0);
  return {
    fp_ms: paint["first-paint"], fcp_ms: paint["first-contentful-paint"], tti_ms: mark.startTime,
    dcl_ms: nav.domContentLoadedEventEnd,
    static_bytes: nav.transferSize + sum(res.filter(isStatic), "transferSize"),
    data_bytes: sum(res.filter((r) => !isStatic(r)), "transferSize"),
    data_body_bytes: sum(res.filter((r) => !isStatic(r)), "decodedBodySize"),
    requests: 1 + res.length, circles: document.querySelectorAll("#map circle.node").length,
  };
}"""


def load_once(context: BrowserContext, url: str) -> dict[str, Any]:
    """One cold load of the console, signed in by the token the context's init script put in the tab."""
    page = context.new_page()
    try:
        page.goto(f"{url}/console/")
        page.wait_for_function("() => performance.getEntriesByName('console-interactive').length > 0", timeout=60_000)
        return page.evaluate(LOAD_FIGURES)
    finally:
        page.close()


RECORD = """() => {
  const gen = window.__gen = (window.__gen || 0) + 1;  // one recording at a time: an older chain stops
  window.__frames = []; window.__long = 0; window.__zoom = 1; window.__views = new Set();
  new PerformanceObserver((list) => { if (gen === window.__gen) window.__long += list.getEntries().length; })
    .observe({ type: "longtask" });
  const map = document.querySelector("#map");
  window.__reconnects = 0;
  new MutationObserver(() => { if (gen === window.__gen && document.querySelector("#twin-live").textContent
    === "reconnecting") window.__reconnects += 1; }).observe(document.querySelector("#twin-live"), { childList: true });
  const tick = (t) => {
    if (gen !== window.__gen) return;
    window.__frames.push(t);
    window.__zoom = Math.max(window.__zoom, Number(map.dataset.zoom || 1));
    window.__views.add(map.getAttribute("viewBox"));
    requestAnimationFrame(tick);
  };
  requestAnimationFrame(tick);
}"""
STOP = """() => { window.__gen += 1; const f = window.__frames;
  return { deltas: f.slice(1).map((t, i) => t - f[i]), long_tasks: window.__long, max_zoom: window.__zoom,
           views: window.__views.size, reconnects: window.__reconnects }; }"""


def frame_stats(got: dict[str, Any], interval_ms: float) -> dict[str, Any]:
    d = sorted(got["deltas"])
    if not d:
        return {"frames": 0}
    dropped = sum(max(0, round(x / interval_ms) - 1) for x in d)
    return {"frames": len(d), "p50_ms": round(statistics.median(d), 1), "p95_ms": round(d[int(0.95 * (len(d) - 1))], 1),
            "max_ms": round(d[-1], 1), "dropped": dropped, "dropped_pct": round(100 * dropped / (len(d) + dropped), 1),
            "long_tasks": got["long_tasks"], "max_zoom": got["max_zoom"], "views_drawn": got["views"]}


def pan_and_zoom(page: Page, seconds: float) -> None:
    box = page.locator("#map").bounding_box()
    cx, cy = box["x"] + box["width"] * 0.55, box["y"] + box["height"] * 0.45
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        page.mouse.move(cx, cy)
        for _ in range(8):
            page.mouse.wheel(0, -120)
        page.mouse.down()
        page.mouse.move(cx + 250, cy + 120, steps=25)
        page.mouse.up()
        page.mouse.move(cx, cy)
        for _ in range(8):
            page.mouse.wheel(0, 120)
        page.mouse.down()
        page.mouse.move(cx - 250, cy - 120, steps=25)
        page.mouse.up()


def recolour(bootstrap: str, topics: Topics, ids: list[str], rounds: int, rate: float) -> float:
    """Every node's level changed `rounds` times at `rate` changes/s; returns when the last was produced."""
    async def run() -> float:
        chunk = max(1, int(rate / 20))  # 20 sends a second
        producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all", linger_ms=0)
        await producer.start()
        try:
            began = time.monotonic()
            sent = 0
            for r in range(rounds):
                for start in range(0, len(ids), chunk):
                    at = datetime.now(timezone.utc).isoformat()
                    await asyncio.sleep(max(0.0, began + sent / rate - time.monotonic()))
                    futures = [await producer.send(topics.twin_changes, key=i.encode(), value=orjson.dumps({
                        "v": 1, "type": "node_health", "node_id": i, "previous": LEVELS[(k + r) % 3],
                        "current": LEVELS[(k + r + 1) % 3], "reasons": [], "days_of_cover": float(r), "at": at}))
                        for k, i in enumerate(ids[start:start + chunk], start)]
                    await asyncio.gather(*futures)
                    sent += len(futures)
                # as the twin worker does (it flushes its rows every second): the node rows that
                # GET /twin/nodes answers, which the page reads again after a reconnection
                rows = [await producer.send(topics.changelog("nodes"), key=i.encode(), value=orjson.dumps(
                    {"level": LEVELS[(k + r + 1) % 3], "days_of_cover": float(r), "devices": {}}))
                    for k, i in enumerate(ids)]
                await asyncio.gather(*rows)
            return time.time()
        finally:
            await producer.stop()

    return asyncio.run(run())


def measure(context: BrowserContext, url: str, loads: int) -> dict[str, Any]:
    runs = [load_once(context, url) for _ in range(loads)]
    med = lambda k: round(statistics.median(r[k] for r in runs), 1)  # noqa: E731
    return {"loads": loads, "circles": runs[0]["circles"], "static_bytes": runs[0]["static_bytes"],
            "data_bytes": runs[0]["data_bytes"], "data_body_bytes": runs[0]["data_body_bytes"],
            "requests": runs[0]["requests"], "fp_ms": med("fp_ms"), "fcp_ms": med("fcp_ms"), "dcl_ms": med("dcl_ms"),
            "tti_ms": med("tti_ms"), "fcp_max_ms": round(max(r["fcp_ms"] for r in runs), 1),
            "tti_max_ms": round(max(r["tti_ms"] for r in runs), 1)}


def smoothness(context: BrowserContext, url: str, topics: Topics, bootstrap: str, ids: list[str],
               rounds: int, rate: float, seconds: float) -> dict[str, Any]:
    page = context.new_page()
    page.goto(f"{url}/console/")
    page.wait_for_function("() => document.body.dataset.ready === '1'", timeout=60_000)
    page.wait_for_function("() => document.querySelector('#twin-live').textContent === 'on'", timeout=30_000)
    out: dict[str, Any] = {}
    page.evaluate(RECORD)
    time.sleep(seconds)  # the baseline: nothing to do but frames
    idle = page.evaluate(STOP)
    interval = statistics.median(idle["deltas"]) if idle["deltas"] else 1000 / 60
    out["frame_interval_ms"] = round(interval, 2)
    out["idle"] = frame_stats(idle, interval)
    page.evaluate(RECORD)
    pan_and_zoom(page, seconds)
    out["pan_zoom"] = frame_stats(page.evaluate(STOP), interval)
    page.evaluate(RECORD)
    final = {i: LEVELS[(k + rounds) % 3] for k, i in enumerate(ids)}
    done = [0.0]
    worker = threading.Thread(target=lambda: done.__setitem__(0, recolour(bootstrap, topics, ids, rounds, rate)))
    worker.start()
    worker.join()
    page.wait_for_function("""final => Object.entries(final).every(([id, level]) =>
        document.querySelector(`#map circle[data-id="${id}"]`).dataset.level === level)""", arg=final,
                           timeout=60_000, polling=50)
    shown = page.evaluate("Date.now()") / 1000
    got = page.evaluate(STOP)
    out["recolour"] = frame_stats(got, interval)
    out["recolour"].update({"changes": rounds * len(ids), "rate_per_s": rate,
                            "last_change_to_all_shown_ms": round((shown - done[0]) * 1000, 0),
                            "stream_reconnects": got["reconnects"]})
    page.close()
    return out


def run(nodes: int, loads: int, rounds: int, rate: float, seconds: float) -> dict[str, Any]:
    settings = get_settings()
    stack.up(settings)
    secret = secrets.token_hex(32)
    token = mint_token(secret, sub="bench", roles=["operator"])
    out: dict[str, Any] = {"bench": "console", "date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
                           "machine": f"{platform.node()}, {os.cpu_count()} cores, {platform.platform()}",
                           "chromium": subprocess.run([CHROMIUM, "--version"], capture_output=True, text=True).stdout.strip(),
                           "load_avg_before": round(os.getloadavg()[0], 2)}
    with tempfile.TemporaryDirectory(prefix="omnitrack-console-") as tmp, sync_playwright() as p:
        workdir = Path(tmp)
        big = workdir / "network-big.json"
        big.write_text(json.dumps(generated_network(nodes)))
        for name, network in (("example", settings.network_file), (f"generated_{nodes}", big)):
            ids = [n["id"] for n in orjson.loads(Path(network).read_bytes())["nodes"]]
            with api_process(settings, Path(network), workdir, secret) as (url, topics), \
                    tempfile.TemporaryDirectory() as profile:
                context = p.chromium.launch_persistent_context(profile, executable_path=CHROMIUM, headless=True,
                                                               args=FLAGS, viewport=VIEWPORT)
                try:
                    context.add_init_script(f"sessionStorage.setItem('omnitrack.token', {json.dumps(token)})")
                    out[name] = {"nodes": len(ids), **measure(context, url, loads)}
                    if name != "example":
                        out[name].update(smoothness(context, url, topics, settings.bootstrap, ids, rounds, rate,
                                                    seconds))
                finally:
                    context.close()
    out["load_avg_after"] = round(os.getloadavg()[0], 2)
    big_run = out[f"generated_{nodes}"]
    out["meets_target"] = (out["example"]["fcp_ms"] < 1000 and big_run["fcp_ms"] < 1000
                           and big_run["pan_zoom"]["p95_ms"] <= 2 * big_run["frame_interval_ms"] + 1
                           and big_run["recolour"]["p95_ms"] <= 2 * big_run["frame_interval_ms"] + 1)
    return out


def report(out: dict[str, Any]) -> None:
    print(f"console bench {out['date']} on {out['machine']}, chromium {out['chromium']}, "
          f"load average {out['load_avg_before']} -> {out['load_avg_after']}")
    for name in [k for k in out if k == "example" or k.startswith("generated_")]:
        r = out[name]
        print(f"  {name} ({r['nodes']} nodes, {r['circles']} drawn): page {r['static_bytes'] / 1024:.1f} KiB + data "
              f"{r['data_bytes'] / 1024:.1f} KiB in {r['requests']} requests; median of {r['loads']} cold loads: "
              f"FP {r['fp_ms']:.0f} ms, FCP {r['fcp_ms']:.0f} ms (max {r['fcp_max_ms']:.0f}), "
              f"interactive {r['tti_ms']:.0f} ms (max {r['tti_max_ms']:.0f})")
        for phase in ("idle", "pan_zoom", "recolour"):
            if phase in r:
                f = r[phase]
                extra = (f", {f['changes']} changes at {f['rate_per_s']:.0f}/s, last change -> all shown "
                         f"{f['last_change_to_all_shown_ms']:.0f} ms, stream reconnections {f['stream_reconnects']}"
                         if phase == "recolour" else "")
                if phase == "pan_zoom":
                    extra = f", {f['views_drawn']} views drawn, zoomed up to x{f['max_zoom']:.1f}"
                print(f"    frames {phase}: {f['frames']} frames, p50 {f['p50_ms']} ms, p95 {f['p95_ms']} ms, max "
                      f"{f['max_ms']} ms, dropped {f['dropped']} ({f['dropped_pct']}%), long tasks {f['long_tasks']}{extra}")
    print(f"  target (FCP < 1 s; p95 frame <= 2 frames at {out[[k for k in out if k.startswith('generated_')][0]]['frame_interval_ms']} ms): "
          f"{'met' if out['meets_target'] else 'MISSED'}")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="omnitrack bench console", description=__doc__.splitlines()[0])
    ap.add_argument("--nodes", type=int, default=1000, help="nodes of the generated network (the page reads "
                    "GET /twin/nodes 1000 a page, following `next`)")
    ap.add_argument("--loads", type=int, default=5, help="cold loads per network")
    ap.add_argument("--rounds", type=int, default=5, help="times every node is recoloured")
    ap.add_argument("--rate", type=float, default=1000.0, help="node changes a second while recolouring")
    ap.add_argument("--seconds", type=float, default=4.0, help="seconds of idle and of pan/zoom frames")
    ap.add_argument("--json", action="store_true", help="print one JSON object of the figures last")
    args = ap.parse_args(argv)
    logging.getLogger("aiokafka").setLevel(logging.ERROR)  # produce retries while fresh topics elect leaders
    out = run(args.nodes, args.loads, args.rounds, args.rate, args.seconds)
    report(out)
    if args.json:
        print(json.dumps(out))
    return 0 if out["meets_target"] else 1


if __name__ == "__main__":
    raise SystemExit(main())
