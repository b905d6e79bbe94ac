"""KNN-CAD (NAB scoreboard 58.0): conformal k-nearest-neighbour anomaly detection, rebuilt from NAB.

Reproduces numenta/NAB nab/detectors/knncad/knncad_detector.py (commit 82d8d378, the Python 3 port of the
original 59d95e0f; the two differ only in `map` vs list comprehensions and a print). What NAB's code does:

* every reading past the 18th forms a window of the last 19 values (`dim`);
* windows of records 19 .. probation-1 are the training set; from record `probation` on, each window is scored
  by its non-conformity measure (NCM): the sum of its 27 (`k`) smallest Mahalanobis-like distances
  (x - y) S (x - y)^T to the training windows, S = inv(T^T T) recomputed from the current training set T when
  record % probation is 0 or int(probation/2) (a singular T^T T keeps the previous S);
* the first scored record also computes the calibration NCMs of every training window against the training set
  (itself included, hence the 28 smallest, one being the zero distance to itself);
* the anomaly score is the fraction of the stored NCMs strictly below the new one; the stored NCMs are a FIFO of
  constant length (the oldest is dropped, the new one appended); from record 2*probation on, the oldest training
  window is dropped and the oldest scored window joins the training set (a sliding training range);
* a score >= 0.9965 starts int(probation/5) readings of score 0.5 (NAB's alarm suppression; reproduced).

Exactness: scores are counts of comparisons, so they are reproduced exactly when the comparisons are. Each NCM is
first computed fast (one matrix product for all training windows). Its difference from NAB's per-window
np.dot computation is bounded (floating-point error bound for a quadratic form, scaled by a conditioning ratio
of S computed each time S changes); a comparison whose margin is inside that bound is redone with NCMs computed
the way NAB does (np.matmul over stacked vectors calls the same BLAS gemv/ddot as NAB's per-row np.dot;
verified bit-identical), recomputing the stored NCMs concerned from their own training range and S.
Verified against NAB's original code (run unmodified but for the base class) on the seven shared NAB series and
six synthetic ones (noise, step, spike, constant run, all-constant, small integers): max |difference| 0.0 on
every series (and the exact path alone, forced, on the three art_daily series). About 50-75 us per reading on
a loaded 2-core VM.

Deviation: NAB's code raises for files whose probation leaves fewer than 29 training windows (probation < 48
readings, i.e. files under 320 readings); here such series score 0 throughout.
"""

from __future__ import annotations

import numpy as np

NAME = "knn_cad"
PUBLISHED = 58.0

DIM = 19  # NAB self.dim: window length
K = 27  # NAB self.k: neighbours summed in the NCM
ALARM = 0.9965  # NAB: result >= 0.9965 starts the 0.5 suppression run of int(probation/5) readings
_EPS = np.finfo(float).eps
_SAFETY = 512.0 * _EPS  # relative error bound per unit of conditioning ratio (gamma_38 + summation, x3 margin)


def _ncm_exact(windows: np.ndarray, lo: int, m: int, sigma: np.ndarray, item: np.ndarray, kk: int) -> float:
    """NCM computed as NAB does: per-window np.dot(np.dot(diff, S), diff) (gemv + ddot), partition, sum."""
    d = windows[lo:lo + m] - item
    u = np.matmul(d[:, None, :], sigma)  # one gemv per window, as np.dot(diff, sigma)
    q = np.matmul(u, d[:, :, None]).ravel()  # one ddot per window, as np.dot(u, diff)
    return float(np.sum(np.partition(q, kk)[:kk]))


def _ncm_fast(train: np.ndarray, sigma: np.ndarray, item: np.ndarray, kk: int) -> float:
    d = train - item
    q = np.einsum("ij,ij->i", d @ sigma, d)
    return float(np.sum(np.partition(q, kk)[:kk]))


