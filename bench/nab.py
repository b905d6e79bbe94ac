"""Score OmniTrack's detector, its predecessor and NAB's windowed-Gaussian baseline on three corpora, in one run.

WHY: a detector tuned on the few NAB series we have can look good there and fail on series it has never seen.
One repeatable command therefore reports, for each detector, the approximate NAB standard-profile score on
  synthetic       a seeded synthetic corpus with exact labels (bench/nab_synthetic.py), where tuning belongs,
  shared_tuning   the half of the shared NAB series parameters may be chosen on,
  shared_heldout  the other half, never tuned on: the number that says whether detection holds,
  blind           a corpus written independently of the detectors and of the synthetic generator
                  (bench/nab_blind.py): realistic telemetry and incidents, report-only like the held-out half,
  field           a second author's supply-chain and IT telemetry (bench/nab_field.py: reefers, conveyors, trucks,
                  ports, energy, inventory, gateways), written apart from the detectors and both generators: our
                  users' kind of stream, which choices may be made on,
each corpus scored on its own with its own best threshold; then synthetic + shared_tuning POOLED as one corpus
at one threshold (as NAB scores its whole corpus), and the held-out half and the blind corpus at the threshold
the pool chose without them; plus the replay speed of each detector measured in the same run (one process, its
CPU time: points/s per core, robust to a busy machine). The baseline tells whether a score is any good at all.

Usage: python bench/nab.py [--json] [--only NAME[,NAME]] [--corpus NAME[,NAME]] [--per-family]
                           [--synthetic-dir DIR] [--seed N] [--blind-seed N] [--field-seed N] [--data DIR]
                           [--windows FILE]
                           [--scorer FILE]
The shared NAB series default to ../shared/data/nab beside the repo folder (left out, with a note, when absent);
scoring is bench/nab_scoring.py in process unless --scorer names an external nab_score.py.
With --json the last line is one JSON object; `score`, `threshold`, `series`, `points_per_s` at its top level
are the omnitrack detector's on all shared series together (the figures docs/BENCHMARKS.md has quoted).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import tempfile
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timezone
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from bench.nab_scoring import PROFILES, STANDARD  # noqa: E402
from bench.nab_corpora import (  # noqa: E402
    CURVE_THRESHOLDS, POOL, SHARED_SPLIT, Corpus, by_family, corpus_series, pooled, replay, score, shared_corpora,
)
from bench.nab_blind import DEFAULT_SEED as BLIND_SEED  # noqa: E402
from bench.nab_blind import write_corpus as write_blind  # noqa: E402
from bench.nab_field import DEFAULT_SEED as FIELD_SEED  # noqa: E402
from bench.nab_field import write_corpus as write_field  # noqa: E402
from bench.nab_synthetic import write_corpus  # noqa: E402
from twin.detectors.base import Detector  # noqa: E402

SHARED = REPO.parent / "shared"
CORPORA = ("synthetic", "shared_tuning", "shared_heldout", "blind", "field")
# Corpora only ever reported, each also scored at the threshold the pool chose without it.
REPORTED = ("shared_heldout", "blind")
# Detector all speed ratios are expressed against: the cheapest sensible detector, so "x0.4" reads as a cost.
SPEED_REFERENCE = "windowed_gaussian"


def detector_factories() -> dict[str, Callable[[], Detector]]:
    """The detectors compared, by report name: change entries here (and only here)."""
    from twin.detectors import default_detector
    from twin.detectors.composite import CompositeDetector
    from twin.detectors.gaussian import WindowedGaussian

    return {
        "omnitrack": default_detector,  # what the engine and `omnitrack detect` run
        "previous": CompositeDetector,  # the detector before the rewrite, kept for comparison
        "windowed_gaussian": WindowedGaussian,  # NAB's published baseline
    }


def _names(ap: argparse.ArgumentParser, text: str | None, known: list[str], what: str) -> list[str]:
    if not text:
        return known
    names = [n.strip() for n in text.split(",") if n.strip()]
    unknown = [n for n in names if n not in known]
    if unknown:
        ap.error(f"unknown {what} {', '.join(unknown)}; known: {', '.join(known)}")
    return names


def _lost(x: dict) -> str:
    """One corpus' losses as a table cell: found/windows -lateness nFP -cost."""
    return f"{x['found']}/{x['windows']} -{x['lateness']:.1f} {x['false_positives']}FP -{x['false_positive_cost']:.1f}"


