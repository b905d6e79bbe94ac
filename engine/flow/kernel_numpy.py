"""Numpy reference of the flow kernel: the same day loop, every operation a vector over trials.

Why keep it: it is written with array expressions instead of scalar loops, so
an indexing slip in the numba kernel shows up as a disagreement; and it needs
no compilation. Same random numbers (counter-based RNG), same model
(:mod:`.kernel_numba` docstring), results equal to float rounding.
"""

from __future__ import annotations

import numpy as np

from engine.montecarlo.rng import (STREAM_DURATION, STREAM_OCCUR, STREAM_START, np_draw, np_ndtri, np_to_open_unit,
                                   np_to_unit, np_trial_keys)

from .inputs import FlowInputs
from .kernel_numba import SHORT_TOL
from .sampling import DEMAND_RNG_BASE, STREAM_LEAD

# Trials per vectorised chunk: rings are [lanes, ring, trials] float64, so 2,048
# trials of a 100-lane subgraph with a 64-day ring stay near 100 MB.
CHUNK = 2048


def sample_numpy(inp: FlowInputs, seed: int, trials: np.ndarray) -> tuple[np.ndarray, ...]:
    """(start [J, T], end [J, T], extra [L, T], demand multiplier [n, T]) as :func:`.kernel_numba.sample_batch`."""
    keys = np_trial_keys(seed, trials)[None, :]
    rid = inp.ev_rng[:, None]
    occ = np_to_unit(np_draw(keys, rid, STREAM_OCCUR)) < inp.ev_p[:, None]
    u = np_to_unit(np_draw(keys, rid, STREAM_START))
    s = inp.ev_s0[:, None] + np.floor(u * inp.ev_win[:, None]).astype(np.int64)
    z = np.where(inp.ev_sigma[:, None] > 0, np_ndtri(np_to_open_unit(np_draw(keys, rid, STREAM_DURATION))), 0.0)
    k = np.maximum(1.0, np.floor(np.exp(inp.ev_mu[:, None] + inp.ev_sigma[:, None] * z) + 0.5))
    start = np.where(occ, s, -1)
    end = np.where(occ, s + np.minimum(k, 1e9).astype(np.int64), -1)
    lz = np_ndtri(np_to_open_unit(np_draw(keys, inp.lane_gid.astype(np.int64)[:, None], STREAM_LEAD)))
    extra = np.minimum(inp.extra_cap[:, None], np.floor(inp.lead_sd[:, None] * np.abs(lz) + 0.5)).astype(np.int64)
    extra = np.where(inp.lead_sd[:, None] > 0, extra, 0)
    dz = np_ndtri(np_to_open_unit(np_draw(keys, (inp.node_gid.astype(np.int64) + DEMAND_RNG_BASE)[:, None], 0)))
    dmult = np.where(inp.demand_cv[:, None] > 0, np.maximum(0.0, 1.0 + inp.demand_cv[:, None] * dz), 1.0)
    return start, end, extra, dmult


