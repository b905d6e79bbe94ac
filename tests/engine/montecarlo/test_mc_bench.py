"""Smoke test: the benchmark script runs and ends with one JSON object (no timing assertions)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from engine.flow.kernel_steps import AGREEMENT_RTOL

BENCH = Path(__file__).resolve().parents[3] / "bench" / "montecarlo.py"


def test_bench_prints_json_last_with_three_backends():
    out = subprocess.run(
        [sys.executable, str(BENCH), "--json", "--nodes", "120", "--numba-trials", "2000",
         "--numpy-trials", "256", "--python-trials", "20", "--repeats", "1",
         "--flow-trials", "2000", "--flow-numpy-trials", "64", "--flow-python-trials", "2"],
        capture_output=True, text=True, timeout=240, check=True,
    ).stdout.strip().splitlines()
    result = json.loads(out[-1])
    for key in ("numba_trials_per_s", "numpy_trials_per_s", "python_trials_per_s", "variants_8x10000_seconds"):
        assert result[key] > 0
    assert result["max_abs_loss_diff_numpy"] < 1e-6 and result["max_abs_loss_diff_python"] < 1e-6
    assert "one trial" in result["one_trial"]
    flow = result["flow"]                         # the flow kernel, measured in the same run
    for key in ("numba_trials_per_s", "numpy_trials_per_s", "python_trials_per_s",
                "interval_kernel_same_scenario_trials_per_s"):
        assert flow[key] > 0
    assert abs(flow["subgraph_nodes"] - 50) <= 10 and flow["horizon_days"] == 90
    assert flow["max_rel_loss_diff_numpy"] < AGREEMENT_RTOL and flow["max_rel_loss_diff_python"] < AGREEMENT_RTOL
