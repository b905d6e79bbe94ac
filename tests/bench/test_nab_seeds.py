"""`omnitrack bench nab_seeds`: seed ranges of a generated corpus scored as one corpus, our scores cached by code."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bench.nab_corpora import Corpus, cache_key, mirrored
from bench.nab_seeds import main, seeds


def test_seeds_are_a_range_or_a_list() -> None:
    assert seeds("0-9") == list(range(10))
    assert seeds("11-11") == [11]
    assert seeds("7,9, 10") == [7, 9, 10]


def test_a_seed_group_is_scored_as_one_corpus_and_its_scores_are_reused_from_the_cache(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--field", "11", "--workers", "1", "--cache", str(tmp_path), "--json"]) == 0
    row = json.loads(capsys.readouterr().out.splitlines()[-1])["groups"]["field"]
    windows = json.loads((tmp_path / "field-11" / "windows.json").read_text())
    assert row["series"] == len(windows) and row["windows"] == sum(len(w) for w in windows.values())
    assert 0 < row["found"] <= row["windows"] and row["score"] > 0  # our detector, not an empty replay
    (cached,) = tmp_path.glob("field-11-*/omnitrack-*.json")  # under the corpus' name and a digest of its contents
    scores = json.loads(cached.read_text())
    cached.write_text(json.dumps({rel: [0.0] * len(s) for rel, s in scores.items()}))  # a detector that finds nothing
    assert main(["--field", "11", "--workers", "1", "--cache", str(tmp_path), "--json"]) == 0
    again = json.loads(capsys.readouterr().out.splitlines()[-1])["groups"]["field"]
    assert again["found"] == 0 and again["false_positives"] == 0  # read back from the cache, not scored again


def test_a_mirrored_corpus_is_the_same_series_upside_down(tmp_path: Path) -> None:
    data = tmp_path / "data"
    (data / "fam").mkdir(parents=True)
    (data / "fam" / "a.csv").write_text("timestamp,value\n2024-01-01 00:00:00,1.5\n2024-01-01 00:05:00,-2e-3\n"
                                        "2024-01-01 00:10:00,+7\n2024-01-01 00:15:00,\n2024-01-01 00:20:00,0\n")
    windows = {"fam/a.csv": [["2024-01-01 00:05:00", "2024-01-01 00:10:00"]]}
    corpus = Corpus("c", data, windows)
    flipped = mirrored(corpus, tmp_path / "root")
    assert flipped.name == "c-mirror" and flipped.windows == windows
    lines = (flipped.data / "fam" / "a.csv").read_text().splitlines()
    assert lines == ["timestamp,value", "2024-01-01 00:00:00,-1.5", "2024-01-01 00:05:00,2e-3",
                     "2024-01-01 00:10:00,-7", "2024-01-01 00:15:00,", "2024-01-01 00:20:00,-0"]
    assert json.loads((flipped.data / "windows.json").read_text()) == windows
    assert mirrored(corpus, tmp_path / "root").data == flipped.data  # written once
    (data / "fam" / "a.csv").write_text("timestamp,value\n2024-01-01 00:00:00,9\n")
    edited = mirrored(corpus, tmp_path / "root")  # an edited source is mirrored afresh, the first mirror kept
    assert (edited.data / "fam" / "a.csv").read_text().splitlines()[1] == "2024-01-01 00:00:00,-9"
    assert (flipped.data / "fam" / "a.csv").read_text().splitlines()[1] == "2024-01-01 00:00:00,-1.5"


def test_scores_are_cached_under_what_a_corpus_holds_not_only_its_name(tmp_path: Path) -> None:
    # keyed by name alone, `--data` pointed at another folder (or a mirrored or edited series) read back the scores
    # cached for the first one
    for name in ("one", "two"):
        (tmp_path / name).mkdir()
        (tmp_path / name / "a.csv").write_text("timestamp,value\n2024-01-01 00:00:00,1\n")
    windows: dict[str, list[list[str]]] = {"a.csv": []}
    one, two = Corpus("shared_tuning", tmp_path / "one", windows), Corpus("shared_tuning", tmp_path / "two", windows)
    assert cache_key("shared_tuning", one) == cache_key("shared_tuning", two)  # the same series: the same scores
    (tmp_path / "two" / "a.csv").write_text("timestamp,value\n2024-01-01 00:00:00,-1\n")
    assert cache_key("shared_tuning", one) != cache_key("shared_tuning", two)
    other_windows = Corpus("x", tmp_path / "one", {"a.csv": [["a", "b"]]})
    assert cache_key("shared_tuning", one) != cache_key("shared_tuning", other_windows)
    assert cache_key("shared_tuning", one).startswith("shared_tuning-")