def _variant(inp: FlowInputs, vv: int, start: np.ndarray, end: np.ndarray, extra: np.ndarray,
             dmult: np.ndarray) -> tuple:
    n, n_l, nt, wr, h = inp.n_nodes, inp.src.shape[0], start.shape[1], inp.ring, inp.horizon
    cols = np.arange(nt)
    stock = np.repeat(inp.init[:, None], nt, axis=1)
    comp = np.zeros((inp.qty.shape[0], nt))
    pos = np.repeat(inp.target[:, None], nt, axis=1)
    ring = np.zeros((n_l, wr, nt))
    slots = np.arange(wr)[None, :, None]
    ring[:] = np.where(slots < (inp.lead0[:, None, None] + extra[:, None, :]), inp.flow0[:, None, None], 0.0)
    owed = np.repeat(inp.flow0[:, None], nt, axis=1)
    cnt = np.zeros((n_l, nt), dtype=np.int64)
    rcv = np.repeat(inp.thr[:, None], nt, axis=1)
    short_now = np.zeros((n, nt))
    av = np.ones((n + n_l, nt))
    lu, lr, so, last = (np.zeros(nt) for _ in range(4))
    cso = np.zeros((inp.customers.shape[0], nt))
    eff = int(inp.effect_day[vv])
    for t in range(h):
        pv = vv if t >= eff else 0
        if t == eff:
            stock += inp.extra[vv][:, None]
        for e in inp.hit_el:
            a = np.ones(nt)
            for k in range(inp.el_ptr[e], inp.el_ptr[e + 1]):
                j = inp.el_ev[k]
                hit = (start[j] <= t) & (t < end[j])
                a = np.minimum(a, np.where(hit, 1.0 - inp.el_sev[k], 1.0))
            av[e] = a
        slot, nslot = t % wr, (t + 1) % wr
        ci = 0
        for v in range(n):
            g0, g1 = inp.group_ptr[v], inp.group_ptr[v + 1]
            for g in range(g0, g1):
                for l in inp.glanes[inp.glane_ptr[g]:inp.glane_ptr[g + 1]]:
                    x = ring[l, slot].copy()
                    ring[l, slot] = 0.0
                    blocked = av[n + l] <= 0.0
                    ring[l, nslot] += np.where(blocked, x, 0.0)
                    comp[g] += np.where(blocked, 0.0, x)
            if inp.is_cust[v]:
                if g1 > g0:
                    stock[v] += comp[g0]
                    comp[g0] = 0.0
                d = inp.demand[v] * dmult[v]
                sold = np.minimum(stock[v], d * av[v])
                stock[v] -= sold
                short = d - sold
                short_now[v] = short
                lu += short
                lr += inp.price[v] * short
                hit = short > SHORT_TOL * d
                so += hit
                last = np.where(hit, t + 1.0, last)
                cso[ci] += hit
                ci += 1
                continue
            outs = inp.out_lanes[inp.out_ptr[v]:inp.out_ptr[v + 1]]
            rr = np.zeros(nt)
            for l in outs:
                rr = rr + owed[l]
            cap = inp.cap[pv, v] * av[v]
            p = np.minimum(cap, np.maximum(0.0, inp.base[v] + rr - stock[v]))
            for g in range(g0, g1):
                p = np.minimum(p, comp[g] / inp.qty[g])
            p = np.maximum(0.0, p)
            for g in range(g0, g1):
                comp[g] -= inp.qty[g] * p
            stock[v] += p
            s = np.minimum(np.minimum(stock[v], rr), cap)
            ratio = np.where(rr > 0.0, s / np.where(rr > 0.0, rr, 1.0), 0.0)
            for l in outs:
                sh = np.minimum(owed[l] * ratio, inp.lcap[pv, l] * av[n + l])
                owed[l] -= sh
                stock[v] -= sh
                ring[l, (t + inp.lead[pv, l] + extra[l]) % wr, cols] += sh
        inbox = np.zeros((n, nt))
        for v in range(n):
            g0, g1 = inp.group_ptr[v], inp.group_ptr[v + 1]
            if g0 == g1:
                continue
            if inp.is_cust[v]:
                pos[g0] -= inp.demand[v] * dmult[v]
                lanes = inp.glanes[inp.glane_ptr[g0]:inp.glane_ptr[g0 + 1]]
                tot = _ordered_sum(owed[lanes])
                x = np.minimum(short_now[v], tot)
                pos[g0] += short_now[v] - x
                frac = np.where(tot > 0.0, x / np.where(tot > 0.0, tot, 1.0), 0.0)
                for l in lanes:
                    cx = owed[l] * frac
                    owed[l] -= cx
                    inbox[inp.src[l]] -= cx
            else:
                for g in range(g0, g1):
                    pos[g] -= inp.qty[g] * rcv[v]
            sw = inp.switch_days[v]
            for g in range(g0, g1):
                order = np.maximum(0.0, inp.target[g] - pos[g])
                pos[g] += order
                lanes = inp.glanes[inp.glane_ptr[g]:inp.glane_ptr[g + 1]]
                srcs = inp.src[lanes]
                s = inp.share[pv, lanes][:, None]
                if not inp.has_alt[g]:
                    for i, l in enumerate(lanes):
                        owed[l] += s[i] * order
                        inbox[srcs[i]] += s[i] * order
                    continue
                down = (av[srcs] <= 0.0) | (av[n + lanes] <= 0.0)
                cnt[lanes] = np.where(down, cnt[lanes] + 1, 0)
                away = (s > 0.0) & (cnt[lanes] >= sw)
                alt = (cnt[lanes] == 0) & ((s > 0.0) | (inp.backup[lanes][:, None] != 0))
                lc = inp.lcap[pv, lanes][:, None]
                lost = _ordered_sum(np.where(away, s, 0.0))
                altw = _ordered_sum(np.where(alt, lc, 0.0))
                act = (lost > 0.0) & (altw > 0.0)
                gone = np.where(away & act, owed[lanes], 0.0)
                moved = _ordered_sum(gone)
                f = np.where(alt & act, lc / np.where(act, altw, 1.0), 0.0)
                w = np.where(act, np.where(away, 0.0, s) + np.where(alt, lost * f, 0.0), s)
                for i, l in enumerate(lanes):
                    inbox[srcs[i]] -= gone[i]
                    owed[l] = np.where(away[i] & act, 0.0, owed[l])
                for i, l in enumerate(lanes):
                    add = np.where(alt[i] & act, moved * f[i], 0.0)
                    owed[l] += add
                    inbox[srcs[i]] += add
                    owed[l] += w[i] * order
                    inbox[srcs[i]] += w[i] * order
        rcv = inbox
    den = np.full(nt, inp.demand_total)
    for c in inp.customers:
        den = den + inp.demand[c] * (dmult[c] - 1.0)
    den = den * h
    fill = np.where(den > 0, 1.0 - lu / np.where(den > 0, den, 1.0), 1.0)
    return lr, fill, so, last, lu, cso.T


def _ordered_sum(x: np.ndarray) -> np.ndarray:
    """Sum over axis 0 left to right, as the scalar kernels add (np.sum may pair terms)."""
    out = np.zeros(x.shape[1])
    for row in x:
        out = out + row
    return out


def simulate_numpy(inp: FlowInputs, seed: int, trial0: int, n_trials: int) -> tuple[np.ndarray, ...]:
    """(loss, fill, stock-out days, ttr, lost units) [V, T] and per-customer stock-out days [V, T, C]."""
    n_v, n_c = inp.n_variants, inp.customers.shape[0]
    outs = [np.empty((n_v, n_trials)) for _ in range(5)]
    cso = np.empty((n_v, n_trials, n_c))
    for lo in range(0, n_trials, CHUNK):
        hi = min(n_trials, lo + CHUNK)
        start, end, extra, dmult = sample_numpy(inp, seed, np.arange(trial0 + lo, trial0 + hi, dtype=np.int64))
        for vv in range(n_v):
            res = _variant(inp, vv, start, end, extra, dmult)
            for o, r in zip(outs, res[:5]):
                o[vv, lo:hi] = r
            cso[vv, lo:hi] = res[5]
    return (*outs, cso)
