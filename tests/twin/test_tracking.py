"""Shipment movement: stalled trackers and nodes whose lanes stall."""

from __future__ import annotations

import math

import pytest

from twin.alerts.catalogue import lanes_stalled_condition, stall_condition
from twin.alerts.models import Severity, SubjectKind
from twin.network import Device, DeviceKind, SupplyNetwork
from twin.tracking import (
    ENDPOINT_RADIUS_M,
    JUDGE_PROGRESS_M,
    LaneMotion,
    distance_m,
    lane_motions,
    stalled_neighbours,
    update_tracker,
)

# A lane due east along the equator, 1 degree (~111 km) in ~5.5 h: ~5.6 m/s.
LANE = LaneMotion("LN-1", "A", "B", 0.0, 0.0, 0.0, 1.0, distance_m(0.0, 0.0, 0.0, 1.0) / 20_000.0)
M_PER_DEG = distance_m(0.0, 0.0, 0.0, 1.0)


def fixes(track, state=None):
    """Feed (t, lon) fixes on the lane; return the state and the times the stalled flag changed."""
    changes = []
    for t, lon in track:
        state, changed = update_tracker(state, t, 0.0, lon, LANE)
        if changed:
            changes.append((t, state.stalled))
    return state, changes


def moving(t0: float, t1: float, lon0: float, dt: float = 0.6):
    n = int((t1 - t0) / dt)
    return [(t0 + k * dt, lon0 + LANE.speed_m_s * k * dt / M_PER_DEG) for k in range(n)]


def test_distance() -> None:
    assert math.isclose(distance_m(0, 0, 0, 1), 111_195, rel_tol=1e-3)


def test_moving_shipment_never_stalls_and_jitter_does_not_move_a_stalled_one() -> None:
    state, changes = fixes(moving(0, 120, 0.2))
    assert changes == [] and not state.stalled
    # stops at t=120: judged once the lane predicts JUDGE_PROGRESS_M, within two windows
    window = JUDGE_PROGRESS_M / LANE.speed_m_s
    lon = state.anchor_lon
    stop = [(120 + 0.6 * k, lon + (2e-5 if k % 2 else -2e-5)) for k in range(1, 100)]
    state, changes = fixes(stop, state)
    assert len(changes) == 1 and changes[0][1] is True
    assert changes[0][0] - 120 <= 2 * window + 1
    assert state.stalled_since is not None and state.stalled_since <= 120
    # moves again: resumes within ~RESUME_M of travel
    state, changes = fixes(moving(180, 200, lon), state)
    assert changes and changes[0][1] is False and changes[0][0] - 180 < 15


def test_slowing_down_is_not_a_stall() -> None:
    track = [(t, 0.2 + 0.5 * LANE.speed_m_s * t / M_PER_DEG) for t in range(0, 300)]  # half the lane's pace
    _, changes = fixes(track)
    assert changes == []


def test_waiting_at_either_end_is_normal() -> None:
    near_dst = 1.0 - 0.5 * ENDPOINT_RADIUS_M / M_PER_DEG
    _, changes = fixes([(float(t), near_dst) for t in range(0, 200)])
    assert changes == []
    _, changes = fixes([(float(t), 0.0) for t in range(0, 200)])
    assert changes == []


def test_late_fixes_are_ignored() -> None:
    state, _ = update_tracker(None, 10.0, 0.0, 0.5, LANE)
    assert update_tracker(state, 5.0, 0.0, 0.5, LANE) == (state, False)


def test_node_is_the_cause_only_for_several_directions() -> None:
    lanes = {
        "L1": LaneMotion("L1", "P", "X", 0, 0, 0, 1, 5.0), "L2": LaneMotion("L2", "Y", "P", 0, 0, 0, 1, 5.0),
        "L3": LaneMotion("L3", "X", "P", 0, 0, 0, 1, 5.0), "L4": LaneMotion("L4", "X", "Z", 0, 0, 0, 1, 5.0),
    }
    assert stalled_neighbours("P", ["L1", "L3"], lanes) == {"X"}  # both ways to one place: not P's problem
    assert stalled_neighbours("P", ["L1", "L2", "L4", "nope"], lanes) == {"X", "Y"}
    assert not lanes_stalled_condition("P", {"X"}).firing
    cond = lanes_stalled_condition("P", {"X", "Y"})
    assert cond.firing and cond.subject_kind is SubjectKind.node and cond.subject_id == "P"
    assert cond.level is Severity.major and cond.value == 2.0
    assert lanes_stalled_condition("P", {str(i) for i in range(6)}).level is Severity.critical


def test_stall_condition_is_about_the_tracker_on_its_lane() -> None:
    dev = Device(id="LN-1-GPS-1", kind=DeviceKind.gps_tracker, lane_id="LN-1", expected_interval_s=300)
    cond = stall_condition(dev, True, "LN-1")
    assert cond.firing and cond.rule == "shipment_stalled" and cond.site_id == "LN-1"
    assert not stall_condition(dev, False).firing


@pytest.mark.parametrize("lane_id", ["LN-0001"])
def test_lane_motions_of_the_example_network(lane_id: str) -> None:
    import json

    from simulators.networks.generate import DEFAULT_OUT

    net = SupplyNetwork.from_dict(json.loads(DEFAULT_OUT.read_text()))
    motions = lane_motions(net)
    assert set(motions) == {lane.id for lane in net.lanes}
    m = motions[lane_id]
    lane = net.lane_by_id[lane_id]
    assert (m.src, m.dst) == (lane.src, lane.dst) and m.speed_m_s > 0
