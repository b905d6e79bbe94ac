"""The calibration harness: its fit, NAB's probationary period, and one reference replayed on a tiny corpus."""

from __future__ import annotations

import json
import random
from pathlib import Path

import numpy as np
import pytest

from bench.nab_calibration import fit, probation, read_series, score_corpus
from bench.nab_corpora import Corpus
from bench.nab_reference import random_scores


def test_a_line_is_fitted_exactly_and_predicts_its_own_points() -> None:
    f = fit([10.0, 20.0, 40.0, 80.0], [5.0, 10.0, 20.0, 40.0])
    assert f["b"] == pytest.approx(0.5) and f["a"] == pytest.approx(0.0, abs=1e-9)
    assert f["pearson"] == pytest.approx(1.0) and f["spearman"] == pytest.approx(1.0)
    assert f["loo_rmse"] == pytest.approx(0.0, abs=1e-9)


def test_a_proxy_that_ranks_backwards_has_negative_rank_correlation_and_a_large_error() -> None:
    f = fit([1.0, 2.0, 3.0, 4.0, 5.0], [50.0, 40.0, 45.0, 20.0, 10.0])
    assert f["spearman"] == pytest.approx(-0.9)
    assert f["b"] < 0 and f["loo_rmse"] > 5


def test_tied_proxy_scores_share_their_rank() -> None:
    f = fit([14.3, 14.3, 20.0, 30.0], [16.4, 17.7, 35.7, 54.6])
    ranks_x, ranks_y = np.array([0.5, 0.5, 2.0, 3.0]), np.array([0.0, 1.0, 2.0, 3.0])
    assert f["spearman"] == pytest.approx(float(np.corrcoef(ranks_x, ranks_y)[0, 1]))
    assert f["spearman"] < 1.0  # an arbitrary order of the tie would have made it 1.0 or less, by chance


@pytest.mark.parametrize(("n", "expected"), [(100, 15), (1001, 150), (5000, 750), (22695, 750)])
def test_the_probationary_period_is_nabs(n: int, expected: int) -> None:
    assert probation(n) == expected


def test_the_random_reference_is_nabs_sequence_in_every_file(tmp_path: Path) -> None:
    rows = "timestamp,value\n" + "".join(f"2015-01-01 00:{m:02d}:00,{m % 7}\n" for m in range(60))
    for name in ("a.csv", "b.csv"):
        (tmp_path / name).write_text(rows)
    corpus = Corpus("tiny", tmp_path, {"a.csv": [], "b.csv": []})
    got = score_corpus("random_scores", corpus)
    random.seed(42)  # what NAB's RandomDetector.initialize() does before each file
    expected = [random.uniform(0, 1) for _ in range(60)]
    assert got["a.csv"] == expected and got["b.csv"] == expected
    _, ts, vs = read_series(tmp_path / "a.csv")
    assert ts[1] - ts[0] == 60.0 and vs[-1] == 59 % 7
    assert np.array_equal(random_scores.scores(vs, ts, 0.0, 6.0, 9), np.array(expected))


def test_our_detector_is_replayed_reading_by_reading_as_omnitrack_detect_does(tmp_path: Path) -> None:
    from omnitrack.detect import detect_csv

    rng = np.random.default_rng(3)
    values = np.r_[rng.normal(0, 1, 700), rng.normal(8, 1, 100)]
    (tmp_path / "s.csv").write_text("timestamp,value\n" + "".join(
        f"2015-01-{1 + i // 1440:02d} {(i // 60) % 24:02d}:{i % 60:02d}:00,{v:.4f}\n" for i, v in enumerate(values)))
    got = score_corpus("omnitrack", Corpus("one", tmp_path, {"s.csv": []}))["s.csv"]
    detect_csv(tmp_path / "s.csv", tmp_path / "out.csv")
    lines = (tmp_path / "out.csv").read_text().splitlines()[1:]
    assert [round(x, 6) for x in got] == [round(float(line.split(",")[2]), 6) for line in lines]
    assert max(got[700:]) > 0.5  # the shift is seen: the comparison is not of two empty score lists
    json.dumps(got)  # the cache stores them as JSON


def test_each_corpus_is_cached_under_a_key_that_names_its_seed(tmp_path: Path) -> None:
    from bench.nab_calibration import build_corpora

    keyed = build_corpora(tmp_path / "no-shared-series", 1, {"blind": [7, 8]}, tmp_path, {"blind"})
    keys = {name: key for name, (_, key) in keyed.items()}
    assert keys["blind"].startswith("blind-7-") and keys["blind8"].startswith("blind-8-")
    first, second = (set(c.windows) for c, _ in keyed.values())
    assert first == second  # the same series names, different readings: a cache keyed by name alone would mix them
    rel = sorted(first)[0]
    assert (keyed["blind"][0].data / rel).read_bytes() != (keyed["blind8"][0].data / rel).read_bytes()


def test_a_cached_score_is_reused_only_under_the_same_code(tmp_path: Path) -> None:
    """The cache once held our detector's scores under its name alone, so a round's new code was "scored" from the
    cache of the code before. Now an entry is found only under the digest of the code that made it."""
    from bench.nab_calibration import cached_scores, code_digest

    data = tmp_path / "data"
    data.mkdir()
    (data / "a.csv").write_text("timestamp,value\n" + "".join(f"2015-01-01 00:{m:02d}:00,{m % 7}\n" for m in range(60)))
    corpus, cache = Corpus("tiny", data, {"a.csv": []}), tmp_path / "cache"
    (cache / "tiny-1").mkdir(parents=True)
    (cache / "tiny-1" / "random_scores.json").write_text(json.dumps({"a.csv": [0.5] * 60}))  # keyed by name alone
    _, _, scores = cached_scores(("random_scores", corpus, "tiny-1", cache))
    assert scores["a.csv"] != [0.5] * 60  # not the stale entry
    entry = cache / "tiny-1" / f"random_scores-{code_digest('random_scores')}.json"
    assert json.loads(entry.read_text()) == scores
    entry.write_text(json.dumps({"a.csv": [0.25] * 60}))
    assert cached_scores(("random_scores", corpus, "tiny-1", cache))[2] == {"a.csv": [0.25] * 60}  # the same code: reused
    assert code_digest("omnitrack") != code_digest("random_scores") == code_digest("random_scores")
