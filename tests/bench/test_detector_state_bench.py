"""`omnitrack bench detector_state` runs and reports what it measured (no timing is asserted: benchmarks are not
timed tests)."""

from __future__ import annotations

import json

import pytest

from bench.detector_state import main
from streams.detector_state import SAVE_EVERY


def test_the_bench_saves_rows_and_reports_both_replays(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--devices", "3", "--readings", str(SAVE_EVERY), "--rounds", "1", "--json"]) == 0
    result = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert result["devices"] == 3 and result["save_every"] == SAVE_EVERY
    assert result["us_per_reading_without_store"] > 0 and result["us_per_reading_with_store"] > 0
    assert result["row_bytes_median"] > 100  # a row per device was saved: its detector's state, compressed
    assert result["resume_ms_per_device"] > 0
    assert result["shutdown_saved_devices"] == 3  # every device had readings since its last save: all saved
    assert result["shutdown_save_ms_per_device"] > 0
