"""How well each proxy corpus ranks detectors as NAB's whole corpus does, and what it predicts for ours.

WHY: the whole NAB corpus is scored outside this repository, so each detection round is judged on proxies (the
synthetic corpus, the shared series' halves, the blind corpus). NAB publishes the whole-corpus score of several
detectors; rebuilt here (`bench/nab_reference/`) and replayed on the proxies, they show which proxy agrees with NAB
(rank and linear correlation across detectors) and map a proxy score to a predicted NAB score, with the error a
leave-one-out fit makes on the references themselves. Our previous detector, scored outside on 2026-12-03 (35.7),
is a check of the map that no fit has seen: it is predicted, never fitted.

Usage: python bench/nab_calibration.py [--json] [--only NAME[,NAME]] [--corpus NAME[,NAME]] [--seed N]
                                       [--blind-seed N[,N]] [--field-seed N[,N]] [--data DIR] [--cache DIR]
                                       [--workers N]
The blind and field corpora are generated (each by an author who read neither the detectors nor the other's
corpus). With several seeds, each seed's corpus is a column ("blind" is the first seed's) and "blind_all" scores all
of them as one corpus at one threshold, as NAB scores its 58 files: the steadiest proxy of the lot.
Every detector is scored at the threshold NAB's optimiser reaches on each corpus (its hill climb), as the
scoreboard's figures were. With --cache, each detector's scores per corpus are kept there and reused (the slow
references take minutes), under a digest of the detector's code (`code_digest`): a changed detector is scored
afresh. (Until 2026-12-07 the key was the name alone, and a round's new code was once "scored" from the cache.)
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import importlib
import json
import os
import sys
import tempfile
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from bench.nab_corpora import POOL, Corpus, cache_key, shared_corpora, weigh  # noqa: E402
from bench.nab_scoring import (  # noqa: E402
    nab_optimiser_score,
    probation,
    score_at,
)
from bench.nab_synthetic import write_corpus  # noqa: E402
from omnitrack.detect import parse_timestamp  # noqa: E402

SHARED = REPO.parent / "shared"
# Reference modules in bench/nab_reference/ (each NAME, PUBLISHED, scores()); one missing is skipped with a note.
REFERENCES = ("random_scores", "bayes_changepoint", "expose", "skyline", "windowed_gaussian", "relative_entropy",
              "knn_cad", "cad_ose")
# Our detectors, predicted from the fit and never fitted: (factory path, NAB score measured outside or None).
OURS: dict[str, tuple[str, float | None]] = {
    "omnitrack": ("twin.detectors:default_detector", None),
    "previous": ("twin.detectors.composite:CompositeDetector", 35.7),  # NAB's scorer, whole corpus, 2026-12-03
}
COLUMNS = ("synthetic", "shared_tuning", "shared_heldout", "blind", "field", "pool")
# Corpora generated apart from the detectors, by module: each takes --<name>-seed, one or several.
GENERATED = {"blind": "bench.nab_blind", "field": "bench.nab_field"}


def read_series(path: Path) -> tuple[list[str], np.ndarray, np.ndarray]:
    """(timestamp texts, seconds since the epoch, values) of one NAB-format CSV."""
    with path.open(newline="") as f:
        rows = [(r["timestamp"], r["value"]) for r in csv.DictReader(f)]
    stamps = [t for t, _ in rows]
    return stamps, np.array([parse_timestamp(t) for t in stamps]), np.array([float(v) for _, v in rows])


def code_digest(detector: str) -> str:
    """12 hex digits of the code a detector's scores come from: the package `twin/detectors` for ours, its module in
    `bench/nab_reference` for a reference (with the package's `__init__`). A cache entry is reused only under the
    same digest."""
    if detector in OURS:
        files = sorted((REPO / "twin" / "detectors").rglob("*.py"))
    else:
        files = [REPO / "bench" / "nab_reference" / "__init__.py", REPO / "bench" / "nab_reference" / f"{detector}.py"]
    digest = hashlib.blake2b(digest_size=6)
    for path in files:
        digest.update(path.relative_to(REPO).as_posix().encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()


def _load(spec: str) -> Callable[[], object]:
    module, _, attr = spec.partition(":")
    return getattr(importlib.import_module(module), attr)


def score_corpus(detector: str, corpus: Corpus) -> dict[str, list[float]]:
    """One detector's scores for every series of a corpus: a reference's batch `scores()`, or one of our streaming
    detectors fed reading by reading (as `omnitrack detect` does)."""
    out: dict[str, list[float]] = {}
    for rel in corpus.windows:
        _, ts, vs = read_series(corpus.data / rel)
        if detector in OURS:
            update = _load(OURS[detector][0])().update
            out[rel] = [update(t, v) for t, v in zip(ts.tolist(), vs.tolist(), strict=True)]
        else:
            mod = importlib.import_module(f"bench.nab_reference.{detector}")
            s = mod.scores(vs, ts, float(vs.min()), float(vs.max()), probation(len(vs)))
            if len(s) != len(vs):
                raise ValueError(f"{detector} gave {len(s)} scores for {len(vs)} readings of {rel}")
            out[rel] = [float(x) for x in s]
    return out


def fit(xs: list[float], ys: list[float]) -> dict[str, float]:
    """Least squares y = a + b x, Pearson r, Spearman rho and the leave-one-out prediction error (RMSE)."""
    x, y = np.array(xs, dtype=float), np.array(ys, dtype=float)
    b, a = np.polyfit(x, y, 1)
    loo = []
    for i in range(len(x)):
        keep = np.arange(len(x)) != i
        bi, ai = np.polyfit(x[keep], y[keep], 1)
        loo.append(y[i] - (ai + bi * x[i]))
    return {"a": float(a), "b": float(b), "pearson": float(np.corrcoef(x, y)[0, 1]),
            "spearman": float(np.corrcoef(_ranks(x), _ranks(y))[0, 1]),
            "loo_rmse": float(np.sqrt(np.mean(np.square(loo))))}


def _ranks(v: np.ndarray) -> np.ndarray:
    """Ranks from 0, tied values sharing their mean rank (two detectors can score the same on a corpus)."""
    r = np.empty(len(v))
    r[np.argsort(v, kind="stable")] = np.arange(len(v), dtype=float)
    for x in np.unique(v):
        r[v == x] = r[v == x].mean()
    return r


def build_corpora(data: Path, seed: int, generated: dict[str, list[int]], tmp: Path,
                  names: set[str] | None = None) -> dict[str, tuple[Corpus, str]]:
    """The corpora by column name, each with its cache key (its seed and a digest of its contents, `cache_key`);
    `names` picks some."""
    corpora: dict[str, tuple[Corpus, str]] = {}
    if not names or "synthetic" in names:
        windows = json.loads(write_corpus(tmp / "synthetic", seed).read_text())
        synthetic = Corpus("synthetic", tmp / "synthetic", windows)
        corpora["synthetic"] = synthetic, cache_key(f"synthetic-{seed}", synthetic)
    if (data / "windows.json").exists():
        shared = shared_corpora(data, data / "windows.json")
        corpora.update({k: (shared[k], cache_key(k, shared[k])) for k in ("shared_tuning", "shared_heldout")
                        if not names or k in names})
    for kind, seeds in generated.items():
        if names and kind not in names:
            continue
        write = importlib.import_module(GENERATED[kind]).write_corpus
        for i, b in enumerate(seeds):
            name = kind if i == 0 else f"{kind}{b}"
            corpus = Corpus(name, tmp / name, json.loads(write(tmp / name, b).read_text()))
            corpora[name] = corpus, cache_key(f"{kind}-{b}", corpus)
    return corpora


def cached_scores(args: tuple[str, Corpus, str, Path | None]) -> tuple[str, str, dict[str, list[float]]]:
    """(detector, corpus name, its scores) for one (detector, corpus, cache key, cache folder or None): read from the
    cache under the detector's `code_digest` when there, else scored (`score_corpus`) and kept there. One argument,
    for a process pool's map."""
    detector, corpus, key, cache = args
    path = cache / key / f"{detector}-{code_digest(detector)}.json" if cache else None
    if path and path.exists():
        return detector, corpus.name, json.loads(path.read_text())
    scores = score_corpus(detector, corpus)
    if path:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(scores))
    return detector, corpus.name, scores


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", type=Path, default=SHARED / "data" / "nab")
    ap.add_argument("--seed", type=int, default=20261204, help="synthetic corpus seed")
    for kind, module in GENERATED.items():
        ap.add_argument(f"--{kind}-seed", help=f"{module} seed(s), comma-separated (default: its DEFAULT_SEED)")
    ap.add_argument("--only", help="comma-separated detectors (default: every reference found and ours)")
    ap.add_argument("--corpus", help=f"comma-separated corpora (default: all of {', '.join(COLUMNS[:-1])})")
    ap.add_argument("--cache", type=Path, help="keep each detector's scores here and reuse them")
    ap.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args(argv)
    refs = {}
    for name in REFERENCES:
        try:
            refs[name] = importlib.import_module(f"bench.nab_reference.{name}")
        except ImportError:
            print(f"nab_calibration: no reference {name}, left out", file=sys.stderr)
    detectors = [*refs, *OURS]
    if args.only:
        detectors = [d for d in detectors if d in args.only.split(",")]
    generated = {}
    for kind, module in GENERATED.items():
        try:
            default = importlib.import_module(module).DEFAULT_SEED
        except ImportError:
            print(f"nab_calibration: no {module}, its corpus left out", file=sys.stderr)
            continue
        text = getattr(args, f"{kind}_seed")
        generated[kind] = [int(b) for b in text.split(",")] if text else [default]

    with tempfile.TemporaryDirectory(prefix="nabcal-") as tmp_name:
        keyed = build_corpora(args.data, args.seed, generated, Path(tmp_name),
                              set(args.corpus.split(",")) if args.corpus else None)
        corpora = {name: c for name, (c, _) in keyed.items()}
        jobs = [(d, c, key, args.cache) for d in detectors for c, key in keyed.values()]
        scores: dict[str, dict[str, dict[str, list[float]]]] = {d: {} for d in detectors}
        with ProcessPoolExecutor(max_workers=args.workers) as pool:
            for d, c, s in pool.map(cached_scores, jobs):
                scores[d][c] = s
        table: dict[str, dict[str, float]] = {}
        for d in detectors:
            weights = {c: weigh(corpora[c], scores[d][c]) for c in corpora}
            row = {c: nab_optimiser_score(w).score for c, w in weights.items()}
            pool_series = [s for c in POOL if c in weights for s in weights[c]]
            if len(pool_series) > len(weights.get(POOL[0], [])):  # every member of the pool is there
                twiddled = nab_optimiser_score(pool_series)
                row["pool"] = twiddled.score
                for c in ("shared_heldout", "blind", "field"):
                    if c in weights:
                        row[f"{c}_at_pool"] = score_at(weights[c], twiddled.threshold).score
            for kind in generated:  # every seed of a generated corpus as one corpus, if there are several
                members = [s for c, w in weights.items() if c.rstrip("0123456789") == kind for s in w]
                if len(members) > len(weights.get(kind, [])):
                    row[f"{kind}_all"] = nab_optimiser_score(members).score
            table[d] = row

    published = {d: refs[d].PUBLISHED for d in refs if d in table}
    fits = {}
    for col in [c for c in _columns(table) if all(c in table[d] for d in published)] if len(published) >= 3 else []:
        f = fit([table[d][col] for d in published], list(published.values()))
        f["predicted"] = {d: f["a"] + f["b"] * table[d][col] for d in OURS if d in table}
        fits[col] = f
    _print(table, published, fits)
    if args.json:
        print(json.dumps({"seed": args.seed, "generated_seeds": generated, "scores": table, "published": published,
                          "outside": {d: v[1] for d, v in OURS.items() if v[1] is not None}, "fits": fits}))
    return 0


