"""Numba kernel: outage-interval propagation, parallel over trials.

One trial:
1. sample every node and lane once with the counter-based generator
   (:mod:`rng`): outage yes/no, start day, lognormal duration;
2. for every variant (common random numbers: same samples), walk the nodes in
   topological order. A lane's arrival gap is its source's outage set shifted
   by the lead time, united with the lane's own outage (extended by the lead
   time: goods in transit are stranded). A group's gap is the intersection of
   its enabled lanes' gaps (OR of alternatives); the node's input gap is the
   union of its groups' gaps (AND of inputs). Inventory buffers inputs: each
   gap run [a, b) becomes [a + cover, b) (stock is replenished when supply
   resumes). The node's own outage is not buffered by its own stock (a
   closed site cannot ship);
3. customers' outage sets are stock-outs: lost revenue = sum over customers of
   daily revenue x stock-out days inside the horizon; fill rate = 1 - lost /
   (total customer revenue x H); time to recover = the day the last customer
   is back (0 when none was hit, H when not recovered within the horizon).

Only nodes downstream of a sampled outage are visited (a bitmap over
topological ranks serves as the worklist); all other nodes provably have an
empty outage set. When some input group has no enabled lane (a node that can
never be supplied) every node is visited instead.

Reproducibility: trial ``t`` depends only on ``(seed, t)``, so results are
bit-identical for any thread count and any batch split.
"""

from __future__ import annotations

import math

import numba
import numpy as np
from numba import njit, prange

from .intervals import K_MAX, cap, copy, intersect, own_set, union
from .rng import STREAM_DURATION, STREAM_OCCUR, STREAM_START, draw, ndtri, to_open_unit, to_unit, trial_key

# Chunks per thread: >1 evens out load when some trials are much busier
# (big disruptions) without paying scratch allocation per trial.
CHUNKS_PER_THREAD = 4
# De Bruijn sequence and table: index of the lowest set bit of a uint64 in
# O(1) without a loop (numba has no portable count-trailing-zeros).
_DEBRUIJN = np.uint64(0x03F79D71B4CB0A89)
_DEBRUIJN_TABLE = np.array([0, 1, 48, 2, 57, 49, 28, 3, 61, 58, 50, 42, 38, 29, 17, 4,
                            62, 55, 59, 36, 53, 51, 43, 22, 45, 39, 33, 30, 24, 18, 12, 5,
                            63, 47, 56, 27, 60, 41, 37, 16, 54, 35, 52, 21, 44, 32, 23, 11,
                            46, 26, 40, 15, 34, 20, 31, 10, 25, 14, 19, 9, 13, 8, 7, 6], dtype=np.int64)
_U58 = np.uint64(58)
_U_ONE = np.uint64(1)


@njit(cache=True)
def _sample(key, p, mu, sigma, start_window, f_mu, has, st, dz, hit):
    """Draw every element's outage for one trial; returns how many occurred
    (their element ids are in ``hit[:count]``)."""
    n_e = p.shape[0]
    count = 0
    for e in range(n_e):
        pe = p[e]
        if pe > 0.0 and to_unit(draw(key, e, STREAM_OCCUR)) < pe:
            has[e] = 1
            hit[count] = e
            count += 1
            st[e] = to_unit(draw(key, e, STREAM_START)) * start_window
            z = ndtri(to_open_unit(draw(key, e, STREAM_DURATION)))
            dz[e] = math.exp(mu[e] + sigma[e] * z)
        else:
            has[e] = 0
    return count


@njit(cache=True)
def _sample_forced(key, n_e, f_mu, f_sigma, f_dz):
    for f in range(f_mu.shape[0]):
        z = ndtri(to_open_unit(draw(key, n_e + f, STREAM_DURATION)))
        f_dz[f] = math.exp(f_mu[f] + f_sigma[f] * z)


@njit(cache=True)
def _mark(mark, r):
    mark[r >> 6] |= _U_ONE << np.uint64(r & 63)


@njit(cache=True)
def _lowest_bit(word):
    low = word & (~word + _U_ONE)
    return _DEBRUIJN_TABLE[np.int64((low * _DEBRUIJN) >> _U58)]


@njit(cache=True)
def _mark_element(mark, e, n_nodes, rank, lane_dst):
    """An outage at node e (or lane e - N) first affects that node (or the lane's destination)."""
    _mark(mark, rank[e] if e < n_nodes else rank[lane_dst[e - n_nodes]])


