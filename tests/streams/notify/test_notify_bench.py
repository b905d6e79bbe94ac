"""`bench/notify.py` runs end to end and prints one JSON object last (small n: a smoke test, not a figure)."""

from __future__ import annotations

import json

import pytest

from bench.notify import main


def test_bench_prints_json_last(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--json", "-n", "40", "--rtt-ms", "5"]) == 0
    out = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert out["bench"] == "notify" and out["notifications"] == 40 and out["batch_failed"] == 0
    assert out["one_at_a_time_per_s"] > 0 and out["batched_per_s"] > 0 and out["speedup"] > 0
    assert out["rtt_speedup"] > 1.0  # with a round trip to pay, batching must win
    cpu = out["endpoint_cpu_ms_per_notification"]  # moto started by the bench: its CPU is measured
    assert cpu["one_at_a_time"] > 0 and cpu["batched"] > 0 and out["endpoint_cpu_bound_speedup"] > 0
