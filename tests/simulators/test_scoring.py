"""Unit tests of the detection scoring (simulators/scoring.py): pure, no stack."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from simulators.fleet.scenarios import InjectedEvent
from simulators.scoring import DlqRecord, TwinOutcomes, parse_ground_truth, score
from twin.alerts.models import Alert, AlertEvent, AlertTransition, Severity, SubjectKind, TransitionKind

T0 = datetime(2026, 11, 26, 12, 0, 0, tzinfo=timezone.utc)
SITES = {"R-1": "WHS-1", "R-2": "WHS-1", "R-3": "WHS-2", "INV-A": "FAC-A", "THR-S": "SUP-S", "GPS-1": "LANE-1"}


def at(s: float) -> datetime:
    return T0 + timedelta(seconds=s)


def event(eid: str, kind: str, subject: str, start: float, end: float, subject_type: str = "device",
          **extra: list[str]) -> InjectedEvent:
    devices = extra.pop("devices", [subject] if subject_type == "device" else [])
    return InjectedEvent(event_id=eid, type=kind, subject_type=subject_type, subject_id=subject, start_s=start,
                         end_s=end, start=at(start), end=at(end), devices=devices, **extra)


def alert(subject: str, rule: str, created: float, kind: SubjectKind = SubjectKind.device, site: str | None = None,
          version: int = 1) -> AlertEvent:
    aid = f"{kind.value}:{subject}:{rule}@{created}"
    snap = Alert(id=aid, dedup_key=f"{kind.value}:{subject}:{rule}", occurrence=1, version=version, subject_kind=kind,
                 subject_id=subject, site_id=site or SITES.get(subject, subject), rule=rule, severity=Severity.major,
                 active=True, created_at=at(created), updated_at=at(created + version), severity_since=at(created))
    kind_t = TransitionKind.created if version == 1 else TransitionKind.updated
    return AlertEvent(event_id=f"{aid}:{version}", transition=AlertTransition(kind=kind_t, at=at(created)), alert=snap)


def run(events, alerts=(), dlq=(), outcomes=TwinOutcomes(), grace=10.0):  # noqa: ANN001, ANN201
    return score(list(events), list(alerts), list(dlq), outcomes, SITES, grace_s=grace)


def test_alert_on_the_affected_device_inside_the_window_is_a_true_positive() -> None:
    s = run([event("e0-R-1", "cold_chain_breach", "R-1", 10, 30)], [alert("R-1", "cold_chain", 12.5)])
    t = s.per_type["cold_chain_breach"]
    assert (t.injected, t.detected, t.recall, t.precision) == (1, 1, 1.0, 1.0)
    assert t.ttd_p50_s == pytest.approx(2.5) and t.ttd_max_s == pytest.approx(2.5)
    assert (s.true_positive_alerts, s.false_positive_alerts) == (1, 0)


def test_alert_before_the_start_or_after_end_plus_grace_does_not_detect() -> None:
    ev = [event("e0-R-1", "cold_chain_breach", "R-1", 10, 30)]
    early = run(ev, [alert("R-1", "cold_chain", 9.0)])
    assert early.per_type["cold_chain_breach"].detected == 0
    assert early.false_positive_alerts == 1 and early.per_type["cold_chain_breach"].precision == 0.0
    late = run(ev, [alert("R-1", "cold_chain", 41.0)], grace=10.0)
    assert late.per_type["cold_chain_breach"].detected == 0
    assert late.explained_alerts == 1 and late.false_positive_alerts == 0  # about the subject, after its start
    inside = run(ev, [alert("R-1", "cold_chain", 39.9)], grace=10.0)
    assert inside.per_type["cold_chain_breach"].detected == 1


def test_alert_on_another_device_is_a_false_positive_and_the_event_is_missed() -> None:
    s = run([event("e0-R-1", "cold_chain_breach", "R-1", 10, 30)], [alert("R-3", "cold_chain", 12.0)])
    t = s.per_type["cold_chain_breach"]
    assert t.detected == 0 and t.recall == 0.0 and t.undetected == ["e0-R-1"]
    assert s.false_positive_alerts == 1 and t.false_alerts == 1 and t.precision == 0.0
    assert s.false_positive_rules == {"cold_chain": 1}


def test_site_alert_of_an_affected_devices_site_matches_but_a_neighbours_device_does_not() -> None:
    ev = [event("e0-R-1", "cold_chain_breach", "R-1", 10, 30)]
    grouped = run(ev, [alert("WHS-1", "device_alert_group", 11.0, kind=SubjectKind.site)])
    assert grouped.per_type["cold_chain_breach"].detected == 1
    neighbour = run(ev, [alert("R-2", "cold_chain", 11.0)])  # same site, but not the affected device
    assert neighbour.per_type["cold_chain_breach"].detected == 0 and neighbour.false_positive_alerts == 1


def test_downstream_node_alert_of_a_silent_device_is_explained_not_false() -> None:
    s = run([event("e4-R-3", "device_silent", "R-3", 5, 45)], [alert("WHS-2", "node_health", 20.0, kind=SubjectKind.node)])
    assert s.per_type["device_silent"].detected == 0  # node health is not the device's silence alert
    assert (s.explained_alerts, s.false_positive_alerts) == (1, 0)


def test_supplier_outage_is_detected_by_inventory_cover_on_a_fed_node() -> None:
    outage = event("e3-SUP-S", "supplier_outage", "SUP-S", 20, 50, subject_type="node", devices=["INV-A", "THR-S"],
                   nodes=["FAC-A"], lanes=["LANE-9"])
    s = run([outage], [alert("FAC-A", "inventory_cover", 33.0, kind=SubjectKind.node),
                       alert("FAC-Z", "inventory_cover", 33.0, kind=SubjectKind.node)])
    t = s.per_type["supplier_outage"]
    assert t.detected == 1 and t.ttd_p50_s == pytest.approx(13.0)
    assert t.true_alerts == 1 and t.false_alerts == 1 and t.precision == 0.5  # FAC-Z is fed by nobody down


def test_port_closure_is_detected_by_stalled_trackers_and_the_ports_lanes_stalled() -> None:
    closure = event("e2-PRT-1", "port_closure", "PRT-1", 20, 50, subject_type="node", devices=["GPS-1"],
                    lanes=["LANE-1"])
    s = run([closure], [alert("GPS-1", "shipment_stalled", 35.0),
                        alert("PRT-1", "lanes_stalled", 41.0, kind=SubjectKind.node),
                        alert("PRT-9", "lanes_stalled", 41.0, kind=SubjectKind.node)])
    t = s.per_type["port_closure"]
    assert t.detected == 1 and t.ttd_p50_s == pytest.approx(15.0)
    assert t.detected_by == {"e2-PRT-1": "shipment_stalled device:GPS-1"}
    assert t.true_alerts == 2 and t.false_alerts == 1 and t.precision == pytest.approx(0.667)  # PRT-9 stayed open


def test_only_the_highest_version_of_an_alert_counts_once() -> None:
    ev = [event("e1-R-1", "equipment_failure", "R-1", 15, 30)]
    s = run(ev, [alert("R-1", "vibration_high", 16.0, version=v) for v in (1, 2, 3)])
    assert s.alerts == 1 and s.true_positive_alerts == 1


def test_fleet_events_are_detected_from_the_dlq_and_the_twin_outcomes() -> None:
    fleet = [event("e6", "duplicates", "*", 0, 60, subject_type="fleet"),
             event("e7", "reorder", "*", 0, 60, subject_type="fleet"),
             event("e8", "malformed", "*", 0, 60, subject_type="fleet")]
    dlq = [DlqRecord("schema", "gw-1", at(3.0)), DlqRecord("out_of_range", "R-1", at(1.0))]
    s = run(fleet, dlq=dlq, outcomes=TwinOutcomes({"new": 100, "duplicate": 4, "late": 0}, {"duplicate": at(2.0)}))
    assert s.per_type["duplicates"].detected == 1 and s.per_type["duplicates"].ttd_p50_s == pytest.approx(2.0)
    assert s.per_type["reorder"].detected == 0 and s.per_type["reorder"].recall == 0.0
    assert s.per_type["malformed"].detected == 1 and s.per_type["malformed"].ttd_p50_s == pytest.approx(3.0)
    assert s.per_type["malformed"].evidence["dlq_schema"] == 1.0
    assert s.per_type["malformed"].precision is None  # no alerts involved
    none = run(fleet[2:], dlq=[DlqRecord("out_of_range", "R-1", at(1.0))])
    assert none.per_type["malformed"].detected == 0


def test_clock_skew_needs_a_skew_dead_letter_for_that_device_in_the_window() -> None:
    skews = [event("e5-R-1", "clock_skew", "R-1", 25, 35), event("e5-R-3", "clock_skew", "R-3", 25, 35)]
    dlq = [DlqRecord("skew", "R-1", at(25.4)), DlqRecord("skew", "R-3", at(60.0)), DlqRecord("not_json", "R-3", at(26))]
    t = run(skews, dlq=dlq, grace=10.0).per_type["clock_skew"]
    assert (t.injected, t.detected, t.recall) == (2, 1, 0.5)
    assert t.undetected == ["e5-R-3"] and t.ttd_max_s == pytest.approx(0.4)


def test_every_scenario_type_is_reported_even_when_not_injected() -> None:
    s = run([])
    assert set(s.per_type) >= {"cold_chain_breach", "port_closure", "malformed", "clock_skew"}
    assert s.per_type["port_closure"].injected == 0 and s.per_type["port_closure"].recall is None


def test_parse_ground_truth_reads_jsonl_and_kafka_values_once_per_event() -> None:
    e = event("e0-R-1", "cold_chain_breach", "R-1", 10, 30)
    line = e.model_dump_json()
    events = parse_ground_truth([line, "", line.encode()])
    assert [x.event_id for x in events] == ["e0-R-1"] and events[0].start == at(10)