def _rel_bound(sigma: np.ndarray) -> float:
    """Bound on |fast - exact| / NCM for this S: error <= gamma * |d|^T|S||d| <= gamma * R * d^T S d."""
    if not np.all(np.isfinite(sigma)):
        return np.inf
    sym = 0.5 * (sigma + sigma.T)
    lam = np.linalg.eigvalsh(sym)
    norm_abs = float(np.linalg.norm(np.abs(sigma), 2))
    lam_min = float(lam[0]) - 64.0 * _EPS * float(np.max(np.abs(lam)))
    if lam_min <= 0.0:
        return np.inf
    rho = _SAFETY * (norm_abs / lam_min + 1.0)
    return rho if rho < 1e-3 else np.inf


def scores(values: np.ndarray, timestamps: np.ndarray, input_min: float, input_max: float,
           probation: int, _always_exact: bool = False) -> np.ndarray:
    v = np.asarray(values, dtype=float)
    n = len(v)
    out = np.zeros(n)
    if n < DIM or probation <= 0:
        return out
    windows = np.lib.stride_tricks.sliding_window_view(v, DIM)  # windows[r - DIM] ends at record r (1-based)
    p = probation
    half = int(p / 2)
    m = sum(1 for r in range(DIM, n + 1) if r < p)  # training windows: records DIM .. probation-1
    if m < K + 2:
        return out  # NAB's np.partition raises here (see module docstring)
    lo = 0  # training = windows[lo:lo+m]
    sigma = np.eye(DIM)  # NAB: np.diag(np.ones(dim)) until the first inversion
    sigmas = [sigma]
    rho = np.inf if _always_exact else _rel_bound(sigma)
    # stored NCMs (FIFO as a ring): value, relative radius (0 = exact), and what recomputes it exactly
    st_val = st_rad = st_item = st_lo = st_sig = st_kk = None
    head = 0
    pred = -1
    for r in range(DIM, n + 1):
        if r < p:
            continue
        ost = r % p
        if ost == 0 or ost == half:
            train = windows[lo:lo + m]
            try:
                # train.copy(): NAB multiplies two different arrays (gemm); T.T @ T on one buffer would use syrk
                sigma = np.linalg.inv(np.dot(np.ascontiguousarray(train).T, train.copy()))
                sigmas.append(sigma)
                rho = np.inf if _always_exact else _rel_bound(sigma)
            except np.linalg.LinAlgError:
                pass  # NAB prints 'Singular Matrix' and keeps the previous sigma
        sid = len(sigmas) - 1
        train = np.ascontiguousarray(windows[lo:lo + m])
        if st_val is None:
            st_item = np.arange(lo, lo + m)
            st_lo = np.full(m, lo)
            st_sig = np.full(m, sid)
            st_kk = np.full(m, K + 1)
            if np.isfinite(rho):
                st_val = np.array([_ncm_fast(train, sigma, row, K + 1) for row in train])
                st_rad = np.full(m, rho)
            else:
                st_val = np.array([_ncm_exact(windows, lo, m, sigma, row, K + 1) for row in train])
                st_rad = np.zeros(m)
        item = windows[r - DIM]
        if np.isfinite(rho):
            new = _ncm_fast(train, sigma, item, K)
            new_rad = rho
            amb = np.abs(st_val - new) <= st_rad * np.abs(st_val) + rho * abs(new)
        else:
            amb = None
        if amb is None or amb.any():
            new = _ncm_exact(windows, lo, m, sigma, item, K)
            new_rad = 0.0
            if amb is not None:
                for i in np.nonzero(amb & (st_rad > 0))[0]:
                    st_val[i] = _ncm_exact(windows, int(st_lo[i]), m, sigmas[st_sig[i]],
                                           windows[st_item[i]], int(st_kk[i]))
                    st_rad[i] = 0.0
        result = np.count_nonzero(st_val < new) / m
        # NAB: scores.pop(0); scores.append(new_score) -- overwrite the oldest slot of the ring
        st_val[head], st_rad[head] = new, new_rad
        st_item[head], st_lo[head], st_sig[head], st_kk[head] = r - DIM, lo, sid, K
        head = (head + 1) % m
        if r >= 2 * p:
            lo += 1  # NAB: training.pop(0); training.append(calibration.pop(0))
        if pred > 0:
            pred -= 1
            out[r - 1] = 0.5
            continue
        if result >= ALARM:
            pred = int(p / 5)
        out[r - 1] = result
    return out
