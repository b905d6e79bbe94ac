"""Counter-based random numbers shared by the numba, numpy and pure-Python kernels.

Why counter-based: every random number is a pure function of
``(seed, trial, element, stream)``.  That gives three properties the Impact and
Strategy agents rely on:

* reproducibility independent of thread count and scheduling (no per-thread
  generator state, unlike ``np.random.seed`` inside ``njit`` which is per thread);
* common random numbers: trial ``t`` of a mitigation variant sees exactly the
  same sampled disruption as trial ``t`` of the baseline;
* the three implementations draw *identical* samples, so they can be compared
  trial by trial, not only statistically.

The hash is the SplitMix64 finaliser (Steele, Lea, Flood 2014), which passes
BigCrush when fed a Weyl sequence; we feed it ``key + (4 * element + stream + 1) * GOLDEN``.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

# 2**64 / golden ratio: Weyl increment of SplitMix64; an even or small increment
# would make neighbouring counters produce correlated outputs.
GOLDEN = 0x9E3779B97F4A7C15
# SplitMix64 multipliers; changing them silently changes every sampled scenario.
MIX1 = 0xBF58476D1CE4E5B9
MIX2 = 0x94D049BB133111EB
# Python ints do not wrap; the pure-Python path masks to 64 bits to match uint64.
MASK64 = (1 << 64) - 1
# Random streams per element: 4 slots so new draws can be added without
# reshuffling existing scenarios (stream 3 is reserved).
STREAM_OCCUR, STREAM_START, STREAM_DURATION = 0, 1, 2
STREAMS_PER_ELEMENT = 4
# 53 random bits fill a float64 mantissa exactly: the uniform is then identical
# in numba, numpy and Python (no rounding differences between the three kernels).
INV_2_53 = 1.0 / 9007199254740992.0
# Open-interval uniforms use 52 bits: (k + 0.5) * 2**-52 stays strictly below 1
# (with 53 bits the top value rounds to 1.0 and the inverse CDF returns inf).
INV_2_52 = 1.0 / 4503599627370496.0

_U_GOLDEN = np.uint64(GOLDEN)
_U_MIX1 = np.uint64(MIX1)
_U_MIX2 = np.uint64(MIX2)
_U30, _U27, _U31, _U11, _U12 = np.uint64(30), np.uint64(27), np.uint64(31), np.uint64(11), np.uint64(12)
_U_ONE = np.uint64(1)
_U_SPE = np.uint64(STREAMS_PER_ELEMENT)

# Acklam's rational approximation of the inverse normal CDF (|rel err| < 1.15e-9):
# scipy-free, branch-light, and identical formula in all three kernels.
_A = (-3.969683028665376e01, 2.209460984245205e02, -2.759285104469687e02,
      1.383577518672690e02, -3.066479806614716e01, 2.506628277459239e00)
_B = (-5.447609879822406e01, 1.615858368580409e02, -1.556989798598866e02,
      6.680131188771972e01, -1.328068155288572e01)
_C = (-7.784894002430293e-03, -3.223964580411365e-01, -2.400758277161838e00,
      -2.549732539343734e00, 4.374664141464968e00, 2.938163982698783e00)
_D = (7.784695709041462e-03, 3.224671290700398e-01, 2.445134137142996e00,
      3.754408661907416e00)
# Switch point between the central and tail approximations (from Acklam).
_P_LOW = 0.02425


# --------------------------------------------------------------------- numba
@njit(cache=True)
def mix64(z: np.uint64) -> np.uint64:
    """SplitMix64 finaliser on uint64 (wrapping arithmetic)."""
    z = (z ^ (z >> _U30)) * _U_MIX1
    z = (z ^ (z >> _U27)) * _U_MIX2
    return z ^ (z >> _U31)


@njit(cache=True)
def trial_key(seed: np.uint64, trial: np.int64) -> np.uint64:
    """Per-trial key; trial indices are global so batches can be split freely."""
    return mix64((mix64(seed) ^ (np.uint64(trial) * _U_GOLDEN)) + _U_GOLDEN)


@njit(cache=True)
def draw(key: np.uint64, element: np.int64, stream: np.int64) -> np.uint64:
    """64 random bits for one (element, stream) of the trial with ``key``."""
    c = np.uint64(element) * _U_SPE + np.uint64(stream) + _U_ONE
    return mix64(key + c * _U_GOLDEN)


@njit(cache=True)
def to_unit(h: np.uint64) -> float:
    """Uniform in [0, 1) from the top 53 bits (exact in float64)."""
    return np.float64(h >> _U11) * INV_2_53


@njit(cache=True)
def to_open_unit(h: np.uint64) -> float:
    """Uniform in (0, 1): never 0 or 1, so the inverse normal CDF stays finite."""
    return (np.float64(h >> _U12) + 0.5) * INV_2_52


@njit(cache=True)
def ndtri(p: float) -> float:
    """Inverse standard normal CDF for p in (0, 1) (Acklam)."""
    if p < _P_LOW:
        q = math.sqrt(-2.0 * math.log(p))
        return (((((_C[0] * q + _C[1]) * q + _C[2]) * q + _C[3]) * q + _C[4]) * q + _C[5]) / \
            ((((_D[0] * q + _D[1]) * q + _D[2]) * q + _D[3]) * q + 1.0)
    if p <= 1.0 - _P_LOW:
        q = p - 0.5
        r = q * q
        return (((((_A[0] * r + _A[1]) * r + _A[2]) * r + _A[3]) * r + _A[4]) * r + _A[5]) * q / \
            (((((_B[0] * r + _B[1]) * r + _B[2]) * r + _B[3]) * r + _B[4]) * r + 1.0)
    q = math.sqrt(-2.0 * math.log(1.0 - p))
    return -(((((_C[0] * q + _C[1]) * q + _C[2]) * q + _C[3]) * q + _C[4]) * q + _C[5]) / \
        ((((_D[0] * q + _D[1]) * q + _D[2]) * q + _D[3]) * q + 1.0)


# --------------------------------------------------------------------- numpy
def np_mix64(z: np.ndarray) -> np.ndarray:
    """Vectorised SplitMix64 finaliser (uint64 arrays wrap silently)."""
    z = (z ^ (z >> _U30)) * _U_MIX1
    z = (z ^ (z >> _U27)) * _U_MIX2
    return z ^ (z >> _U31)


def np_trial_keys(seed: int, trials: np.ndarray) -> np.ndarray:
    """Keys for an array of global trial indices."""
    s = np_mix64(np.array([seed], dtype=np.uint64))
    t = trials.astype(np.uint64)
    return np_mix64((s ^ (t * _U_GOLDEN)) + _U_GOLDEN)


def np_draw(keys: np.ndarray, elements: np.ndarray, stream: int) -> np.ndarray:
    """Broadcasting version of :func:`draw` (keys and elements broadcast)."""
    c = elements.astype(np.uint64) * _U_SPE + np.uint64(stream) + _U_ONE
    return np_mix64(keys + c * _U_GOLDEN)


def np_to_unit(h: np.ndarray) -> np.ndarray:
    return (h >> _U11).astype(np.float64) * INV_2_53


def np_to_open_unit(h: np.ndarray) -> np.ndarray:
    return ((h >> _U12).astype(np.float64) + 0.5) * INV_2_52


def np_ndtri(p: np.ndarray) -> np.ndarray:
    """Vectorised Acklam inverse normal CDF (same formula as :func:`ndtri`)."""
    p = np.asarray(p, dtype=np.float64)
    out = np.empty_like(p)
    lo = p < _P_LOW
    hi = p > 1.0 - _P_LOW
    mid = ~(lo | hi)
    q = p[mid] - 0.5
    r = q * q
    out[mid] = (((((_A[0] * r + _A[1]) * r + _A[2]) * r + _A[3]) * r + _A[4]) * r + _A[5]) * q / \
        (((((_B[0] * r + _B[1]) * r + _B[2]) * r + _B[3]) * r + _B[4]) * r + 1.0)
    for mask, sign, tail in ((lo, 1.0, p[lo]), (hi, -1.0, 1.0 - p[hi])):
        q = np.sqrt(-2.0 * np.log(tail))
        out[mask] = sign * (((((_C[0] * q + _C[1]) * q + _C[2]) * q + _C[3]) * q + _C[4]) * q + _C[5]) / \
            ((((_D[0] * q + _D[1]) * q + _D[2]) * q + _D[3]) * q + 1.0)
    return out


# -------------------------------------------------------------- pure Python
def py_mix64(z: int) -> int:
    z &= MASK64
    z = ((z ^ (z >> 30)) * MIX1) & MASK64
    z = ((z ^ (z >> 27)) * MIX2) & MASK64
    return z ^ (z >> 31)


def py_trial_key(seed: int, trial: int) -> int:
    return py_mix64(((py_mix64(seed) ^ ((trial * GOLDEN) & MASK64)) + GOLDEN) & MASK64)


def py_draw(key: int, element: int, stream: int) -> int:
    c = (element * STREAMS_PER_ELEMENT + stream + 1) & MASK64
    return py_mix64((key + c * GOLDEN) & MASK64)


def py_to_unit(h: int) -> float:
    return float(h >> 11) * INV_2_53


def py_to_open_unit(h: int) -> float:
    return (float(h >> 12) + 0.5) * INV_2_52


def py_ndtri(p: float) -> float:
    """Pure-Python Acklam inverse normal CDF; also used for CI z-values."""
    if not 0.0 < p < 1.0:
        raise ValueError(f"ndtri needs 0 < p < 1, got {p}")
    if p < _P_LOW or p > 1.0 - _P_LOW:
        sign = 1.0 if p < _P_LOW else -1.0
        q = math.sqrt(-2.0 * math.log(p if p < _P_LOW else 1.0 - p))
        return sign * (((((_C[0] * q + _C[1]) * q + _C[2]) * q + _C[3]) * q + _C[4]) * q + _C[5]) / \
            ((((_D[0] * q + _D[1]) * q + _D[2]) * q + _D[3]) * q + 1.0)
    q = p - 0.5
    r = q * q
    return (((((_A[0] * r + _A[1]) * r + _A[2]) * r + _A[3]) * r + _A[4]) * r + _A[5]) * q / \
        (((((_B[0] * r + _B[1]) * r + _B[2]) * r + _B[3]) * r + _B[4]) * r + 1.0)
