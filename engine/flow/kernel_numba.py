"""Numba flow kernel: daily quantities over the reachable subgraph, a batch of trials per inner loop.

One day ``t`` of one trial (the model of docs/decisions.md, "Flow model"):

A. every node, any order (a shipment arrives at least one day after it leaves,
   so no node needs another's result of the same day):
   1. arrivals: in-transit units due today move into the component stock of
      their lane's group; a lane that is closed today holds them a day;
   2. customer: shelf stock += arrivals; sells ``min(stock, demand x availability)``;
      the rest is lost (revenue, stock-out day);
   3. other node: produces ``P = min(capacity x availability, base + orders
      outstanding - stock, min_g component_g / qty_g)`` (sources: no component
      limit), then ships ``min(stock, outstanding, capacity x availability)``,
      split over out-lanes pro rata to what each is owed, each lane capped by its
      capacity x availability; a shipment arrives ``lead + extra`` days later;
B. every node with inputs orders, per component, what brings its inventory
   position (stock + in transit + owed) back to target, split by the lanes'
   shares. A lane whose source or itself has been closed ``switch_days`` days in
   a row is switched away: its share and its unshipped orders go to the
   component's lanes that are open (other sources in use and backups), pro
   rata to their capacity; it gets orders again once open.

Trials are processed ``BATCH`` at a time with the trial index innermost, so the
per-day arithmetic runs as SIMD over trials; batches run in parallel. Trial t
depends only on (seed, t) through the counter-based RNG of
:mod:`engine.montecarlo.rng`.
"""

from __future__ import annotations


import numba
import numpy as np
from numba import njit, prange

from .sampling import sample_batch

# Trials per inner loop (the SIMD dimension). Measured on the example network:
# 32 -> 26k, 64 -> 31k, 128 -> 28k trials/s per core with background risk (a
# larger batch has more elements with some event in it, so fewer skipped days).
BATCH = 64
# A customer is short on a day when it misses more than this fraction of its
# demand: float residue (1e-13 units) after a catch-up must not count as a stock-out day.
SHORT_TOL = 1e-9


