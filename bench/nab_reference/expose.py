"""EXPoSE (NAB scoreboard 16.4): expected-similarity estimation with a decaying kernel mean embedding.

Reproduces numenta/NAB nab/detectors/expose/expose_detector.py at commit 86fc35d0, the version whose output is
NAB's published results/expose/*.csv (first score of realTraffic/speed_7578 0.00955260979032 = 1 - |phi(73)|^2,
reproduced here). Another stored version (2fafea9c) rescales the score as (s + 0.02) / 1.04; the published
results do not, so neither do we.

What NAB's code does per reading x (the raw value; EXPoSE ignores timestamps, input_min/max and probation):
* phi(x) = sqrt(2/D) cos(x w + b), D = 20000 random Fourier features of an RBF kernel exp(-gamma |x-y|^2),
  gamma = 0.5, drawn by sklearn's RBFSampler(gamma=0.5, n_components=20000, random_state=290).fit_transform,
  which re-seeds on every call, so w and b are the same for every reading. sklearn's RBFSampler.fit draws, from
  numpy's legacy RandomState(290): w = sqrt(2 gamma) * normal(size=(1, D)) (sqrt(2 gamma) = 1.0 exactly), then
  b = uniform(0, 2 pi, size=D); transform computes cos(x @ w + b) * sqrt(2/D) (sqrt(2.)/sqrt(D) in the 2016
  sklearn, (2/D)**0.5 now; both are exactly 0.01 for D = 20000);
* model_0 = phi(x_0); model_t = 0.01 phi(x_t) + (1 - 0.01) model_{t-1} (decay = 0.01);
* score_t = 1 - <phi(x_t), model_t>  (roughly in [-0.02, 1.02]; not clipped).

Verified against NAB's original code (sklearn 1.9.1, numpy 2.4.6, run unmodified but for the base class and
numpy.asscalar -> .item()) on the seven shared NAB series and six synthetic ones: see the module tests and the
report for the max |difference| (0.0 on every series tested). Features are computed for blocks of readings at a
time (same elementwise operations, so the same bits) and cached per distinct value; the model update and the
inner product stay sequential. Cost: the 20000 cosines per distinct value dominate (numpy's float64 cos is scalar
libm here, ~50 ns each), so about 1 ms per reading on series of distinct floats, far less on repetitive series.
"""

from __future__ import annotations

import numpy as np

NAME = "expose"
PUBLISHED = 16.4

GAMMA = 0.5  # NAB: RBFSampler(gamma=0.5, ...)
N_COMPONENTS = 20000  # NAB: RBFSampler(n_components=20000, ...)
SEED = 290  # NAB: RBFSampler(random_state=290)
DECAY = 0.01  # NAB: self.decay
_BLOCK = 64  # readings whose features are computed in one pass (memory: 64 x 20000 doubles)
_CACHE = 256  # distinct values whose features are kept (160 kB each): many NAB series repeat values

_FEATURES: tuple[np.ndarray, np.ndarray] | None = None


def random_features() -> tuple[np.ndarray, np.ndarray]:
    """(w, b) exactly as sklearn's RBFSampler.fit draws them for NAB's settings (one input feature)."""
    global _FEATURES
    if _FEATURES is None:
        rs = np.random.RandomState(SEED)
        w = (2.0 * GAMMA) ** 0.5 * rs.normal(size=(1, N_COMPONENTS))
        b = rs.uniform(0, 2 * np.pi, size=N_COMPONENTS)
        _FEATURES = (w[0], b)
    return _FEATURES


def feature_map(x: np.ndarray) -> np.ndarray:
    """phi for each value of x: rows of sqrt(2/D) cos(x w + b), as RBFSampler.transform computes them."""
    w, b = random_features()
    proj = np.asarray(x, dtype=float)[:, None] * w  # X @ w with one feature: one rounded product each
    proj += b
    np.cos(proj, proj)
    proj *= (2.0 / N_COMPONENTS) ** 0.5
    return proj


def scores(values: np.ndarray, timestamps: np.ndarray, input_min: float, input_max: float,
           probation: int) -> np.ndarray:
    v = np.asarray(values, dtype=float)
    n = len(v)
    out = np.empty(n)
    model = None
    keep = 1 - DECAY  # NAB: (1 - self.decay), computed, not the literal 0.99
    cache: dict[float, np.ndarray] = {}  # value -> phi(value), (1, D); cos dominates the cost
    for start in range(0, n, _BLOCK):
        block = v[start:start + _BLOCK]
        local = {x: cache.get(x) for x in dict.fromkeys(block.tolist())}
        todo = [x for x, row in local.items() if row is None]
        if todo:
            for x, row in zip(todo, feature_map(np.array(todo)), strict=True):
                if len(cache) >= _CACHE:
                    cache.pop(next(iter(cache)))  # evict the oldest entry
                cache[x] = local[x] = row[None, :]
        for j, x in enumerate(block.tolist()):
            f = local[x]  # (1, D), as NAB's inputFeature
            if model is None:
                model = f.copy()
            else:
                model = (DECAY * f) + keep * model
            out[start + j] = 1 - np.inner(f, model).item()
    return out