@njit(cache=True)
def _propagate(vv, horizon, order, rank, group_ptr, group_lane_ptr, group_lanes, lane_src, lane_dst,
               out_ptr, out_dst, cover, lead, enabled, dur_scale, has, st, dz, hit, n_hit,
               f_ptr, f_start, f_dz, f_elem, event_driven, mark, touched,
               ns_s, ns_e, ns_n, bi_s, bi_e, bg_s, bg_e, bl_s, bl_e, bt_s, bt_e, bo_s, bo_e):
    """Fill the outage sets for variant ``vv`` of one trial; returns how many
    nodes were written (listed in ``touched`` when event-driven).

    Event-driven: only nodes hit by an outage or fed by a node with a
    non-empty set are visited, in topological order (bitmap over ranks).
    Otherwise every node is visited. One call per trial and variant keeps
    numba's per-call argument overhead off the per-node path.
    """
    n_nodes = ns_n.shape[0]
    n_words = mark.shape[0]
    if event_driven:
        for j in range(n_hit):
            _mark_element(mark, hit[j], n_nodes, rank, lane_dst)
        for j in range(f_elem.shape[0]):
            _mark_element(mark, f_elem[j], n_nodes, rank, lane_dst)
    n_t = 0
    w = 0
    while True:
        if event_driven:
            while w < n_words and mark[w] == 0:
                w += 1
            if w == n_words:
                break
            word = mark[w]
            mark[w] = word & (word - _U_ONE)
            v = order[w * 64 + _lowest_bit(word)]
        else:
            if n_t == n_nodes:
                break
            v = order[n_t]
        ni = 0
        for g in range(group_ptr[v], group_ptr[v + 1]):
            gn = -1
            for k in range(group_lane_ptr[g], group_lane_ptr[g + 1]):
                ln = group_lanes[k]
                if enabled[vv, ln] == 0:
                    continue
                u = lane_src[ln]
                le = n_nodes + ln
                nu = ns_n[u]
                lane_own = has[le] != 0 or f_ptr[le] < f_ptr[le + 1]
                if nu == 0 and not lane_own:
                    gn = 0                       # a working alternative: group supplied
                    break
                ld = lead[vv, ln]
                nl = 0
                for q in range(nu):
                    s = ns_s[u, q] + ld
                    if s >= horizon:
                        break
                    bl_s[nl] = s
                    bl_e[nl] = min(ns_e[u, q] + ld, horizon)
                    nl += 1
                if lane_own:
                    no = own_set(le, dur_scale[vv, le], ld, horizon, has, st, dz, f_ptr, f_start, f_dz, bo_s, bo_e)
                    if no > 0:
                        nl = union(bl_s, bl_e, nl, bo_s, bo_e, no, bt_s, bt_e)
                        copy(bt_s, bt_e, nl, bl_s, bl_e)
                if nl == 0:
                    gn = 0
                    break
                if gn == -1:
                    copy(bl_s, bl_e, nl, bg_s, bg_e)
                    gn = cap(bg_s, bg_e, nl, K_MAX)
                else:
                    gn = intersect(bg_s, bg_e, gn, bl_s, bl_e, nl, bt_s, bt_e)
                    copy(bt_s, bt_e, gn, bg_s, bg_e)
                    gn = cap(bg_s, bg_e, gn, K_MAX)
                    if gn == 0:
                        break
            if gn == -1:                         # no enabled lane: never supplied
                bg_s[0] = 0.0
                bg_e[0] = horizon
                gn = 1
            if gn > 0:
                ni = union(bi_s, bi_e, ni, bg_s, bg_e, gn, bt_s, bt_e)
                copy(bt_s, bt_e, ni, bi_s, bi_e)
                ni = cap(bi_s, bi_e, ni, K_MAX)
        c = cover[vv, v]
        m = 0
        for q in range(ni):                      # inventory absorbs the first `c` days of each gap
            s = bi_s[q] + c
            if s < bi_e[q]:
                bi_s[m] = s
                bi_e[m] = bi_e[q]
                m += 1
        ni = m
        if has[v] != 0 or f_ptr[v] < f_ptr[v + 1]:
            no = own_set(v, dur_scale[vv, v], 0.0, horizon, has, st, dz, f_ptr, f_start, f_dz, bo_s, bo_e)
            if no > 0:
                ni = union(bi_s, bi_e, ni, bo_s, bo_e, no, bt_s, bt_e)
                copy(bt_s, bt_e, ni, bi_s, bi_e)
                ni = cap(bi_s, bi_e, ni, K_MAX)
        for q in range(ni):
            ns_s[v, q] = bi_s[q]
            ns_e[v, q] = bi_e[q]
        ns_n[v] = ni
        touched[n_t] = v
        n_t += 1
        if event_driven and ni > 0:          # successors have higher rank: marked ahead of w
            for k in range(out_ptr[v], out_ptr[v + 1]):
                _mark(mark, rank[out_dst[k]])
    return n_t


