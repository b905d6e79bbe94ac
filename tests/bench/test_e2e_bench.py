"""`omnitrack bench e2e` end to end on the real stack, short: the report and plot exist and make sense."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from simulators.fleet.scenarios import EVENT_TYPES

pytestmark = pytest.mark.integration


def test_e2e_bench_writes_a_sane_report_and_plot(stack_endpoints, tmp_path: Path, capsys) -> None:  # noqa: ANN001
    from bench import e2e

    out = tmp_path / "e2e"
    rc = e2e.main(["--duration", "12", "--rate", "500", "--grace", "5", "--json", "--out", str(out)])
    assert rc == 0
    printed = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    report = json.loads((out / "report.json").read_text())
    png = out / "report.png"
    assert png.stat().st_size > 10_000 and png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert "series" not in printed and report["series"]["t"]
    tp = report["throughput"]
    assert printed["throughput"]["readings_applied"] == tp["readings_applied"]
    assert tp["readings_sent"] > 3000 and tp["readings_applied"] > 0
    assert len(tp["workers"]) == 1 and tp["workers"][0]["telemetry_partitions"] == list(range(8))
    assert {"bridge", "worker0", "simulator"} <= set(report["resources"])
    assert all(r["rss_max_mb"] > 1 for role, r in report["resources"].items() if "shared" not in role)
    assert report["lag"]["max_records"] is not None
    assert report["latency"]["twin_update"]["samples"] > 0 and report["latency"]["twin_update"]["p50_ms"] > 0
    per_type = report["detection"]["per_type"]
    assert set(per_type) == set(EVENT_TYPES)
    assert all(per_type[t]["injected"] >= 1 for t in EVENT_TYPES), per_type  # the default scenario has each once
    # from the first second on: malformed messages are dead-lettered, redelivered batches counted as duplicates
    assert per_type["malformed"]["detected"] == 1
