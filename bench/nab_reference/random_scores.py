"""NAB's "random" detector: a uniform random score per reading, the same sequence in every file.

WHY a reference: it is the scoreboard's floor above the null detector (11.0 standard): what a detector scores on
a corpus by luck. A proxy corpus on which random does as well as a real detector says little.

Reproduces numenta/NAB nab/detectors/random/random_detector.py (commit d99ee73): `initialize()` seeds Python's
`random` with 42 before each file, and each reading scores `random.uniform(0, 1)` (= `random.random()` for these
bounds; Python 3 seeds integers as Python 2 did, so the sequence is NAB's).
"""

from __future__ import annotations

import random

import numpy as np

__all__ = ["NAME", "PUBLISHED", "scores"]

NAME = "random"
PUBLISHED = 11.0
# NAB's RandomDetector.seed, reapplied per file: every file sees the same random sequence.
SEED = 42


def scores(values: np.ndarray, timestamps: np.ndarray, input_min: float, input_max: float,
           probation: int) -> np.ndarray:
    """One uniform draw per reading, from a generator seeded with NAB's seed for this file."""
    rng = random.Random(SEED)
    return np.array([rng.uniform(0, 1) for _ in range(len(values))], dtype=np.float64)
