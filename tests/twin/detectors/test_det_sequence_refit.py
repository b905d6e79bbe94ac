"""twin.detectors.sequence: where the level range is refitted to, with the engine's limits.

The engine's detectors remembered 500 readings until the eighteenth round (1,000 since,
`streams.twin_rules.DETECTOR_MEMORY`); these tests keep 500, the harder case: a range refitted to them alone fitted
a weekend or an evening and the rest of the week or day came back as news (docs/detection-rounds.md).
"""

import math

import numpy as np

from twin.detectors import SequenceSurprise

ENGINE_ALERT = 0.75  # the engine's default alert threshold, which it also passes as the rest threshold
MIDNIGHT = 1_600_000_000.0 - 1_600_000_000.0 % 86_400


def _engine() -> SequenceSurprise:
    return SequenceSurprise(rest_threshold=ENGINE_ALERT, capacity=2000, memory=500)


def _alerts(t: np.ndarray, x: np.ndarray) -> list[tuple[float, str]]:
    """(day since the start, words) of each alert the engine's detector raises on the series."""
    det = _engine()
    return [((ti - MIDNIGHT) / 86_400, det.describe(xi)) for ti, xi in zip(t.tolist(), x.tolist(), strict=True)
            if det.update(ti, xi) >= ENGINE_ALERT]


def test_a_weekly_series_raises_no_alert_each_monday() -> None:
    """Weekend counts at a third of the weekdays', 5-minute readings, six weeks. 500 readings are 42 hours: refitted
    to them alone, the level grid fitted the weekend and Mondays alerted, "above the usual range" (seeds 0-3: 3, 2,
    3, 2 alerts). Refitted to the last eight days' hour means as well: none."""
    i = np.arange(42 * 288)
    rate = (25 + 20 * np.sin(2 * math.pi * i / 288)) / np.where((i // 288) % 7 >= 5, 3, 1)
    for seed in range(4):
        alerts = _alerts(MIDNIGHT + 300.0 * i, np.random.default_rng(seed).poisson(rate).astype(float))
        assert not alerts, (seed, alerts)


def test_a_daily_cycle_read_each_minute_raises_no_alert() -> None:
    """At one reading a minute 500 readings hold eight hours; refitted to them alone, the level grid fitted the
    evening's trough and the rise out of it was "unusual" (seeds 0-3, 14 days: 3, 2, 2, 1 alerts, 22:30-23:30). With
    the last eight days' hour means as well: none."""
    i = np.arange(14 * 1440)
    for seed in range(4):
        x = 40 + 15 * np.sin(2 * math.pi * i / 1440) + np.random.default_rng(seed).normal(0, 1.5, len(i))
        alerts = _alerts(MIDNIGHT + 60.0 * i, x)
        assert not alerts, (seed, alerts)


def test_a_sparse_count_read_each_minute_raises_no_level_alert() -> None:
    """Poisson(0.2) counts: 500 readings often hold no more than four 2s, so their bulk is 0 to 1 and the level grid
    was refitted to it; each 2 then came from beyond the grid, and the re-learned level model alerted (seeds 0-3, 20
    days: 8 of 10 alerts in its words). The levels already hold one value each: no refit, no such alert."""
    i = np.arange(20 * 1440)
    for seed in range(4):
        alerts = _alerts(MIDNIGHT + 60.0 * i, np.random.default_rng(seed).poisson(0.2, len(i)).astype(float))
        assert not [a for a in alerts if "unusual sequence" in a[1]], (seed, alerts)
