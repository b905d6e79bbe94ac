"""The twin worker's detectors resume from their saved state (streams/detector_state.py), without a broker: a
store is a dict here; tests/streams/test_detector_state_worker.py does the same across a real worker restart."""

from __future__ import annotations

import asyncio
import random
from datetime import timedelta

from streams.detector_state import SAVE_AFTER_S, SAVE_EVERY, MemoryStore, SavedDetectors, fingerprint
from streams.twin_rules import DETECTOR_CONTEXTS, DETECTOR_MEMORY, RuleEvaluator
from tests.streams.test_twin_rules_detection import T0, Sender, network, sample
from twin.detectors import DetectorBank, MetricDetection, make_detector
from twin.detectors.snapshot import dumps, from_tree, loads
from twin.network import SupplyNetwork
from twin.telemetry import Reading


def _ordinary(rnd: random.Random) -> float:
    return 1000 * (1 + 0.05 * rnd.gauss(0, 1))


def _noisier(rnd: random.Random) -> float:
    """Four times the usual noise, inside the usual range at first: only a detector that knows the series sees it
    within 200 readings (a young one needs ~300 readings before it judges more than records)."""
    return 1000 * (1 + 0.2 * rnd.gauss(0, 1))


def _feed(net: SupplyNetwork, rules: RuleEvaluator, values: list[float], start: int,
          spacing_s: float = 1.0) -> None:
    """Readings `spacing_s` apart (a second: saves come every SAVE_EVERY readings, never for the time)."""
    dev = net.devices[0]

    async def go() -> None:
        for k, v in enumerate(values, start=start):
            ts = T0 + timedelta(seconds=spacing_s * k)
            reading = Reading.model_validate({"schema_version": 1, "device_id": dev.id, "seq": k, "ts": ts,
                                              "metrics": {"throughput": v}})
            await rules.reading(dev, reading)

    asyncio.run(go())


def _anomalies(sender: Sender) -> list[tuple[str, bool]]:
    return [(c.rule, c.firing) for c in sender.conditions if c.rule.startswith("anomaly_")]


def test_a_restarted_worker_resumes_its_detectors_and_still_sees_a_subtle_incident() -> None:
    net, store, rnd = network(), MemoryStore(), random.Random(7)
    history = [_ordinary(rnd) for _ in range(8 * SAVE_EVERY)]  # saved at its last reading
    incident = [_ordinary(rnd) for _ in range(20)] + [_noisier(rnd) for _ in range(180)]
    before = sample("omnitrack_twin_detector_saves_total", reason="periodic")
    kept = RuleEvaluator(net, Sender(), detector_store=store)  # type: ignore[arg-type]
    _feed(net, kept, history, 0)
    assert sample("omnitrack_twin_detector_saves_total", reason="periodic") == before + 8

    restores = sample("omnitrack_twin_detector_restores_total", metric="throughput")
    starts = sample("omnitrack_twin_detector_starts_total", metric="throughput")
    outcomes = {}
    for name, rules in (("kept", kept),
                        ("resumed", RuleEvaluator(net, Sender(), detector_store=store)),  # type: ignore[arg-type]
                        ("from nothing", RuleEvaluator(net, Sender(), detector_store=MemoryStore()))):  # type: ignore[arg-type]
        rules._sender.conditions.clear()  # type: ignore[attr-defined]
        _feed(net, rules, incident, len(history))
        outcomes[name] = [(c.rule, c.firing, c.value) for c in rules._sender.conditions]  # type: ignore[attr-defined]
    assert outcomes["resumed"] == outcomes["kept"] and ("anomaly_throughput", True) in [o[:2] for o in outcomes["kept"]]
    assert outcomes["from nothing"] == []  # what every restart did before
    assert sample("omnitrack_twin_detector_restores_total", metric="throughput") == restores + 1
    assert sample("omnitrack_twin_detector_starts_total", metric="throughput") == starts + 1


def test_state_saved_under_other_settings_is_refused_and_the_series_starts_afresh() -> None:
    store, rnd = MemoryStore(), random.Random(8)
    _feed(network(), RuleEvaluator(network(), Sender(), detector_store=store),  # type: ignore[arg-type]
          [_ordinary(rnd) for _ in range(SAVE_EVERY)], 0)
    assert store.rows
    refused = sample("omnitrack_twin_detector_states_refused_total", metric="throughput")
    starts = sample("omnitrack_twin_detector_starts_total", metric="throughput")
    changed = network({"throughput": {"sensitivity": 0.9}})
    _feed(changed, RuleEvaluator(changed, Sender(), detector_store=store), [1000.0], SAVE_EVERY)  # type: ignore[arg-type]
    store.rows = {k: b"damaged" for k in store.rows}
    _feed(network(), RuleEvaluator(network(), Sender(), detector_store=store), [1000.0], SAVE_EVERY)  # type: ignore[arg-type]
    assert sample("omnitrack_twin_detector_states_refused_total", metric="throughput") == refused + 2
    assert sample("omnitrack_twin_detector_starts_total", metric="throughput") == starts + 2


