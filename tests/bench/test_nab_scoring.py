"""NAB's standard-profile rules in bench/nab_scoring.py: perfect = 100, silence = 0, early beats late, false
positives cost, one threshold for all series; and agreement with ../shared/tools/nab_score.py when present."""

import csv
import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

from bench.nab_scoring import PROFILES, best_score, losses, nab_optimiser_score, score_at, series_scores

STAMPS = [f"t{i:05d}" for i in range(1000)]
WINDOW = [("t00400", "t00499")]  # rows 400..499; rows 0..149 are the learning period


def scores_with(hits: dict[int, float]) -> list[float]:
    return [hits.get(i, 0.0) for i in range(len(STAMPS))]


def test_silence_scores_zero_and_a_detection_at_the_window_start_scores_100() -> None:
    assert best_score([series_scores(STAMPS, WINDOW, scores_with({}))]).score == 0.0
    assert best_score([series_scores(STAMPS, WINDOW, scores_with({400: 0.9}))]).score == 100.0


def test_an_early_detection_beats_a_late_one_and_a_false_positive_costs() -> None:
    early = best_score([series_scores(STAMPS, WINDOW, scores_with({420: 0.9}))]).score
    late = best_score([series_scores(STAMPS, WINDOW, scores_with({490: 0.9}))]).score
    with_fp = best_score([series_scores(STAMPS, WINDOW, scores_with({420: 0.9, 200: 0.9}))]).score
    assert 100.0 > early > late > 50.0
    assert early - with_fp == pytest.approx(100 * 0.11 / 2, abs=0.1)  # 0.11 over a range of 2 windows' worth


def test_nab_s_other_profiles_charge_false_positives_or_misses_more() -> None:
    """NAB's config/profiles.json: "reward low FP" charges a false positive 0.22, "reward low FN" a miss 2.0,
    each normalised between its own silent (0) and perfect (100) detector."""
    found_with_fp = [series_scores(STAMPS, WINDOW, scores_with({400: 0.9, 200: 0.9}))]
    low_fp, low_fn = PROFILES["reward_low_fp_rate"], PROFILES["reward_low_fn_rate"]
    assert score_at(found_with_fp, 0.5).score == pytest.approx(100 * (2 - 0.11) / 2, abs=0.05)
    assert score_at(found_with_fp, 0.5, low_fp).score == pytest.approx(100 * (2 - 0.22) / 2, abs=0.05)
    assert score_at(found_with_fp, 0.5, low_fn).score == pytest.approx(100 * (3 - 0.11) / 3, abs=0.05)
    two = [series_scores(STAMPS, WINDOW, scores_with({400: 0.9})), series_scores(STAMPS, WINDOW, scores_with({}))]
    assert score_at(two, 0.5).score == score_at(two, 0.5, low_fp).score == 50.0  # no false positive to charge
    assert score_at(two, 0.5, low_fn).score == pytest.approx(50.0)  # (1 - 2 + 4) / 6: a miss weighs on both ends
    assert best_score(found_with_fp, low_fp).score == score_at(found_with_fp, 0.5, low_fp).score


def test_readings_in_the_learning_period_are_not_scored() -> None:
    assert best_score([series_scores(STAMPS, WINDOW, scores_with({100: 0.9, 400: 0.9}))]).score == 100.0


def test_one_threshold_serves_every_series() -> None:
    a = series_scores(STAMPS, WINDOW, scores_with({400: 0.9}))
    b = series_scores(STAMPS, WINDOW, scores_with({400: 0.5, 300: 0.8}))  # its FP outranks its detection
    result = best_score([a, b])
    # 0.5 catches both windows at the price of b's false positive (2 - 0.11): better than 0.9 (1 - 1)
    assert result.threshold == pytest.approx(0.5) and result.score == pytest.approx(100 * (2 - 0.11 + 2) / 4, abs=0.05)


def test_nab_optimiser_climbs_from_one_half_and_can_be_stuck_there() -> None:
    """NAB's `run.py --optimize` hill-climbs from 0.5: it finds an early detection scored 0.2 when a late one at
    0.45 makes the way down a gain, and never finds it behind a flat stretch (nothing between 0.4 and 0.6)."""
    reachable = [series_scores(STAMPS, WINDOW, scores_with({400: 0.2, 490: 0.45}))]
    assert nab_optimiser_score(reachable).score == best_score(reachable).score == 100.0
    assert 0.0 < nab_optimiser_score(reachable).threshold <= 0.2
    hidden = [series_scores(STAMPS, WINDOW, scores_with({400: 0.2}))]
    assert best_score(hidden).score == 100.0
    assert nab_optimiser_score(hidden).score == 0.0 and nab_optimiser_score(hidden).threshold == 0.5


