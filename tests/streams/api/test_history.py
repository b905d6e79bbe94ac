"""GET /twin/device/{id}/history against the real twin worker: readings published to `telemetry`, the worker
(`omnitrack worker`) folding them into its 1-minute windows, and the API reading its changelogs. The route's
answer must equal the windows recomputed here, independently, from what the `telemetry` topic holds."""

from __future__ import annotations

import asyncio
import time
from collections import defaultdict
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pytest

from omnitrack.settings import Settings
from streams.admin import ensure_topics
from streams.api.catalog import API_PREFIX
from streams.network_file import load_network
from streams.produce import produce
from streams.records import decode_telemetry, encode_telemetry
from tests.streams.api.helpers import consume_until
from tests.streams.api.test_http_features import VIEWER, api
from tests.streams.conftest import Engine

pytestmark = pytest.mark.integration


def _wire(device: str, seq: int, ts_s: float, **metrics: Any) -> dict[str, Any]:
    """A reading as the bridge writes it into a telemetry record (ts in epoch ms)."""
    return {"schema_version": 1, "device_id": device, "seq": seq, "ts": int(ts_s * 1000), "metrics": metrics}


def recompute(readings: list[dict[str, Any]]) -> dict[str, list[tuple[str, bool, dict[str, dict[str, Any]]]]]:
    """Per device: (window start, open?, {metric: count/min/max/mean}) from the readings alone. The newest
    minute of each device is the one it is still filling (no reading of a later minute closed it)."""
    values: dict[str, dict[int, dict[str, list[float]]]] = defaultdict(lambda: defaultdict(lambda: defaultdict(list)))
    seen: set[tuple[str, int]] = set()
    for r in readings:
        if (r["device_id"], r["seq"]) in seen:  # a redelivery is not a second reading
            continue
        seen.add((r["device_id"], r["seq"]))
        start = r["ts"] // 60_000 * 60
        for name, value in r["metrics"].items():
            values[r["device_id"]][start][name].append(float(value))
    out = {}
    for device, minutes in values.items():
        newest = max(minutes)
        out[device] = [(_iso(s), s == newest, {m: {"count": len(v), "min": min(v), "max": max(v),
                                                   "mean": pytest.approx(sum(v) / len(v))}
                                               for m, v in sorted(minutes[s].items())})
                       for s in sorted(minutes)]
    return out


def _iso(epoch_s: float) -> str:
    return datetime.fromtimestamp(epoch_s, timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def test_history_equals_windows_recomputed_from_telemetry(engine: Engine, tmp_path: Path) -> None:
    settings = Settings(home=tmp_path / "api", topic_prefix=engine.prefix,
                        kafka_bootstrap=engine.env["KAFKA_BOOTSTRAP"])
    topics = engine.topics
    devices = [d.id for d in load_network(settings.network_file).devices[:2]]
    base = (int(time.time()) // 60 - 6) * 60  # three whole minutes, a few minutes ago
    first: list[dict[str, Any]] = []
    for i, device in enumerate(devices):
        first += [_wire(device, k, base + 7 * k + i, temperature=2.0 + k * 0.5 + i, humidity=40.0 + k)
                  for k in range(26)]  # 0 .. 175 s: minutes base, base+60 and base+120
    late = [_wire(devices[0], 100, base + 30, temperature=-5.0)]  # for a minute its device already closed

    async def publish() -> None:
        await ensure_topics(settings.bootstrap, topics)
        per_device: dict[str, list[dict[str, Any]]] = defaultdict(list)
        for r in first:
            per_device[r["device_id"]].append(r)
        records = [(d.encode(), encode_telemetry(rs[i:i + 5])) for d, rs in per_device.items()
                   for i in range(0, len(rs), 5)]  # batched as the bridge batches, in order per device
        await produce(settings.bootstrap, topics.telemetry, records)
        await produce(settings.bootstrap, topics.telemetry, [(devices[0].encode(), encode_telemetry(late))])

    async def run() -> None:
        await publish()
        telemetry = await consume_until(settings.bootstrap, topics.telemetry,
                                        lambda recs: sum(len(decode_telemetry(r.value)) for r in recs)
                                        >= len(first) + len(late))
        expected = recompute([w for r in telemetry for w in decode_telemetry(r.value)])
        assert [len(expected[d]) for d in devices] == [3, 3]
        async with api(settings) as client:
            answers: dict[str, Any] = {}
            end = time.monotonic() + 120  # the worker starts, folds, and writes its tables' changelogs
            while True:
                for device in devices:
                    response = await client.get(f"{API_PREFIX}/twin/device/{device}/history"
                                                f"?from={_iso(base)}&to={_iso(base + 180)}", headers=VIEWER)
                    assert response.status == 200, await response.text()
                    body = await response.json()
                    answers[device] = [(w["start"], w["open"], w["metrics"]) for w in body["windows"]]
                if all(answers[d] == expected[d] for d in devices):
                    break
                assert time.monotonic() < end, f"history {answers} never matched {expected}"
                await asyncio.sleep(0.5)
            late_minute = answers[devices[0]][0][2]["temperature"]
            assert late_minute["count"] == 10 and late_minute["min"] == -5.0  # the late reading was merged in
            one = await client.get(f"/twin/device/{devices[1]}/history?metric=humidity&from={_iso(base)}"
                                   f"&to={_iso(base + 180)}", headers=VIEWER)
            assert [list(w["metrics"]) for w in (await one.json())["windows"]] == [["humidity"]] * 3

    engine.start("worker")
    asyncio.run(run())
    assert engine.alive("worker"), engine.log("worker")
