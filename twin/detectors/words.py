"""An alert's words: what made a reading anomalous, as the sequence detector's view that scored it saw it.

WHY a module of its own: the words are read by operators, not by the detector, and are built only when an alert fires,
never on the per-reading path; kept apart, the detector's module holds the detection and this one the sentences
(tests/twin/detectors/test_det_sequence_words.py). The detector records which view gave each reading its score
(`BY_*`); the words read the detector's state through that.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from twin.detectors.sequence import SequenceSurprise

__all__ = ["BY_HOUR", "BY_JUMP", "BY_LEVEL", "BY_RECORD", "BY_RUN", "BY_SAME_HOUR", "BY_VOLATILITY", "describe"]

# Which view gave a reading its score (`SequenceSurprise._view`; 0: unknown, as after a restore).
BY_LEVEL, BY_VOLATILITY, BY_HOUR, BY_RECORD, BY_RUN, BY_JUMP, BY_SAME_HOUR = range(1, 8)


def describe(det: SequenceSurprise, value: float) -> str:
    """In words for an alert, what made `value` (`det`'s latest reading) anomalous."""
    if det._width == 0.0:  # still warming up: only a series that held one value from its start alarms here
        return f"{value:g}, the first change after a start that held one value"
    view = det._view
    run, longest = det._runs.current()
    if view == BY_RUN or (view == 0 and run >= 3 and run > longest):  # 0: restored, the view not known
        return f"unchanged at {value:g} for {run} readings (longest such run before: {longest})"
    usual, where = "", "in"
    if len(det._buf) > 10:
        lo, hi = det._buf.bulk()
        usual = f" (usual {lo:.4g} to {hi:.4g})"
        if value > hi or value < lo:
            where = f"{'above' if value > hi else 'below'} the usual range and in"
    if view == BY_RECORD or (view == 0 and (value <= det._min or value >= det._max)):
        return f"{value:g}, the {'lowest' if value <= det._min else 'highest'} in {det._n} readings{usual}"
    if view == BY_JUMP:
        c = det._change
        return (f"{value:g}, {'up' if c > 0 else 'down'} {abs(c):g} in one reading, the largest "
                f"{'rise' if c > 0 else 'fall'} in {det._n} readings{usual}")
    if view == BY_SAME_HOUR and det._same_hour is not None:
        return f"{value:g}, {det._same_hour.news()}"
    hour = det._tod.news() if view == BY_HOUR and det._tod is not None else ""
    if hour:
        return f"{value:g}, {hour}"
    k = det._evidence.age(det._n - det._warmup)
    span = f", the last {k} readings less predictable than usual" if k > 2 else ""
    usual_change = det._buf.usual_change()  # not `_vol_scale`: where most readings repeat, that is a fallback
    ratio = det._vol_ewm / usual_change if usual_change > 0.0 else 1.0
    if view == BY_VOLATILITY or (view == 0 and (ratio >= 2.0 or ratio <= 0.5)):
        return f"{value:g}, changing {ratio:.2g} times as much as usual from reading to reading{span}{usual}"
    return f"{value:g}, {where} an unusual sequence of values{span}{usual}"
