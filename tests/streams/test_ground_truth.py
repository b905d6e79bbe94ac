"""The simulator's ground truth reaches Kafka: every injected event, once, keyed by its subject."""

from __future__ import annotations

import json
import subprocess
import sys

import orjson
import pytest

from tests.streams.conftest import Engine, read_topic

pytestmark = pytest.mark.integration


def test_every_injected_event_is_on_the_ground_truth_topic(engine: Engine) -> None:
    jsonl = engine.home / "truth.jsonl"
    run = subprocess.run([sys.executable, "-m", "omnitrack.cli", "simulate", "fleet", "--rate", "300", "--duration",
                          "2", "--processes", "1", "--json", "--ground-truth", str(jsonl), "--ground-truth-kafka"],
                         env=engine.env, capture_output=True, text=True, timeout=120, check=False)
    assert run.returncode == 0, run.stderr[-2000:]
    report = json.loads(run.stdout.strip().splitlines()[-1])
    in_file = [json.loads(line) for line in jsonl.read_text().splitlines()]
    assert len(in_file) == report["ground_truth_events"] > 0
    records = read_topic(engine.env["KAFKA_BOOTSTRAP"], engine.topics.ground_truth,
                         until=lambda r: len(r) >= len(in_file), deadline_s=30)
    on_topic = [orjson.loads(r.value) for r in records]
    assert sorted(e["event_id"] for e in on_topic) == sorted(e["event_id"] for e in in_file)
    assert all(r.key.decode() == orjson.loads(r.value)["subject_id"] for r in records)
