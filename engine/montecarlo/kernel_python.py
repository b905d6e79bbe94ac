"""Pure-Python kernel: the same model one trial at a time, lists of tuples.

Why it exists: the benchmark's baseline ("what would this cost without numpy
or numba") and a third, independently written implementation for the
agreement tests. It mirrors the numba kernel including the ``K_MAX`` cap, so
the two agree trial by trial. Far too slow for production.
"""

from __future__ import annotations

import math

import numpy as np

from .inputs import KernelInputs
from .intervals import K_MAX
from .rng import (STREAM_DURATION, STREAM_OCCUR, STREAM_START, py_draw, py_ndtri, py_to_open_unit, py_to_unit,
                  py_trial_key)

Ivs = list[tuple[float, float]]


def _cap(a: Ivs) -> Ivs:
    while len(a) > K_MAX:
        best = min(range(1, len(a)), key=lambda i: (a[i][0] - a[i - 1][1], i))
        a[best - 1] = (a[best - 1][0], max(a[best - 1][1], a[best][1]))
        del a[best]
    return a


def _coalesce(raw: Ivs) -> Ivs:
    out: Ivs = []
    for s, e in raw:
        if out and s <= out[-1][1]:
            if e > out[-1][1]:
                out[-1] = (out[-1][0], e)
        else:
            out.append((s, e))
    return out


def _union(a: Ivs, b: Ivs) -> Ivs:
    return _coalesce(sorted(a + b, key=lambda iv: iv[0])) if a and b else list(a or b)


def _intersect(a: Ivs, b: Ivs) -> Ivs:
    out: Ivs = []
    i = j = 0
    while i < len(a) and j < len(b):
        s, e = max(a[i][0], b[j][0]), min(a[i][1], b[j][1])
        if s < e:
            out.append((s, e))
        if a[i][1] < b[j][1]:
            i += 1
        else:
            j += 1
    return out


class _Trial:
    """Sampled outages of one trial (plain lists)."""

    def __init__(self, inp: KernelInputs, p, mu, sigma, f_mu, f_sigma, key: int):
        n_e = len(p)
        self.out: dict[int, tuple[float, float]] = {}
        for e in range(n_e):
            if p[e] > 0.0 and py_to_unit(py_draw(key, e, STREAM_OCCUR)) < p[e]:
                s = py_to_unit(py_draw(key, e, STREAM_START)) * inp.start_window
                z = py_ndtri(py_to_open_unit(py_draw(key, e, STREAM_DURATION)))
                self.out[e] = (s, math.exp(mu[e] + sigma[e] * z))
        self.f_dz = [math.exp(f_mu[f] + f_sigma[f] * py_ndtri(py_to_open_unit(py_draw(key, n_e + f, STREAM_DURATION))))
                     for f in range(len(f_mu))]


def _own(elem: int, scale: float, extra: float, h: float, tr: _Trial, f_ptr, f_start) -> Ivs:
    raw: Ivs = []
    if elem in tr.out:
        s, d = tr.out[elem]
        if d * scale > 0.0 and s < h:
            raw.append((s, min(s + d * scale + extra, h)))
    for f in range(f_ptr[elem], f_ptr[elem + 1]):
        s, d = f_start[f], tr.f_dz[f] * scale
        if d > 0.0 and s < h:
            raw.append((s, min(s + d + extra, h)))
    raw.sort(key=lambda iv: iv[0])
    return _coalesce(raw)


def simulate_python(inp: KernelInputs, seed: int, trial0: int, n_trials: int):
    """Returns (loss, fill, ttr, cust_so) like :func:`kernel_numpy.simulate_numpy`."""
    lists = {k: getattr(inp, k).tolist() for k in (
        "order", "group_ptr", "group_lane_ptr", "group_lanes", "lane_src", "customers", "revenue",
        "p", "mu", "sigma", "f_ptr", "f_start", "f_mu", "f_sigma", "cover", "lead", "enabled", "dur_scale")}
    L = lists
    h = inp.horizon
    n = len(L["order"])
    n_v, n_c = inp.n_variants, len(L["customers"])
    has_forced = [L["f_ptr"][e] < L["f_ptr"][e + 1] for e in range(len(L["p"]))]
    demand = sum(L["revenue"][c] for c in L["customers"]) * h
    loss = np.empty((n_v, n_trials))
    fill = np.empty((n_v, n_trials))
    ttr = np.empty((n_v, n_trials))
    cust = np.empty((n_v, n_trials, n_c))
    for i in range(n_trials):
        tr = _Trial(inp, L["p"], L["mu"], L["sigma"], L["f_mu"], L["f_sigma"], py_trial_key(seed, trial0 + i))
        for v in range(n_v):
            cover, lead, enabled, scale = L["cover"][v], L["lead"][v], L["enabled"][v], L["dur_scale"][v]
            sets: list[Ivs] = [[] for _ in range(n)]
            for node in L["order"]:
                inputs: Ivs = []
                for g in range(L["group_ptr"][node], L["group_ptr"][node + 1]):
                    gap: Ivs | None = None
                    for k in range(L["group_lane_ptr"][g], L["group_lane_ptr"][g + 1]):
                        ln = L["group_lanes"][k]
                        if not enabled[ln]:
                            continue
                        le = n + ln
                        src = sets[L["lane_src"][ln]]
                        lane_own = le in tr.out or has_forced[le]
                        if not src and not lane_own:
                            gap = []
                            break
                        ld = lead[ln]
                        lane = [(s + ld, min(e + ld, h)) for s, e in src if s + ld < h]
                        if lane_own:
                            lane = _union(lane, _own(le, scale[le], ld, h, tr, L["f_ptr"], L["f_start"]))
                        if not lane:
                            gap = []
                            break
                        gap = _cap(lane) if gap is None else _cap(_intersect(gap, lane))
                        if not gap:
                            break
                    if gap is None:
                        gap = [(0.0, h)]
                    if gap:
                        inputs = _cap(_union(inputs, gap))
                c = cover[node]
                inputs = [(s + c, e) for s, e in inputs if s + c < e]
                if node in tr.out or has_forced[node]:
                    inputs = _cap(_union(inputs, _own(node, scale[node], 0.0, h, tr, L["f_ptr"], L["f_start"])))
                sets[node] = inputs
            lost = 0.0
            last = 0.0
            for ci, c in enumerate(L["customers"]):
                so = 0.0
                for s, e in sets[c]:
                    so += e - s
                if sets[c]:
                    last = max(last, sets[c][-1][1])
                cust[v, i, ci] = so
                lost += L["revenue"][c] * so
            loss[v, i] = lost
            fill[v, i] = 1.0 - lost / demand if demand > 0 else 1.0
            ttr[v, i] = last
    return loss, fill, ttr, cust
