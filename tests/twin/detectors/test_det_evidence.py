"""Evidence (twin/detectors/evidence.py): the raw surprise against the series' usual one, accumulated."""

import random

from twin.detectors.evidence import EVIDENCE_ONE, Evidence


def _usual(ev: Evidence, rnd: random.Random, n: int, mean: float = 0.3, spread: float = 0.1) -> int:
    for i in range(1, n + 1):
        ev.add(max(0.0, rnd.gauss(mean, spread)), i)
    return n


def test_the_usual_surprise_gathers_no_evidence_and_a_far_larger_one_alarms_at_once() -> None:
    rnd = random.Random(1)
    ev = Evidence()
    n = _usual(ev, rnd, 3000)
    ev.restart(n)
    assert ev.add(0.3, n + 1) == 0.0
    assert ev.add(1.0, n + 2) >= 6.0 / EVIDENCE_ONE  # ~7 deviations: past the offline rest threshold


def test_what_is_usual_is_per_series() -> None:
    """The same raw surprise is news on a series that seldom surprises and none on one that often does."""
    rnd = random.Random(2)
    clean, noisy = Evidence(), Evidence()
    n = _usual(clean, rnd, 3000, mean=0.02, spread=0.01)
    _usual(noisy, rnd, 3000, mean=0.6, spread=0.2)
    clean.restart(n)
    noisy.restart(n)
    # ~38 deviations above the clean series' usual (floored at 0.03 +- 0.017): 0.42 from one reading; half a
    # deviation above the noisy one's, which the CUSUM's slack absorbs
    assert clean.add(0.7, n + 1) > 0.4 and noisy.add(0.7, n + 1) < 0.01


def test_a_run_of_mildly_surprising_readings_adds_up_and_restart_forgets_it() -> None:
    rnd = random.Random(3)
    ev = Evidence()
    n = _usual(ev, rnd, 3000)
    ev.restart(n)
    scores = [ev.add(0.45, n + k) for k in range(1, 41)]  # 1.5 deviations each: none alarming alone
    assert scores[0] < 0.02 and scores == sorted(scores) and scores[-1] > 0.3
    assert ev.age(n + 40) == 40
    ev.restart(n + 40)
    assert ev.age(n + 40) == 0 and ev.add(0.3, n + 41) == 0.0