def test_a_save_keeps_the_saved_state_of_a_series_evicted_since() -> None:
    """Two metrics of one device in a bank of one: the save made while only the second is live keeps the first's
    last saved state, so it still resumes when it comes back."""
    store, bank = MemoryStore(), DetectorBank(max_metrics=1)
    saved = SavedDetectors(store, bank)
    settings = MetricDetection()
    fp = fingerprint(settings)

    def start(metric: str) -> object:
        return saved.resume("D", metric, make_detector(settings), fp)

    bank.update("D|temperature", T0.timestamp(), 5.0, lambda: start("temperature"))  # type: ignore[arg-type,return-value]
    saved.save("D")
    bank.update("D|humidity", T0.timestamp(), 50.0, lambda: start("humidity"))  # type: ignore[arg-type,return-value]
    assert bank.peek("D|temperature") is None
    saved.save("D")
    restores = sample("omnitrack_twin_detector_restores_total", metric="temperature")
    bank.update("D|temperature", T0.timestamp() + 60, 5.0, lambda: start("temperature"))  # type: ignore[arg-type,return-value]
    assert sample("omnitrack_twin_detector_restores_total", metric="temperature") == restores + 1


def test_a_partition_that_comes_back_resumes_from_the_newer_state_its_other_owner_saved() -> None:
    """Worker A had the device, lost its partition to B (which resumed from A's save and saved again), and gets it
    back: A's own detector, older than B's save, is dropped for B's row at the device's next reading."""
    net, store, rnd = network(), MemoryStore(), random.Random(9)
    values = [_ordinary(rnd) for _ in range(4 * SAVE_EVERY)]
    a = RuleEvaluator(net, Sender(), detector_store=store)  # type: ignore[arg-type]
    _feed(net, a, values[:SAVE_EVERY + 50], 0)  # saved at SAVE_EVERY, then 50 more only in A's memory
    b = RuleEvaluator(net, Sender(), detector_store=store)  # type: ignore[arg-type]
    a.partitions_revoked()
    b.partitions_revoked()
    _feed(net, b, values[SAVE_EVERY + 50:2 * SAVE_EVERY + 50], SAVE_EVERY + 50)  # resumes from A's save, saves
    a.partitions_revoked()  # the partition comes back to A
    reference = RuleEvaluator(net, Sender(), detector_store=store)  # type: ignore[arg-type]
    key = f"{net.devices[0].id}|throughput"
    for rules in (a, reference):
        _feed(net, rules, values[2 * SAVE_EVERY + 50:2 * SAVE_EVERY + 51], 2 * SAVE_EVERY + 50)
    seen = {name: rules._bank.peek(key)._n for name, rules in (("a", a), ("reference", reference))}  # type: ignore[union-attr]
    assert seen["a"] == seen["reference"] > SAVE_EVERY + 50 + 1, seen


def test_the_save_at_shutdown_lets_the_next_worker_continue_exactly_where_this_one_stopped() -> None:
    """SAVE_EVERY + 37 readings: the periodic save has the first SAVE_EVERY; the shutdown save has all of them, and
    a worker resuming from it scores the next readings exactly as the stopped one would have."""
    net, store, rnd = network(), MemoryStore(), random.Random(12)
    values = [_ordinary(rnd) for _ in range(SAVE_EVERY + 37)]
    after = [_ordinary(rnd) for _ in range(40)] + [_noisier(rnd) for _ in range(160)]
    stopped = RuleEvaluator(net, Sender(), detector_store=store)  # type: ignore[arg-type]
    _feed(net, stopped, values, 0)
    key = f"{net.devices[0].id}|throughput"
    limits = {"capacity": DETECTOR_CONTEXTS, "memory": DETECTOR_MEMORY}

    def saved_n() -> int:
        tree = loads(store.rows[net.devices[0].id])["throughput"]
        fresh = make_detector(MetricDetection(), **limits)
        return from_tree(tree, fresh, fingerprint(MetricDetection(), **limits))._n  # type: ignore[union-attr]

    assert saved_n() < stopped._bank.peek(key)._n  # type: ignore[union-attr]  # the periodic save: 37 behind
    saves = sample("omnitrack_twin_detector_saves_total", reason="handover")
    stopped.save_detectors()
    stopped.save_detectors()  # nothing learned since: nothing written
    assert sample("omnitrack_twin_detector_saves_total", reason="handover") == saves + 1
    assert saved_n() == stopped._bank.peek(key)._n  # type: ignore[union-attr]
    resumed = RuleEvaluator(net, Sender(), detector_store=store)  # type: ignore[arg-type]
    outcomes = {}
    for name, rules in (("stopped", stopped), ("resumed", resumed)):
        _feed(net, rules, after, len(values))
        outcomes[name] = [(c.rule, c.firing, c.value) for c in rules._sender.conditions]  # type: ignore[attr-defined]
        outcomes[name + " n"] = rules._bank.peek(key)._n  # type: ignore[union-attr]
    assert outcomes["resumed"] == outcomes["stopped"] and outcomes["resumed n"] == outcomes["stopped n"]
    assert ("anomaly_throughput", True) in [o[:2] for o in outcomes["stopped"]]


