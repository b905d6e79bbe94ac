"""Numpy reference kernel: the same model as :mod:`kernel_numba`, vectorised over trials.

Why keep it: it is written in whole-array set algebra (sort, running max,
pairwise intersection) rather than the two-pointer loops of the numba
kernel, so agreement between the two is evidence that both implement the
model and not a shared bug. It keeps every interval (no ``K_MAX`` cap).

A set for a batch of T trials is a pair of [T, k] arrays (starts, ends);
unused slots hold the empty interval (+inf, -inf).
"""

from __future__ import annotations

import numpy as np

from .inputs import KernelInputs
from .rng import (STREAM_DURATION, STREAM_OCCUR, STREAM_START, np_draw, np_ndtri, np_to_open_unit,
                  np_to_unit, np_trial_keys)

# Trials per vectorised batch: bounds the [T, elements] random arrays to a few
# tens of MB (a whole request at once would exhaust memory on big networks).
BATCH = 2048

Set = tuple[np.ndarray, np.ndarray]


def _empty(t: int) -> Set:
    return np.empty((t, 0)), np.empty((t, 0))


def normalize(s: np.ndarray, e: np.ndarray) -> Set:
    """Canonical form per row: sorted, disjoint, touching intervals merged."""
    t, m = s.shape
    valid = s < e
    if m == 0 or not valid.any():
        return _empty(t)
    s = np.where(valid, s, np.inf)
    e = np.where(valid, e, -np.inf)
    if m > 1:
        idx = np.argsort(s, axis=1, kind="stable")
        s = np.take_along_axis(s, idx, 1)
        e = np.take_along_axis(e, idx, 1)
    valid = np.isfinite(s)
    ce = np.maximum.accumulate(e, axis=1)
    new = valid.copy()
    new[:, 1:] &= s[:, 1:] > ce[:, :-1]
    rid = np.cumsum(new, axis=1) - 1
    last = valid.copy()
    last[:, :-1] &= new[:, 1:] | ~valid[:, 1:]
    k = int(rid[:, -1].max()) + 1
    os_ = np.full((t, k), np.inf)
    oe = np.full((t, k), -np.inf)
    r, c = np.nonzero(new)
    os_[r, rid[r, c]] = s[r, c]
    r, c = np.nonzero(last)
    oe[r, rid[r, c]] = ce[r, c]
    return os_, oe


def union(a: Set, b: Set) -> Set:
    if a[0].shape[1] == 0:
        return b
    if b[0].shape[1] == 0:
        return a
    return normalize(np.concatenate([a[0], b[0]], 1), np.concatenate([a[1], b[1]], 1))


def intersect(a: Set, b: Set) -> Set:
    t = a[0].shape[0]
    if a[0].shape[1] == 0 or b[0].shape[1] == 0:
        return _empty(t)
    s = np.maximum(a[0][:, :, None], b[0][:, None, :]).reshape(t, -1)
    e = np.minimum(a[1][:, :, None], b[1][:, None, :]).reshape(t, -1)
    return normalize(s, e)


def _own(inp: KernelInputs, elem: int, v: int, extra: float, has: np.ndarray, st: np.ndarray,
         dz: np.ndarray, f_dz: np.ndarray) -> Set:
    """Sampled + forced outages of one element, lane ends extended by ``extra``."""
    t = has.shape[0]
    f0, f1 = int(inp.f_ptr[elem]), int(inp.f_ptr[elem + 1])
    col = has[:, elem]
    if f0 == f1 and not col.any():
        return _empty(t)
    h = inp.horizon
    scale = inp.dur_scale[v, elem]
    d = np.concatenate([dz[:, elem:elem + 1], f_dz[:, f0:f1]], 1) * scale
    s = np.concatenate([st[:, elem:elem + 1], np.broadcast_to(inp.f_start[f0:f1], (t, f1 - f0))], 1)
    ok = (d > 0.0) & (s < h)
    ok[:, 0] &= col
    e = np.minimum(s + d + extra, h)
    return normalize(np.where(ok, s, np.inf), np.where(ok, e, -np.inf))