def _columns(table: dict[str, dict[str, float]]) -> list[str]:
    """The proxy columns in the table: COLUMNS' order, then the extra seeds (blind8 before blind10), then the
    generated corpora's pooled columns."""
    have = {c for r in table.values() for c in r if not c.endswith("_at_pool")}
    extra = sorted((c for c in have if c not in COLUMNS and not c.endswith("_all")), key=lambda c: (len(c), c))
    return [c for c in COLUMNS if c in have] + extra + sorted(c for c in have if c.endswith("_all"))


def _print(table: dict[str, dict[str, float]], published: dict[str, float], fits: dict[str, dict]) -> None:
    cols = _columns(table)
    print("Approximate NAB standard score at NAB's optimiser threshold, per corpus; 'NAB' is the published "
          "whole-corpus score (ours: measured outside, or unknown)")
    print(f"{'detector':<20}{'NAB':>7}" + "".join(f"{c:>16}" for c in cols))
    for d, row in table.items():
        nab = published.get(d, OURS.get(d, ("", None))[1])
        print(f"{d:<20}{'' if nab is None else f'{nab:.1f}':>7}" + "".join(
            f"{row[c]:>16.1f}" if c in row else f"{'-':>16}" for c in cols))
    if not fits:
        return
    print("\nPer proxy, across the references: NAB = a + b * proxy; LOO = the leave-one-out prediction error")
    print(f"{'proxy':<16}{'spearman':>10}{'pearson':>10}{'a':>8}{'b':>8}{'LOO rmse':>10}   predicted NAB")
    for col, f in fits.items():
        pred = ", ".join(f"{d} {v:.1f}" for d, v in f["predicted"].items())
        print(f"{col:<16}{f['spearman']:>10.2f}{f['pearson']:>10.2f}{f['a']:>8.1f}{f['b']:>8.2f}"
              f"{f['loo_rmse']:>10.1f}   {pred}")


if __name__ == "__main__":
    sys.exit(main())
