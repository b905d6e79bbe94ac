"""An alert says what the default detector saw (`SequenceSurprise.describe`): the words name the view that gave the
reading its score - a stuck run, a broken record, a level new at its hour, a changed volatility, an unusual order
of ordinary values - with the numbers an operator checks against."""

import random

from tests.twin.detectors.test_det_sequence import ALARM, STEP, _cycle_that_changes, _noise_then
from twin.detectors import SequenceSurprise
from twin.detectors.snapshot import from_tree, to_tree


def _described_alert(history: list[float], incident: list[float]) -> str:
    """The detector over `history`, then `incident` until its first alarm: its words for that reading."""
    det = SequenceSurprise()
    for i, v in enumerate(history):
        det.update(i * STEP, v)
    for i, v in enumerate(incident, len(history)):
        if det.update(i * STEP, v) >= ALARM:
            return det.describe(v)
    raise AssertionError("no alert")


def test_an_alert_says_what_the_detector_saw() -> None:
    """Stuck, collapsed or gone dull: each alert's words name what happened, with the numbers an operator checks
    against (the run's length against the longest before, the usual range, how much it moves against usual)."""
    rnd = random.Random(21)
    history = [1000 + rnd.gauss(0, 20) for _ in range(2000)]
    stuck = _described_alert(history, [history[-1]] * 50)
    assert stuck.startswith(f"unchanged at {history[-1]:g} for ") and "longest such run before: 1)" in stuck
    collapse = _described_alert(history, [0.0])
    assert collapse.startswith("0, the lowest in 2001 readings (usual 9") and " to 10" in collapse, collapse
    quieter = _described_alert(history, [1000 + rnd.gauss(0, 1) for _ in range(300)])  # a sensor gone dull
    assert "changing " in quieter and "times as much as usual" in quieter, quieter
    ratio = float(quieter.split("changing ")[1].split(" times")[0])
    assert 0.01 <= ratio <= 0.5, quieter


def test_a_line_that_moves_after_a_still_start_is_described_as_such() -> None:
    assert _described_alert([1200.0] * 60, [0.0]) == "0, the first change after a start that held one value"


def test_a_daily_cycle_that_changes_is_described_by_the_hour_that_saw_it() -> None:
    """The time-of-day view's alarms once read "an unusual sequence of values": the view that fired was not known,
    only the state, which the level and volatility views share. Now they name the hour and its usual range."""
    said = []
    for change in ("shift", "stop", "shrink"):
        for seed in range(5):
            values, at = _cycle_that_changes(seed, change)
            said.append(_described_alert(values[:at], values[at:]))
    by_hour = [s for s in said if "a level not seen at " in s]
    by_same_hour = [s for s in said if "unlike the same hour yesterday, the day before and a week ago (" in s]
    # a cycle that shifts or stops at once also moves by more than it ever did in one reading: those first alarms
    # come from the jump view, and say so (measured: 1 by the hour, 6 by the same hour on other days, 7 by a jump,
    # 1 by the sequence; before the same-hour view: 7 by the hour)
    by_jump = [s for s in said if " in one reading, the largest " in s]
    assert len(by_hour) + len(by_same_hour) >= 5 and len(by_hour) + len(by_same_hour) + len(by_jump) >= 12, said
    for s in by_hour:
        hour = int(s.split("a level not seen at ")[1][:2])
        assert 0 <= hour <= 23 and f"{hour:02d}:00-{hour + 1:02d}:00 UTC before (usual then " in s, s
    for s in by_same_hour:
        hour = int(s.split("the mean of the hour from ")[1][:2])
        refs = s.split("a week ago (")[1].rstrip(")").split(", ")
        assert 0 <= hour <= 23 and len(refs) == 3 and all(float(r) == float(r) for r in refs), s


def test_evidence_gathered_over_readings_says_how_many() -> None:
    """A 1.5-sigma shift in noise is found by the CUSUM over several readings, none unusual alone: the words say for
    how many readings the series has been less predictable than usual."""
    counted = 0
    for seed in range(8):
        values = _noise_then(lambda i: 1.5, seed)
        said = _described_alert(values[:3000], values[3000:])
        if " readings less predictable than usual" in said:
            k = int(said.split("the last ")[1].split(" readings")[0])
            assert 3 <= k <= 500, said
            counted += 1
    assert counted >= 4


def test_the_views_words_are_not_saved_and_a_restored_detector_still_has_words() -> None:
    """Which view fired is kept for the words only: not in the saved state (adding it left every saved detector
    restorable), and a restored detector, not knowing it, describes from its state as before."""
    rnd = random.Random(5)
    det = SequenceSurprise()
    for i in range(2000):
        det.update(i * STEP, 1000 + rnd.gauss(0, 20))
    assert det.update(2000 * STEP, 0.0) >= ALARM
    tree = to_tree(det, "fp")
    assert '"_view"' not in str(tree).replace("'", '"') and "_quiet" not in str(tree) and "_news" not in str(tree)
    restored = from_tree(tree, SequenceSurprise(), "fp")
    assert restored.describe(0.0) == det.describe(0.0)
    assert restored.describe(0.0).startswith("0, the lowest in 2001 readings")