def _curve(scores: dict[str, float]) -> str:
    """One corpus' scores at the fixed thresholds as a table cell: a/b/c/d/e (a detector that alarms on every
    reading reaches minus thousands: shown as <-100)."""
    return "/".join(f"{v:.1f}" if v > -100 else "<-100" for v in scores.values())


def _cells(results: dict, columns: list[str], key: str, cell: Callable[[dict], str], width: int) -> list[str]:
    """A table of one entry (`key`) of every detector's corpora, each drawn by `cell` ('-' where a corpus lacks it)."""
    lines = [f"{'detector':<18}" + "".join(f"{c:>{width}}" for c in columns)]
    for name, r in results.items():
        entries = [r["corpora"].get(c, {}).get(key) for c in columns]
        lines.append(f"{name:<18}" + "".join(f"{cell(x) if x else '-':>{width}}" for x in entries))
    return lines


def _table(results: dict, columns: list[str], speed: bool) -> list[str]:
    head = f"{'detector':<18}" + "".join(f"{c:>20}" for c in columns)
    head += f"{'points/s':>12}{'vs ' + SPEED_REFERENCE:>24}" if speed else ""
    lines = [head]
    ref = results.get(SPEED_REFERENCE, {}).get("points_per_s")
    for name, r in results.items():
        cells = [r["cells"].get(c) for c in columns]
        line = f"{name:<18}" + "".join(
            f"{c['score']:>11.1f} @ {c['threshold']:<6.4g}" if c else f"{'-':>20}" for c in cells)
        if speed:
            line += f"{r['points_per_s']:>12,}" + (f"{'x%.2f' % (r['points_per_s'] / ref):>24}" if ref else "")
        lines.append(line)
    return lines


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", type=Path, default=SHARED / "data" / "nab", help="folder of NAB CSVs")
    ap.add_argument("--windows", type=Path, default=None, help="windows.json (default: DATA/windows.json)")
    ap.add_argument("--scorer", type=Path, default=None,
                    help="an external nab_score.py (e.g. ../shared/tools/nab_score.py); default: bench/nab_scoring.py")
    ap.add_argument("--json", action="store_true", help="print one JSON object last")
    ap.add_argument("--only", help="comma-separated detectors to run (default: all)")
    ap.add_argument("--corpus", help=f"comma-separated corpora (default: {','.join(CORPORA)})")
    ap.add_argument("--per-family", action="store_true", help="also score the synthetic corpus per anomaly family")
    ap.add_argument("--synthetic-dir", type=Path, help="write (and keep) the synthetic corpus here")
    ap.add_argument("--seed", type=int, default=20261204, help="synthetic corpus seed")
    ap.add_argument("--blind-seed", type=int, default=BLIND_SEED, help="blind corpus seed (report-only)")
    ap.add_argument("--field-seed", type=int, default=FIELD_SEED, help="field corpus seed")
    args = ap.parse_args(argv)
    factories = detector_factories()
    names = _names(ap, args.only, list(factories), "detector")
    corpora_names = _names(ap, args.corpus, list(CORPORA), "corpus")
    windows = args.windows or args.data / "windows.json"

    with tempfile.TemporaryDirectory(prefix="nab-") as tmp_name:
        tmp = Path(tmp_name)
        shared = shared_corpora(args.data, windows) if windows.exists() else {}
        if not shared and any(c in SHARED_SPLIT for c in corpora_names):
            print(f"bench nab: no NAB series at {args.data}: scoring the synthetic corpus only", file=sys.stderr)
        corpora: dict[str, Corpus] = {c: shared[c] for c in corpora_names if c in shared}
        if shared and all(c in corpora_names for c in SHARED_SPLIT):
            corpora["shared_all"] = shared["shared_all"]  # same replays, scored together: the docs' figure
        synthetic_info = None
        if "synthetic" in corpora_names:
            folder = args.synthetic_dir or tmp / "synthetic"
            t0 = time.perf_counter()
            syn_windows = json.loads(write_corpus(folder, args.seed).read_text())
            corpora = {"synthetic": Corpus("synthetic", folder, syn_windows), **corpora}
            synthetic_info = {"seed": args.seed, "folder": str(folder) if args.synthetic_dir else None,
                              "series": len(syn_windows), "seconds": round(time.perf_counter() - t0, 3)}
        if "blind" in corpora_names:
            folder = tmp / "blind"
            corpora["blind"] = Corpus("blind", folder, json.loads(write_blind(folder, args.blind_seed).read_text()))
        if "field" in corpora_names:
            folder = tmp / "field"
            corpora["field"] = Corpus("field", folder, json.loads(write_field(folder, args.field_seed).read_text()))
        families = by_family(corpora["synthetic"]) if args.per_family and "synthetic" in corpora else {}
        roots = {d: f"data{i}" for i, d in enumerate(dict.fromkeys(c.data for c in corpora.values()))}

        # Replay first, one detector at a time, so the timings never share the CPU with the scorers.
        results: dict[str, dict] = {}
        for name in names:
            done: set[Path] = set()
            points, seconds = 0, 0.0
            for corpus in corpora.values():
                p, s = replay(corpus, tmp / name / roots[corpus.data], factories[name], done)
                points, seconds = points + p, seconds + s
                if corpus.name == "synthetic" and synthetic_info:
                    synthetic_info["points"] = p
            rate = round(points / seconds) if seconds > 0 else 0
            results[name] = {"points": points, "seconds": round(seconds, 3), "points_per_s": rate}

        jobs = [(name, kind, c) for name in names for kind, group in (("corpora", corpora), ("families", families))
                for c in group.values()]
        with ThreadPoolExecutor(max_workers=os.cpu_count() or 1) as pool:
            scored = pool.map(lambda j: score(args.scorer, j[2], tmp / j[0] / roots[j[2].data],
                                              tmp / "windows" / j[0] / j[1]), jobs)
            for (name, kind, c), s in zip(jobs, scored):
                results[name].setdefault(kind, {})[c.name] = s
            pool_names = [c for c in POOL if c in corpora]
            if len(pool_names) > 1:  # NAB's one threshold for series of every kind: the pool scored as one corpus

                def pool_job(name: str) -> dict:
                    out = tmp / name
                    members = {c: corpus_series(corpora[c], out / roots[corpora[c].data]) for c in pool_names}
                    rest = {c.removeprefix("shared_"): corpus_series(corpora[c], out / roots[corpora[c].data])
                            for c in REPORTED if c in corpora}
                    return {"corpora": pool_names, **pooled([s for m in members.values() for s in m], rest, members)}

                for name, p in zip(names, pool.map(pool_job, names)):
                    results[name]["pooled"] = p

    ref = results.get(SPEED_REFERENCE, {}).get("points_per_s")
    for r in results.values():
        r.setdefault("corpora", {})
        r["cells"] = dict(r["corpora"], **r.get("families", {}))
        if ref:
            r["speed_vs_" + SPEED_REFERENCE] = round(r["points_per_s"] / ref, 3)
    print("Approximate NAB standard profile (score @ best threshold, per corpus); replay speed over all corpora "
          "in one process (CPU time: per core)")
    print("\n".join(_table(results, list(corpora), speed=True)))
    if any("nab_optimiser" in c for r in results.values() for c in r["corpora"].values()):
        print("\nThe same outputs at the threshold NAB's own `run.py --optimize` would pick (its hill climb from "
              "0.5, nab/optimizer.py): what the whole-corpus scoring outside the repository sees")
        twiddled = {n: {"cells": {k: c["nab_optimiser"] for k, c in r["corpora"].items() if "nab_optimiser" in c}}
                    for n, r in results.items()}
        print("\n".join(_table(twiddled, list(corpora), speed=False)))
    if any("profiles" in c for r in results.values() for c in r["corpora"].values()):
        print("\nNAB's other two profiles, each at the threshold its own optimiser climb reaches (reward low FP: a "
              "false positive costs 0.22; reward low FN: a miss costs 2.0)")
        for profile in (name for name, weights in PROFILES.items() if weights != STANDARD):
            other = {n: {"cells": {k: c["profiles"][profile] for k, c in r["corpora"].items() if "profiles" in c}}
                     for n, r in results.items()}
            print(f"{profile}:")
            print("\n".join(_table(other, list(corpora), speed=False)))
    if any("curve" in c for r in results.values() for c in r["corpora"].values()):
        print(f"\nThe same outputs at fixed thresholds ({' / '.join(map(str, CURVE_THRESHOLDS))}): where NAB's one "
              "threshold lands on series we cannot see is unknown, so a score should hold above the optimum too")
        print("\n".join(_cells(results, list(corpora), "curve", _curve, 32)))
    if any("losses" in c for r in results.values() for c in r["corpora"].values()):
        print("\nWhere the points go at that threshold (NAB standard weights): windows found of all, the lateness of "
              "those found (credit short of a detection at the window's start), false positives (their cost)")
        print("\n".join(_cells(results, list(corpora), "losses", _lost, 28)))
    if any("pooled" in r for r in results.values()):
        pool_names = next(r["pooled"]["corpora"] for r in results.values() if "pooled" in r)
        print(f"\nPooled: {' + '.join(pool_names)} scored as ONE corpus at ONE threshold (as NAB scores its whole "
              "corpus); the held-out half and the blind corpus at the threshold the pool chose without them")
        print(f"{'detector':<18}{'pool, best':>20}{'pool, NAB optimiser':>24}{'held-out @ best':>18}"
              f"{'held-out @ optimiser':>22}{'blind @ best':>14}{'blind @ optimiser':>19}   members @ optimiser")
        for name, r in results.items():
            p = r.get("pooled")
            if p:
                h = p.get("heldout_at_pool_threshold", {})
                b = p.get("blind_at_pool_threshold", {})
                print(f"{name:<18}{p['score']:>11.1f} @ {p['threshold']:<6.4g}"
                      f"{p['nab_optimiser']['score']:>15.1f} @ {p['nab_optimiser']['threshold']:<6.4g}"
                      f"{h.get('best', float('nan')):>18.1f}{h.get('nab_optimiser', float('nan')):>22.1f}"
                      f"{b.get('best', float('nan')):>14.1f}{b.get('nab_optimiser', float('nan')):>19.1f}   "
                      + ", ".join(f"{k} {v:.1f}" for k, v in p["members_at_pool_threshold"].items()))
    if families:
        print("\nSynthetic corpus per anomaly family (each with its own best threshold: optimistic; "
              "'none' has no window to score, its false positives count in 'synthetic'):")
        print("\n".join(_table(results, list(families), speed=False)))
    print(f"\nsplit: tuning = {', '.join(SHARED_SPLIT['shared_tuning'])}")
    print(f"       heldout = {', '.join(SHARED_SPLIT['shared_heldout'])}")
    if "blind" in corpora_names:
        print(f"blind: seed {args.blind_seed} (bench/nab_blind.py, report-only: never tuned on)")
    if "field" in corpora_names:
        print(f"field: seed {args.field_seed} (bench/nab_field.py, a second author's supply-chain telemetry)")
    if synthetic_info:
        print(f"synthetic: seed {args.seed}, {synthetic_info['series']} series, generated in "
              f"{synthetic_info['seconds']:.2f} s" + (f", kept in {args.synthetic_dir}" if args.synthetic_dir else ""))
    if args.json:
        top = results.get("omnitrack", {})
        whole = top.get("corpora", {}).get("shared_all", {})
        print(json.dumps({
            "detectors": {n: {k: v for k, v in r.items() if k != "cells"} for n, r in results.items()},
            "split": {**{k: list(v) for k, v in SHARED_SPLIT.items()},
                      "rule": "parameters may be chosen on shared_tuning only; shared_heldout is only reported"},
            "synthetic": synthetic_info,
            "blind": {"seed": args.blind_seed, "rule": "report-only: nothing may be tuned on it"}
            if "blind" in corpora_names else None,
            "field": {"seed": args.field_seed, "rule": "written apart from the detectors; choices may be made on it"}
            if "field" in corpora_names else None,
            "date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
            "machine": f"{platform.platform()}; {platform.processor() or platform.machine()}; "
                       f"{os.cpu_count()} cpus; python {platform.python_version()}",
            "score": whole.get("score"), "threshold": whole.get("threshold"), "series": whole.get("series"),
            "points_per_s": top.get("points_per_s"),
        }))
    return 0


if __name__ == "__main__":
    sys.exit(main())
