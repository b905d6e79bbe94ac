"""streams/api/views.py: the read model rebuilt from topic records (pure: no Kafka)."""

from __future__ import annotations

import orjson
import pytest

from streams.api.views import ReadModel, decode_cursor, encode_cursor, page_key
from tests.streams.api.helpers import alert_event
from twin.alerts.models import AlertEvent, Severity, TransitionKind


def raw(event: AlertEvent) -> bytes:
    return event.model_dump_json().encode()


def test_the_highest_version_wins_whatever_the_order() -> None:
    model = ReadModel()
    assert model.apply_alert(raw(alert_event("a", 2, kind=TransitionKind.acknowledged)))
    assert not model.apply_alert(raw(alert_event("a", 1)))  # late redelivery of an older version
    assert not model.apply_alert(raw(alert_event("a", 2)))  # duplicate
    assert model.alert("a").alert.version == 2
    assert model.alert("a").transition.kind is TransitionKind.acknowledged
    assert model.apply_alert(raw(alert_event("a", 3, active=False, kind=TransitionKind.cleared)))
    assert not model.alert("a").alert.active


def test_filters_limit_and_newest_first() -> None:
    model = ReadModel()
    model.apply_alert(raw(alert_event("old", minute=1, site="S1", severity=Severity.critical)))
    model.apply_alert(raw(alert_event("new", minute=5, site="S2", rule="silence")))
    model.apply_alert(raw(alert_event("gone", minute=3, site="S1", active=False)))
    assert [a.id for a in model.alerts()] == ["new", "gone", "old"]
    assert [a.id for a in model.alerts(active=True)] == ["new", "old"]
    assert [a.id for a in model.alerts(site="S1")] == ["gone", "old"]
    assert [a.id for a in model.alerts(severity=Severity.critical)] == ["old"]
    assert [a.id for a in model.alerts(rule="silence")] == ["new"]
    assert [a.id for a in model.alerts(site="S1", active=False)] == ["gone"]
    assert [a.id for a in model.alerts(limit=1)] == ["new"]


def test_pages_cover_every_alert_once_in_order() -> None:
    model = ReadModel()
    for i in range(250):  # minutes repeat: ties on the update time are broken by id
        model.apply_alert(raw(alert_event(f"a{i:03d}", minute=i % 40, site=f"S{i % 3}")))
    everything = [a.id for a in model.alerts(limit=1000)]
    pages, after = [], None
    while True:
        page = model.alerts(limit=100, after=after)
        if not page:
            break
        pages.append([a.id for a in page])
        after = decode_cursor(encode_cursor(page_key(page[-1])))
    assert [len(p) for p in pages] == [100, 100, 50]
    assert [i for p in pages for i in p] == everything and len(set(everything)) == 250
    site1 = [a.id for a in model.alerts(site="S1", limit=1000)]
    first = model.alerts(site="S1", limit=10)
    assert [a.id for a in first + model.alerts(site="S1", limit=1000, after=page_key(first[-1]))] == site1


@pytest.mark.parametrize("token", ["", "!!", "bm90LWEtY3Vyc29y", "WzEsMl0", "WyJhIiwiYiJd", "W3RydWUsImEiXQ"])
def test_a_cursor_the_api_did_not_give_out_is_refused(token: str) -> None:
    with pytest.raises(ValueError):
        decode_cursor(token)


def test_cleared_alerts_are_evicted_first_beyond_the_cap() -> None:
    model = ReadModel(max_alerts=10)
    for i in range(6):
        model.apply_alert(raw(alert_event(f"active-{i}", minute=i)))
    for i in range(6):
        model.apply_alert(raw(alert_event(f"cleared-{i}", active=False, minute=10 + i)))
    ids = {a.id for a in model.alerts(limit=1000)}
    assert {f"active-{i}" for i in range(6)} <= ids, "no active alert is evicted while cleared ones remain"
    assert len(ids) <= 10 and "cleared-0" not in ids and "cleared-5" in ids  # the oldest cleared went first
    # a storm of active alerts alone still cannot grow the view past its cap
    for i in range(30):
        model.apply_alert(raw(alert_event(f"storm-{i}", minute=100 + i)))
    assert len(model.alerts(limit=1000)) <= 10 and model.alert("storm-29") is not None


def test_results_priors_and_feedback_answers() -> None:
    model = ReadModel(max_results=3)
    assert model.apply_result(b"r1", orjson.dumps({"request_id": "r1", "status": "ok"}))
    assert model.apply_result(b"priors", orjson.dumps({"kind": "priors", "version": 2}))
    assert model.result("priors") is None and model.priors == {"kind": "priors", "version": 2}
    # the decider's answer to invalid feedback does not replace the request's result
    assert not model.apply_result(b"r1", orjson.dumps({"kind": "feedback", "status": "invalid", "reason": "x"}))
    assert model.result("r1") == {"request_id": "r1", "status": "ok"}
    for i in range(2, 6):
        model.apply_result(f"r{i}".encode(), orjson.dumps({"request_id": f"r{i}", "status": "ok"}))
    assert model.result("r1") is None and model.result("r5") is not None  # bounded, oldest first
    assert not model.apply_result(b"r9", b"not json") and model.rejected == 1


