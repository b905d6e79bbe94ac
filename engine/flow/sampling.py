"""Per-trial random draws of the flow kernel (numba): event days, extra lead times, demand levels.

Why a module of its own: the numpy reference and the Python oracle draw the
same numbers from the same counter-based generator (engine.montecarlo.rng)
with the same stream and id layout defined here, so the three kernels can be
compared trial by trial.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

from engine.montecarlo.rng import (STREAM_DURATION, STREAM_OCCUR, STREAM_START, draw, ndtri, to_open_unit,
                                   to_unit, trial_key)

# Random stream of a lane's extra lead time (streams 0-2 are the events').
STREAM_LEAD = 3
# Random-number id offset of a customer's demand level: node ids shifted past any
# event index, so a node's draw never coincides with an event's.
DEMAND_RNG_BASE = 1 << 40


@njit(cache=True)
def sample_batch(seed, trial0, nb, ev_p, ev_s0, ev_win, ev_mu, ev_sigma, ev_rng, lane_rng, lead_sd, extra_cap,
                 node_rng, demand_cv, ev_start, ev_end, extra, dmult):
    """Event days [start, end) per event and trial (-1, -1 when it does not occur), extra lead per lane,
    and each node's demand multiplier ``max(0, 1 + cv Z)``."""
    for b in range(nb):
        key = trial_key(seed, trial0 + b)
        for j in range(ev_p.shape[0]):
            r = ev_rng[j]
            if to_unit(draw(key, r, STREAM_OCCUR)) < ev_p[j]:
                s = ev_s0[j] + np.int64(math.floor(to_unit(draw(key, r, STREAM_START)) * ev_win[j]))
                z = 0.0
                if ev_sigma[j] > 0.0:
                    z = ndtri(to_open_unit(draw(key, r, STREAM_DURATION)))
                k = max(1.0, math.floor(math.exp(ev_mu[j] + ev_sigma[j] * z) + 0.5))
                ev_start[j, b] = s
                ev_end[j, b] = s + np.int64(min(k, 1e9))
            else:
                ev_start[j, b] = -1
                ev_end[j, b] = -1
        for l in range(lead_sd.shape[0]):
            x = 0
            if lead_sd[l] > 0.0:
                z = ndtri(to_open_unit(draw(key, lane_rng[l], STREAM_LEAD)))
                x = min(extra_cap[l], np.int64(math.floor(lead_sd[l] * abs(z) + 0.5)))
            extra[l, b] = x
        for v in range(demand_cv.shape[0]):
            m = 1.0
            if demand_cv[v] > 0.0:
                m = max(0.0, 1.0 + demand_cv[v] * ndtri(to_open_unit(draw(key, DEMAND_RNG_BASE + node_rng[v], 0))))
            dmult[v, b] = m
