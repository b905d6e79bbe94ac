"""Pure-Python oracle of the flow kernel: one trial at a time, one scalar at a time.

Why: it is short enough to read against the model description line by line
(docs/decisions.md, "Flow model"), so the fast kernels are checked against
something evidently right, trial by trial on the same random numbers. It keeps
shipments as a list of (arrival day, lane, units) instead of a ring buffer and
availability as a function of the sampled event days, so its bookkeeping is
independent of the vectorised kernels'. Slow: tests and small benchmarks only.
"""

from __future__ import annotations

import math

import numpy as np

from engine.montecarlo.rng import (STREAM_DURATION, STREAM_OCCUR, STREAM_START, py_draw, py_ndtri, py_to_open_unit,
                                   py_to_unit, py_trial_key)

from .inputs import FlowInputs
from .kernel_numba import SHORT_TOL
from .sampling import DEMAND_RNG_BASE, STREAM_LEAD


def _sample(inp: FlowInputs, seed: int, trial: int) -> tuple[list[tuple[int, int]], list[int], list[float]]:
    key = py_trial_key(seed, trial)
    days = []
    for j in range(inp.ev_p.shape[0]):
        r = int(inp.ev_rng[j])
        if py_to_unit(py_draw(key, r, STREAM_OCCUR)) < inp.ev_p[j]:
            s = int(inp.ev_s0[j]) + int(math.floor(py_to_unit(py_draw(key, r, STREAM_START)) * int(inp.ev_win[j])))
            z = py_ndtri(py_to_open_unit(py_draw(key, r, STREAM_DURATION))) if inp.ev_sigma[j] > 0 else 0.0
            k = max(1.0, math.floor(math.exp(inp.ev_mu[j] + inp.ev_sigma[j] * z) + 0.5))
            days.append((s, s + int(min(k, 1e9))))
        else:
            days.append((-1, -1))
    extra = []
    for l in range(inp.src.shape[0]):
        sd = float(inp.lead_sd[l])
        if sd > 0:
            z = py_ndtri(py_to_open_unit(py_draw(key, int(inp.lane_gid[l]), STREAM_LEAD)))
            extra.append(min(int(inp.extra_cap[l]), int(math.floor(sd * abs(z) + 0.5))))
        else:
            extra.append(0)
    level = []
    for v in range(inp.n_nodes):
        cv = float(inp.demand_cv[v])
        z = py_ndtri(py_to_open_unit(py_draw(key, DEMAND_RNG_BASE + int(inp.node_gid[v]), 0))) if cv > 0 else 0.0
        level.append(max(0.0, 1.0 + cv * z) if cv > 0 else 1.0)
    return days, extra, level