@njit(cache=True, error_model="numpy")
def run_batch(vv, nb, horizon, wr, is_cust, demand, price, base, init, switch_days, cap, xtra, group_ptr, qty,
              target, thr, glane_ptr, glanes, has_alt, src, lead0, lead, lcap, share, backup, flow0, out_ptr,
              out_lanes, el_ptr, el_ev, el_sev, hit_el, effect_day, ev_start, ev_end, extra, dmult,
              stock, comp, pos, owed, ring, cnt, av, rr, pp, order, rcv, inbox, short_now, lu, lr, so, last, cust_so,
              e_lo, e_hi):
    """Simulate variant ``vv`` for ``nb`` trials of one batch; accumulators in lu/lr/so/last (and cust_so)."""
    n = is_cust.shape[0]
    n_l = src.shape[0]
    mask = wr - 1
    for v in range(n):
        for b in range(nb):
            stock[v, b] = init[v]
            rcv[v, b] = thr[v]
            inbox[v, b] = 0.0
            short_now[v, b] = 0.0
    for g in range(qty.shape[0]):
        for b in range(nb):
            comp[g, b] = 0.0
            pos[g, b] = target[g]
    for l in range(n_l):
        for s in range(wr):
            for b in range(nb):
                ring[l, s, b] = 0.0
        for b in range(nb):                      # pipeline of this trial's lead (+ extra delay): steady from day 0
            for s in range(lead0[l] + extra[l, b]):
                ring[l, s, b] = flow0[l]
        for b in range(nb):
            owed[l, b] = flow0[l]
            cnt[l, b] = 0
    for e in range(n + n_l):
        for b in range(nb):
            av[e, b] = 1.0
    for b in range(nb):
        lu[b] = 0.0
        lr[b] = 0.0
        so[b] = 0.0
        last[b] = 0.0
    for c in range(cust_so.shape[0]):
        for b in range(nb):
            cust_so[c, b] = 0.0
    for i in range(hit_el.shape[0]):                # days on which some event of this batch touches the element
        e = hit_el[i]
        lo_d = horizon
        hi_d = -1
        for k in range(el_ptr[e], el_ptr[e + 1]):
            j = el_ev[k]
            for b in range(nb):
                if ev_end[j, b] > ev_start[j, b]:
                    lo_d = min(lo_d, ev_start[j, b])
                    hi_d = max(hi_d, ev_end[j, b])
        e_lo[e] = lo_d
        e_hi[e] = hi_d
    eff = effect_day[vv]
    for t in range(horizon):
        pv = vv if t >= eff else 0
        if t == eff:
            for v in range(n):
                x = xtra[vv, v]
                if x != 0.0:
                    for b in range(nb):
                        stock[v, b] += x
        for i in range(hit_el.shape[0]):            # availability today
            e = hit_el[i]
            if t < e_lo[e] or t > e_hi[e]:          # no event of the batch on this element today (nor a reset due)
                continue
            for b in range(nb):
                av[e, b] = 1.0
            for k in range(el_ptr[e], el_ptr[e + 1]):
                j = el_ev[k]
                one_minus = 1.0 - el_sev[k]
                for b in range(nb):
                    hit = ev_start[j, b] <= t and t < ev_end[j, b]
                    a = one_minus if hit else 1.0
                    av[e, b] = min(av[e, b], a)
        slot = t & mask
        nslot = (t + 1) & mask
        ci = 0
        for v in range(n):                          # phase A
            g0 = group_ptr[v]
            g1 = group_ptr[v + 1]
            for g in range(g0, g1):
                for k in range(glane_ptr[g], glane_ptr[g + 1]):
                    l = glanes[k]
                    e = n + l
                    if e_hi[e] < 0:                     # not closed in this batch: plain arrivals
                        for b in range(nb):
                            comp[g, b] += ring[l, slot, b]
                            ring[l, slot, b] = 0.0
                        continue
                    for b in range(nb):
                        x = ring[l, slot, b]
                        ring[l, slot, b] = 0.0
                        blocked = av[e, b] <= 0.0
                        ring[l, nslot, b] += x if blocked else 0.0
                        comp[g, b] += 0.0 if blocked else x
            if is_cust[v]:
                p = price[v]
                for b in range(nb):
                    d = demand[v] * dmult[v, b]
                    if g1 > g0:
                        stock[v, b] += comp[g0, b]
                        comp[g0, b] = 0.0
                    sold = min(stock[v, b], d * av[v, b])
                    stock[v, b] -= sold
                    short = d - sold
                    short_now[v, b] = short
                    lu[b] += short
                    lr[b] += p * short
                    hit = 1.0 if short > SHORT_TOL * d else 0.0      # branch-free: the loop stays SIMD
                    so[b] += hit
                    last[b] = t + 1.0 if hit > 0.0 else last[b]
                    cust_so[ci, b] += hit
                ci += 1
                continue
            for b in range(nb):
                rr[b] = 0.0
            for k in range(out_ptr[v], out_ptr[v + 1]):
                l = out_lanes[k]
                for b in range(nb):
                    rr[b] += owed[l, b]
            c = cap[pv, v]
            bs = base[v]
            for b in range(nb):
                pp[b] = min(c * av[v, b], max(0.0, bs + rr[b] - stock[v, b]))
            for g in range(g0, g1):
                q = qty[g]
                for b in range(nb):
                    pp[b] = min(pp[b], comp[g, b] / q)
            for b in range(nb):
                pp[b] = max(0.0, pp[b])
            for g in range(g0, g1):
                q = qty[g]
                for b in range(nb):
                    comp[g, b] -= q * pp[b]
            for b in range(nb):
                stock[v, b] += pp[b]
                sh = min(min(stock[v, b], rr[b]), c * av[v, b])
                pp[b] = sh / rr[b] if rr[b] > 0.0 else 0.0      # pp reused as the pro-rata ratio
            for k in range(out_ptr[v], out_ptr[v + 1]):
                l = out_lanes[k]
                lc = lcap[pv, l]
                ld = lead[pv, l]
                e = n + l
                if e_hi[e] < 0:                             # lane not closed in this batch: no availability term
                    for b in range(nb):
                        sh = min(owed[l, b] * pp[b], lc)
                        owed[l, b] -= sh
                        stock[v, b] -= sh
                        order[b] = sh
                else:
                    for b in range(nb):
                        sh = min(owed[l, b] * pp[b], lc * av[e, b])
                        owed[l, b] -= sh
                        stock[v, b] -= sh
                        order[b] = sh
                for b in range(nb):                         # scatter apart, so the loops above vectorise
                    ring[l, (t + ld + extra[l, b]) & mask, b] += order[b]
        for v in range(n):                          # phase B: orders
            g0 = group_ptr[v]
            g1 = group_ptr[v + 1]
            if g0 == g1:
                continue
            if is_cust[v]:                          # demand drawn; lost units cancelled from open orders
                for b in range(nb):
                    pos[g0, b] -= demand[v] * dmult[v, b]
                    rr[b] = 0.0
                for k in range(glane_ptr[g0], glane_ptr[g0 + 1]):
                    l = glanes[k]
                    for b in range(nb):
                        rr[b] += owed[l, b]
                for b in range(nb):
                    x = min(short_now[v, b], rr[b])
                    pos[g0, b] += short_now[v, b] - x
                    pp[b] = x / rr[b] if rr[b] > 0.0 else 0.0
                for k in range(glane_ptr[g0], glane_ptr[g0 + 1]):
                    l = glanes[k]
                    u = src[l]
                    for b in range(nb):
                        cx = owed[l, b] * pp[b]
                        owed[l, b] -= cx
                        inbox[u, b] -= cx
            else:                                   # echelon position: net orders received yesterday
                for g in range(g0, g1):
                    q = qty[g]
                    for b in range(nb):
                        pos[g, b] -= q * rcv[v, b]
            sw = switch_days[v]
            for g in range(g0, g1):
                tg = target[g]
                for b in range(nb):
                    o = max(0.0, tg - pos[g, b])
                    pos[g, b] += o
                    order[b] = o
                k0 = glane_ptr[g]
                k1 = glane_ptr[g + 1]
                if has_alt[g] == 0:
                    for k in range(k0, k1):
                        l = glanes[k]
                        u = src[l]
                        s = share[pv, l]
                        for b in range(nb):
                            owed[l, b] += s * order[b]
                            inbox[u, b] += s * order[b]
                    continue
                anydown = 0
                for k in range(k0, k1):
                    l = glanes[k]
                    u = src[l]
                    e = n + l
                    if e_hi[u] < 0 and e_hi[e] < 0:
                        continue                        # neither end closes in this batch: counter stays 0
                    for b in range(nb):
                        down = av[u, b] <= 0.0 or av[e, b] <= 0.0
                        c = cnt[l, b] + 1 if down else 0
                        cnt[l, b] = c
                        anydown += c
                if anydown == 0:                        # nothing down in this batch: plain split
                    for k in range(k0, k1):
                        l = glanes[k]
                        u = src[l]
                        s = share[pv, l]
                        for b in range(nb):
                            owed[l, b] += s * order[b]
                            inbox[u, b] += s * order[b]
                    continue
                for b in range(nb):
                    lost = 0.0
                    altw = 0.0
                    for k in range(k0, k1):
                        l = glanes[k]
                        s = share[pv, l]
                        if s > 0.0 and cnt[l, b] >= sw:
                            lost += s
                        if cnt[l, b] == 0 and (s > 0.0 or backup[l] != 0):
                            altw += lcap[pv, l]
                    if lost > 0.0 and altw > 0.0:
                        moved = 0.0
                        for k in range(k0, k1):
                            l = glanes[k]
                            if share[pv, l] > 0.0 and cnt[l, b] >= sw:
                                moved += owed[l, b]
                                inbox[src[l], b] -= owed[l, b]
                                owed[l, b] = 0.0
                        for k in range(k0, k1):
                            l = glanes[k]
                            s = share[pv, l]
                            w = s
                            if s > 0.0 and cnt[l, b] >= sw:
                                w = 0.0
                            if cnt[l, b] == 0 and (s > 0.0 or backup[l] != 0):
                                f = lcap[pv, l] / altw
                                w += lost * f
                                owed[l, b] += moved * f
                                inbox[src[l], b] += moved * f
                            owed[l, b] += w * order[b]
                            inbox[src[l], b] += w * order[b]
                    else:
                        for k in range(k0, k1):
                            l = glanes[k]
                            owed[l, b] += share[pv, l] * order[b]
                            inbox[src[l], b] += share[pv, l] * order[b]
        for v in range(n):
            for b in range(nb):
                rcv[v, b] = inbox[v, b]
                inbox[v, b] = 0.0