def _sample(inp: KernelInputs, seed: int, trials: np.ndarray):
    keys = np_trial_keys(seed, trials)[:, None]
    n_e = inp.p.shape[0]
    live = np.flatnonzero(inp.p > 0.0)
    has = np.zeros((trials.size, n_e), dtype=bool)
    has[:, live] = np_to_unit(np_draw(keys, live[None, :], STREAM_OCCUR)) < inp.p[live]
    st = np.zeros(has.shape)
    dz = np.zeros(has.shape)
    r, c = np.nonzero(has)
    kr = keys[r, 0]
    st[r, c] = np_to_unit(np_draw(kr, c, STREAM_START)) * inp.start_window
    z = np_ndtri(np_to_open_unit(np_draw(kr, c, STREAM_DURATION)))
    dz[r, c] = np.exp(inp.mu[c] + inp.sigma[c] * z)
    n_f = inp.f_mu.shape[0]
    zf = np_ndtri(np_to_open_unit(np_draw(keys, n_e + np.arange(n_f)[None, :], STREAM_DURATION)))
    f_dz = np.exp(inp.f_mu[None, :] + inp.f_sigma[None, :] * zf).reshape(trials.size, n_f)
    return has, st, dz, f_dz


def _propagate(inp: KernelInputs, v: int, has, st, dz, f_dz) -> list[Set]:
    t = has.shape[0]
    h = inp.horizon
    n = inp.n_nodes
    sets: list[Set] = [_empty(t)] * n
    for node in inp.order:
        inputs = _empty(t)
        for g in range(inp.group_ptr[node], inp.group_ptr[node + 1]):
            gap: Set | None = None
            for k in range(inp.group_lane_ptr[g], inp.group_lane_ptr[g + 1]):
                ln = int(inp.group_lanes[k])
                if not inp.enabled[v, ln]:
                    continue
                lead = inp.lead[v, ln]
                src_s, src_e = sets[inp.lane_src[ln]]
                own = _own(inp, n + ln, v, lead, has, st, dz, f_dz)
                if src_s.shape[1] == 0 and own[0].shape[1] == 0:
                    gap = _empty(t)
                    break
                ss = src_s + lead
                ok = ss < h
                shifted = (np.where(ok, ss, np.inf), np.where(ok, np.minimum(src_e + lead, h), -np.inf))
                lane = union(normalize(*shifted), own)
                gap = lane if gap is None else intersect(gap, lane)
                if gap[0].shape[1] == 0:
                    break
            if gap is None:                       # no enabled lane: never supplied
                gap = (np.zeros((t, 1)), np.full((t, 1), h))
            inputs = union(inputs, gap)
        s, e = inputs
        trimmed = normalize(s + inp.cover[v, node], e) if s.shape[1] else inputs
        sets[node] = union(trimmed, _own(inp, int(node), v, 0.0, has, st, dz, f_dz))
    return sets


def simulate_numpy(inp: KernelInputs, seed: int, trial0: int, n_trials: int):
    """Returns (loss, fill, ttr, cust_so) shaped [V, T], [V, T], [V, T], [V, T, C]."""
    n_v, n_c = inp.n_variants, inp.customers.shape[0]
    loss = np.empty((n_v, n_trials))
    fill = np.empty((n_v, n_trials))
    ttr = np.empty((n_v, n_trials))
    cust = np.empty((n_v, n_trials, n_c))
    rev = inp.revenue[inp.customers]
    demand = float(rev.sum()) * inp.horizon
    for b0 in range(0, n_trials, BATCH):
        trials = np.arange(trial0 + b0, trial0 + min(n_trials, b0 + BATCH), dtype=np.int64)
        sl = slice(b0, b0 + trials.size)
        sampled = _sample(inp, seed, trials)
        for v in range(n_v):
            sets = _propagate(inp, v, *sampled)
            so = np.zeros((trials.size, n_c))
            last = np.zeros(trials.size)
            for ci, c in enumerate(inp.customers):
                s, e = sets[c]
                if s.shape[1]:
                    valid = s < e
                    so[:, ci] = np.where(valid, e - s, 0.0).sum(1)
                    last = np.maximum(last, np.where(valid, e, 0.0).max(1))
            lost = so @ rev
            loss[v, sl] = lost
            fill[v, sl] = 1.0 - lost / demand if demand > 0 else 1.0
            ttr[v, sl] = last
            cust[v, sl] = so
    return loss, fill, ttr, cust
