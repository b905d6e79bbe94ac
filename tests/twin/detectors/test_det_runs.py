"""Run-length rarity: a run of identical readings is rare only against this series' own history of runs."""

import math
import random

from twin.detectors.runs import RunRarity


def feed(values: list[float], rarity: RunRarity | None = None) -> list[float]:
    rarity = rarity or RunRarity()
    return [rarity.update(v) for v in values]


def test_a_constant_series_is_never_rare() -> None:
    assert feed([3.0] * 5000) == [0.0] * 5000


def test_readings_that_never_repeat_are_never_scored() -> None:
    rnd = random.Random(1)
    assert set(feed([rnd.gauss(0, 1) for _ in range(3000)])) == {0.0}


def test_a_run_after_noise_that_never_repeated_is_rarer_with_each_repeat() -> None:
    rnd = random.Random(2)
    rarity = RunRarity()
    values = [rnd.gauss(0, 1) for _ in range(2000)]
    feed(values, rarity)
    tails = feed([values[-1]] * 6, rarity)
    assert tails[0] > math.log(0.1)  # one chance repeat in 2,000 readings: ordinary enough
    assert all(b < a for a, b in zip(tails, tails[1:]))  # each further repeat is rarer
    assert tails[5] < math.log(1e-10)  # six repeats of real-valued noise: beyond the scale


def test_runs_no_longer_than_the_longest_seen_are_ordinary() -> None:
    """Sparse counts: long runs of zeros are the series' own habit, so a run as long as its longest is 0."""
    rnd = random.Random(3)
    values = [0.0 if rnd.random() < 0.9 else 1.0 for _ in range(5000)]
    rarity = RunRarity()
    feed(values, rarity)
    longest = rarity._longest
    assert longest >= 30
    tails = feed([1.0] + [0.0] * (longest + 1), rarity)
    assert tails[: longest + 1] == [0.0] * (longest + 1)
    assert tails[-1] > math.log(1e-3)  # one repeat beyond its longest run: mild at most
    tails = feed([0.0] * (10 * longest), rarity)
    assert tails[-1] < math.log(1e-10)  # ten times its longest run: the line has stopped


def test_a_reported_stuck_run_scores_again_only_once_twice_as_rare() -> None:
    """A run of a value unlike the series' resting runs, reported at each score (as the caller does): each report at
    least twice as rare (in log) as the one before, none after one at the scale's end; a new value starts unreported."""
    rnd = random.Random(4)
    rarity = RunRarity()
    feed([rnd.gauss(0, 1) for _ in range(1000)] + [5.0, 5.0], rarity)
    reports = []
    for _ in range(300):
        tail = rarity.update(5.0)
        if tail < 0.0:
            reports.append(tail)
            rarity.reported()
    assert 3 <= len(reports) <= 6
    assert all(b <= 2.0 * a for a, b in zip(reports, reports[1:]))
    assert reports[-1] <= math.log(1e-10) < reports[-2]  # quiet once it has reached the scale's end
    assert feed([6.0, 6.0], rarity) == [0.0, 0.0]  # a new run starts unreported (and as long as the longest)


def test_a_reported_run_of_the_habit_value_and_a_settled_one_are_quiet() -> None:
    """Sparse counts resting at 0: a run of zeros beyond the longest is reported once, then quiet however long it
    grows; a stuck run whose caller's rest is over (`settle`) is quiet too."""
    rnd = random.Random(5)
    rarity = RunRarity()
    feed([0.0 if rnd.random() < 0.9 else 1.0 for _ in range(5000)], rarity)
    feed([1.0] + [0.0] * (rarity._longest + 5), rarity)
    rarity.reported()
    assert feed([0.0] * 2000, rarity) == [0.0] * 2000
    stuck = RunRarity()
    feed([rnd.gauss(0, 1) for _ in range(1000)] + [5.0, 5.0, 5.0], stuck)
    stuck.reported()
    stuck.settle()
    assert feed([5.0] * 200, stuck) == [0.0] * 200


def test_the_first_run_says_nothing_of_the_series_runs() -> None:
    """A device that reported one value before its line started: that run began before the series was watched,
    so a later stuck run is judged against the series' own runs, not against it (counted, 50 still readings made
    a stuck run of 30 ordinary)."""
    rnd = random.Random(4)
    rarity = RunRarity()
    values = [rnd.gauss(0, 1) for _ in range(2000)]
    feed([-100.0] * 50 + values, rarity)
    tails = feed([values[-1]] * 30, rarity)
    assert min(tails) < math.log(1e-10)


# A run this rare is reported (the sequence detector's rest threshold offline is ~1 in 10^3.5 on this scale).
_REPORTED = math.log(1e-5)


def _stuck(rarity: RunRarity, value: float, length: int) -> float:
    """Feed a stuck stretch of `length` readings; report it once it is `_REPORTED` rare, as the sequence detector
    would at an alarm (its later repeats then score 0); return its lowest log tail."""
    lowest = 0.0
    for _ in range(length):
        tail = rarity.update(value)
        if tail < _REPORTED and not rarity._reported:
            rarity.reported()
        lowest = min(lowest, tail)
    return lowest


def _noise_then_stuck(rarity: RunRarity, rnd: random.Random, mean: float, sd: float, n: int, value: float,
                      length: int) -> float:
    """`n` readings of noise, then `_stuck`."""
    feed([rnd.gauss(mean, sd) for _ in range(n)], rarity)
    return _stuck(rarity, value, length)