@njit(parallel=True, cache=True, error_model="numpy")
def simulate_numba(seed, trial0, n_trials, horizon, wr, is_cust, demand, price, base, init, switch_days, cap, xtra,
                   group_ptr, qty, target, thr, glane_ptr, glanes, has_alt, src, lead0, lead, lcap, share, backup,
                   flow0,
                   out_ptr, out_lanes, el_ptr, el_ev, el_sev, hit_el, effect_day, ev_p, ev_s0, ev_win, ev_mu,
                   ev_sigma, ev_rng, lane_rng, lead_sd, extra_cap, node_rng, demand_cv, customers, demand_total,
                   loss, fill, so_days, ttr, lost_units, cust_so_out, store_cust):
    """Trials ``trial0 .. trial0 + n_trials - 1`` for every variant; outputs [V, T] (cust_so_out [V, T, C])."""
    n = is_cust.shape[0]
    n_l = src.shape[0]
    n_g = qty.shape[0]
    n_v = cap.shape[0]
    n_j = ev_p.shape[0]
    n_c = customers.shape[0]
    n_batches = (n_trials + BATCH - 1) // BATCH
    for bi in prange(n_batches):
        lo = bi * BATCH
        nb = min(BATCH, n_trials - lo)
        stock = np.empty((n, BATCH))
        comp = np.empty((n_g, BATCH))
        pos = np.empty((n_g, BATCH))
        owed = np.empty((n_l, BATCH))
        ring = np.empty((n_l, wr, BATCH))
        cnt = np.empty((n_l, BATCH), dtype=np.int32)
        av = np.empty((n + n_l, BATCH))
        rr = np.empty(BATCH)
        pp = np.empty(BATCH)
        order = np.empty(BATCH)
        rcv = np.empty((n, BATCH))
        inbox = np.empty((n, BATCH))
        short_now = np.empty((n, BATCH))
        lu = np.empty(BATCH)
        lr = np.empty(BATCH)
        so = np.empty(BATCH)
        last = np.empty(BATCH)
        cso = np.empty((n_c, BATCH))
        ev_start = np.empty((n_j, BATCH), dtype=np.int64)
        ev_end = np.empty((n_j, BATCH), dtype=np.int64)
        extra = np.empty((n_l, BATCH), dtype=np.int64)
        dmult = np.empty((n, BATCH))
        e_lo = np.empty(n + n_l, dtype=np.int64)
        e_hi = np.full(n + n_l, -1, dtype=np.int64)    # -1: no event of the batch on the element
        sample_batch(seed, trial0 + lo, nb, ev_p, ev_s0, ev_win, ev_mu, ev_sigma, ev_rng, lane_rng, lead_sd,
                     extra_cap, node_rng, demand_cv, ev_start, ev_end, extra, dmult)
        for vv in range(n_v):
            run_batch(vv, nb, horizon, wr, is_cust, demand, price, base, init, switch_days, cap, xtra, group_ptr,
                      qty, target, thr, glane_ptr, glanes, has_alt, src, lead0, lead, lcap, share, backup, flow0,
                      out_ptr, out_lanes, el_ptr, el_ev, el_sev, hit_el, effect_day, ev_start, ev_end, extra, dmult,
                      stock, comp, pos, owed, ring, cnt, av, rr, pp, order, rcv, inbox, short_now, lu, lr, so, last,
                      cso, e_lo, e_hi)
            for b in range(nb):
                i = lo + b
                den = demand_total
                for c in range(n_c):
                    den += demand[customers[c]] * (dmult[customers[c], b] - 1.0)
                den *= horizon
                loss[vv, i] = lr[b]
                lost_units[vv, i] = lu[b]
                fill[vv, i] = 1.0 - lu[b] / den if den > 0.0 else 1.0
                so_days[vv, i] = so[b]
                ttr[vv, i] = last[b]
                if store_cust:
                    for c in range(n_c):
                        cust_so_out[vv, i, c] = cso[c, b]


def default_threads() -> int:
    return numba.get_num_threads()