def test_twin_changes_by_subject() -> None:
    model = ReadModel(max_twin=2)
    model.apply_twin_change(orjson.dumps({"v": 1, "type": "device_status", "device_id": "D1", "current": "online"}))
    model.apply_twin_change(orjson.dumps({"v": 1, "type": "device_status", "device_id": "D1", "current": "stale"}))
    model.apply_twin_change(orjson.dumps({"v": 1, "type": "node_health", "node_id": "D1", "current": "degraded"}))
    assert model.twin("device", "D1")["current"] == "stale"
    assert model.twin("node", "D1")["current"] == "degraded"
    assert not model.apply_twin_change(orjson.dumps({"type": "mystery"}))
    assert not model.apply_alert(b"{}") and model.rejected == 2


def test_twin_rows_from_the_table_changelogs() -> None:
    model = ReadModel(max_twin=2)
    assert model.twin_state("device", "D1") is None
    assert model.apply_twin_row("device", b"D1", orjson.dumps({"status": "online", "readings_applied": 3}))
    model.apply_twin_change(orjson.dumps({"v": 1, "type": "device_status", "device_id": "D1", "current": "stale"}))
    view = model.twin_state("device", "D1")
    assert view == {"kind": "device", "id": "D1", "state": {"status": "online", "readings_applied": 3},
                    "last_change": {"v": 1, "type": "device_status", "device_id": "D1", "current": "stale"}}
    assert model.twin_state("node", "D1") is None                       # kinds are apart
    assert model.apply_twin_row("device", b"D1", None)                   # a tombstone removes the row
    assert model.twin_state("device", "D1")["state"] is None
    assert not model.apply_twin_row("device", b"D1", b"{not json")
    assert not model.apply_twin_row("device", None, b"{}")
    for i in range(3):                                                   # bounded like every other view
        model.apply_twin_row("node", f"N{i}".encode(), b"{}")
    assert model.sizes()["twin_rows"] <= 2


def test_twin_lists_put_the_longest_unheard_and_the_worst_first() -> None:
    model = ReadModel()
    for device, status, seen in (("D1", "online", "2026-11-26T12:00:05Z"), ("D2", "offline", "2026-11-26T11:00:00Z"),
                                 ("D3", "offline", "2026-11-26T10:00:00Z")):
        model.apply_twin_row("device", device.encode(), orjson.dumps({"status": status, "last_seen": seen}))
    assert [d["id"] for d in model.twin_list("device", status="offline")] == ["D3", "D2"]
    assert [d["id"] for d in model.twin_list("device", limit=2)] == ["D3", "D2"]
    for node, level, cover in (("N1", "ok", 30.0), ("N2", "critical", 2.0), ("N3", "critical", 0.5),
                               ("N4", "degraded", None)):
        model.apply_twin_row("node", node.encode(), orjson.dumps({"level": level, "days_of_cover": cover}))
    assert [n["id"] for n in model.twin_list("node")] == ["N3", "N2", "N4", "N1"]
    assert [n["id"] for n in model.twin_list("node", status="critical")] == ["N3", "N2"]


def test_refused_commands_show_with_their_alert_latest_few() -> None:
    model = ReadModel()
    model.apply_alert(raw(alert_event("a1")))
    for i in range(7):
        assert model.apply_refused_command(
            orjson.dumps({"action": "ack", "alert_id": "a1", "actor": f"u{i}", "site_id": "S"}),
            {"reason": b"unknown_alert", "message": b"no current alert a1"}, 1_700_000_000_000 + i)
    assert not model.apply_refused_command(orjson.dumps({"bogus": True}), {"reason": b"invalid"}, 0)  # whose?
    assert not model.apply_refused_command(b"not json", {}, 0) and model.rejected == 1
    shown = model.refused_commands("a1")
    assert [c["actor"] for c in shown] == ["u2", "u3", "u4", "u5", "u6"]  # the latest five, oldest first
    assert shown[-1] == {"action": "ack", "actor": "u6", "reason": "unknown_alert", "message": "no current alert a1",
                         "at": "2023-11-14T22:13:20.006000+00:00"}
    assert model.refused_commands("a2") == []


def test_a_client_that_falls_behind_is_cut_off_not_buffered() -> None:
    from streams.api.live import AlertHub

    hub = AlertHub(queue_max=2)
    slow, fast = hub.subscribe(), hub.subscribe()
    for i in range(3):
        hub.publish(alert_event(f"a{i}"))
        if i < 2:
            fast.queue.get_nowait()
    assert slow.ended.is_set() and slow.reason == "overflow" and slow.queue.qsize() == 2  # no third one held
    assert not fast.ended.is_set() and fast.queue.get_nowait().alert.id == "a2"
    hub.unsubscribe(slow)
    assert len(hub) == 1
    hub.close()  # the API stopping
    assert fast.ended.is_set() and fast.reason == "closing"
    hub.unsubscribe(fast)  # as its handler would: the open-streams gauge is the process's, and other tests read it
    assert len(hub) == 0
