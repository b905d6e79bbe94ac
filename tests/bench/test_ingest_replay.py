"""`omnitrack bench ingest`'s replayed runs: each runner reports its figures, and the summary's ratios follow.

The Quix Streams peer runs from its own venv (bench/ingest_quix_env.py); building it downloads ~40 packages,
so the stack test includes the peer only where that venv is already built (`omnitrack bench ingest` builds
it on first use) and says so otherwise. No timing is asserted: speeds live in docs/BENCHMARKS.md.
"""

from __future__ import annotations

import json

import pytest

from bench.ingest import _replay_summary
from bench.ingest_quix_env import quix_python

FIELDS = {"readings_per_s", "readings_per_cpu_s", "peak_rss_mb", "peak_rss_mb_total"}


def _row(runner: str, workers: int, per_s: int, per_cpu: int, rss: float, round_: int = 0) -> dict:
    return {"runner": runner, "workers": workers, "readings": 1000, "readings_per_s": per_s,
            "readings_per_cpu_s": per_cpu, "peak_rss_mb": rss, "peak_rss_mb_total": rss * workers, "round": round_}


def test_replay_summary_takes_medians_per_runner_and_same_run_ratios() -> None:
    rows = [_row("raw", 1, 100, 400, 80.0), _row("raw", 1, 120, 500, 90.0, 1), _row("raw", 1, 110, 450, 85.0, 2),
            _row("twin", 1, 70, 300, 130.0), _row("twin", 2, 90, 280, 110.0), _row("quix", 1, 30, 100, 120.0)]
    summary = _replay_summary(rows)
    assert summary["runners"]["raw"] == {"readings_per_s": 110, "readings_per_cpu_s": 450, "peak_rss_mb": 85.0,
                                         "peak_rss_mb_total": 85.0}
    assert summary["runners"]["twin_2w"]["peak_rss_mb_total"] == 220.0
    assert summary["ratios"] == {"twin_1w_vs_raw_per_s": round(70 / 110, 3), "twin_1w_vs_quix_per_cpu_s": 3.0,
                                 "twin_1w_vs_quix_per_s": round(70 / 30, 3), "twin_2w_vs_quix_per_cpu_s": 2.8,
                                 "twin_2w_vs_quix_per_s": 3.0}


@pytest.mark.integration
@pytest.mark.timeout(240)
def test_replay_runs_every_runner_on_a_tiny_load(stack_endpoints, capsys) -> None:  # noqa: ANN001
    from bench import ingest

    with_quix = quix_python(install=False) is not None
    argv = ["--only", "replay", "--replay", "4000", "--repeat", "1", "--workers", "1", "--json"]
    assert ingest.main(argv + ([] if with_quix else ["--no-quix"])) == 0
    printed = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    runners = printed["replay"]["runners"]
    assert set(runners) == {"raw", "twin_1w"} | ({"quix"} if with_quix else set())
    for name, figures in runners.items():
        assert set(figures) == FIELDS and all(figures[k] > 0 for k in FIELDS), (name, figures)
    assert all(r["readings"] == 4000 for r in printed["replay_results"])
    assert "twin_1w_vs_raw_per_s" in printed["replay"]["ratios"]
    if with_quix:
        assert "twin_1w_vs_quix_per_cpu_s" in printed["replay"]["ratios"]
    else:
        pytest.skip("ran without the Quix Streams peer: its venv (.omnitrack/cache/bench-quix-venv) is not built; "
                    "`omnitrack bench ingest` builds it from requirements-bench-quix.lock on first use")
