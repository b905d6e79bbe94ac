"""Run-length rarity: how unusual is the current run of identical readings, given this series' own runs so far?

WHY: the context models learn "the same follows the same" within a few readings, so a series that stops
changing - a counter whose line stopped (a Poisson(10) throughput falling to 0 and staying there), a stuck
sensor repeating its last value - stops surprising them and its evidence stops accumulating. What stays rare is
the run itself: a series whose readings seldom repeat, or whose runs of repeats were all short, does not
plausibly repeat for far longer than it ever did. Series that legitimately repeat (sparse counts with long runs
of zeros, slow integer or 0.1-quantised sensors) have long runs in their own history, so theirs are ordinary.

The rarity, as a log tail probability: a run goes on with probability q at each reading, so one run reaches r
repeats with probability q^r, and b runs so far gave b chances for that: log tail = log(b + 1) + r log q (0 when
that is not below 0: the run is ordinary). q is the larger of the pooled estimate (repeats / (repeats + runs),
the current run counted in and one of each as a prior, so a young series with few runs cannot make any run rare)
and the rate the longest run itself implies (q^L = 1 / (b + 1)), so a series whose runs differ in kind (short
runs of ones, long runs of zeros) is judged by its longest: a run is rare only well beyond it. The longest a run
is judged against is that of runs of its own value when the longest of all repeated that value, else the longest of
runs of any other value: a truck parked at 0 for 900 readings each night, whose speed never repeats while it drives,
does not make a speed sensor stuck at 89.7 for an hour ordinary (the field corpus' GPS speeds; a Poisson count's
long runs at 0 say nothing of a run at 7). After 2,000 readings of real-valued noise that never repeated, the 5th
repeat scores past the engine's alert (0.75, ~1 in 10^7.5); a Poisson(5-30) count that stops at 0 gets there in
10-20 readings. Nothing names counts or zero: all follows from exact repeats of whatever values the series takes.

A reported run (an incident) is held out of both, the longest and the pooled counts, until another of its kind is
reported (`records.hold_out`; the kinds: a run of the longest's value, and a run of any other). Held in one slot for
both kinds, a truck's first night parked went in as a run of the speed stuck at 85.6 the next day, 0 stopped being the
value the series rests at, and every later night alarmed. Counted in the pool, one stuck stretch of 500 readings among
2,000 of noise made each repeat 1 in 5 likely, and the next stuck stretch took 10 readings to alarm where the first
took 4. While it goes on, a reported run of the longest's value (the series resting where it rests, only longer) says
nothing more, and one of any other value (stuck where the series never rests) reports again as its rarity doubles
(`reported` says why). The series' first run is not counted: it began before the series was watched (a device
reporting one value until its line starts), so its length says nothing of how long this series' runs go on, and 50
such readings once made every later stuck run look ordinary. Pure code, O(1) a reading (a log or two only while a run
is beyond the longest).
"""

from __future__ import annotations

import math

from twin.detectors.records import LOG_RAREST, hold_out

__all__ = ["RunRarity"]


