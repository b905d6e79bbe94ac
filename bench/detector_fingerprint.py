"""One hash of every score the default detector gives on every corpus (`omnitrack bench detector_fingerprint`).

WHY: a change meant to make the detector cheaper or clearer (a store skipped, a slot added for an alert's words)
must not change a single score, and "the figures of `bench nab` came out the same" only shows it at the few
thresholds scoring looks at. This replays the synthetic, blind and field corpora and the shared series (when
`../shared` is there) through `SequenceSurprise` with the offline settings and with the engine's (2,000 contexts, a
500-reading memory, alerts at 0.75: forgetting and the engine's rest rules run), and hashes each score's 8 bytes.
Run it before and after a change (a worktree of the old commit: `PYTHONPATH=<tree> python -m omnitrack.cli bench
detector_fingerprint --shared <the shared series>`); equal hashes mean equal scores, to the bit.
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import json
import struct
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from bench.nab_blind import generate as blind_corpus
from bench.nab_field import CATALOGUE as FIELD_CATALOGUE
from bench.nab_field import DEFAULT_SEED as FIELD_SEED
from bench.nab_field import iso_stamps
from bench.nab_field import series as field_series
from bench.nab_synthetic import generate as synthetic_corpus
from omnitrack.detect import parse_timestamp
from twin.detectors import SequenceSurprise

SHARED = Path(__file__).resolve().parents[2] / "shared" / "data" / "nab"
"""The shared NAB sample series, beside the project's root (absent on a machine without them)."""

ENGINE = {"capacity": 2_000, "memory": 500, "rest_threshold": 0.75}
"""The engine's limits (streams/twin_rules.py): small enough that forgetting and the bounded memory run."""


def series(shared: Path = SHARED) -> Iterator[tuple[list[str], list[str]]]:
    """(timestamps, values) of every series: synthetic, blind, field, then the shared CSVs in path order. (The field
    corpus since 2026-12-07: a change to the run view moved only its scores, and the fingerprint stayed the same.)"""
    for s in [*synthetic_corpus(), *blind_corpus()]:
        yield s.stamps, s.values
    for index in range(len(FIELD_CATALOGUE)):
        _, stamps, values, _ = field_series(FIELD_SEED, index)
        yield iso_stamps(stamps), values
    for path in sorted(shared.rglob("*.csv")) if shared.is_dir() else []:
        with path.open(newline="") as f:
            rows = list(csv.reader(f))[1:]
        yield [r[0] for r in rows], [r[1] for r in rows]


def fingerprint(corpus: list[tuple[list[str], list[str]]], settings: tuple[dict[str, Any], ...] = ({}, ENGINE)
                ) -> tuple[int, str]:
    """(scores, blake2b of them all) over `corpus` with each of `settings` in turn (offline, then the engine's)."""
    digest, scores = hashlib.blake2b(digest_size=16), 0
    pack = struct.Struct("d").pack
    for options in settings:
        for stamps, values in corpus:
            detector = SequenceSurprise(**options)
            for stamp, value in zip(stamps, values, strict=True):
                digest.update(pack(detector.update(parse_timestamp(stamp), float(value))))
            scores += len(values)
    return scores, digest.hexdigest()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="omnitrack bench detector_fingerprint", description=__doc__.splitlines()[0])
    parser.add_argument("--shared", type=Path, default=SHARED, help="folder of the shared NAB series")
    parser.add_argument("--json", action="store_true", help="print one JSON object last")
    args = parser.parse_args(argv)
    scores, digest = fingerprint(list(series(args.shared)))
    found = args.shared.is_dir()
    print(f"detector fingerprint: {scores:,} scores, blake2b {digest}{'' if found else ' (shared series absent)'}")
    if args.json:
        print(json.dumps({"benchmark": "detector_fingerprint", "scores": scores, "blake2b": digest,
                          "shared_series": found}))
    return 0
