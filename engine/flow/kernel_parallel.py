"""Parallel driver of the flow kernel: batches of trials over threads, every variant per batch.

Why a module of its own: :mod:`.kernel_numba` holds one batch's day loop (the
model); this holds what is shared across variants and threads: one sampling of
the batch's draws serves every variant (common random numbers), and each
thread allocates its work arrays once per chunk of batches.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import numba
import numpy as np
from numba import njit, prange

from .kernel_numba import BATCH, run_batch
from .kernel_steps import FLOAT
from .sampling import sample_batch

# Hash of the kernel's other sources (kernel_sources_hash; tests/engine/flow/test_flow_cache.py). numba's disk
# cache of simulate_numba is keyed on this file alone, yet it compiles those files' functions into itself:
# this line changes with them, so an edit of the kernel recompiles the driver.
KERNEL_FILES = ("kernel_numba.py", "kernel_steps.py", "sampling.py")
KERNEL_SOURCES = "b5255ef7741105b2"
# Largest extra lead-time delay (days) the kernel's int16 table of delays holds: a larger cap would wrap around
# to a wrong delay (lane_rings refuses it; 4 sd of a lane's lead spread is days, not years).
EXTRA_MAX = 32_767


def kernel_sources_hash(folder: Path) -> str:
    """First 16 hex digits of the sha256 of the kernel's sources in ``folder`` (:data:`KERNEL_FILES`)."""
    data = b"".join((folder / f).read_bytes() for f in KERNEL_FILES)
    return hashlib.sha256(data).hexdigest()[:16]


@njit(parallel=True, cache=True, error_model="numpy")
def simulate_numba(seed, trial0, n_trials, horizon, roff, rmask, is_cust, demand, price, base, init, switch_days, cap,
                   xtra, group_ptr, qty, target, thr, glane_ptr, glanes, has_alt, src, lead0, lead, lcap, share, backup,
                   flow0,
                   out_ptr, out_lanes, el_ptr, el_ev, el_sev, hit_el, effect_day, ev_p, ev_s0, ev_win, ev_mu,
                   ev_sigma, ev_rng, lane_rng, lead_sd, extra_cap, node_rng, demand_cv, customers, demand_total,
                   loss, fill, so_days, ttr, lost_units, cust_so_out, store_cust, v_lo, v_hi, n_chunks):
    """Trials ``trial0 .. trial0 + n_trials - 1`` for variants ``v_lo .. v_hi - 1``; outputs [v_hi - v_lo, T]
    (cust_so_out [v_hi - v_lo, T, C]). A variant range lets the pipeline's Impact stage run do nothing alone and
    Strategy the rest on the same packing and draws (variant 0's parameters still apply before a variant's effect
    day, so the packing keeps them)."""
    n = is_cust.shape[0]
    n_l = src.shape[0]
    n_g = qty.shape[0]
    n_j = ev_p.shape[0]
    n_c = customers.shape[0]
    n_batches = (n_trials + BATCH - 1) // BATCH
    # ``n_chunks`` (a few per thread) chunks of batches, each allocating its work arrays (megabytes) once rather
    # than once per batch of BATCH trials.
    n_chunks = max(1, min(n_batches, n_chunks))
    for ch in prange(n_chunks):
        stock = np.empty((n, BATCH), dtype=FLOAT)
        comp = np.empty((n_g, BATCH), dtype=FLOAT)
        pos = np.empty((n_g, BATCH), dtype=FLOAT)
        owed = np.empty((n_l, BATCH), dtype=FLOAT)
        ring = np.empty((roff[n_l], BATCH), dtype=FLOAT)     # lane l: rows roff[l] .. roff[l] + rmask[l]
        cnt = np.empty((n_l, BATCH), dtype=np.int32)
        av = np.empty((n + n_l + 1, BATCH), dtype=FLOAT)     # + a row of ones
        rr = np.empty(BATCH, dtype=FLOAT)
        pp = np.empty(BATCH, dtype=FLOAT)
        order = np.empty(BATCH, dtype=FLOAT)
        rcv = np.empty((n, BATCH), dtype=FLOAT)
        inbox = np.empty((n, BATCH), dtype=FLOAT)
        short_now = np.empty((n, BATCH), dtype=FLOAT)
        lu = np.empty(BATCH)
        lr = np.empty(BATCH)
        so = np.empty(BATCH)
        last = np.empty(BATCH)
        cso = np.empty((n_c, BATCH))
        ev_start = np.empty((n_j, BATCH), dtype=np.int64)
        ev_end = np.empty((n_j, BATCH), dtype=np.int64)
        extra = np.empty((n_l, BATCH), dtype=np.int16)       # int16: the masked arrival passes load 2 bytes per trial
        dmult = np.empty((n, BATCH), dtype=FLOAT)
        chg = np.empty((n + n_l, horizon), dtype=np.uint8)   # 1: availability of the element changes that day
        az = np.empty(n + n_l, dtype=np.uint8)               # 1: closed in some trial today
        full = np.empty(n + n_l, dtype=np.uint8)             # 1: fully open in every trial today
        cnz = np.empty(n_l, dtype=np.uint8)                  # 1: some switch-over counter of the lane is not 0
        short_any = np.zeros(n, dtype=np.uint8)              # 1: customer short in some trial today
        emax = np.empty(n_l, dtype=np.int64)            # largest extra delay of each lane in the batch
        held = np.empty((n_l, BATCH), dtype=FLOAT)           # units a closed lane holds back
        hz = np.empty(n_l, dtype=np.uint8)                   # 1: the lane may hold some
        rt = np.empty((2, BATCH), dtype=FLOAT)               # rerouting scratch: lost share, open capacity
        live = np.empty(n_l, dtype=np.uint8)                 # 0: dormant lane (owes nothing, carries nothing)
        idle = np.empty(n, dtype=np.uint8)                   # 1: dormant out-lanes only, stock >= base
        for bi in range(ch, n_batches, n_chunks):
            lo = bi * BATCH
            nb = min(BATCH, n_trials - lo)
            sample_batch(seed, trial0 + lo, nb, ev_p, ev_s0, ev_win, ev_mu, ev_sigma, ev_rng, lane_rng, lead_sd,
                         extra_cap, node_rng, demand_cv, ev_start, ev_end, extra, dmult)
            for vv in range(v_lo, v_hi):
                run_batch(vv, nb, horizon, roff, rmask, is_cust, demand, price, base, init, switch_days, cap, xtra,
                          group_ptr, qty, target, thr, glane_ptr, glanes, has_alt, src, lead0, lead, lcap, share,
                          backup, flow0, out_ptr, out_lanes, el_ptr, el_ev, el_sev, hit_el, effect_day, ev_start,
                          ev_end, extra, dmult,
                          stock, comp, pos, owed, ring, cnt, av, rr, pp, order, rcv, inbox, short_now, lu, lr, so, last,
                          cso, chg, az, full, cnz, emax, short_any, rt, held, hz, live, idle)
                w = vv - v_lo
                for b in range(nb):
                    i = lo + b
                    den = demand_total
                    for c in range(n_c):
                        den += demand[customers[c]] * (dmult[customers[c], b] - 1.0)
                    den *= horizon
                    loss[w, i] = lr[b]
                    lost_units[w, i] = lu[b]
                    fill[w, i] = 1.0 - lu[b] / den if den > 0.0 else 1.0
                    so_days[w, i] = so[b]
                    ttr[w, i] = last[b]
                    if store_cust:
                        for c in range(n_c):
                            cust_so_out[w, i, c] = cso[c, b]