def test_a_window_bound_that_is_not_a_timestamp_is_refused() -> None:
    with pytest.raises(ValueError, match="t99999"):
        series_scores(STAMPS, [("t00400", "t99999")], scores_with({}))


SHARED_SCORER = Path(__file__).resolve().parents[2] / ".." / "shared" / "tools" / "nab_score.py"


@pytest.mark.skipif(not SHARED_SCORER.exists(), reason="shared NAB scorer absent")
def test_agrees_with_the_shared_approximate_scorer(tmp_path: Path) -> None:
    from bench.nab_synthetic import write_corpus
    from omnitrack.detect import detect_path
    from twin.detectors import default_detector

    data = tmp_path / "data"
    windows = json.loads(write_corpus(data).read_text())
    detect_path(data, tmp_path / "out", default_detector)
    proc = subprocess.run([sys.executable, str(SHARED_SCORER), str(data / "windows.json"), str(data),
                           str(tmp_path / "out")], capture_output=True, text=True, check=True)
    theirs = re.search(r"threshold (\S+)\s+approximate NAB standard score (\S+)", proc.stdout)
    series = []
    for rel, wins in windows.items():
        stamps = [r["timestamp"] for r in csv.DictReader((data / rel).open())]
        scores = [float(r["anomaly_score"]) for r in csv.DictReader((tmp_path / "out" / rel).open())]
        series.append(series_scores(stamps, [tuple(w) for w in wins], scores))
    ours = best_score(series)
    assert (ours.score, ours.threshold) == (float(theirs.group(2)), float(theirs.group(1)))


def test_a_pool_gets_one_threshold_and_the_held_out_series_are_scored_at_it() -> None:
    """NAB scores its whole corpus at one threshold: the pool's raw scores are summed and normalised by all its
    windows, and the held-out series are scored at the threshold the pool chose without them."""
    from bench.nab_corpora import pooled
    from bench.nab_scoring import score_at

    found_high = series_scores(STAMPS, WINDOW, scores_with({400: 0.9, 200: 0.3}))  # its FP needs 0.3 too
    found_low = series_scores(STAMPS, WINDOW, scores_with({400: 0.3}))
    held = series_scores(STAMPS, WINDOW, scores_with({400: 0.5}))
    blind = series_scores(STAMPS, WINDOW, scores_with({400: 0.2}))  # below what the pool chose: missed
    reported = {"heldout": [held], "blind": [blind], "absent": []}
    result = pooled([found_high, found_low], reported, {"high": [found_high], "low": [found_low]})
    assert result["threshold"] == pytest.approx(0.3)
    assert result["score"] == pytest.approx(100 * (2 - 0.11 + 2) / 4, abs=0.05)  # one sum over the pool
    assert result["heldout_at_pool_threshold"]["best"] == 100.0
    assert result["blind_at_pool_threshold"] == {"best": 0.0, "nab_optimiser": 0.0, "series": 1}
    assert "absent_at_pool_threshold" not in result  # a corpus not replayed is not reported as a score
    assert score_at([held], 0.6).score == 0.0
    # the optimiser climbs from 0.5 over a flat stretch and stays there: both members are scored at 0.5
    assert result["nab_optimiser"]["threshold"] == 0.5
    assert result["members_at_pool_threshold"] == {"high": 100.0, "low": 0.0}


def test_losses_say_where_the_points_go_and_add_up_to_the_score() -> None:
    """Windows found and missed, the lateness of those found, the false positives and their charge, at one
    threshold: TP x (found - lateness) - FN x missed - FP cost is the raw score the normalised one comes from."""
    window2 = [("t00400", "t00499"), ("t00700", "t00799")]
    series = [series_scores(STAMPS, window2, scores_with({450: 0.6, 200: 0.9, 300: 0.4, 820: 0.7})),
              series_scores(STAMPS, WINDOW, scores_with({400: 0.8}))]
    lost = losses(series, 0.5)
    assert (lost.windows, lost.found, lost.missed, lost.false_positives) == (3, 2, 1, 2)
    assert 0.1 < lost.lateness < 0.3  # a detection mid-window (~0.85 of the credit) and one at the start (1.0)
    # the FP at 200 comes before any window (full charge), the one at 820 just after a window (less)
    assert 0.11 < lost.false_positive_cost < 0.22
    raw = (lost.found - lost.lateness) - lost.missed - lost.false_positive_cost
    assert score_at(series, 0.5).score == pytest.approx(100 * (raw + 3) / 6, abs=0.05)
    low_fp = losses(series, 0.5, PROFILES["reward_low_fp_rate"])
    assert low_fp.false_positive_cost == pytest.approx(2 * lost.false_positive_cost)
    assert losses(series, 0.35).false_positives == 3 and losses(series, 0.95).found == 0
