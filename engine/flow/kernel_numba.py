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

Trials are processed ``BATCH`` at a time with the trial index innermost (SIMD over trials); batches run in
parallel (:mod:`.kernel_parallel`); trial t depends only on (seed, t) (:mod:`engine.montecarlo.rng`). What
keeps the inner loops short, each exact (the same numbers as without it; docs/decisions.md 6.7):
availability recomputed only on the days an event of the batch starts or ends on the element, with per-day
flags (closed in some trial / open in every trial) choosing the plain paths; one vector pass per extra-delay
value; rerouting only once a lane has been down for the switch-over delay (:func:`.kernel_steps.reroute`);
production as one fused loop for 0-2 input groups; LLVM ``noalias`` (:class:`.kernel_steps.NoAliasCompiler`);
*dormant lanes*: a lane without nominal flow (a backup) owes nothing and carries nothing until it gets a
share or a rerouted order (``live``), so its arrivals, shipping and order split (adding 0.0) are skipped, and
a node whose out-lanes are all dormant stops producing once at base stock in every trial (``idle``).
In transit: a ring of departures per lane (:mod:`.kernel_steps` docstring).
The trials' state is float32, the per-trial results float64 (:data:`.kernel_steps.FLOAT`).
"""

from __future__ import annotations

from numba import njit

from .kernel_steps import FLOAT, ONE, ZERO, NoAliasCompiler, produce_many, reroute

# Trials per inner loop (the SIMD dimension); too few and the per-loop overhead dominates, too many and fewer
# days skip an element with no event in the batch. With noalias (kernel_steps.NoAliasCompiler) 128 beat 64,
# 2026-12-04 23:55, CPU time: 51-node case 1.13x (64) / 1.23x (128), decision packing 1.56x / 1.73x.
BATCH = 128
# A customer is short on a day when it misses more than this fraction of its demand: float residue after a
# catch-up (a few float32 steps of the stock, ~1e-6 of a day's demand) must not count as a stock-out day.
SHORT_TOL = 1e-4
_SHORT_TOL = FLOAT(SHORT_TOL)


@njit(cache=True, error_model="numpy", pipeline_class=NoAliasCompiler)
def run_batch(vv, nb, horizon, roff, rmask, is_cust, demand, price, base, init, switch_days, cap, xtra, group_ptr, qty,
              target, thr, glane_ptr, glanes, has_alt, src, lead0, lead, lcap, share, backup, flow0, out_ptr,
              out_lanes, el_ptr, el_ev, el_sev, hit_el, effect_day, ev_start, ev_end, extra, dmult,
              stock, comp, pos, owed, ring, cnt, av, rr, pp, order, rcv, inbox, short_now, lu, lr, so, last, cust_so,
              chg, az, full, cnz, emax, short_any, rt, held, hz, live, idle):
    """Simulate variant ``vv`` for ``nb`` trials of one batch; accumulators in lu/lr/so/last (and cust_so)."""
    n = is_cust.shape[0]
    n_l = src.shape[0]
    for v in range(n):
        idle[v] = 0
        for b in range(nb):
            stock[v, b] = init[v]
            rcv[v, b] = thr[v]
            inbox[v, b] = short_now[v, b] = ZERO
    for g in range(qty.shape[0]):
        for b in range(nb):
            comp[g, b] = ZERO
            pos[g, b] = target[g]
    for l in range(n_l):
        for s in range(roff[l], roff[l + 1]):   # departures (the pipeline of day 0 is arrive()'s)
            for b in range(nb):
                ring[s, b] = ZERO
        hz[l] = 0
        live[l] = 1 if flow0[l] > ZERO else 0      # a backup: dormant until it gets a share or an order
        for b in range(nb):
            held[l, b] = ZERO
        xm = 0
        for b in range(nb):
            owed[l, b] = flow0[l]
            cnt[l, b] = 0
            xm = max(xm, extra[l, b])
        emax[l] = xm
        cnz[l] = 0
    for e in range(n + n_l):
        for b in range(nb):
            av[e, b] = ONE
        az[e] = 0
        full[e] = 1
    for b in range(nb):                             # row n + n_l: always open (read for a node open in every trial)
        av[n + n_l, b] = ONE
    for b in range(nb):
        lu[b] = lr[b] = so[b] = last[b] = ZERO
    for c in range(cust_so.shape[0]):
        for b in range(nb):
            cust_so[c, b] = ZERO
    for i in range(hit_el.shape[0]):                # days on which some event of this batch starts or ends
        e = hit_el[i]                               # on the element: the only days its availability changes
        for t in range(horizon):
            chg[e, t] = 0
        for k in range(el_ptr[e], el_ptr[e + 1]):
            j = el_ev[k]
            for b in range(nb):
                s0 = ev_start[j, b]
                s1 = ev_end[j, b]
                if s1 > s0:
                    if s0 < horizon:
                        chg[e, s0] = 1
                    if s1 < horizon:
                        chg[e, s1] = 1
    eff = effect_day[vv]
    for t in range(horizon):
        pv = vv if t >= eff else 0
        if t == eff:
            for v in range(n):
                x = xtra[vv, v]
                if x != ZERO:
                    for b in range(nb):
                        stock[v, b] += x
        for i in range(hit_el.shape[0]):            # availability today, recomputed only when it changes
            e = hit_el[i]
            if chg[e, t] == 0:
                continue
            for b in range(nb):
                av[e, b] = ONE
            for k in range(el_ptr[e], el_ptr[e + 1]):
                j = el_ev[k]
                one_minus = ONE - el_sev[k]
                for b in range(nb):
                    hit = ev_start[j, b] <= t and t < ev_end[j, b]
                    a = one_minus if hit else ONE
                    av[e, b] = min(av[e, b], a)
            n_zero = 0
            n_full = 0
            for b in range(nb):
                n_zero += 1 if av[e, b] <= ZERO else 0
                n_full += 1 if av[e, b] == ONE else 0
            az[e] = 1 if n_zero > 0 else 0          # some trial of the batch has it closed today
            full[e] = 1 if n_full == nb else 0      # every trial of the batch has it fully open today
        ci = 0
        for v in range(n):                          # phase A
            g0 = group_ptr[v]
            g1 = group_ptr[v + 1]
            for g in range(g0, g1):
                for k in range(glane_ptr[g], glane_ptr[g + 1]):
                    l = glanes[k]
                    if live[l] == 0:                    # dormant: nothing in transit, nothing held
                        continue
                    e = n + l                           # units due today (module docstring, in transit)
                    ro = roff[l]
                    rm = rmask[l]
                    xm = emax[l]
                    l0 = lead[0, l]
                    l1 = lead[vv, l]
                    i0 = lead0[l]
                    f0 = flow0[l]
                    if az[e] == 0 and hz[l] == 0 and l0 == l1 and l0 == i0:     # open, none held, one lead
                        if t < i0 + xm:
                            for b in range(nb):
                                comp[g, b] += f0 if t < i0 + extra[l, b] else ZERO
                        for x in range(xm + 1):
                            dd = t - l0 - x
                            if dd < 0:
                                continue
                            rs = ro + (dd & rm)
                            if xm == 0:
                                for b in range(nb):
                                    comp[g, b] += ring[rs, b]
                            else:
                                for b in range(nb):
                                    comp[g, b] += ring[rs, b] if extra[l, b] == x else ZERO
                        continue
                    if t < i0 + xm:                         # some trial still on the pipeline of day 0
                        for b in range(nb):
                            order[b] = f0 if t < i0 + extra[l, b] else ZERO
                    else:
                        for b in range(nb):
                            order[b] = ZERO
                    for r in range(2):
                        ld = l0 if r == 0 else l1
                        if r == 1 and l1 == l0:
                            break
                        for x in range(xm + 1):
                            dd = t - ld - x
                            if dd < 0 or (l1 != l0 and (dd >= eff) != (r == 1)):
                                continue
                            rs = ro + (dd & rm)
                            for b in range(nb):
                                order[b] += ring[rs, b] if extra[l, b] == x else ZERO
                    if az[e] == 0:
                        for b in range(nb):
                            comp[g, b] += order[b] + held[l, b]
                            held[l, b] = ZERO
                        hz[l] = 0
                        continue
                    for b in range(nb):
                        xv = order[b] + held[l, b]
                        blocked = av[e, b] <= ZERO
                        held[l, b] = xv if blocked else ZERO
                        comp[g, b] += ZERO if blocked else xv
                    hz[l] = 1
            if is_cust[v]:
                p = price[v]
                va = v if full[v] == 0 else n + n_l     # open in every trial: read the all-ones row (cache-hot)
                n_short = 0
                for b in range(nb):
                    d = demand[v] * dmult[v, b]
                    if g1 > g0:
                        stock[v, b] += comp[g0, b]
                        comp[g0, b] = ZERO
                    sold = min(stock[v, b], d * av[va, b])
                    stock[v, b] -= sold
                    short = d - sold
                    short_now[v, b] = short
                    n_short += 1 if short > ZERO else 0      # an integer count: a float max would not vectorise
                    lu[b] += short
                    lr[b] += p * short
                    hit = ONE if short > _SHORT_TOL * d else ZERO      # branch-free: the loop stays SIMD
                    so[b] += hit
                    last[b] = t + ONE if hit > ZERO else last[b]
                    cust_so[ci, b] += hit
                short_any[v] = 1 if n_short > 0 else 0
                ci += 1
                continue
            if idle[v] != 0:                        # out-lanes dormant, stock >= base: produces and ships 0
                continue
            k0 = out_ptr[v]
            k1 = out_ptr[v + 1]
            n_live = 0                              # owed to the node over its live out-lanes, in lane order
            for k in range(k0, k1):
                l = out_lanes[k]
                if live[l] == 0:
                    continue
                if n_live == 0:
                    for b in range(nb):
                        rr[b] = owed[l, b]
                else:
                    for b in range(nb):
                        rr[b] += owed[l, b]
                n_live += 1
            if n_live == 0:                         # nothing owed downstream (a dormant lane owes exactly 0)
                for b in range(nb):
                    rr[b] = ZERO
            va = v if full[v] == 0 else n + n_l
            c = cap[pv, v]                          # produce (fused per number of input groups: min and max
            bs = base[v]                            # are exact, so one loop gives the numbers of one per term)
            if g1 - g0 == 0:
                for b in range(nb):
                    ca = c * av[va, b]
                    p = max(ZERO, min(ca, max(ZERO, bs + rr[b] - stock[v, b])))
                    st = stock[v, b] + p
                    stock[v, b] = st
                    sh = min(min(st, rr[b]), ca)
                    pp[b] = sh / rr[b] if rr[b] > ZERO else ZERO
            elif g1 - g0 == 1 and qty[g0] == ONE:   # x / 1 and 1 * x are x: no division (exact)
                for b in range(nb):
                    ca = c * av[va, b]
                    p = max(ZERO, min(min(ca, max(ZERO, bs + rr[b] - stock[v, b])), comp[g0, b]))
                    comp[g0, b] -= p
                    st = stock[v, b] + p
                    stock[v, b] = st
                    sh = min(min(st, rr[b]), ca)
                    pp[b] = sh / rr[b] if rr[b] > ZERO else ZERO
            elif g1 - g0 == 1:
                q = qty[g0]
                for b in range(nb):
                    ca = c * av[va, b]
                    p = max(ZERO, min(min(ca, max(ZERO, bs + rr[b] - stock[v, b])), comp[g0, b] / q))
                    comp[g0, b] -= q * p
                    st = stock[v, b] + p
                    stock[v, b] = st
                    sh = min(min(st, rr[b]), ca)
                    pp[b] = sh / rr[b] if rr[b] > ZERO else ZERO
            elif g1 - g0 == 2:
                q0 = qty[g0]
                q1 = qty[g0 + 1]
                for b in range(nb):
                    ca = c * av[va, b]
                    p = max(ZERO, min(min(min(ca, max(ZERO, bs + rr[b] - stock[v, b])), comp[g0, b] / q0),
                                     comp[g0 + 1, b] / q1))
                    comp[g0, b] -= q0 * p
                    comp[g0 + 1, b] -= q1 * p
                    st = stock[v, b] + p
                    stock[v, b] = st
                    sh = min(min(st, rr[b]), ca)
                    pp[b] = sh / rr[b] if rr[b] > ZERO else ZERO
            else:                                   # 3 or more input groups (kernel_steps)
                produce_many(nb, g0, g1, c, bs, v, va, qty, av, rr, stock, comp, pp)
            if n_live == 0:                         # idle from now on once at or above base stock in every
                n_low = 0                           # trial: p = max(0, min(.., bs - stock, ..)) = 0, ships 0
                for b in range(nb):
                    n_low += 1 if stock[v, b] < bs else 0
                idle[v] = 1 if n_low == 0 else 0
                continue
            for k in range(k0, k1):
                l = out_lanes[k]
                if live[l] == 0:                    # owes 0: ships 0 into a ring row that is already 0
                    continue
                lc = lcap[pv, l]
                e = n + l
                s0 = roff[l] + (t & rmask[l])               # today's departures on the lane
                ea = e if full[e] == 0 else n + n_l         # open in every trial: the all-ones row (lc x 1 = lc)
                for b in range(nb):
                    sh = min(owed[l, b] * pp[b], lc * av[ea, b])
                    owed[l, b] -= sh
                    stock[v, b] -= sh
                    ring[s0, b] = sh
        for v in range(n):                          # phase B: orders
            g0 = group_ptr[v]
            g1 = group_ptr[v + 1]
            if g0 == g1:
                continue
            if is_cust[v]:                          # demand drawn; lost units cancelled from open orders
                for b in range(nb):
                    pos[g0, b] -= demand[v] * dmult[v, b]
                if short_any[v] != 0:                   # nothing to cancel on a day no trial was short
                    for b in range(nb):
                        rr[b] = ZERO
                    for k in range(glane_ptr[g0], glane_ptr[g0 + 1]):
                        l = glanes[k]
                        if live[l] != 0:
                            for b in range(nb):
                                rr[b] += owed[l, b]
                    for b in range(nb):
                        x = min(short_now[v, b], rr[b])
                        pos[g0, b] += short_now[v, b] - x
                        pp[b] = x / rr[b] if rr[b] > ZERO else ZERO
                    for k in range(glane_ptr[g0], glane_ptr[g0 + 1]):
                        l = glanes[k]
                        if live[l] == 0:
                            continue
                        u = src[l]
                        for b in range(nb):
                            cx = owed[l, b] * pp[b]
                            owed[l, b] -= cx
                            inbox[u, b] -= cx
            sw = switch_days[v]
            for g in range(g0, g1):
                tg = target[g]
                if is_cust[v]:
                    for b in range(nb):
                        o = max(ZERO, tg - pos[g, b])
                        pos[g, b] += o
                        order[b] = o
                else:                               # echelon position: net orders received yesterday
                    q = qty[g]
                    for b in range(nb):
                        x = pos[g, b] - q * rcv[v, b]
                        o = max(ZERO, tg - x)
                        pos[g, b] = x + o
                        order[b] = o
                k0 = glane_ptr[g]
                k1 = glane_ptr[g + 1]
                maxc = 0                                # longest closure of a lane of the group, in days
                for k in range(k0, k1 if has_alt[g] != 0 else k0):
                    l = glanes[k]
                    u = src[l]
                    e = n + l
                    if az[u] == 0 and az[e] == 0:       # neither end closed in any trial today: counters 0
                        if cnz[l] != 0:
                            for b in range(nb):
                                cnt[l, b] = 0
                            cnz[l] = 0
                        continue
                    cnz[l] = 1
                    for b in range(nb):
                        down = av[u, b] <= ZERO or av[e, b] <= ZERO
                        c = cnt[l, b] + 1 if down else 0
                        cnt[l, b] = c
                        maxc = max(maxc, c)
                if has_alt[g] == 0 or maxc < sw:        # nowhere to switch to, or not closed long enough: by share
                    for k in range(k0, k1):
                        l = glanes[k]
                        s = share[pv, l]
                        if s == ZERO:                    # adds 0: skipped (exact)
                            continue
                        u = src[l]
                        if live[l] == 0:                # a share from the variant's effect day on: the lane wakes
                            live[l] = 1
                            idle[u] = 0
                        for b in range(nb):
                            owed[l, b] += s * order[b]
                            inbox[u, b] += s * order[b]
                    continue
                for k in range(k0, k1):                 # rerouted orders may go to any lane of the group
                    l = glanes[k]
                    live[l] = 1
                    idle[src[l]] = 0
                reroute(k0, k1, sw, pv, nb, glanes, src, share, backup, lcap, cnt, owed, inbox, order, rt, pp)
        rcv, inbox = inbox, rcv                     # today's orders are read tomorrow
        for v in range(n):
            for b in range(nb):
                inbox[v, b] = ZERO