@njit(parallel=True, cache=True)
def simulate_numba(seed, trial0, n_trials, horizon, start_window,
                   order, rank, group_ptr, group_lane_ptr, group_lanes, lane_src, lane_dst, out_ptr, out_dst,
                   customers, revenue, p, mu, sigma, f_ptr, f_start, f_mu, f_sigma, f_elem,
                   cover, lead, enabled, dur_scale, always_ok, n_chunks,
                   loss, fill, ttr, cust_so, store_cust):
    """Run trials ``trial0 .. trial0+n_trials-1`` for every variant.

    Outputs (first axis variant, second local trial): ``loss``, ``fill``,
    ``ttr`` [V, T] and ``cust_so`` [V, T, C] stock-out days per customer.
    ``cust_so`` is only written when ``store_cust`` (it may then be [V, T, 0]).
    ``always_ok`` says every group has an enabled lane in every variant, so
    only nodes downstream of an outage need visiting.
    """
    n_nodes = order.shape[0]
    n_e = p.shape[0]
    n_v = cover.shape[0]
    n_c = customers.shape[0]
    n_f = f_mu.shape[0]
    n_words = (n_nodes + 63) // 64
    buf_len = 2 * (K_MAX + 2 + n_f)
    total_rev = 0.0
    for ci in range(n_c):
        total_rev += revenue[customers[ci]]
    demand = total_rev * horizon
    for chunk in prange(n_chunks):
        lo = (chunk * n_trials) // n_chunks
        hi = ((chunk + 1) * n_trials) // n_chunks
        ns_s = np.empty((n_nodes, K_MAX))
        ns_e = np.empty((n_nodes, K_MAX))
        ns_n = np.zeros(n_nodes, dtype=np.int32)
        bi_s, bi_e = np.empty(buf_len), np.empty(buf_len)
        bg_s, bg_e = np.empty(buf_len), np.empty(buf_len)
        bl_s, bl_e = np.empty(buf_len), np.empty(buf_len)
        bt_s, bt_e = np.empty(buf_len), np.empty(buf_len)
        bo_s, bo_e = np.empty(buf_len), np.empty(buf_len)
        has = np.zeros(n_e, dtype=np.uint8)
        st = np.zeros(n_e)
        dz = np.zeros(n_e)
        hit = np.empty(n_e, dtype=np.int32)
        f_dz = np.zeros(max(n_f, 1))
        mark = np.zeros(max(n_words, 1), dtype=np.uint64)
        touched = np.empty(n_nodes, dtype=np.int32)
        for i in range(lo, hi):
            key = trial_key(seed, trial0 + i)
            n_hit = _sample(key, p, mu, sigma, start_window, f_mu, has, st, dz, hit)
            _sample_forced(key, n_e, f_mu, f_sigma, f_dz)
            any_out = n_hit > 0 or n_f > 0
            for vv in range(n_v):
                if not any_out and always_ok:
                    loss[vv, i] = 0.0
                    fill[vv, i] = 1.0
                    ttr[vv, i] = 0.0
                    if store_cust:
                        for ci in range(n_c):
                            cust_so[vv, i, ci] = 0.0
                    continue
                n_t = _propagate(vv, horizon, order, rank, group_ptr, group_lane_ptr, group_lanes, lane_src,
                                 lane_dst, out_ptr, out_dst, cover, lead, enabled, dur_scale, has, st, dz, hit,
                                 n_hit, f_ptr, f_start, f_dz, f_elem, always_ok, mark, touched,
                                 ns_s, ns_e, ns_n, bi_s, bi_e, bg_s, bg_e, bl_s, bl_e, bt_s, bt_e, bo_s, bo_e)
                lost = 0.0
                last = 0.0
                for ci in range(n_c):
                    c = customers[ci]
                    so = 0.0
                    for q in range(ns_n[c]):
                        so += ns_e[c, q] - ns_s[c, q]
                    if ns_n[c] > 0 and ns_e[c, ns_n[c] - 1] > last:
                        last = ns_e[c, ns_n[c] - 1]
                    if store_cust:
                        cust_so[vv, i, ci] = so
                    lost += revenue[c] * so
                loss[vv, i] = lost
                fill[vv, i] = 1.0 - lost / demand if demand > 0.0 else 1.0
                ttr[vv, i] = last
                if always_ok:                        # untouched nodes stay empty for the next pass
                    for j in range(n_t):
                        ns_n[touched[j]] = 0


def default_chunks(n_trials: int) -> int:
    """Enough chunks for load balance, never more than trials."""
    return max(1, min(n_trials, numba.get_num_threads() * CHUNKS_PER_THREAD))
