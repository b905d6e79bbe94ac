"""`omnitrack bench detector_fingerprint`: equal scores give equal hashes, and one score that differs does not."""

from __future__ import annotations

import math

from bench.detector_fingerprint import ENGINE, fingerprint


def _corpus(bump: float = 0.0) -> list[tuple[list[str], list[str]]]:
    stamps = [f"2026-01-{1 + i // 288:02d} {i % 288 // 12:02d}:{i % 12 * 5:02d}:00" for i in range(1_500)]
    values = [f"{10 + 3 * math.sin(i / 40) + (i % 7) * 0.1 + (8.0 if i == 1_200 else 0.0):.3f}" for i in range(1_500)]
    values[1_400] = f"{float(values[1_400]) + bump:.3f}"
    return [(stamps, values), (stamps[:400], values[:400])]


def test_the_hash_is_of_every_score_and_only_of_them() -> None:
    scores, digest = fingerprint(_corpus())
    assert scores == 2 * (1_500 + 400)  # both series, offline and with the engine's settings
    assert fingerprint(_corpus()) == (scores, digest)
    assert fingerprint(_corpus(bump=5.0))[1] != digest  # one reading differs: so do its score and the hash
    assert fingerprint(_corpus(), ({},))[1] != fingerprint(_corpus(), (ENGINE,))[1]

