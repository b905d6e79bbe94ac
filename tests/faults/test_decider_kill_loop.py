"""SIGKILL the decider five times at random points while what-if requests stream in, restarting it each time.
Every request must get its answer on `scenarios.results` (a request whose run a kill interrupted is run again
from the committed offset; its results are keyed by `request_id`, so a second answer replaces the first, and
they must agree: same seed, same answer). Prints the seed and each kill's recovery time."""

from __future__ import annotations

import asyncio
import os
import random
import threading
import time
from collections import defaultdict

import orjson
import pytest

from streams.decider import submit
from streams.produce import produce
from tests.streams.conftest import Engine, read_topic
from tests.streams.test_decisions import FACTORY, _ready, _settings

pytestmark = pytest.mark.integration

KILLS = 5
REQUESTS_PER_S = 2.0
"""What-if requests/s: each runs a Monte Carlo of 2,000 trials, so the decider is busy when it dies."""


@pytest.mark.timeout(600)
def test_decider_kill_loop_answers_every_request(engine: Engine) -> None:
    seed = int(os.environ.get("OMNITRACK_FAULTS_SEED", random.randrange(1 << 30)))
    rng = random.Random(seed)
    engine.start("decider")
    _ready(engine)
    bootstrap, topics = engine.env["KAFKA_BOOTSTRAP"], engine.topics
    sent: list[str] = []
    stop = threading.Event()

    def feed() -> None:
        began = time.monotonic()
        while not stop.is_set():
            time.sleep(max(0.0, began + len(sent) / REQUESTS_PER_S - time.monotonic()))  # pacing
            rid = f"kl-{len(sent):04d}"
            body = {"request_id": rid, "nodes": [FACTORY], "duration_days": 3 + len(sent) % 20,
                    "trials": 2000, "seed": len(sent)}
            asyncio.run(produce(bootstrap, topics.scenario_requests, [(rid.encode(), orjson.dumps(body))]))
            sent.append(rid)

    feeder = threading.Thread(target=feed, daemon=True)
    feeder.start()
    recoveries: list[float] = []
    for k in range(KILLS):
        time.sleep(rng.uniform(1.0, 4.0))  # a random point under load is the scenario, not a wait
        assert feeder.is_alive()
        engine.kill("decider")
        killed = time.monotonic()
        engine.start("decider")
        probe = {"request_id": f"probe-{k}", "nodes": [FACTORY], "duration_days": 1, "trials": 1000}
        answer = asyncio.run(submit(_settings(engine), probe, wait_s=180))
        assert answer is not None and answer["status"] == "ok", engine.log("decider")[-3000:]
        recoveries.append(time.monotonic() - killed)
    stop.set()
    feeder.join(30)

    wanted = set(sent)

    def answered(records: list) -> set[str]:
        return {r.key.decode() for r in records if r.key} & wanted

    records = read_topic(bootstrap, topics.scenario_results, deadline_s=240,
                         until=lambda recs: answered(recs) >= wanted)
    by_id: dict[str, list[dict]] = defaultdict(list)
    for r in records:
        if r.key and r.key.decode() in wanted:
            by_id[r.key.decode()].append(orjson.loads(r.value))
    missing = wanted - set(by_id)
    assert not missing, f"{len(missing)} requests never answered, e.g. {sorted(missing)[:5]}"
    assert all(results[-1]["status"] == "ok" for results in by_id.values())
    twice = {rid: rs for rid, rs in by_id.items() if len(rs) > 1}
    for rid, rs in twice.items():  # a re-run after a kill: same seed, same answer
        means = {round(x["impact"]["lost_revenue"]["mean"]["value"], 6) for x in rs}
        assert len(means) == 1, (rid, means)
    assert engine.alive("decider")
    print(f"\ndecider SIGKILLed {KILLS} times under load (seed {seed}): {len(sent)} what-if requests, all "
          f"answered ok; {len(twice)} answered twice (re-run after a kill, same answer); recovery per kill "
          f"(kill -> answering again) {', '.join(f'{r:.1f}' for r in recoveries)} s")