def _trial(inp: FlowInputs, vv: int, days: list[tuple[int, int]], extra: list[int], level: list[float]) -> tuple:
    n, n_l = inp.n_nodes, inp.src.shape[0]
    groups = [list(range(inp.group_ptr[v], inp.group_ptr[v + 1])) for v in range(n)]
    glanes = [inp.glanes[inp.glane_ptr[g]:inp.glane_ptr[g + 1]].tolist() for g in range(inp.qty.shape[0])]
    outs = [inp.out_lanes[inp.out_ptr[v]:inp.out_ptr[v + 1]].tolist() for v in range(n)]
    events_of = [[(int(inp.el_ev[k]), float(inp.el_sev[k])) for k in range(inp.el_ptr[e], inp.el_ptr[e + 1])]
                 for e in range(n + n_l)]

    def avail(e: int, t: int) -> float:
        a = 1.0
        for j, sev in events_of[e]:
            a = min(a, 1.0 - sev if days[j][0] <= t < days[j][1] else 1.0)
        return a

    stock = [float(x) for x in inp.init]
    comp = [0.0] * inp.qty.shape[0]
    pos = [float(x) for x in inp.target]
    owed = [float(x) for x in inp.flow0]
    transit: dict[tuple[int, int], float] = {}          # (lane, arrival day) -> units
    for l in range(n_l):
        for d in range(int(inp.lead0[l]) + extra[l]):
            transit[(l, d)] = float(inp.flow0[l])
    down_days = [0] * n_l
    received_yesterday = [float(x) for x in inp.thr]
    short_today = [0.0] * n
    lost_units = lost_rev = so = last = 0.0
    cust_so = {int(c): 0.0 for c in inp.customers}
    eff = int(inp.effect_day[vv])
    for t in range(inp.horizon):
        pv = vv if t >= eff else 0
        if t == eff:
            for v in range(n):
                stock[v] += float(inp.extra[vv, v])
        av = [avail(e, t) for e in range(n + n_l)]
        for v in range(n):
            for g in groups[v]:
                for l in glanes[g]:
                    x = transit.pop((l, t), 0.0)
                    if av[n + l] <= 0.0:                 # lane closed: the goods wait a day
                        transit[(l, t + 1)] = transit.get((l, t + 1), 0.0) + x
                    else:
                        comp[g] += x
            if inp.is_cust[v]:
                d = float(inp.demand[v]) * level[v]
                if groups[v]:
                    stock[v] += comp[groups[v][0]]
                    comp[groups[v][0]] = 0.0
                sold = min(stock[v], d * av[v])
                stock[v] -= sold
                short = d - sold
                short_today[v] = short
                lost_units += short
                lost_rev += float(inp.price[v]) * short
                if short > SHORT_TOL * d:
                    so += 1.0
                    last = t + 1.0
                    cust_so[v] += 1.0
                continue
            owed_total = 0.0
            for l in outs[v]:
                owed_total += owed[l]
            cap = float(inp.cap[pv, v]) * av[v]
            p = min(cap, max(0.0, float(inp.base[v]) + owed_total - stock[v]))
            for g in groups[v]:
                p = min(p, comp[g] / float(inp.qty[g]))
            p = max(0.0, p)
            for g in groups[v]:
                comp[g] -= float(inp.qty[g]) * p
            stock[v] += p
            ship = min(min(stock[v], owed_total), cap)
            ratio = ship / owed_total if owed_total > 0.0 else 0.0
            for l in outs[v]:
                sh = min(owed[l] * ratio, float(inp.lcap[pv, l]) * av[n + l])
                owed[l] -= sh
                stock[v] -= sh
                due = t + int(inp.lead[pv, l]) + extra[l]
                transit[(l, due)] = transit.get((l, due), 0.0) + sh
        received = [0.0] * n                          # net orders placed on each node today
        for v in range(n):
            if not groups[v]:
                continue
            if inp.is_cust[v]:
                g = groups[v][0]
                pos[g] -= float(inp.demand[v]) * level[v]   # the day's demand leaves the position ...
                open_total = 0.0
                for l in glanes[g]:
                    open_total += owed[l]
                cancel = min(short_today[v], open_total)  # ... and what was lost is cancelled upstream
                pos[g] += short_today[v] - cancel
                frac = cancel / open_total if open_total > 0.0 else 0.0
                for l in glanes[g]:
                    cx = owed[l] * frac
                    owed[l] -= cx
                    received[int(inp.src[l])] -= cx
            else:
                for g in groups[v]:
                    pos[g] -= float(inp.qty[g]) * received_yesterday[v]
            sw = int(inp.switch_days[v])
            for g in groups[v]:
                order = max(0.0, float(inp.target[g]) - pos[g])
                pos[g] += order
                lanes = glanes[g]
                share = {l: float(inp.share[pv, l]) for l in lanes}

                def place(l: int, units: float) -> None:
                    owed[l] += units
                    received[int(inp.src[l])] += units

                if not inp.has_alt[g]:
                    for l in lanes:
                        place(l, share[l] * order)
                    continue
                for l in lanes:
                    is_down = av[int(inp.src[l])] <= 0.0 or av[n + l] <= 0.0
                    down_days[l] = down_days[l] + 1 if is_down else 0
                away = [l for l in lanes if share[l] > 0.0 and down_days[l] >= sw]
                alts = [l for l in lanes if down_days[l] == 0 and (share[l] > 0.0 or inp.backup[l])]
                lost = 0.0
                for l in away:
                    lost += share[l]
                alt_cap = 0.0
                for l in alts:
                    alt_cap += float(inp.lcap[pv, l])
                if lost > 0.0 and alt_cap > 0.0:
                    moved = 0.0
                    for l in away:
                        moved += owed[l]
                        received[int(inp.src[l])] -= owed[l]
                        owed[l] = 0.0
                    for l in lanes:
                        w = 0.0 if l in away else share[l]
                        if l in alts:
                            f = float(inp.lcap[pv, l]) / alt_cap
                            w += lost * f
                            place(l, moved * f)
                        place(l, w * order)
                else:
                    for l in lanes:
                        place(l, share[l] * order)
        received_yesterday = received
    denom = inp.demand_total
    for c in inp.customers:
        denom += float(inp.demand[c]) * (level[int(c)] - 1.0)
    denom *= inp.horizon
    fill = 1.0 - lost_units / denom if denom > 0 else 1.0
    return lost_rev, fill, so, last, lost_units, [cust_so[int(c)] for c in inp.customers]


def simulate_python(inp: FlowInputs, seed: int, trial0: int, n_trials: int) -> tuple[np.ndarray, ...]:
    """Same outputs as :func:`.kernel_numpy.simulate_numpy`."""
    n_v, n_c = inp.n_variants, inp.customers.shape[0]
    outs = [np.empty((n_v, n_trials)) for _ in range(5)]
    cso = np.empty((n_v, n_trials, n_c))
    for i in range(n_trials):
        days, extra, level = _sample(inp, seed, trial0 + i)
        for vv in range(n_v):
            r = _trial(inp, vv, days, extra, level)
            for o, x in zip(outs, r[:5]):
                o[vv, i] = x
            cso[vv, i] = r[5]
    return (*outs, cso)
