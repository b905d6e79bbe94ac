"""An alarmed reading is an incident, not the series' habit: a second incident of the same kind alarms again.

The magnitude views (records, jumps, runs) judge a reading against the extremes the series has shown. Counted among
them, an incident's own extreme made the next incident like it ordinary: a latency sensor stuck once was never
stuck again, a second spike as high as the first was no record (the synthetic corpus missed 35 of 113 stuck
stretches, most of them a file's second or third). So a reading that raised an alarm is kept out of its view's
extremes, until a second such alarm: one recurrence is evidence of a habit (a truck parked each night, a line off
each weekend), and from then on it is ordinary (docs/detection-rounds.md, nineteenth round).
"""

import math
import random

from twin.detectors import SequenceSurprise

ENGINE_ALERT = 0.75  # the engine's default alert threshold, which it also passes as the rest threshold


def _engine() -> SequenceSurprise:
    return SequenceSurprise(rest_threshold=ENGINE_ALERT, capacity=2000, memory=1000)


def _latency(rnd: random.Random, n: int) -> list[float]:
    """Request latency in ms: log-normal, real-valued (it never repeats exactly)."""
    return [math.exp(rnd.gauss(4.7, 0.3)) for _ in range(n)]


def _alerts(det: SequenceSurprise, start: int, values: list[float]) -> list[int]:
    return [i for i, v in enumerate(values) if det.update(60.0 * (start + i), v) >= ENGINE_ALERT]


def test_a_sensor_stuck_a_second_time_alerts_again() -> None:
    for seed in range(5):
        rnd = random.Random(seed)
        det = _engine()
        first, stuck, between, again = _latency(rnd, 3000), [117.25] * 400, _latency(rnd, 1500), [98.5] * 300
        values = first + stuck + between + again
        alerts = _alerts(det, 0, values)
        assert [i for i in alerts if 3000 <= i < 3010], (seed, alerts)
        # before: none (the first run was the longest). Later than the first: its repeats make repeats likelier
        assert [i for i in alerts if 4900 <= i < 4920], (seed, alerts)


def test_a_second_spike_as_high_as_the_first_alerts_again() -> None:
    for seed in range(5):
        rnd = random.Random(seed)
        det = _engine()
        values = _latency(rnd, 5000)
        top = max(values)
        values[3000] = 3 * top
        values[4500] = 2.8 * top  # below the first spike: no record of the series' readings, but of its habits
        alerts = _alerts(det, 0, values)
        assert 3000 in alerts and 4500 in alerts, (seed, alerts)


def test_a_stop_that_recurs_each_night_is_a_habit_after_two() -> None:
    """A delivery truck's speed: moving all day, parked (exactly 0) each night. The first nights are longer than any
    stop of the day and alert; once two have, the nights are the series' habit."""
    rnd = random.Random(11)
    det = _engine()
    nights, t = [], 0
    for _ in range(8):
        day = [max(0.0, rnd.gauss(60, 15)) for _ in range(900)]
        _alerts(det, t, day)
        t += len(day)
        park = [0.0] * (540 + rnd.randrange(-30, 30))
        nights.append(bool(_alerts(det, t, park)))
        t += len(park)
    assert sum(nights[:3]) <= 2  # at most the first two nights alert (each once)
    assert not any(nights[3:]), nights


def test_a_young_series_records_are_its_shape_not_incidents() -> None:
    """A daily square wave read each 5 minutes, starting low: its first high half (reading 144, before maturity at
    300) breaks the record and alarms, as a young series' far reading does. That is the series' range being revealed;
    kept out of the extremes like an incident, the next day's high half broke it again and alarmed (offline, 5 of 5
    seeds, at reading 432)."""
    for seed in range(5):
        rnd = random.Random(seed)
        det = SequenceSurprise()
        values = [(10.0 if (i // 144) % 2 else 0.0) + rnd.gauss(0, 0.3) for i in range(288 * 3)]
        scores = [det.update(300.0 * i, v) for i, v in enumerate(values)]
        assert scores[144] == 1.0
        assert max(scores[420:445]) < 0.067, seed
