"""`bench latency`'s breakdown of an alert's latency by hop (pure)."""

from __future__ import annotations

from bench.latency import HOPS, _hop_medians


def test_each_hop_is_the_gap_between_consecutive_marks_and_incomplete_chains_are_left_out() -> None:
    sent = {"a": 100.0, "b": 200.0, "c": 300.0}
    hops = {"a": {"telemetry": 100.010, "input": 100.020, "alert": 100.030},
            "b": {"telemetry": 200.020, "input": 200.040, "alert": 200.060},
            "c": {"telemetry": 300.001}}  # its alert never came: no chain
    seen = {"a": 100.035, "b": 200.070}
    medians = _hop_medians(sent, seen, hops)
    assert list(medians) == list(HOPS)
    assert medians["mqtt_and_bridge"] in (10.0, 20.0) and medians["worker"] in (10.0, 20.0)
    assert medians["alert_agent"] in (10.0, 20.0) and medians["alerts_consumer"] in (5.0, 10.0)
    assert _hop_medians(sent, {}, hops) == {h: None for h in HOPS}