def lane_rings(lead: np.ndarray, extra_cap: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(row offset [L + 1], mask [L]) of each lane's ring of departures (kernel_steps.arrive): a power of two
    longer than the lane's longest lead in any variant + its extra-delay cap (a departure is read up to that
    many days after it is written, and its row is overwritten ``mask + 1`` days after).

    Why per lane rather than one length for all: one length for every lane, the slowest sea lane's, made the
    ring [120 lanes, 64 days, 64 trials] doubles on the pipeline's packing, 3.9 MB per thread against a 1 MB
    L2; most lanes are road lanes of a few days (1,664 rows instead of 7,680 there). Measured alone it changed
    little (the loads of in-transit units stay the hottest: a unit is read days after it is written)."""
    if extra_cap.size and int(extra_cap.max()) > EXTRA_MAX:
        raise ValueError(f"extra lead-time delay cap {int(extra_cap.max())} days exceeds {EXTRA_MAX}")
    need = lead.max(axis=0).astype(np.int64) + extra_cap.astype(np.int64) + 2
    size = np.left_shift(1, np.ceil(np.log2(np.maximum(need, 2))).astype(np.int64))
    off = np.zeros(size.shape[0] + 1, dtype=np.int64)
    np.cumsum(size, out=off[1:])
    return off, size - 1


def default_threads() -> int:
    return numba.get_num_threads()


def default_chunks() -> int:
    """Chunks of batches for :func:`simulate_numba`: two per thread (read outside the kernel: a call to
    ``numba.get_num_threads`` inside it would stop numba caching the compiled kernel on disk)."""
    return 2 * numba.get_num_threads()
