"""The flow kernel's rerouting step and the compiler pipeline of the kernel's functions.

Why a module of its own: :mod:`.kernel_numba` holds the day loop; rerouting is written for speed rather
than as the model reads (passes over the trials with selects instead of a per-trial loop), with the
argument that it gives the same numbers in its docstring. It is inlined into ``run_batch``, as is
production with 3 or more input groups (``produce_many``: rare, moved here for the line budget; the common
paths stay in ``run_batch``: as an inlined function they measured 0.98x). The kernel's other steps are
written inside ``run_batch`` itself: a function taking arrays costs a reference count
per array per call (numba's NRT), and a step called per lane and day (arrivals) spent a fifth of the
kernel's time there.

In transit: each lane has a ring of *departures* (row ``roff[l] + (d & rmask[l])``:
shipped on day ``d``; ``kernel_parallel.lane_rings``), stored once by the
shipping loop of ``run_batch``. What is due on day ``t`` in a trial with extra delay ``x`` left
on day ``t - lead - x`` (the lead of the departure day's variant: its own from
its effect day, do nothing's before), or is the steady pipeline of the lane's
nominal flow while ``t < lead0 + x``; a lane closed today in a trial holds it
(``held``) until its first open day. An arrival ring instead was
read-modify-written once per distinct extra delay, on rows last touched days
before (the kernel's hottest loads). The numbers are the same: each trial
receives the same single term (or, when a variant's lead change makes two
departures arrive together, their sum in departure order), and held units are
added after the day's arrivals, as the arrival ring added them.
"""

from __future__ import annotations

import numpy as np
from numba import njit
from numba.core.compiler import Compiler

# The trials' state (stock, components, orders owed, units in transit, availability) is float32: an AVX-512
# vector holds 16 trials instead of 8 and the work arrays take half the cache. Measured 2026-12-05 against the
# float64 kernel, CPU time, same packings: decision packing NA-FAC-004 1.68x, AS-FAC-002 (151 nodes) 1.63x.
# Loss, lost units and stock-out days accumulate in float64 per trial. The constants below keep every
# expression float32 (a Python float literal is float64 in numba and would widen the whole loop).
FLOAT = np.float32
ZERO = FLOAT(0.0)
ONE = FLOAT(1.0)
# How closely a trial's loss must match the float64 references (numpy, Python oracle): float32 rounding left
# ~5e-6 on the example network; a slip in the kernel moves a trial by far more.
AGREEMENT_RTOL = 1e-4


class NoAliasCompiler(Compiler):
    """numba's pipeline with LLVM ``noalias`` on every array argument (what numba does itself for the bodies
    of ``prange`` loops when it can prove their arrays distinct).

    Why: without it LLVM must assume any two arrays may overlap, so each of the kernel's short loops over
    the trials of a batch starts with run-time overlap checks of every pair of arrays it touches, and
    values cannot stay in registers across a store. Valid here because every array the kernel writes is its
    own allocation (kernel_parallel.py allocates each work array separately; inputs are only read). Measured
    2026-12-04, CPU time against the same kernel without it: 51-node bench case 1.12x, decision packing 1.18x
    (bit-identical results)."""

    def __init__(self, typingctx, targetctx, library, args, return_type, flags, locals):
        flags.noalias = True
        super().__init__(typingctx, targetctx, library, args, return_type, flags, locals)


@njit(cache=True, error_model="numpy", pipeline_class=NoAliasCompiler, inline="always")
def reroute(k0, k1, sw, pv, nb, glanes, src, share, backup, lcap, cnt, owed, inbox, order, rt, mv):
    """Orders of one component group on a day some lane has been closed ``sw`` days: per trial, the share of
    the switched-away lanes (``cnt >= sw``) and their unshipped orders go to the open lanes (``cnt == 0``, in
    use or backup) pro rata to lane capacity; without an open lane, the plain split.

    Written as passes over the lanes with the trial innermost (selects, no per-trial branch), so it runs as
    SIMD: the per-trial loop it replaces was a third of the kernel's time on the pipeline's packing. Every
    trial sees the same additions in the same lane order as the per-trial loop, so the numbers are identical.
    ``rt`` rows: lost share, open lanes' capacity (indexed, not sliced: a slice costs a reference count per
    call); ``mv``: orders moved (an array of its own: written beside loads of ``rt``, a row of ``rt`` kept
    that pass scalar, LLVM unable to rule out the overlap; 5 % of the kernel's samples)."""
    for b in range(nb):
        rt[0, b] = ZERO
        rt[1, b] = ZERO
        mv[b] = ZERO
    for k in range(k0, k1):
        l = glanes[k]
        s = share[pv, l]
        lc = lcap[pv, l]
        usable = s > ZERO or backup[l] != 0
        for b in range(nb):
            c = cnt[l, b]
            rt[0, b] += s if (s > ZERO and c >= sw) else ZERO
            rt[1, b] += lc if (c == 0 and usable) else ZERO
    for k in range(k0, k1):                     # switched-away lanes hand over their unshipped orders
        l = glanes[k]
        if share[pv, l] <= ZERO:
            continue
        u = src[l]
        for b in range(nb):
            o = owed[l, b]
            go = (cnt[l, b] >= sw) & (rt[0, b] > ZERO) & (rt[1, b] > ZERO)     # & not ``and``: no branch
            x = o if go else ZERO
            mv[b] += x
            inbox[u, b] -= x
            owed[l, b] = ZERO if go else o
    for k in range(k0, k1):
        l = glanes[k]
        u = src[l]
        s = share[pv, l]
        lc = lcap[pv, l]
        usable = s > ZERO or backup[l] != 0
        for b in range(nb):
            c = cnt[l, b]
            act = (rt[0, b] > ZERO) & (rt[1, b] > ZERO)
            alt = act & (c == 0) & usable
            f = lc / rt[1, b] if alt else ZERO
            w = (ZERO if (s > ZERO and c >= sw) else s) + (rt[0, b] * f if alt else ZERO)
            w = w if act else s
            y = mv[b] * f if alt else ZERO
            owed[l, b] += y
            inbox[u, b] += y
            owed[l, b] += w * order[b]
            inbox[u, b] += w * order[b]




@njit(cache=True, error_model="numpy", pipeline_class=NoAliasCompiler, inline="always")
def produce_many(nb, g0, g1, c, bs, v, va, qty, av, rr, stock, comp, pp):
    """Production of node ``v`` with 3 or more input groups (``run_batch`` has the loops of 0-2 groups, the
    common cases, written in place): ``P = min(capacity x availability, base + owed - stock, min_g comp_g /
    qty_g)``, then ``pp``: the fraction of what it owes (``rr``) that it ships today."""
    for b in range(nb):
        pp[b] = min(c * av[va, b], max(ZERO, bs + rr[b] - stock[v, b]))
    for g in range(g0, g1):
        q = qty[g]
        for b in range(nb):
            pp[b] = min(pp[b], comp[g, b] / q)
    for b in range(nb):
        pp[b] = max(ZERO, pp[b])
    for g in range(g0, g1):
        q = qty[g]
        for b in range(nb):
            comp[g, b] -= q * pp[b]
    for b in range(nb):
        stock[v, b] += pp[b]
        sh = min(min(stock[v, b], rr[b]), c * av[va, b])
        pp[b] = sh / rr[b] if rr[b] > ZERO else ZERO