class RunRarity:
    """Counts of runs of identical readings; `update` returns the log tail probability of the current run
    (0.0 when it is no longer than the longest completed run it is judged against, which is almost every reading)."""

    __slots__ = ("_prev", "_run", "_blocks", "_repeats", "_longest", "_longest_at", "_other", "_reported", "_leading",
                 "_held", "_held_other", "_tail", "_at")
    # Added after detector states were saved in the engine (`twin.detectors.snapshot`): a state saved without it
    # restores with nothing held of that kind, and its held run, if any, read as one of the longest's value.
    _ADDED = ("_held_other",)

    def __init__(self) -> None:
        self._prev = math.nan
        self._run = 0  # repeats in the current run (readings equal to their predecessor)
        self._blocks = 0  # completed runs (a run of 0 repeats is a reading unlike both its neighbours)
        self._repeats = 0  # repeats in the completed runs
        self._longest = 0  # the longest completed run, in repeats ...
        self._longest_at = math.nan  # ... the value it repeated ...
        self._other = 0  # ... and the longest at any other value
        # the current run has alarmed (its further repeats are the same incident): 2 as an incident, 1 while the caller
        # was still learning the series' shape (0: not)
        self._reported = 0
        self._leading = True  # the series' first run is still going on (or not yet begun)
        # an incident's run held out of the longest (`records.hold_out`; NaN: none), one of the longest's value and
        # one of any other value: each recurs only as its own kind
        self._held = self._held_other = math.nan
        self._tail = 0.0  # the current run's latest log tail ...
        self._at = 0.0  # ... and the one it was last reported at

    def reported(self, incident: bool = True) -> None:
        """The current run raised an alarm. A run of the value of the series' longest run scores 0 for the rest of
        it: the series' habit of resting there, running long, is one incident and one alarm (a conveyor's planned
        stop, a truck parked). A run of any other value is a sensor stuck, and its evidence grows with every repeat:
        it scores again once its log tail is twice the reported one, as the caller's own evidence escalates, until
        it has reached the scale's end or the caller's rest is over (`settle`). Unless `incident` is False (the caller
        is still learning the series' shape), the run is kept out of the longest until another is reported."""
        self._reported = 2 if incident or self._reported == 2 else 1
        self._at = self._tail

    def settle(self) -> None:
        """The caller's rest after the current run's last report is over: it may not report again."""
        if self._reported:
            self._at = LOG_RAREST

    def current(self) -> tuple[int, int]:
        """(readings in the current run of identical ones, readings in the longest run before it) - for words."""
        return self._run + 1, self._longest_of(self._prev) + 1

    def _longest_of(self, value: float) -> int:
        """The longest completed run a run of `value` is judged against."""
        return self._longest if value == self._longest_at else self._other

    def _grow(self, value: float, run: int) -> None:
        """A completed run of `run` repeats of `value` counts in the longest of its kind."""
        if value == self._longest_at:
            if run > self._longest:
                self._longest = run
        elif run > self._longest:
            self._other = max(self._other, self._longest)
            self._longest, self._longest_at = run, value
        elif run > self._other:
            self._other = run

    def update(self, value: float) -> float:
        """Take one finite reading; return the log tail of the run it extends (<= 0; 0.0 if ordinary)."""
        if value == self._prev:
            run = self._run = self._run + 1
            longest = self._longest_of(value)
            if run <= longest or not self._blocks or (self._reported and value == self._longest_at):
                return 0.0
            blocks, repeats = self._blocks, self._repeats
            log_runs = math.log(blocks + 1)
            q = (repeats + run + 1) / (repeats + run + blocks + 2)
            if longest:
                q_longest = math.exp(-log_runs / longest)
                if q_longest > q:
                    q = q_longest
            log_tail = log_runs + run * math.log(q)
            if log_tail >= 0.0:
                return 0.0
            self._tail = log_tail
            if self._reported and (log_tail > 2.0 * self._at or self._at <= LOG_RAREST):
                return 0.0
            return log_tail
        if self._leading:  # the first run ends here (or the first reading came): not counted, see above
            self._leading = self._prev != self._prev
        else:  # the run before this reading is complete
            run, ran = self._run, self._prev
            if self._reported == 2:  # an incident: the series' habit only once another of its kind has been reported
                resting = ran == self._longest_at  # the kind of run: where the series rests, or stuck elsewhere
                before = self._held if resting else self._held_other
                held, longest = hold_out(before, float(run), float(self._longest_of(ran)))
                if resting:
                    self._held = held
                else:
                    self._held_other = held
                if held != held:  # it recurred: both runs count, the one held before as well
                    self._blocks += 2
                    self._repeats += run + int(before)
                    self._grow(ran, int(longest))
            else:
                self._blocks += 1
                self._repeats += run
                self._grow(ran, run)
        self._run = 0
        self._reported = 0
        self._prev = value
        return 0.0
