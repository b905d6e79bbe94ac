"""The e2e monitor's process tracker: roles added by the bench while the monitor samples."""

from __future__ import annotations

import os
import threading
import time

from bench.e2e_monitor import ProcessTracker


def test_roles_added_while_sampling_are_never_an_error_and_are_sampled() -> None:
    # the bench adds the simulator from its own thread while the monitor's thread samples every second; iterating
    # the roles as they grew once lost a sample to "dictionary changed size during iteration"
    me = os.getpid()
    tracker = ProcessTracker({f"role-{i}": me for i in range(20)})
    done = threading.Event()

    def add() -> None:
        for i in range(20, 300):
            tracker.add(f"role-{i}", me)
            time.sleep(0.0005)  # paced, so roles arrive while samples are under way
        done.set()

    adder = threading.Thread(target=add)
    adder.start()
    samples = 0
    while not done.is_set() or samples == 0:
        tracker.sample()  # raised RuntimeError when a role came in mid-iteration
        samples += 1
    adder.join()
    last = tracker.sample()
    assert set(last) == {f"role-{i}" for i in range(300)}
    cpu, rss = last["role-0"]
    assert cpu >= 0.0 and rss > 1.0  # this process: a resident set of more than a megabyte


def test_a_role_whose_process_is_gone_is_left_out() -> None:
    tracker = ProcessTracker({"here": os.getpid(), "gone": 2**22 + 12345})  # above Linux's default pid_max
    assert set(tracker.sample()) == {"here"}
