"""Public contract: JSON Schema file, strict models, event decoding and rebuild."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from pydantic import ValidationError

from twin.alerts import (
    AlertEvent,
    Condition,
    alerts_json_schema,
    alerts_of,
    decode_event,
    encode_event,
    evaluate,
    rebuild,
)

SCHEMA_FILE = Path(__file__).resolve().parents[3] / "docs" / "alerts.schema.json"
T0 = datetime(2026, 3, 1, tzinfo=timezone.utc)


def _events() -> list[AlertEvent]:
    c = Condition(subject_kind="device", subject_id="R1", site_id="W1", rule="cold_chain", firing=True,
                  level="major", value=11.0, unit="degC")
    st, e1 = evaluate(None, c, None, T0)
    worse = Condition.model_validate({**c.model_dump(), "level": "critical"})
    st, e2 = evaluate(st, worse, None, T0 + timedelta(seconds=1))
    return e1 + e2


def test_committed_schema_matches_models() -> None:
    """Regenerate with: .venv/bin/python -c "import json,twin.alerts as a;
    print(json.dumps(a.alerts_json_schema(), indent=2, sort_keys=True, ensure_ascii=False))"
    > docs/alerts.schema.json"""
    committed = json.loads(SCHEMA_FILE.read_text(encoding="utf-8"))
    assert committed == alerts_json_schema()


def test_schema_is_strict_and_versioned() -> None:
    defs = alerts_json_schema()["$defs"]
    for name in ("AlertEvent", "Alert", "AlertTransition", "AlertCommand", "Comment"):
        assert defs[name]["additionalProperties"] is False
    assert defs["AlertEvent"]["properties"]["schema_version"]["const"] == 1
    assert set(defs["Severity"]["enum"]) == {"info", "warning", "major", "critical"}


def test_encode_decode_roundtrip_and_keying() -> None:
    for ev in _events():
        key, value = encode_event(ev)
        assert key == ev.alert.id.encode()
        assert decode_event(value) == ev


def test_decode_rejects_contract_violations() -> None:
    ev = json.loads(encode_event(_events()[0])[1])
    for mutate in (lambda d: d.update(extra=1), lambda d: d.update(schema_version=2),
                   lambda d: d["alert"].update(colour="red"), lambda d: d.update(event_id="x:9"),
                   lambda d: d["alert"].update(severity="fatal")):
        bad = json.loads(json.dumps(ev))
        mutate(bad)
        with pytest.raises(ValidationError):
            decode_event(json.dumps(bad))


def test_rebuild_is_order_and_duplicate_insensitive() -> None:
    evs = _events()
    expected = rebuild(evs)
    assert rebuild(list(reversed(evs)) + evs) == expected
    (alert,) = expected.values()
    assert alert.version == 2 and alert.severity.value == "critical"


def test_rebuild_equals_processor_state() -> None:
    c = Condition(subject_kind="device", subject_id="R1", site_id="W1", rule="cold_chain", firing=True)
    st, evs = evaluate(None, c, None, T0)
    assert rebuild(evs) == alerts_of(st)


def test_non_finite_values_are_refused_at_the_boundary() -> None:
    with pytest.raises(ValidationError):
        Condition(subject_kind="device", subject_id="R1", site_id="W1", rule="r", firing=True, value=float("nan"))