def test_a_reported_run_does_not_make_the_next_stuck_sensor_ordinary() -> None:
    """A latency sensor stuck for 500 readings, repaired, and stuck again for 300 a day later: the second is as much
    an incident as the first. Counted as the series' longest run, the first made it ordinary (the synthetic corpus
    missed 35 of 113 stuck stretches, most of them a file's second or third)."""
    rnd = random.Random(6)
    rarity = RunRarity()
    assert _noise_then_stuck(rarity, rnd, 100, 20, 2000, 117.25, 500) < _REPORTED
    assert _noise_then_stuck(rarity, rnd, 100, 20, 1500, 98.5, 300) < _REPORTED


def test_a_run_reported_twice_is_a_habit() -> None:
    """Readings that stop every night (a truck parked, a line off): the second and third nights' runs are each longer
    than any run of the day, but once two were reported the series has shown the run is its habit, and later nights
    are ordinary: one recurrence is evidence of a habit, not of a fault."""
    rnd = random.Random(7)
    rarity = RunRarity()
    lows = []
    for _ in range(6):
        feed([rnd.gauss(60, 10) for _ in range(900)], rarity)
        lows.append(_stuck(rarity, 0.0, 480 + rnd.randrange(-20, 20)))
    assert lows[0] < _REPORTED and lows[1] < _REPORTED
    assert min(lows[2:]) > math.log(1e-2)  # a night a little longer than the longest is mild at most


def test_the_longer_of_two_reported_runs_becomes_the_habit() -> None:
    """Nights of 500 and then 300 readings parked, both reported: the habit is the longer, so a night of 450 is
    ordinary (were the 300 taken alone, every night between 300 and 500 would be news again). A run reported while
    the caller was still learning the series (`incident=False`) goes in at once."""
    rnd = random.Random(8)
    rarity = RunRarity()
    assert _noise_then_stuck(rarity, rnd, 60, 10, 900, 0.0, 500) < _REPORTED
    assert _noise_then_stuck(rarity, rnd, 60, 10, 900, 0.0, 300) < _REPORTED
    assert _noise_then_stuck(rarity, rnd, 60, 10, 900, 0.0, 450) == 0.0
    young = RunRarity()
    feed([rnd.gauss(60, 10) for _ in range(900)], young)
    feed([0.0] * 5, young)
    young.reported(incident=False)
    feed([0.0] * 400 + [rnd.gauss(60, 10) for _ in range(900)], young)
    assert _stuck(young, 0.0, 390) == 0.0


def _repeats_to_report(rarity: RunRarity, value: float, length: int) -> int | None:
    """Feed a stuck stretch like `_stuck`; return how many readings into it the run was reported (None: never)."""
    at = None
    for i in range(length):
        if rarity.update(value) < _REPORTED and not rarity._reported:
            rarity.reported()
            at = i
    return at


def test_a_reported_run_is_held_out_of_the_series_repeat_rate_too() -> None:
    """The second stuck stretch is as rare, repeat for repeat, as the first. Held out of the longest run but counted
    in the pooled repeat rate, the first stretch's 500 repeats among ~2,000 runs of noise made every repeat 1 in 5
    likely, so the second took 10 readings to be reported where the first took 4 (and its alarm was weak: a
    synthetic latency file's second stuck stretch scored 0.087, under NAB's threshold, where it now scores 0.239)."""
    rnd = random.Random(9)
    rarity = RunRarity()
    feed([rnd.gauss(100, 20) for _ in range(2000)], rarity)
    first = _repeats_to_report(rarity, 117.25, 500)
    feed([rnd.gauss(100, 20) for _ in range(1500)], rarity)
    second = _repeats_to_report(rarity, 98.5, 300)
    assert first is not None and second is not None
    assert second <= first + 1


def test_a_run_is_judged_against_the_longest_of_its_own_value() -> None:
    """A truck parked at 0 for ~900 readings each night, its speed never repeating while it drives: a speed stuck at
    89.7 is news long before it is as long as a night's stop (judged against the longest run of all, the parked
    nights, it was ordinary for 900 readings: the field corpus' stuck GPS speeds went unfound), and another night
    parked at 0 stays ordinary."""
    rnd = random.Random(10)
    rarity = RunRarity()
    for _ in range(3):
        feed([rnd.gauss(80, 8) for _ in range(1500)] + [0.0] * (880 + rnd.randrange(40)), rarity)
    feed([rnd.gauss(80, 8) for _ in range(500)], rarity)
    assert min(feed([89.7] * 100, rarity)) < _REPORTED
    feed([rnd.gauss(80, 8) for _ in range(500)], rarity)
    assert feed([0.0] * 880, rarity) == [0.0] * 880


def test_a_stuck_speed_between_two_nights_does_not_take_over_the_nights() -> None:
    """A truck's first night parked is reported and held out; then its speed sticks at 85.6 (reported too); then two
    more nights. The stuck speed is not the night's kind of incident, so it does not count as the night recurring.
    Held in one slot with the night's, it did: the night's 499 repeats went in as a run of 85.6, 0 stopped being the
    value the series rests at, and every later night was judged against the stops at traffic lights and alarmed,
    growing to 1.0 (a field corpus truck: each night after a stuck speed, 15-23 false alarms over five seeds)."""
    rnd = random.Random(11)
    rarity = RunRarity()

    def drive(readings: int) -> None:  # speeds that never repeat, and a stop of a few readings at the lights
        for _ in range(readings // 50):
            feed([rnd.gauss(60, 15) for _ in range(46)] + [0.0] * rnd.randrange(2, 5), rarity)

    drive(1500)
    first_night = _stuck(rarity, 0.0, 500)
    drive(800)
    stuck_speed = _stuck(rarity, 85.6, 60)
    drive(800)
    second_night = _stuck(rarity, 0.0, 480)
    drive(800)
    assert first_night < _REPORTED and stuck_speed < _REPORTED and second_night < _REPORTED
    assert _stuck(rarity, 0.0, 470) == 0.0  # the nights recurred: a habit, and this one is shorter than the first
