"""Signal generators: physically plausible statistics, reproducible, valid telemetry."""

from __future__ import annotations

from datetime import datetime, timezone

import numpy as np
import orjson
import pytest

from simulators.fleet import ShardEmitter, build_fleet, load_network
from simulators.fleet import signals as sg
from simulators.fleet.config import DEFAULT_NETWORK
from simulators.fleet.fleet import KIND_CODE, Fleet
from twin.network import DeviceKind
from twin.telemetry import MAX_BATCH_READINGS, decode_reading

NOW_MS = 1_795_694_340_000  # fixed "now" so payloads are comparable across runs
NOW = datetime.fromtimestamp(NOW_MS / 1000, timezone.utc)


@pytest.fixture(scope="module")
def fleet() -> Fleet:
    return build_fleet(load_network(DEFAULT_NETWORK), scale=2, seed=7)


def _of(fleet: Fleet, kind: DeviceKind) -> np.ndarray:
    return np.flatnonzero(fleet.kind == KIND_CODE[kind])


def test_fleet_replicates_devices_and_groups(fleet: Fleet) -> None:
    net = fleet.network
    assert len(fleet) == 2 * len(net.devices)
    assert set(fleet.device_ids) >= {d.id for d in net.devices}  # replica 0 keeps registered ids
    assert len(set(fleet.device_ids)) == len(fleet)
    assert 0 < len(fleet.gateways) < len(fleet.groups)
    for g in fleet.groups:  # groups are contiguous and single-site
        assert len({fleet.site_ids[k] for k in range(g.start, g.stop)}) == 1
    shards = fleet.shard(2)
    assert sorted(np.concatenate(shards).tolist()) == list(range(len(fleet)))
    assert abs(len(shards[0]) - len(shards[1])) < 0.1 * len(fleet)


def test_reefer_sawtooth_around_4c_with_compressor_period(fleet: Fleet) -> None:
    idx = _of(fleet, DeviceKind.reefer_temperature)[:20]
    p = fleet.params
    t = np.arange(0, 86400, 5.0)
    for i in idx:
        ii = np.full(len(t), i)
        v = sg.reefer_temperature(p, ii, t, np.arange(len(t)), 7)
        assert abs(v.mean() - 4.0) < 1.0
        assert v.max() < 8.0 and v.min() > 0.0  # never a breach in normal operation
        # Cycling period: the dominant spectral line between 5 min and 1 h.
        spec = np.abs(np.fft.rfft(v - v.mean()))
        periods = np.divide(t[-1] + 5.0, np.arange(len(spec)), out=np.full(len(spec), np.inf), where=np.arange(len(spec)) > 0)
        band = (periods > 300) & (periods < 3600)
        period = periods[band][np.argmax(spec[band])]
        assert abs(period - p.period_s[i]) < 0.03 * p.period_s[i]


def test_inventory_never_negative_and_refilled(fleet: Fleet) -> None:
    idx = _of(fleet, DeviceKind.inventory)
    p = fleet.params
    for t in np.linspace(0, 7 * 86400, 200):
        v = sg.inventory(p, idx, t)
        assert (v >= 0).all()
    i = idx[:50]
    t = np.arange(0, 3 * 86400, 60.0)
    series = np.stack([sg.inventory(p, np.full(len(t), k), t) for k in i])
    assert (np.diff(series, axis=1) > 0).any(axis=1).mean() > 0.9  # deliveries happen
    assert ((np.diff(series, axis=1) < 0).sum(axis=1) > 10).mean() > 0.9  # demand draws down


def test_battery_monotone_non_increasing(fleet: Fleet) -> None:
    idx = np.arange(len(fleet))
    prev = sg.battery(fleet.params, idx, 0.0)
    for t in np.linspace(1, 30 * 86400, 100):
        cur = sg.battery(fleet.params, idx, t)
        assert (np.round(cur, 2) <= np.round(prev, 2)).all()
        prev = cur
    assert (prev >= 0).all()


def test_gps_stays_on_lane_segment(fleet: Fleet) -> None:
    idx = _of(fleet, DeviceKind.gps_tracker)
    p = fleet.params
    for t in np.linspace(0, 10 * 86400, 50):
        lat, lon = sg.gps(p, idx, t, np.zeros(len(idx), dtype=np.int64), 7)
        a = np.stack([p.lat0[idx], p.lon0[idx]], 1)
        b = np.stack([p.lat1[idx], p.lon1[idx]], 1)
        x = np.stack([lat, lon], 1)
        ab = b - a
        f = np.clip(((x - a) * ab).sum(1) / np.maximum((ab * ab).sum(1), 1e-12), 0, 1)
        dist = np.linalg.norm(a + f[:, None] * ab - x, axis=1)
        assert dist.max() < 1e-3  # within ~100 m of the segment


def test_gps_moves_at_lane_speed(fleet: Fleet) -> None:
    idx = _of(fleet, DeviceKind.gps_tracker)[:1]
    p = fleet.params
    lane_s = p.lane_s[idx][0]
    f0 = sg.lane_progress(p, idx, 0.0)[0]
    f1 = sg.lane_progress(p, idx, lane_s / 10)[0]
    assert abs(((f1 - f0) % 1.0) - 0.1) < 1e-9


def _all_messages(fleet: Fleet, seed: int, shards: int = 1, ticks: int = 3) -> dict[tuple[str, int], dict]:
    out: dict[tuple[str, int], dict] = {}
    for pos in fleet.shard(shards):
        em = ShardEmitter(fleet, pos, [], seed=seed, batch_size=50)
        for k in range(ticks):
            for m in em.tick(len(pos), 3600.0 * k, NOW_MS):
                body = orjson.loads(m.payload)
                for r in body.get("readings", [body]):
                    out[(r["device_id"], r["seq"])] = r
    return out


def test_same_seed_same_readings_any_sharding(fleet: Fleet) -> None:
    a = _all_messages(fleet, seed=11, shards=1)
    b = _all_messages(fleet, seed=11, shards=2)
    assert len(a) == 3 * len(fleet)
    assert a == b
    c = _all_messages(fleet, seed=12, shards=1)
    assert sum(a[k]["metrics"] != c[k]["metrics"] for k in a) > 0.3 * len(a)


def test_every_reading_validates_against_the_contract(fleet: Fleet) -> None:
    em = ShardEmitter(fleet, np.arange(len(fleet)), [], seed=3, batch_size=MAX_BATCH_READINGS)
    readings = 0
    seen_kinds: set[str] = set()
    for k in range(4):
        for m in em.tick(len(fleet), 900.0 * k, NOW_MS):
            decoded = decode_reading(m.payload, m.topic, NOW, known_devices=set(fleet.device_ids))
            assert len(decoded) == m.readings <= MAX_BATCH_READINGS
            readings += len(decoded)
            for r in decoded:
                seen_kinds.update(r.metrics.present())
    assert readings == 4 * len(fleet)
    assert {"temperature", "humidity", "vibration", "shock", "position", "inventory", "throughput",
            "door_open", "battery"} <= seen_kinds


def test_seq_counts_per_device(fleet: Fleet) -> None:
    em = ShardEmitter(fleet, np.arange(len(fleet)), [], seed=3)
    seqs: dict[str, list[int]] = {}
    for k in range(3):
        for m in em.tick(len(fleet) // 2 + 1, float(k), NOW_MS):
            body = orjson.loads(m.payload)
            for r in body.get("readings", [body]):
                seqs.setdefault(r["device_id"], []).append(r["seq"])
    assert all(s == list(range(len(s))) for s in seqs.values())
