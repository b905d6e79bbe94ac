"""`omnitrack bench ingest_hotpath`: the worker's per-reading path runs on replay-shaped records and reports a
cost per stage (no speed is asserted: figures live in docs/BENCHMARKS.md)."""

from __future__ import annotations

import json

from bench import ingest_hotpath


def test_hotpath_bench_reports_every_stage(capsys) -> None:  # noqa: ANN001
    assert ingest_hotpath.main(["--readings", "6000", "--repeat", "1", "--json"]) == 0
    out = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert set(out["stage_us_per_reading"]) == set(ingest_hotpath.STAGES)
    assert out["readings"] == 6000 and out["records"] >= 6000 // ingest_hotpath.PER_RECORD
    assert out["readings_per_cpu_s"] > 0


def test_records_keep_each_device_in_one_partition_in_order() -> None:
    from streams.records import decode_telemetry

    seen: dict[str, int] = {}
    for value in ingest_hotpath.records(4000):
        for wire in decode_telemetry(value):
            assert wire["seq"] == seen.get(wire["device_id"], -1) + 1
            seen[wire["device_id"]] = wire["seq"]
    assert len(seen) == ingest_hotpath.DEVICES