def test_after_a_rebalance_only_devices_read_since_are_saved_at_the_next() -> None:
    """A device whose partition may have gone to another worker is not written over from here (its new owner's
    saves are newer); a device read again since the rebalance is saved."""
    net, store, rnd = network(), MemoryStore(), random.Random(13)
    rules = RuleEvaluator(net, Sender(), detector_store=store)  # type: ignore[arg-type]
    _feed(net, rules, [_ordinary(rnd) for _ in range(SAVE_EVERY + 10)], 0)
    rules.partitions_revoked()
    saves = sample("omnitrack_twin_detector_saves_total", reason="handover")
    rules.save_detectors()
    assert sample("omnitrack_twin_detector_saves_total", reason="handover") == saves
    _feed(net, rules, [_ordinary(rnd)], SAVE_EVERY + 10)
    rules.save_detectors()
    assert sample("omnitrack_twin_detector_saves_total", reason="handover") == saves + 1


def test_a_partition_that_stays_keeps_its_detectors_without_reading_their_rows() -> None:
    """After a rebalance that left the partition here, the row in the table is the one this worker wrote: the
    detector goes on in memory (no restore, no decode), with the readings since that save."""
    net, store, rnd = network(), MemoryStore(), random.Random(14)
    rules = RuleEvaluator(net, Sender(), detector_store=store)  # type: ignore[arg-type]
    _feed(net, rules, [_ordinary(rnd) for _ in range(SAVE_EVERY + 10)], 0)
    key = f"{net.devices[0].id}|throughput"
    live = rules._bank.peek(key)
    rules.partitions_revoked()
    restores = sample("omnitrack_twin_detector_restores_total", metric="throughput")
    _feed(net, rules, [_ordinary(rnd)], SAVE_EVERY + 10)
    assert rules._bank.peek(key) is live and live._n == SAVE_EVERY + 11  # type: ignore[union-attr]
    assert sample("omnitrack_twin_detector_restores_total", metric="throughput") == restores


def test_a_slow_device_is_saved_every_quarter_hour_of_its_time() -> None:
    """A reading a minute: 250 readings would be four hours of learning a restart could cost; a save comes every
    SAVE_AFTER_S of device time instead."""
    net, store, rnd = network(), MemoryStore(), random.Random(10)
    before = sample("omnitrack_twin_detector_saves_total", reason="periodic")
    per_save = int(SAVE_AFTER_S // 60)  # the test's readings are a minute apart
    _feed(net, RuleEvaluator(net, Sender(), detector_store=store),  # type: ignore[arg-type]
          [_ordinary(rnd) for _ in range(3 * per_save + 1)], 0, spacing_s=60.0)
    assert per_save < SAVE_EVERY and sample("omnitrack_twin_detector_saves_total", reason="periodic") == before + 3


def test_state_that_makes_a_detector_fail_costs_one_reading_not_the_twin() -> None:
    """A row that passes every check but breaks the detector at its next reading (its ring's position past its end):
    the reading scores 0, the failure is counted, and the series starts from nothing instead of resuming again."""
    net, store, rnd = network(), MemoryStore(), random.Random(11)
    _feed(net, RuleEvaluator(net, Sender(), detector_store=store),  # type: ignore[arg-type]
          [_ordinary(rnd) for _ in range(SAVE_EVERY)], 0)
    (device_id, row), = store.rows.items()
    trees = loads(row)
    trees["throughput"]["state"]["s"]["_buf"]["s"]["_next"] = 10**6
    store.rows[device_id] = dumps(trees)
    errors = sample("omnitrack_twin_detector_errors_total", metric="throughput")
    starts = sample("omnitrack_twin_detector_starts_total", metric="throughput")
    sender = Sender()
    rules = RuleEvaluator(net, sender, detector_store=store)  # type: ignore[arg-type]
    _feed(net, rules, [_ordinary(rnd) for _ in range(40)] + [0.0], SAVE_EVERY)  # then a collapse
    assert sample("omnitrack_twin_detector_errors_total", metric="throughput") == errors + 1
    assert sample("omnitrack_twin_detector_starts_total", metric="throughput") == starts + 1
    assert _anomalies(sender) == [("anomaly_throughput", True)]  # the fresh detector still sees the collapse
