"""Our detector over many seeds of the generated corpora, each kind scored as one corpus (`omnitrack bench nab_seeds`).

WHY: one seed of a generated corpus moves a detector's score by a point or two, as much as most changes a detection
round measures, so the rounds (docs/detection-rounds.md) read seed ranges as one corpus each, at one threshold, as
NAB scores its 58 files: they choose on synthetic seeds 0-9, field seeds 11-15 and the shared tuning half, confirm
on synthetic seeds 10-19 and field seeds 16-20 (never chosen on), and only report blind seeds 7-10 and the shared
held-out half. `bench nab` scores one seed of each and every detector; this scores many seeds and only ours, at the
threshold NAB's optimiser climbs to (with the windows found and the false positives there) and at fixed thresholds.

Usage: omnitrack bench nab_seeds [--synthetic 0-9] [--field 11-15] [--blind 7-10] [--shared] [--cache DIR] [--mirror]
                                 [--workers N] [--json]
A seed range is `A-B` or a comma list. With --cache, the generated corpora and our scores are kept there, the scores
as `bench nab_calibration` keeps them (`cached_scores`: under a digest of the detector's code, so a changed detector
is scored afresh). --mirror scores every series upside down (`bench.nab_corpora.mirrored`): what a detector's figures
owe to which way up the series are stored (docs/detection-rounds.md, twenty-fourth round).
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
import tempfile
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

from bench.nab_calibration import GENERATED, SHARED, cached_scores, code_digest
from bench.nab_corpora import Corpus, cache_key, mirrored, shared_corpora, weigh
from bench.nab_scoring import SeriesScores, losses, nab_optimiser_score, score_at

__all__ = ["FIXED", "KINDS", "main", "seeds", "summary"]

KINDS = {"synthetic": "bench.nab_synthetic", **GENERATED}
"""Generated corpora by kind: each module's `write_corpus(folder, seed)`."""

FIXED = (0.1, 0.15, 0.2, 0.3, 0.5, 0.75)
"""Fixed thresholds each group is also scored at: where NAB's one threshold lands on its whole corpus is unknown."""


def seeds(text: str) -> list[int]:
    """`A-B` (both included) or `A,B,C` as a list of seeds."""
    if "-" in text:
        first, _, last = text.partition("-")
        return list(range(int(first), int(last) + 1))
    return [int(s) for s in text.split(",") if s.strip()]


def _corpus(kind: str, seed: int, root: Path) -> Corpus:
    """The corpus of `kind` and `seed`, written under root (once: a folder with its windows.json is reused)."""
    folder = root / f"{kind}-{seed}"
    windows = folder / "windows.json"
    if not windows.exists():
        importlib.import_module(KINDS[kind]).write_corpus(folder, seed)
    return Corpus(f"{kind}-{seed}", folder, json.loads(windows.read_text()))


def summary(series: list[SeriesScores]) -> dict[str, object]:
    """One group scored as one corpus: NAB's optimiser score and threshold, the windows found and false positives
    there, and the score at each of `FIXED`."""
    best = nab_optimiser_score(series)
    there = losses(series, best.threshold)
    return {"score": round(best.score, 1), "threshold": round(best.threshold, 4), "series": len(series),
            "windows": there.windows, "found": there.found, "false_positives": there.false_positives,
            "fixed": {str(t): round(score_at(series, t).score, 1) for t in FIXED}}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="omnitrack bench nab_seeds", description=__doc__.splitlines()[0])
    for kind in KINDS:
        ap.add_argument(f"--{kind}", help=f"{kind} seeds: A-B or A,B,C (default: none)")
    ap.add_argument("--shared", action="store_true", help="also the shared series' tuning and held-out halves")
    ap.add_argument("--data", type=Path, default=SHARED / "data" / "nab", help="folder of the shared NAB series")
    ap.add_argument("--cache", type=Path, help="keep the corpora and our scores here and reuse them")
    ap.add_argument("--mirror", action="store_true",
                    help="every series upside down (values negated; corpora named `<name>-mirror`)")
    ap.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    ap.add_argument("--json", action="store_true", help="print one JSON object last")
    args = ap.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="nabseeds-") as tmp:
        root = args.cache or Path(tmp)
        groups: dict[str, list[Corpus]] = {}
        for kind in KINDS:
            text = getattr(args, kind)
            if text:
                groups[kind] = [_corpus(kind, seed, root) for seed in seeds(text)]
        if args.shared:
            halves = shared_corpora(args.data, args.data / "windows.json")
            groups.update({name: [halves[name]] for name in ("shared_tuning", "shared_heldout")})
        if not groups:
            ap.error("name at least one group: --synthetic, --blind, --field or --shared")
        if args.mirror:
            groups = {name: [mirrored(c, root) for c in cs] for name, cs in groups.items()}
        jobs = [("omnitrack", c, cache_key(c.name, c), args.cache) for cs in groups.values() for c in cs]
        with ProcessPoolExecutor(max_workers=max(1, args.workers)) as pool:
            scored = {name: scores for _, name, scores in pool.map(cached_scores, jobs)}
        table = {name: summary([s for c in cs for s in weigh(c, scored[c.name])]) for name, cs in groups.items()}
    fixed_at = " / ".join(map(str, FIXED))
    print(f"{'group':16s}{'series':>7s}{'NAB optimiser':>22s}{'found':>10s}{'FP':>6s}   at {fixed_at}")
    for name, row in table.items():
        fixed = " / ".join(f"{v:.1f}" for v in row["fixed"].values())  # type: ignore[attr-defined]
        print(f"{name:16s}{row['series']:>7d}{row['score']:>13.1f} @ {row['threshold']:<6.4f}"
              f"{row['found']:>5d}/{row['windows']:<4d}{row['false_positives']:>6d}   {fixed}")
    if args.json:
        print(json.dumps({"benchmark": "nab_seeds", "detector_code": code_digest("omnitrack"), "groups": table}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
